#pragma once
// Small firmware images with valid headers, for tests, the simulator and the demo (never real
// firmware in the repository). The simulator reads back what an image claims to be: on ESP32 from the
// real app description (version, project name), on ESP8266 from a marker in the first segment.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "planner/chip.h"

namespace fleet::firmware {

struct SyntheticImage {
  planner::Chip chip = planner::Chip::ESP8266;
  std::string version = "9.1.0";
  std::string build = "tasmota";      // image name: tasmota, tasmota-minimal, tasmota32c3 …
  std::size_t bytes = 64 * 1024;      // size of the plain image
  bool gzip = false;
  std::uint8_t esp8266_flash_code = 0x4;  // header flash size nibble: 4 = 4 MB (Arduino ESP8266 mapping)
};

std::vector<std::uint8_t> make_image(const SyntheticImage& spec);
std::vector<std::uint8_t> gzip_bytes(std::span<const std::uint8_t> plain);

struct ImageIdentity {
  std::string version;
  std::string build;
};
// What a plain (not gzipped) image says it is, when it says so.
std::optional<ImageIdentity> identify(std::span<const std::uint8_t> plain);

}  // namespace fleet::firmware
