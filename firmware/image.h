#pragma once
// What a firmware image is, read from its bytes before any device sees it. Facts (no code) from
// Espressif's image format and the Arduino cores Tasmota builds on (docs/firmware.md):
// - every ESP application image starts with the magic byte 0xE9;
// - ESP8266: an 8-byte header (magic, segment count, flash mode, flash size << 4 | speed, entry);
// - ESP32 family: a 24-byte header whose bytes 12-13 are the chip id (0 ESP32, 2 S2, 5 C3, 9 S3, 12 C2,
//   13 C6, 18 P4, 23 C5), then the first segment header, then the app description (magic 0xABCD5432,
//   version at +16, project name at +48);
// - a .gz image is a gzip stream of such an image (ESP8266 OTA accepts it from Tasmota 8.2).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "planner/chip.h"

namespace fleet::firmware {

struct ImageInfo {
  bool esp32 = false;                      // ESP32 family (else ESP8266/ESP8285)
  planner::Chip chip = planner::Chip::ESP8266;  // the exact chip of an ESP32 image; ESP8266 for the other family
  bool gzip = false;
  std::size_t file_bytes = 0;              // as stored and downloaded
  std::size_t image_bytes = 0;             // after gunzip
  int segments = 0;
  std::optional<std::uint32_t> flash_bytes;  // ESP8266: the flash size the header asks for
  std::string app_version;                 // ESP32 app description (empty on ESP8266)
  std::string project_name;
};

// Refusal with the reason, e.g. "not an ESP application image: first byte 0x7f, expected 0xE9".
struct Inspection {
  std::optional<ImageInfo> info;
  std::string error;
  bool ok() const { return info.has_value(); }
};

// The largest image that is plausible at all (16 MB flash); a gzip that inflates beyond it is a bomb.
constexpr std::size_t kMaxImageBytes = 16u << 20;

Inspection inspect(std::span<const std::uint8_t> bytes);

// Whether a checked image may go to a device: right chip family and exact chip, and room for it.
// free_kb / program_kb are Status 4's Free and ProgramSize; unknown values are not held against it.
// `minimal_step` says the plan goes through the -minimal image first, which frees the space.
struct DeviceFit {
  planner::Chip chip = planner::Chip::Unknown;
  std::optional<int> free_kb;
  std::optional<int> program_kb;
  std::optional<int> flash_kb;
};
std::optional<std::string> unsuitable(const ImageInfo& image, const DeviceFit& device, bool minimal_step);

// Inflates a gzip stream, refusing anything that grows beyond `limit` bytes.
std::optional<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> bytes, std::size_t limit, std::string& error);

// The ESP32 chip id of an image header, and back.
std::optional<planner::Chip> chip_from_image_id(std::uint16_t id);
std::optional<std::uint16_t> image_id_of(planner::Chip chip);

}  // namespace fleet::firmware
