#pragma once
// Where upgrade jobs keep their plan, persisted state and history (SQLite: store/sqlite_job_store.h), so
// that a job survives our process being killed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::orchestrator {

struct JobRow {
  std::int64_t id = 0;
  std::string device_mac;
  std::string target;
  std::string target_build;
  std::string hops;   // JSON
  std::string state;  // JSON
  std::string status;  // running, done, failed, stopped
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::optional<std::int64_t> rollout_id;  // the rollout that started it; none for a job started on its own
};

class JobStore {
 public:
  virtual ~JobStore() = default;
  // Throws when the device already has a running job.
  virtual std::int64_t create(const JobRow& row) = 0;
  // Committed when it returns: the caller may then send the command this state announces.
  virtual void save(std::int64_t id, const std::string& state, const std::string& status, std::int64_t now_ms) = 0;
  virtual void add_events(std::int64_t id, const std::vector<std::string>& texts, std::int64_t now_ms) = 0;
  virtual std::optional<JobRow> running_for(const std::string& device_mac) = 0;
  virtual std::optional<JobRow> get(std::int64_t id) = 0;
};

// A device in an upgrade job (this process's or another's, until the job ends) is that job's alone:
// why, for whoever would start another job on it ("upgrade job #3 is running on it (rollout #2)").
inline std::optional<std::string> held_by_upgrade_job(JobStore& jobs, const std::string& device_mac) {
  auto running = jobs.running_for(device_mac);
  if (!running) return std::nullopt;
  return "upgrade job #" + std::to_string(running->id) + " is running on it" +
         (running->rollout_id ? " (rollout #" + std::to_string(*running->rollout_id) + ")" : "");
}

}  // namespace fleet::orchestrator
