#pragma once
// Where backups are kept (SQLite in production: store/sqlite_backup_store.h). Rows are added, read and
// pruned whole; a backup is never modified, and one an unfinished job relies on is never pruned.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::backup {

struct BackupRecord {
  std::int64_t id = 0;
  std::string device_mac;
  std::string topic;
  std::string version;
  std::string chip;
  std::string method;  // mqtt, http, snapshot
  std::vector<std::uint8_t> dmp;  // empty in list() results: see bytes
  std::int64_t bytes = 0;         // the file's size, also in list() results
  std::string sha256;
  std::string file_name;
  std::string snapshot;  // JSON
  std::int64_t taken_ms = 0;
  std::optional<std::string> pinned_by;
  std::string note;
};

class BackupStore {
 public:
  virtual ~BackupStore() = default;
  // Durable when it returns (committed); returns the new id.
  virtual std::int64_t add(const BackupRecord& record) = 0;
  virtual std::optional<BackupRecord> get(std::int64_t id) = 0;
  // Newest first; without the file bytes (list views stay cheap).
  virtual std::vector<BackupRecord> list(const std::optional<std::string>& device_mac) = 0;
  virtual void pin(std::int64_t id, const std::optional<std::string>& job) = 0;
  // Keeps the newest `keep` per device and every pinned one; returns how many were deleted.
  virtual int prune(int keep) = 0;
};

}  // namespace fleet::backup
