#pragma once
// Where rollouts are kept (SQLite in production: store/sqlite_rollout_store.h): the rollout, each of its
// devices with the job of its current attempt, and the lease that says which process drives it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleet::orchestrator {

struct RolloutRow {
  std::int64_t id = 0;
  std::string name;
  std::string spec;    // JSON text
  std::string status;  // ready, running, paused, finished, stopped
  int current_group = 0;
  std::string reason;  // why paused or stopped
  std::optional<std::string> lease_owner;
  std::int64_t lease_until_ms = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;  // create(): created_ms when 0
  int acknowledged_errors = 0;  // failures of the current group a resume went past (set_group resets it)
  // Moved by one on every update_device() of its rows, by anyone (read only: the store keeps it).
  std::int64_t devices_rev = 0;
};

struct RolloutDeviceRow {
  std::int64_t rollout_id = 0;  // ignored by create(): the new rollout's
  std::string mac;
  std::string name;
  int group_index = 0;                 // 0 = the first group
  std::string status = "scheduled";    // scheduled, running, finished, error, skipped, cancelled
  std::optional<std::int64_t> job_id;  // the upgrade job of the current attempt
  std::string reason;
  int attempt = 0;
  std::int64_t waiting_since_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
};

class RolloutStore {
 public:
  virtual ~RolloutStore() = default;
  // One transaction: the rollout and every device row; returns the new id.
  virtual std::int64_t create(const RolloutRow& rollout, const std::vector<RolloutDeviceRow>& devices) = 0;
  virtual std::optional<RolloutRow> get(std::int64_t id) = 0;
  virtual std::vector<RolloutRow> list(std::size_t limit) = 0;                // newest first
  virtual std::vector<std::int64_t> unfinished() = 0;                         // ready, running, paused (oldest first)
  virtual std::vector<RolloutDeviceRow> devices(std::int64_t rollout_id) = 0;  // by group_index, then insertion order
  virtual std::optional<RolloutDeviceRow> device(std::int64_t rollout_id, const std::string& mac) = 0;
  // Committed when they return. A status outside the lists above is refused (throws), as is an unknown row.
  virtual void set_status(std::int64_t id, const std::string& status, const std::string& reason, std::int64_t now_ms) = 0;
  virtual void set_group(std::int64_t id, int group, std::int64_t now_ms) = 0;  // also resets acknowledged_errors
  virtual void set_acknowledged_errors(std::int64_t id, int errors, std::int64_t now_ms) = 0;
  // By (rollout_id, mac): status, job_id, reason, attempt, waiting_since_ms, started_ms, finished_ms.
  // Moves the rollout's devices_rev by one.
  virtual void update_device(const RolloutDeviceRow& row) = 0;
  // The lease: true when `owner` holds it until now+duration (taken when free, expired or already ours).
  // Atomic across processes sharing the store: of two competing owners only one gets it.
  virtual bool acquire_lease(std::int64_t id, const std::string& owner, std::int64_t now_ms, std::int64_t duration_ms) = 0;
  virtual void release_lease(std::int64_t id, const std::string& owner) = 0;  // only if ours
  // The rollout a device's running/scheduled entry belongs to, if any unfinished rollout has it scheduled or running.
  virtual std::optional<std::int64_t> active_rollout_of(const std::string& mac) = 0;
};

}  // namespace fleet::orchestrator
