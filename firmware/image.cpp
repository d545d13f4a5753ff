#include "firmware/image.h"

#include <zlib.h>

#include <fmt/core.h>

#include <array>
#include <cstring>

namespace fleet::firmware {
namespace {

constexpr std::uint8_t kMagic = 0xE9;
constexpr std::uint32_t kAppDescMagic = 0xABCD5432;
constexpr std::size_t kEsp8266Header = 8;
constexpr std::size_t kEsp32Header = 24;
constexpr std::size_t kSegmentHeader = 8;
constexpr int kMaxSegments = 16;

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) | (static_cast<std::uint32_t>(p[2]) << 16) |
         (static_cast<std::uint32_t>(p[3]) << 24);
}

std::string c_string(const std::uint8_t* p, std::size_t max) {
  std::size_t n = 0;
  while (n < max && p[n] != 0) ++n;
  std::string s(reinterpret_cast<const char*>(p), n);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s;
}

// Arduino ESP8266 core, EspClass::magicFlashChipSize: the high nibble of header byte 3.
std::optional<std::uint32_t> esp8266_flash_bytes(std::uint8_t nibble) {
  switch (nibble) {
    case 0x0: return 512u << 10;
    case 0x1: return 256u << 10;
    case 0x2: return 1u << 20;
    case 0x3: return 2u << 20;
    case 0x4: return 4u << 20;
    case 0x8: return 8u << 20;
    case 0x9: return 16u << 20;
    default: return std::nullopt;
  }
}

// Walks the segment headers; returns the offset after the last segment or an error.
std::optional<std::size_t> walk_segments(std::span<const std::uint8_t> b, std::size_t at, int count, std::string& error) {
  for (int i = 0; i < count; ++i) {
    if (at + kSegmentHeader > b.size()) {
      error = fmt::format("truncated: segment {} of {} starts beyond the end ({} bytes)", i + 1, count, b.size());
      return std::nullopt;
    }
    std::uint32_t len = le32(b.data() + at + 4);
    if (len > kMaxImageBytes) {
      error = fmt::format("corrupt: segment {} claims {} bytes", i + 1, len);
      return std::nullopt;
    }
    at += kSegmentHeader + len;
    if (at > b.size()) {
      error = fmt::format("truncated: segment {} of {} ends at byte {}, the file has {}", i + 1, count, at, b.size());
      return std::nullopt;
    }
  }
  return at;
}

Inspection fail(std::string why) { return Inspection{std::nullopt, std::move(why)}; }

Inspection inspect_plain(std::span<const std::uint8_t> b) {
  if (b.empty()) return fail("empty file");
  if (b[0] != kMagic) return fail(fmt::format("not an ESP application image: first byte 0x{:02x}, expected 0xE9", b[0]));
  if (b.size() < kEsp8266Header) return fail(fmt::format("truncated: {} bytes, shorter than an image header", b.size()));
  ImageInfo info;
  info.segments = b[1];
  if (info.segments < 1 || info.segments > kMaxSegments)
    return fail(fmt::format("corrupt header: {} segments (1 to {} expected)", info.segments, kMaxSegments));
  // An ESP32-family image carries the app description right after its first segment header.
  bool esp32 = b.size() >= kEsp32Header + kSegmentHeader + 4 && le32(b.data() + kEsp32Header + kSegmentHeader) == kAppDescMagic;
  std::string error;
  if (esp32) {
    auto chip = chip_from_image_id(le16(b.data() + 12));
    if (!chip) return fail(fmt::format("ESP32-family image for an unknown chip id {}", le16(b.data() + 12)));
    info.esp32 = true;
    info.chip = *chip;
    const std::uint8_t* desc = b.data() + kEsp32Header + kSegmentHeader;
    if (b.size() >= kEsp32Header + kSegmentHeader + 80) {
      info.app_version = c_string(desc + 16, 32);
      info.project_name = c_string(desc + 48, 32);
    }
    auto end = walk_segments(b, kEsp32Header, info.segments, error);
    if (!end) return fail(error);
    // Then padding up to a 16-byte boundary holding the checksum byte, and the appended SHA-256 if flagged.
    std::size_t need = (*end / 16 + 1) * 16 + (b[23] == 1 ? 32 : 0);
    if (need > b.size()) return fail(fmt::format("truncated: the image needs {} bytes with its checksum, the file has {}", need, b.size()));
  } else {
    info.flash_bytes = esp8266_flash_bytes(static_cast<std::uint8_t>(b[3] >> 4));
    if (!info.flash_bytes) return fail(fmt::format("corrupt header: unknown flash size code 0x{:x}", b[3] >> 4));
    if (!walk_segments(b, kEsp8266Header, info.segments, error)) return fail(error);
  }
  info.file_bytes = info.image_bytes = b.size();
  return Inspection{info, {}};
}

}  // namespace

std::optional<planner::Chip> chip_from_image_id(std::uint16_t id) {
  using planner::Chip;
  switch (id) {
    case 0x0000: return Chip::ESP32;
    case 0x0002: return Chip::ESP32S2;
    case 0x0005: return Chip::ESP32C3;
    case 0x0009: return Chip::ESP32S3;
    case 0x000C: return Chip::ESP32C2;
    case 0x000D: return Chip::ESP32C6;
    case 0x0012: return Chip::ESP32P4;
    case 0x0017: return Chip::ESP32C5;
    default: return std::nullopt;
  }
}

std::optional<std::uint16_t> image_id_of(planner::Chip chip) {
  for (std::uint16_t id : {0x0000, 0x0002, 0x0005, 0x0009, 0x000C, 0x000D, 0x0012, 0x0017})
    if (chip_from_image_id(id) == chip) return id;
  return std::nullopt;
}

std::optional<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> bytes, std::size_t limit, std::string& error) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    error = "zlib failed to start";
    return std::nullopt;
  }
  std::vector<std::uint8_t> out;
  std::array<std::uint8_t, 64 * 1024> chunk{};
  z.next_in = const_cast<Bytef*>(bytes.data());
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = chunk.data();
    z.avail_out = chunk.size();
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      error = rc == Z_BUF_ERROR ? "truncated gzip stream" : fmt::format("corrupt gzip stream ({})", z.msg ? z.msg : "inflate failed");
      inflateEnd(&z);
      return std::nullopt;
    }
    std::size_t got = chunk.size() - z.avail_out;
    if (out.size() + got > limit) {
      error = fmt::format("gzip inflates beyond {} bytes: refused (a gzip bomb, or not a firmware image)", limit);
      inflateEnd(&z);
      return std::nullopt;
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    if (rc != Z_STREAM_END && z.avail_in == 0 && got == 0) {
      error = "truncated gzip stream";
      inflateEnd(&z);
      return std::nullopt;
    }
  }
  bool trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (trailing) {
    error = "data after the end of the gzip stream";
    return std::nullopt;
  }
  return out;
}

Inspection inspect(std::span<const std::uint8_t> bytes) {
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    std::string error;
    auto inner = gunzip(bytes, kMaxImageBytes, error);
    if (!inner) return fail(error);
    auto r = inspect_plain(*inner);
    if (!r.ok()) return fail("inside the gzip: " + r.error);
    r.info->gzip = true;
    r.info->file_bytes = bytes.size();
    return r;
  }
  return inspect_plain(bytes);
}

std::optional<std::string> unsuitable(const ImageInfo& image, const DeviceFit& device, bool minimal_step) {
  using planner::Chip;
  if (device.chip == Chip::Unknown) return std::string("the device's chip is unknown");
  bool device_esp32 = planner::is_esp32_family(device.chip);
  if (image.esp32 != device_esp32)
    return fmt::format("{} image for an {} device", image.esp32 ? planner::to_string(image.chip) : "ESP8266", planner::to_string(device.chip));
  if (image.esp32 && image.chip != device.chip)
    return fmt::format("image for {} (chip id in its header), the device is an {}", planner::to_string(image.chip), planner::to_string(device.chip));
  if (image.gzip && image.esp32) return std::string("ESP32 OTA takes .bin images, not .gz");
  if (image.flash_bytes && device.flash_kb && *image.flash_bytes > static_cast<std::uint32_t>(*device.flash_kb) * 1024u)
    return fmt::format("the image asks for {} KB of flash, the device has {} KB", *image.flash_bytes / 1024, *device.flash_kb);
  if (minimal_step || !device.free_kb) return std::nullopt;
  // What is written during OTA is the file as downloaded (a .gz is inflated at the next boot), so the
  // file must fit the free program space; the inflated image must fit the whole program area.
  std::size_t free_bytes = static_cast<std::size_t>(*device.free_kb) * 1024;
  if (image.file_bytes > free_bytes)
    return fmt::format("{} KB image, {} KB free program space: needs the -minimal step", (image.file_bytes + 1023) / 1024, *device.free_kb);
  if (image.gzip && device.program_kb && image.image_bytes > free_bytes + static_cast<std::size_t>(*device.program_kb) * 1024)
    return fmt::format("inflates to {} KB, more than the {} KB program area", (image.image_bytes + 1023) / 1024,
                       *device.free_kb + *device.program_kb);
  return std::nullopt;
}

}  // namespace fleet::firmware
