#pragma once
// The scheduled backups' checks (migrations/0009_backup_checks.sql).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "store/database.h"

namespace fleet::store {

struct BackupCheck {
  std::string device_mac;
  std::int64_t checked_ms = 0;
  std::string outcome;  // stored, unchanged, failed
  std::optional<std::int64_t> backup_id;
  std::string detail;
};

class SqliteBackupChecks {
 public:
  explicit SqliteBackupChecks(Database& db) : db_(db) {}
  void add(const BackupCheck& check);
  // Each device's newest check.
  std::map<std::string, BackupCheck> latest();

 private:
  Database& db_;
};

}  // namespace fleet::store
