#pragma once
// The scheduled backups' checks (migrations/0009_backup_checks.sql).
#include "orchestrator/backup_checks.h"
#include "store/database.h"

namespace fleet::store {

class SqliteBackupChecks final : public orchestrator::BackupChecks {
 public:
  explicit SqliteBackupChecks(Database& db) : db_(db) {}
  void add(const orchestrator::BackupCheck& check) override;
  std::map<std::string, orchestrator::BackupCheck> latest() override;

 private:
  Database& db_;
};

}  // namespace fleet::store
