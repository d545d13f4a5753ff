#pragma once
// Where the scheduled backups' checks are kept (SQLite: store/sqlite_backup_checks.h), so that a
// restarted daemon goes on with the schedule instead of starting over.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fleet::orchestrator {

struct BackupCheck {
  std::string device_mac;
  std::int64_t checked_ms = 0;
  std::string outcome;  // stored, unchanged, failed
  std::optional<std::int64_t> backup_id;  // the backup stored, or the one the settings were found equal to
  std::string detail;
};

class BackupChecks {
 public:
  virtual ~BackupChecks() = default;
  virtual void add(const BackupCheck& check) = 0;
  virtual std::map<std::string, BackupCheck> latest() = 0;  // each device's newest check
};

}  // namespace fleet::orchestrator
