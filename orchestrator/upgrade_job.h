#pragma once
// One device's careful upgrade, hop by hop along its plan: Backup -> Reset 6 -> OtaUrl -> Upgrade ->
// AwaitRestart -> VerifyVersion -> HealthCheck -> Restore -> VerifySettings (the steps each hop of the
// plan names). A pure, durable state machine: everything it must remember is in UpgradeJobState, which
// the caller writes durably whenever the job hands out a Persist action, before it executes the
// actions that follow. A job rebuilt from the last persisted state after our process was killed goes on
// from there and never sends a destructive command twice (Reset 6, Upgrade 1): a step whose command may
// have gone out is continued by looking at the device instead. A settings upload that may have gone out
// is verified first and repeated only when the device does not hold the backup's settings (it writes the
// same settings again: nothing is lost by it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_job.h"
#include "backup/restore_job.h"

namespace fleet::orchestrator {

struct JobHop {
  std::string version;             // "9.1.0"
  std::string build;               // image name, "tasmota"
  std::string url;                 // OtaUrl of this hop
  std::vector<std::string> steps;  // planner::Step names, in order
};

struct UpgradeJobState {
  std::size_t hop = 0;
  std::size_t step = 0;                 // index into hops[hop].steps
  bool sent = false;                    // the current step's destructive command may have gone out
  std::string current_version;          // what the device runs now (verified)
  std::optional<std::int64_t> backup_id;  // this hop's backup
  std::string status = "running";       // running, done, failed, stopped (asked to, at a safe point)
  std::string error;
  std::string failed_upgrade;           // set when Upgrade failed: the settings are restored, then the job fails

  nlohmann::json to_json() const;
  static UpgradeJobState from_json(const nlohmann::json& j);  // throws on a malformed state
};

struct UpgradeSettings {
  std::string device_mqtt_password;
  std::int64_t reply_timeout_ms = 10'000;
  std::int64_t restart_timeout_ms = 120'000;
  std::int64_t upgrade_timeout_ms = 600'000;  // from Upgrade 1 to the restart: a slow download included
};

struct JobAction {
  enum class Kind { Device, StoreBackup, LoadBackup, Persist, Finished } kind = Kind::Device;
  backup::DeviceAction device;  // Device
  backup::BackupRecord record;  // StoreBackup: keep it, then call on_backup_stored(id)
  std::int64_t backup_id = 0;   // LoadBackup: read it, then call on_backup_loaded(bytes)
  UpgradeJobState state;        // Persist: write it durably before going on
};

class UpgradeJob {
 public:
  UpgradeJob(backup::BackupTarget device, std::vector<JobHop> hops, UpgradeJobState state, UpgradeSettings settings);

  std::vector<JobAction> start(std::int64_t now_ms);
  std::vector<JobAction> on_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  std::vector<JobAction> on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms);
  std::vector<JobAction> on_time(std::int64_t now_ms);
  std::vector<JobAction> on_backup_stored(std::int64_t id, std::int64_t now_ms);
  std::vector<JobAction> on_backup_loaded(std::optional<std::vector<std::uint8_t>> bytes, std::int64_t now_ms);

  // Stop at the next safe point: before this hop's first destructive command, or when a hop is done (the
  // device then runs a verified firmware with its settings restored). Not persisted: whoever asked asks
  // again after a restart.
  void request_stop() { stop_requested_ = true; }

  const UpgradeJobState& state() const { return state_; }
  bool finished() const { return state_.status != "running"; }
  // The topic commands go to now (a restore may move the device back from the default topics).
  std::string command_topic() const;
  // What happened, for the job's event log; taken once.
  std::vector<std::string> take_events();
  std::string current_step() const;
  std::size_t hop_count() const { return hops_.size(); }
  std::size_t steps_in_hop() const { return state_.hop < hops_.size() ? hops_[state_.hop].steps.size() : 0; }

 private:
  enum class Wait { None, BackupRun, BackupStore, Restart, OtaUrlReply, UpgradeReply, VersionReply, HealthReply, BackupLoad, RestoreRun };
  std::vector<JobAction> enter_step(std::int64_t now_ms, bool resumed);
  std::vector<JobAction> next_step(std::int64_t now_ms);
  std::vector<JobAction> fail(std::string why);
  std::vector<JobAction> stop_here(const std::string& where);
  bool hop_untouched() const;  // nothing but the backup done in this hop so far
  std::vector<JobAction> persist_then(std::vector<JobAction> then);
  std::vector<JobAction> wrap(std::vector<backup::DeviceAction> actions);
  std::vector<JobAction> publish(std::string command, std::string payload);
  std::vector<JobAction> await_restart(std::int64_t now_ms, std::int64_t timeout_ms);
  std::vector<JobAction> restarted(std::int64_t now_ms);
  // What the running backup or restore job asked for, and what follows when it has finished.
  std::vector<JobAction> from_inner(std::vector<backup::DeviceAction> actions, std::int64_t now_ms);
  std::vector<JobAction> after_backup_job(std::int64_t now_ms);
  std::vector<JobAction> after_restore_job(std::int64_t now_ms);
  const JobHop& hop() const { return hops_[state_.hop]; }
  std::string step_name() const;
  void event(std::string text) { events_.push_back(std::move(text)); }

  backup::BackupTarget device_;
  std::vector<JobHop> hops_;
  UpgradeJobState state_;
  UpgradeSettings settings_;
  Wait wait_ = Wait::None;
  bool stop_requested_ = false;
  std::int64_t deadline_ms_ = 0;
  bool seen_offline_ = false;
  std::int64_t online_at_ms_ = 0;  // LWT Online after Offline: INFO1 (or a quiet moment) ends the wait
  static constexpr std::int64_t kQuietAfterOnlineMs = 3000;
  int query_tries_ = 0;
  bool upgrade_resumed_ = false;  // Upgrade 1 may have gone out before we were interrupted
  int ota_tries_ = 0;
  std::optional<backup::BackupJob> backup_;
  std::optional<backup::RestoreJob> restore_;
  bool restore_verify_only_ = false;
  bool restore_retried_ = false;
  bool restored_ = false;  // this hop's settings were restored and verified
  std::vector<std::uint8_t> restore_bytes_;
  std::string restore_topic_;
  std::vector<std::string> events_;
};

}  // namespace fleet::orchestrator
