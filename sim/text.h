#pragma once
// Text helpers the simulator's command handling shares (Tasmota matches command names and JSON keys
// case-insensitively).
#include <cctype>
#include <string>
#include <string_view>

namespace fleet::sim {

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Tasmota's MakeValidMqtt (topics and prefixes): '+', '#' and ' ' become '_' (option 0) or are deleted (option 1).
inline std::string valid_mqtt(std::string_view s, bool remove) {
  std::string out;
  for (char c : s) {
    if (c == '+' || c == '#' || c == ' ') {
      if (!remove) out += '_';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace fleet::sim
