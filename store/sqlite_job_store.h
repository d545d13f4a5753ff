#pragma once
// Upgrade jobs in SQLite (migrations/0005_upgrade_jobs.sql): their plan, their persisted state and
// what happened, so that a job survives our process being killed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/job_store.h"
#include "store/database.h"

namespace fleet::store {

using orchestrator::JobRow;

class SqliteJobStore final : public orchestrator::JobStore {
 public:
  explicit SqliteJobStore(Database& db) : db_(db) {}
  // Throws StoreError when the device already has a running job.
  std::int64_t create(const JobRow& row) override;
  // Committed when it returns: the caller may then send the command this state announces.
  void save(std::int64_t id, const std::string& state, const std::string& status, std::int64_t now_ms) override;
  void add_events(std::int64_t id, const std::vector<std::string>& texts, std::int64_t now_ms) override;
  std::optional<JobRow> running_for(const std::string& device_mac) override;
  std::optional<JobRow> get(std::int64_t id) override;
  std::vector<JobRow> recent(std::size_t limit = 50);
  std::vector<std::string> events(std::int64_t id);

 private:
  Database& db_;
};

}  // namespace fleet::store
