#pragma once
// The firmware store's index: one row per image file, kept in the SQLite database beside the
// inventory (store/sqlite_firmware_index implements it; tests may use a map).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::firmware {

struct FirmwareEntry {
  std::int64_t id = 0;
  std::string path;     // below the store's root, as URLs name it: "tasmota/release-9.1.0/tasmota-lite.bin.gz"
  std::string version;  // "9.1.0"
  std::string build;    // image name: "tasmota-lite", "tasmota32c3", "tasmota-minimal"
  std::string chip;     // "ESP8266" (the whole family) or the exact ESP32 chip: "ESP32-C3"
  std::int64_t bytes = 0;
  std::string sha256;
  std::string source;   // "add /home/me/tasmota.bin.gz", "fetch http://ota.tasmota.com/…"
  std::int64_t added_ms = 0;
  bool gzip = false;
};

class FirmwareIndex {
 public:
  virtual ~FirmwareIndex() = default;
  virtual void put(FirmwareEntry& entry) = 0;  // insert or replace by path; sets entry.id
  virtual std::vector<FirmwareEntry> all() = 0;
  virtual std::optional<FirmwareEntry> find(const std::string& path) = 0;
};

}  // namespace fleet::firmware
