#pragma once
// A Tasmota configuration file (.dmp): what `/dl` and `FileDownload` Type 2 hand out and what `/u2` and
// `FileUpload` take back. Facts (docs/backups.md; tasmota-facts.md; Tasmota settings.ino):
// - the settings image: 4096 bytes from 6.6.0.7 (0xE00 for 6.0 … 6.6.0.6); builds with a settings
//   file system prepend a 16-byte header ("/.settings" in 14 bytes + u16 LE total size) and may
//   append further records;
// - obfuscation: bytes 0-1 plain, byte i >= 2 XOR (0x5A + i), i counted from the start of the file;
// - version u32 LE at 0x008 (one byte per part), platform (config_version) at 0xF36;
// - checks: after 6.6.0.10 a CRC-32 (reflected, polynomial 0xEDB88320, start 0, inverted at the end)
//   of the first cfg_size - 4 bytes, stored at cfg_size - 4; from 6.0 to 6.6.0.10 a 16-bit sum of
//   byte * (index + 1) over cfg_size bytes skipping the checksum itself at 14-15. Tasmota writes both
//   on every save and checks the one of the file's era on restore, then its platform byte.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::backup {

struct DmpFile {
  std::vector<std::uint8_t> settings;  // de-obfuscated settings image (cfg_size bytes)
  std::vector<std::uint8_t> header;    // the 16-byte file-system header, when the file has one
  std::vector<std::uint8_t> trailer;   // what follows the settings (appended records), de-obfuscated

  std::uint32_t version_id() const;    // 0x0F000100 for 15.0.1
  planner::Version version() const;
  std::uint16_t cfg_size() const;
  // config_version at 0xF36; files before 8.2.0.4 have no such field (decode-config's tables) and come
  // from ESP8266 devices, the only platform those releases restore to.
  std::optional<std::uint8_t> platform() const;
  // The byte at 0xF36 whatever the file's era (nullopt for an image too small to have one): Tasmota's
  // ESP8266 restore looks at it even in files from before 8.2.0.4.
  std::optional<std::uint8_t> platform_byte() const;

  std::uint32_t stored_crc32() const;
  std::uint16_t stored_crc16() const;
  std::uint32_t computed_crc32() const;
  std::uint16_t computed_crc16() const;
  bool checksum_ok() const;            // the check of the file's era, as Tasmota applies it on restore
  bool uses_crc32() const { return version_id() > 0x0606000A; }

  // Recomputes both checksums after a change, as Tasmota's SettingsSave does.
  void seal();
  // The file as a device hands it out: header, obfuscated settings and trailer.
  std::vector<std::uint8_t> bytes() const;
};

struct DmpRead {
  std::optional<DmpFile> file;
  std::string error;  // why the bytes are not a usable settings file
};

// Parses and checks a .dmp: size, version, cfg_size and the checksum of its era.
DmpRead read_dmp(std::span<const std::uint8_t> bytes);

// The settings image size of a version's era; nullopt before 6.0 (those files are not read here).
std::optional<std::size_t> settings_size_for(std::uint32_t version_id);
std::uint32_t version_id(const planner::Version& v);

// The platform byte a chip writes (config_version), and whether a file's platform fits a chip.
std::optional<std::uint8_t> platform_of(planner::Chip chip);
std::string platform_name(std::uint8_t platform);

// What a backup must prove before anything destructive may run: valid for its era, taken from this
// version of the firmware and this chip. Empty when it is; otherwise every reason.
std::vector<std::string> check_backup(const DmpFile& file, const planner::Version& device_version, planner::Chip chip);

// Whether a device of this version and chip accepts the file on restore (same platform, not newer).
std::vector<std::string> check_restorable(const DmpFile& file, const planner::Version& device_version, planner::Chip chip);

}  // namespace fleet::backup
