#pragma once
// The audit log in SQLite (migrations/0006_rollouts.sql): append-only, the database refuses the rest.
#include "orchestrator/audit_log.h"
#include "store/database.h"

namespace fleet::store {

class SqliteAuditLog final : public orchestrator::AuditLog {
 public:
  explicit SqliteAuditLog(Database& db) : db_(db) {}
  void append(const std::vector<orchestrator::AuditEntry>& entries) override;
  std::vector<orchestrator::AuditEntry> read(const orchestrator::AuditQuery& query) override;

 private:
  Database& db_;
};

}  // namespace fleet::store
