#include "planner/chip.h"

#include <algorithm>
#include <cctype>

namespace fleet::planner {

Chip parse_chip(std::string_view text) {
  std::string s;
  for (char c : text)
    if (std::isalnum(static_cast<unsigned char>(c))) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.starts_with("ESP8285")) return Chip::ESP8285;
  if (s.starts_with("ESP8266")) return Chip::ESP8266;
  if (!s.starts_with("ESP32")) return Chip::Unknown;
  std::string rest = s.substr(5);
  struct Variant { const char* prefix; Chip chip; };
  static constexpr Variant kVariants[] = {{"S2", Chip::ESP32S2}, {"S3", Chip::ESP32S3}, {"C2", Chip::ESP32C2},
                                          {"C3", Chip::ESP32C3}, {"C5", Chip::ESP32C5}, {"C6", Chip::ESP32C6},
                                          {"P4", Chip::ESP32P4}};
  for (const auto& v : kVariants)
    if (rest.starts_with(v.prefix)) return v.chip;
  return Chip::ESP32;  // ESP32-D0WD…, ESP32-PICO…, plain ESP32
}

std::string to_string(Chip chip) {
  switch (chip) {
    case Chip::ESP8266: return "ESP8266";
    case Chip::ESP8285: return "ESP8285";
    case Chip::ESP32: return "ESP32";
    case Chip::ESP32S2: return "ESP32-S2";
    case Chip::ESP32S3: return "ESP32-S3";
    case Chip::ESP32C2: return "ESP32-C2";
    case Chip::ESP32C3: return "ESP32-C3";
    case Chip::ESP32C5: return "ESP32-C5";
    case Chip::ESP32C6: return "ESP32-C6";
    case Chip::ESP32P4: return "ESP32-P4";
    case Chip::Unknown: break;
  }
  return "unknown";
}

bool is_esp8266_family(Chip chip) { return chip == Chip::ESP8266 || chip == Chip::ESP8285; }
bool is_esp32_family(Chip chip) { return chip != Chip::Unknown && !is_esp8266_family(chip); }

}  // namespace fleet::planner
