#pragma once
// Rollouts, their devices and their lease in SQLite (migrations/0006_rollouts.sql).
#include "orchestrator/rollout_store.h"
#include "store/database.h"

namespace fleet::store {

class SqliteRolloutStore final : public orchestrator::RolloutStore {
 public:
  explicit SqliteRolloutStore(Database& db) : db_(db) {}
  std::int64_t create(const orchestrator::RolloutRow& rollout, const std::vector<orchestrator::RolloutDeviceRow>& devices) override;
  std::optional<orchestrator::RolloutRow> get(std::int64_t id) override;
  std::vector<orchestrator::RolloutRow> list(std::size_t limit) override;
  std::vector<std::int64_t> unfinished() override;
  std::vector<orchestrator::RolloutDeviceRow> devices(std::int64_t rollout_id) override;
  std::optional<orchestrator::RolloutDeviceRow> device(std::int64_t rollout_id, const std::string& mac) override;
  void set_status(std::int64_t id, const std::string& status, const std::string& reason, std::int64_t now_ms) override;
  void set_acknowledged_errors(std::int64_t id, int errors, std::int64_t now_ms) override;
  void set_group(std::int64_t id, int group, std::int64_t now_ms) override;
  void update_device(const orchestrator::RolloutDeviceRow& row) override;
  bool acquire_lease(std::int64_t id, const std::string& owner, std::int64_t now_ms, std::int64_t duration_ms) override;
  void release_lease(std::int64_t id, const std::string& owner) override;
  std::optional<std::int64_t> active_rollout_of(const std::string& mac) override;

 private:
  Database& db_;
};

}  // namespace fleet::store
