#pragma once
// Reading a whole file for the command line's own needs (images, credentials).
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace fleet::cli {

inline std::optional<std::vector<std::uint8_t>> read_all(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace fleet::cli
