// Firmware image inspection (firmware/image.h): every image `firmware add` and `firmware fetch` take in,
// gzip streams included, before any device sees it. Aborts when an accepted image's facts contradict
// its bytes: its size, a gzip flag that is not gzip, a plain image that does not start with 0xE9.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "firmware/image.h"
#include "firmware/synthetic_image.h"

using namespace fleet::firmware;
using fleet::planner::Chip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  auto r = inspect(bytes);
  if (!r.ok()) {
    if (r.error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  const ImageInfo& info = *r.info;
  if (info.file_bytes != size || info.image_bytes > kMaxImageBytes) std::abort();
  bool gzip_magic = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (info.gzip != gzip_magic) std::abort();
  if (!info.gzip && (data[0] != 0xE9 || info.image_bytes != size)) std::abort();
  if (info.gzip) {
    std::string error;
    auto plain = gunzip(bytes, kMaxImageBytes, error);
    if (!plain || plain->size() != info.image_bytes || plain->empty() || (*plain)[0] != 0xE9) std::abort();
    (void)identify(*plain);
  } else {
    (void)identify(bytes);
  }
  for (Chip chip : {Chip::ESP8266, Chip::ESP8285, Chip::ESP32, Chip::ESP32C3, Chip::ESP32S3, Chip::Unknown}) {
    (void)unsuitable(info, DeviceFit{chip, 380, 620, 4096}, false);
    (void)unsuitable(info, DeviceFit{chip, {}, {}, {}}, true);
  }
  return 0;
}
