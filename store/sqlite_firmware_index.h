#pragma once
// The firmware store's index and the OTA download log in SQLite (migrations/0003_firmware.sql).
#include <optional>
#include <string>
#include <vector>

#include "firmware/firmware_index.h"
#include "store/database.h"

namespace fleet::store {

class SqliteFirmwareIndex final : public firmware::FirmwareIndex {
 public:
  explicit SqliteFirmwareIndex(Database& db) : db_(db) {}
  void put(firmware::FirmwareEntry& entry) override;
  std::vector<firmware::FirmwareEntry> all() override;
  std::optional<firmware::FirmwareEntry> find(const std::string& path) override;

 private:
  Database& db_;
};

struct DownloadRow {
  std::int64_t id = 0;
  std::string path;
  std::string served_path;
  std::string client_ip;
  std::optional<std::string> device_mac;
  int status = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_total = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  bool completed = false;
};

class SqliteDownloadLog {
 public:
  explicit SqliteDownloadLog(Database& db) : db_(db) {}
  void append(const std::vector<DownloadRow>& rows);  // one transaction
  std::vector<DownloadRow> recent(std::size_t limit = 100);

 private:
  Database& db_;
};

}  // namespace fleet::store
