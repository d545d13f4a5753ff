#pragma once
// The audit log (SQLite in production: store/sqlite_audit_log.h): every command sent to a device, its
// reply and each change of a job's or rollout's state, kept as evidence. Entries are only ever added.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::orchestrator {

struct AuditEntry {
  std::int64_t id = 0;  // assigned by the store
  std::int64_t at_ms = 0;
  std::optional<std::int64_t> rollout_id;
  std::optional<std::string> device_mac;
  std::optional<std::int64_t> job_id;
  std::string kind;  // command, reply, state
  std::string text;
};

// Entries matching every field given, in id order after `after_id`: page on with the last id read.
// Every member has an initialiser, so a designated initialiser may name only what it filters on.
struct AuditQuery {
  std::optional<std::string> device_mac{};
  std::optional<std::int64_t> rollout_id{};
  std::int64_t after_id = 0;
  std::size_t limit = 1000;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual void append(const std::vector<AuditEntry>& entries) = 0;  // one transaction; ids assigned by the store
  virtual std::vector<AuditEntry> read(const AuditQuery& query) = 0;  // id order, after after_id
};

}  // namespace fleet::orchestrator
