#pragma once
// Backups in SQLite (migrations/0004_backups.sql).
#include "backup/backup_store.h"
#include "store/database.h"

namespace fleet::store {

class SqliteBackupStore final : public backup::BackupStore {
 public:
  explicit SqliteBackupStore(Database& db) : db_(db) {}
  std::int64_t add(const backup::BackupRecord& record) override;
  std::optional<backup::BackupRecord> get(std::int64_t id) override;
  std::vector<backup::BackupRecord> list(const std::optional<std::string>& device_mac) override;
  void pin(std::int64_t id, const std::optional<std::string>& job) override;
  int prune(int keep) override;

 private:
  Database& db_;
};

}  // namespace fleet::store
