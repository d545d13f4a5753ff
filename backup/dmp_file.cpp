#include "backup/dmp_file.h"

#include <array>

#include <fmt/format.h>

#include <cstring>

namespace fleet::backup {
namespace {

constexpr std::uint8_t kXor = 0x5A;
constexpr std::size_t kHeaderSize = 16;
constexpr char kHeaderName[] = "/.settings";
constexpr std::size_t kPlatformAt = 0xF36;
constexpr std::uint8_t kLastPlatform = 8;  // ESP32-C5

std::uint32_t u32_at(const std::vector<std::uint8_t>& b, std::size_t at) {
  if (at + 4 > b.size()) return 0;
  return std::uint32_t(b[at]) | std::uint32_t(b[at + 1]) << 8 | std::uint32_t(b[at + 2]) << 16 | std::uint32_t(b[at + 3]) << 24;
}
std::uint16_t u16_at(const std::vector<std::uint8_t>& b, std::size_t at) {
  if (at + 2 > b.size()) return 0;
  return std::uint16_t(b[at] | b[at + 1] << 8);
}
void put_u32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = std::uint8_t(v >> (8 * i));
}
void put_u16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = std::uint8_t(v);
  b[at + 1] = std::uint8_t(v >> 8);
}

// The obfuscation is its own inverse; `origin` is where byte 0 of `data` sits in the file.
void xor_in_place(std::vector<std::uint8_t>& data, std::size_t origin, std::size_t from) {
  for (std::size_t i = from; i < data.size(); ++i) data[i] ^= std::uint8_t(kXor + origin + i);
}

std::string version_name(std::uint32_t id) {
  planner::Version v{int(id >> 24), int((id >> 16) & 0xFF), int((id >> 8) & 0xFF), int(id & 0xFF)};
  return v.str();
}

}  // namespace

std::uint32_t DmpFile::version_id() const { return u32_at(settings, 0x008); }
planner::Version DmpFile::version() const {
  auto id = version_id();
  return {int(id >> 24), int((id >> 16) & 0xFF), int((id >> 8) & 0xFF), int(id & 0xFF)};
}
std::uint16_t DmpFile::cfg_size() const { return u16_at(settings, 0x002); }
std::optional<std::uint8_t> DmpFile::platform() const {
  if (version_id() < 0x08020004 || settings.size() <= kPlatformAt) return std::nullopt;
  return settings[kPlatformAt];
}
std::optional<std::uint8_t> DmpFile::platform_byte() const {
  if (settings.size() <= kPlatformAt) return std::nullopt;
  return settings[kPlatformAt];
}

std::uint32_t DmpFile::stored_crc32() const { return settings.size() >= 4 ? u32_at(settings, settings.size() - 4) : 0; }
std::uint16_t DmpFile::stored_crc16() const { return u16_at(settings, 0x00E); }

std::uint32_t DmpFile::computed_crc32() const {
  // The reflected CRC-32 polynomial a byte at a time (the bitwise loop was 4 % of the daemon's CPU:
  // every backup, restore and verification checks it); Tasmota's variant starts from 0.
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0xEDB88320u : 0u);
      t[b] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0;
  std::size_t n = settings.size() >= 4 ? settings.size() - 4 : 0;
  for (std::size_t i = 0; i < n; ++i) crc = (crc >> 8) ^ table[(crc ^ settings[i]) & 0xFFu];
  return ~crc;
}

std::uint16_t DmpFile::computed_crc16() const {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < settings.size(); ++i)
    if (i != 14 && i != 15) sum += std::uint32_t(settings[i]) * std::uint32_t(i + 1);
  return std::uint16_t(sum);
}

bool DmpFile::checksum_ok() const {
  return uses_crc32() ? computed_crc32() == stored_crc32() : computed_crc16() == stored_crc16();
}

void DmpFile::seal() {
  put_u16(settings, 0x00E, computed_crc16());
  if (settings.size() >= 0x1000) put_u32(settings, settings.size() - 4, computed_crc32());
}

std::vector<std::uint8_t> DmpFile::bytes() const {
  std::vector<std::uint8_t> body = settings;
  body.insert(body.end(), trailer.begin(), trailer.end());
  xor_in_place(body, header.size(), 2);
  std::vector<std::uint8_t> out = header;
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::optional<std::size_t> settings_size_for(std::uint32_t id) {
  if (id < 0x06000000) return std::nullopt;
  return id >= 0x06060007 ? 0x1000 : 0xE00;
}

std::uint32_t version_id(const planner::Version& v) {
  return std::uint32_t(v.major) << 24 | std::uint32_t(v.minor) << 16 | std::uint32_t(v.patch) << 8 | std::uint32_t(v.sub);
}

DmpRead read_dmp(std::span<const std::uint8_t> bytes) {
  DmpRead r;
  std::vector<std::uint8_t> body(bytes.begin(), bytes.end());
  DmpFile f;
  if (body.size() >= kHeaderSize && std::memcmp(body.data(), kHeaderName, sizeof kHeaderName - 1) == 0) {
    f.header.assign(body.begin(), body.begin() + kHeaderSize);
    body.erase(body.begin(), body.begin() + kHeaderSize);
  }
  if (body.size() < 0x10) {
    r.error = fmt::format("not a Tasmota settings file: {} bytes", bytes.size());
    return r;
  }
  xor_in_place(body, f.header.size(), 2);
  std::uint32_t id = u32_at(body, 0x008);
  auto size = settings_size_for(id);
  if ((id >> 24) > 99 || ((id >> 16) & 0xFF) > 99) {
    r.error = fmt::format("not a Tasmota settings file: version field 0x{:08X} is no Tasmota version", id);
    return r;
  }
  if (!size) {
    r.error = fmt::format("settings of Tasmota {} (before 6.0) are not read here: back it up by commands", version_name(id));
    return r;
  }
  if (body.size() < *size) {
    r.error = fmt::format("truncated: {} bytes of settings, Tasmota {} writes {}", body.size(), version_name(id), *size);
    return r;
  }
  std::uint16_t cfg_size = u16_at(body, 0x002);
  if (cfg_size != *size) {
    r.error = fmt::format("cfg_size says {} bytes, Tasmota {} writes {}", cfg_size, version_name(id), *size);
    return r;
  }
  f.settings.assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(*size));
  f.trailer.assign(body.begin() + static_cast<std::ptrdiff_t>(*size), body.end());
  if (f.header.empty() && !f.trailer.empty()) {
    r.error = fmt::format("{} bytes after the settings of a file without a settings header", f.trailer.size());
    return r;
  }
  // Platforms Tasmota knows: 0 ESP8266 … 8 ESP32-C5 (tasmota-facts.md, "The .dmp format"); anything else
  // is no file any firmware wrote, and reading it as some ESP32 would show wrong values.
  if (auto p = f.platform(); p && *p > kLastPlatform) {
    r.error = fmt::format("unknown platform byte {} at 0xF36: Tasmota writes 0 (ESP8266) to {} (ESP32-C5)", *p, kLastPlatform);
    return r;
  }
  if (!f.checksum_ok()) {
    r.error = f.uses_crc32() ? fmt::format("CRC-32 mismatch: stored 0x{:08x}, computed 0x{:08x}", f.stored_crc32(), f.computed_crc32())
                             : fmt::format("checksum mismatch: stored 0x{:04x}, computed 0x{:04x}", f.stored_crc16(), f.computed_crc16());
    return r;
  }
  r.file = std::move(f);
  return r;
}

std::optional<std::uint8_t> platform_of(planner::Chip chip) {
  using planner::Chip;
  switch (chip) {
    case Chip::ESP8266:
    case Chip::ESP8285: return 0;
    case Chip::ESP32: return 1;
    case Chip::ESP32S3: return 2;
    case Chip::ESP32S2: return 3;
    case Chip::ESP32C3: return 4;
    case Chip::ESP32C2: return 5;
    case Chip::ESP32C6: return 6;
    case Chip::ESP32P4: return 7;
    case Chip::ESP32C5: return 8;
    case Chip::Unknown: break;
  }
  return std::nullopt;
}

std::string platform_name(std::uint8_t platform) {
  static const char* names[] = {"ESP8266", "ESP32", "ESP32-S3", "ESP32-S2", "ESP32-C3", "ESP32-C2", "ESP32-C6", "ESP32-P4", "ESP32-C5"};
  return platform < std::size(names) ? names[platform] : fmt::format("unknown platform {}", platform);
}

namespace {
void check_platform(const DmpFile& file, planner::Chip chip, std::vector<std::string>& problems) {
  auto want = platform_of(chip);
  auto have = file.platform().value_or(0);
  if (!want) problems.push_back("the device's chip is unknown: cannot tell whether the file is for it");
  else if (have != *want)
    problems.push_back(fmt::format("the file is for {} (platform {}{}), the device is {}", platform_name(have), have,
                                   file.platform() ? "" : ", a file from before 8.2.0.4", planner::to_string(chip)));
}
}  // namespace

std::vector<std::string> check_backup(const DmpFile& file, const planner::Version& device_version, planner::Chip chip) {
  std::vector<std::string> problems;
  if (!file.checksum_ok()) problems.push_back("checksum of its era does not match");
  if (file.version() != device_version)
    problems.push_back(fmt::format("the file says Tasmota {}, the device reports {}", file.version().str(), device_version.str()));
  check_platform(file, chip, problems);
  return problems;
}

std::vector<std::string> check_restorable(const DmpFile& file, const planner::Version& device_version, planner::Chip chip) {
  std::vector<std::string> problems;
  if (!file.checksum_ok()) problems.push_back("checksum of its era does not match");
  // Tasmota's ESP8266 SettingsConfigRestore refuses a file whose byte at 0xF36 is not 0, whatever its
  // version (tasmota-facts.md, "Configuration backup and restore"); a file from before 8.2.0.4 has no
  // platform field, so check_platform alone would take it.
  if (platform_of(chip) == std::uint8_t{0} && !file.platform() && file.platform_byte().value_or(0) != 0)
    problems.push_back(fmt::format("Tasmota's ESP8266 restore refuses a file whose byte at 0xF36 is not 0 (it is {})", *file.platform_byte()));
  if (file.version() > device_version)
    problems.push_back(fmt::format("the file is from Tasmota {}, newer than the device's {}: firmware migrates settings forward only",
                                   file.version().str(), device_version.str()));
  check_platform(file, chip, problems);
  return problems;
}

}  // namespace fleet::backup
