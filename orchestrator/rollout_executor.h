#pragma once
// Rollouts as the daemon (or the command line, when no daemon runs) drives them: created from a spec
// (selection, groups, plans), then advanced on every tick by the pure decision (rollout_decision.h)
// whose effects are carried out here against the stores and the job runner. The database is the
// truth: a rollout is driven only by the process holding its lease, pause/resume/abort/retry are
// written to it by whoever asks, and the holder reads them back on its next tick.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_store.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/transport.h"
#include "firmware/image.h"
#include "inventory/inventory.h"
#include "orchestrator/audit_log.h"
#include "orchestrator/job_runner.h"
#include "orchestrator/job_store.h"
#include "orchestrator/rollout_decision.h"
#include "orchestrator/rollout_spec.h"
#include "orchestrator/rollout_store.h"
#include "orchestrator/upgrade_device_job.h"
#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

namespace fleet::orchestrator {

struct RolloutPorts {
  RolloutStore& rollouts;
  AuditLog& audit;
  JobStore& jobs;
  backup::BackupStore& backups;
  JobRunner& runner;
  const inventory::Inventory& inventory;
  core::Transport& transport;
  const core::Clock& clock;
};

struct RolloutOptions {
  std::string owner;  // who holds leases: host and process
  std::int64_t lease_ms = 30'000;
  std::string state_base = "tasmota-fleet/v1";  // retained state topics below it; empty: none
  planner::Catalog catalog = planner::Catalog::builtin();
  UpgradeSettings upgrade;
  // A device's access from the rollout's access options (passwords, web port).
  std::function<DeviceAccess(const inventory::DeviceRecord& device, const nlohmann::json& access)> access_for;
  // Preflight: what is wrong with a plan's images for this device (empty: ready). Unset: not checked.
  std::function<std::vector<std::string>(const planner::UpgradePlan& plan, const firmware::DeviceFit& fit)> check_images;
  std::optional<std::int64_t> only;  // drive this rollout only (the command line running one in-process)
  std::function<void(const std::string& line)> on_event;  // each audit line as it is written (logging)
};

class RolloutExecutor {
 public:
  RolloutExecutor(RolloutPorts ports, RolloutOptions options);
  RolloutStore& store() { return p_.rollouts; }

  // Selects and plans; devices already on the target, or that cannot be planned, are listed as skipped.
  // dry_run: the same answer, nothing stored or sent.
  Result<nlohmann::json> start(const RolloutSpec& spec, bool dry_run);
  Result<nlohmann::json> pause(std::int64_t id);
  Result<nlohmann::json> resume(std::int64_t id);
  Result<nlohmann::json> abort(std::int64_t id);
  Result<nlohmann::json> retry(std::int64_t id);

  void tick();
  // A job the runner is done with (finished, failed, stopped at a safe point, or given up).
  void on_job_done(const std::shared_ptr<DeviceJob>& job);
  void release_all();  // at a clean stop: another process may take over at once
  // The process is stopping: no rollout is driven on (nothing new starts); the jobs in flight are
  // stopped at their safe points by the runner and their devices scheduled again for the next driver.
  void drain() { draining_ = true; }
  bool holds(std::int64_t id) const { return held_.count(id) > 0; }
  std::size_t in_flight() const { return jobs_.size(); }
  // The rollout whose job this process runs for the device, if any.
  std::optional<std::int64_t> rollout_of(const std::string& mac) const {
    auto it = jobs_.find(mac);
    return it == jobs_.end() ? std::nullopt : std::optional(it->second.rollout_id);
  }
  // The device rows of a rollout this process drives, when they are current for `r` (its devices_rev):
  // a view of it needs no read of the store. Null otherwise.
  const std::vector<RolloutDeviceRow>* current_rows(const RolloutRow& r) const;
  // How far this process's upgrade job of the device is (0-100), if one runs here.
  std::optional<int> percent_of(const std::string& mac) const;
  void flush_audit();  // what audit() collected, in one transaction (every tick and every request)

 private:
  struct Running {
    std::int64_t rollout_id = 0;
    std::shared_ptr<UpgradeDeviceJob> job;
    std::optional<std::uint64_t> last_progress;
    bool conflict_noted = false;
  };
  // A held rollout's device rows as this process last read or wrote them, current at the store's
  // devices_rev `rev`: it is the only writer while it holds the lease, so they are read again only when
  // the rev moved by more than its own writes (a retry or abort by another process, an edit by hand).
  struct Rows {
    std::vector<RolloutDeviceRow> rows;
    std::unordered_map<std::string, std::size_t> at;  // MAC -> index in rows
    std::int64_t rev = 0;
    std::vector<DeviceView> views;  // the last drive's, reused
  };
  struct Held {  // a rollout whose lease this process holds
    std::int64_t renewed_ms = 0;
    Rows rows;  // read at its first drive
  };
  std::vector<RolloutDeviceRow>& rows_of(const RolloutRow& r);
  RolloutDeviceRow* cached_row(std::int64_t id, const std::string& mac);
  void save(const RolloutDeviceRow& row);  // update_device, and the cached rows with it
  void drive(std::int64_t id, std::int64_t now);
  bool take_from_dead_owner(std::int64_t id, std::int64_t now);
  void apply(std::int64_t id, const RolloutEffect& e, const RolloutSpec& spec, std::int64_t now);
  void start_device(std::int64_t id, RolloutDeviceRow& row, const RolloutSpec& spec, std::int64_t now);
  void resume_device(std::int64_t id, RolloutDeviceRow& row, const RolloutSpec& spec, std::int64_t now);
  void end_device(RolloutDeviceRow& row, const std::string& status, const std::string& reason, std::int64_t now);
  std::shared_ptr<UpgradeDeviceJob> make_job(std::int64_t job_id, const JobRow& row, const inventory::DeviceRecord& d, const RolloutSpec& spec);
  void audit(std::optional<std::int64_t> rollout, std::optional<std::string> mac, std::optional<std::int64_t> job, const std::string& kind,
             const std::string& text);
  void publish_rollout(std::int64_t id);
  void publish_device(const std::string& mac, const nlohmann::json& state);
  void publish_progress();  // the device state topics of the jobs in flight whose progress moved
  Result<nlohmann::json> shown(std::int64_t id);

  RolloutPorts p_;
  RolloutOptions o_;
  std::map<std::string, Running> jobs_;  // by MAC: the device jobs this process runs for rollouts
  std::map<std::int64_t, Held> held_;
  bool slot_freed_ = false;  // a device job ended since the last drive
  bool draining_ = false;    // the process is stopping: nothing is driven on
  std::map<std::int64_t, std::pair<std::string, std::optional<RolloutSpec>>> specs_;  // rollout -> its spec text, parsed
  std::map<std::string, std::string> published_;  // topic -> last payload
  std::deque<std::int64_t> starts_;               // start times in the last minute
  std::int64_t last_drive_ms_ = 0;
  std::int64_t last_progress_ms_ = 0;
  std::vector<AuditEntry> audit_buffer_;
};

std::string process_host();

// Read-only views, for the control API and the command line.
nlohmann::json rollout_json(RolloutStore& store, const RolloutRow& row, bool with_devices);
nlohmann::json rollout_json(const RolloutRow& row, const std::vector<RolloutDeviceRow>& devices, bool with_devices);
// What a rollout's retained state topic and Home Assistant's current rollout show: rollout_json without
// what moves on every lease renewal and write. From `rows` when given (the driver's), else read.
nlohmann::json rollout_state_json(RolloutStore& store, const RolloutRow& row, const std::vector<RolloutDeviceRow>* rows);
nlohmann::json device_job_state(const RolloutDeviceRow& row, const UpgradeDeviceJob* job);

}  // namespace fleet::orchestrator
