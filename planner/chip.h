#pragma once
// The chip a device runs on. Images are built per chip family, and the settings file records the
// platform (decode-config: config_version 0 ESP8266, 1 ESP32, 2 S3, 3 S2, 4 C3, 5 C2, 6 C6, 7 P4, 8 C5).
#include <optional>
#include <string>
#include <string_view>

namespace fleet::planner {

enum class Chip { Unknown, ESP8266, ESP8285, ESP32, ESP32S2, ESP32S3, ESP32C2, ESP32C3, ESP32C5, ESP32C6, ESP32P4 };

// Reads StatusFWR "Hardware" ("ESP8266EX", "ESP8285H16", "ESP32-D0WD-V3", "ESP32-S3", "ESP32-C3")
// or a plain name given by a user ("esp32c3").
Chip parse_chip(std::string_view text);
std::string to_string(Chip chip);        // "ESP8266", "ESP32-C3"
bool is_esp8266_family(Chip chip);       // ESP8266 and ESP8285 share images
bool is_esp32_family(Chip chip);

}  // namespace fleet::planner
