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

}  // namespace fleet::sim
