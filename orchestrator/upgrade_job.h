#pragma once
// One device's careful upgrade, hop by hop along its plan: Backup -> Reset 6 -> OtaUrl -> Upgrade ->
// AwaitRestart -> VerifyVersion -> HealthCheck -> Restore -> VerifySettings (the steps each hop of the
// plan names), then the device's own OtaUrl put back. A pure, durable state machine: everything it must
// remember is in UpgradeJobState, which the caller writes durably whenever the job hands out an
// effect::Persist, before it executes the effects that follow. What each step does on entry and where
// its outcomes lead is one table (kRules in upgrade_job.cpp); where a job rebuilt from a persisted state
// goes on is one function (resume_point).
//
// A destructive command (Reset 6, Upgrade 1, the end of a settings upload) exists only inside an
// effect::PersistThenSend, which carries the state announcing it ("sent": it may have gone out): there is
// no way to hand one out without the state write in front of it. A job resumed after our process was
// killed never sends Reset 6 or Upgrade 1 twice: a step whose command may have gone out is continued by
// looking at the device instead. A settings upload that may have gone out is verified first and repeated
// only when the device does not hold the backup's settings (it writes the same settings again).
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/backup_job.h"
#include "backup/restore_job.h"
#include "planner/upgrade_plan.h"

namespace fleet::orchestrator {

struct JobHop {
  std::string version;               // "9.1.0"
  std::string build;                 // image name, "tasmota"
  std::string url;                   // OtaUrl of this hop
  std::vector<planner::Step> steps;  // in order
  // An in-place hop (a rollout's --mode in-place): no Reset 6, the settings stay in flash as a plain OTA
  // leaves them. Its Backup accepts a snapshot-only backup when the device gives no settings file, and its
  // VerifySettings takes the settings again and compares them with the hop's backup.
  bool in_place = false;
};

// The hop made in-place: its Reset 6 steps (with the restart wait that follows a Reset 6 after the
// upgrade) and its Restore removed, every other step kept in order.
JobHop in_place_hop(JobHop hop);

// The hops as a job row keeps them: step names, so that stored jobs stay readable. Loading throws
// std::invalid_argument on a malformed hop or a step name this program does not know.
nlohmann::json hops_to_json(const std::vector<JobHop>& hops);
std::vector<JobHop> hops_from_json(const nlohmann::json& j);

struct UpgradeJobState {
  static constexpr int kVersion = 2;  // what to_json writes; from_json also reads 1 (no "v")

  std::size_t hop = 0;                      // hops.size(): every hop is done, the OtaUrl is put back
  std::size_t step = 0;                     // index into hops[hop].steps (a step may occur twice)
  std::optional<planner::Step> step_kind;   // what that index names, kept to catch a state that does not fit its hops (v2)
  bool sent = false;                        // the current step's destructive command may have gone out
  std::string current_version;              // what the device runs now (verified)
  std::optional<std::int64_t> backup_id;    // this hop's backup
  std::string status = "running";           // running, done, failed, stopped (asked to, at a safe point)
  std::string error;
  // A step that failed once the settings may have been reset (Upgrade, HealthCheck): the backup's
  // settings are restored first, then the job fails with this reason.
  std::optional<planner::Step> failed_step;
  std::string failed_reason;
  // The device's OtaUrl before the job (from the first backup's snapshot), put back at the end. None:
  // not known (a job stored before v2, or a snapshot without it); empty: nothing to put back.
  std::optional<std::string> ota_url_before;

  nlohmann::json to_json() const;
  // Throws std::invalid_argument on a malformed state or one of a version this program does not know.
  static UpgradeJobState from_json(const nlohmann::json& j);
};

struct UpgradeSettings {
  std::string device_mqtt_password;
  std::int64_t reply_timeout_ms = 10'000;
  std::int64_t restart_timeout_ms = 120'000;
  std::int64_t upgrade_timeout_ms = 600'000;  // from Upgrade 1 to the restart: a slow download included
  // How long the device must stay healthy after a hop's version check (online, uptime growing, boot
  // count unchanged, a clean restart reason, telemetry on time). 0: one Status 11 answered is enough.
  std::int64_t health_window_ms = 60'000;
};

// Whether a device action cannot be sent again without harm or loss: Reset, Upgrade, the message that
// completes a settings upload (FileUpload's Md5), POST /u2.
bool is_destructive(const backup::DeviceAction& action);

namespace effect {
// Write the state durably before going on.
struct Persist {
  UpgradeJobState state;
};
// A harmless device action: a query, a backup transfer, OtaUrl. Refuses a destructive one
// (std::logic_error): those are sent only through PersistThenSend.
class Send {
 public:
  explicit Send(backup::DeviceAction action);
  const backup::DeviceAction& action() const { return action_; }

 private:
  backup::DeviceAction action_;
};
// Write `state` durably, then send `command`: the only way a destructive command leaves the job. The
// state must say "sent" (std::logic_error otherwise), so a job resumed from it never sends it again.
class PersistThenSend {
 public:
  PersistThenSend(UpgradeJobState state, backup::DeviceAction command);
  const UpgradeJobState& state() const { return state_; }
  const backup::DeviceAction& command() const { return command_; }

 private:
  UpgradeJobState state_;
  backup::DeviceAction command_;
};
// Keep the backup, then call on_backup_stored(id).
struct StoreBackup {
  backup::BackupRecord record;
};
// Read the backup, then call on_backup_loaded(bytes) (its settings file); whole: on_backup_record_loaded(record)
// (the file and the snapshot, for an in-place hop's comparison).
struct LoadBackup {
  std::int64_t backup_id = 0;
  bool whole = false;
};
// The job is over (state().status says how).
struct Finished {};
}  // namespace effect

using JobEffect = std::variant<effect::Persist, effect::Send, effect::PersistThenSend, effect::StoreBackup, effect::LoadBackup, effect::Finished>;
using JobEffects = std::vector<JobEffect>;

// Where a job rebuilt from a persisted state goes on, and what it must not send again.
struct ResumePoint {
  enum class How {
    Fresh,         // the step is entered as usual (nothing destructive of it went out, or it is harmless to repeat)
    AlreadySent,   // Reset 6 may have gone out: not sent again, the job goes on after it
    CheckVersion,  // Upgrade 1 may have gone out: ask what the device runs, never send it again
    VerifyFirst,   // the settings upload may have run: read the settings back before uploading again
    SkipWait,      // a wait for a restart: the version check that follows tells whether it happened
    Finished,      // nothing to do
  };
  std::size_t hop = 0, step = 0;
  How how = How::Fresh;
  std::string why;  // for the event log; empty for a job that had not started
};
ResumePoint resume_point(const UpgradeJobState& state, const std::vector<JobHop>& hops);

class UpgradeJob {
 public:
  UpgradeJob(backup::BackupTarget device, std::vector<JobHop> hops, UpgradeJobState state, UpgradeSettings settings);

  JobEffects start(std::int64_t now_ms);
  JobEffects on_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  JobEffects on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms);
  JobEffects on_time(std::int64_t now_ms);
  // The earliest time on_time() may do anything; nullopt: nothing is timed (until the next event).
  std::optional<std::int64_t> wake_at_ms() const;
  // The broker is back after `outage_ms` (the job's clock stood still meanwhile); what the device published
  // to us then, a boot announcement among it, is lost.
  JobEffects on_broker_back(std::int64_t now_ms, std::int64_t outage_ms);
  JobEffects on_backup_stored(std::int64_t id, std::int64_t now_ms);
  JobEffects on_backup_loaded(std::optional<std::vector<std::uint8_t>> bytes, std::int64_t now_ms);
  JobEffects on_backup_record_loaded(std::optional<backup::BackupRecord> record, std::int64_t now_ms);

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
  // Changes exactly when current_step() does, without building it (asked on every message and turn).
  std::uint64_t step_key() const {
    return (static_cast<std::uint64_t>(state_.hop) << 33) | (static_cast<std::uint64_t>(state_.step) << 1) | (finished() ? 1u : 0u);
  }
  // The current step's name: a planner step, "PutBackOtaUrl" after the last hop, "Done" past it.
  std::string step_name() const;
  // Every step this object entered, in order (a resumed job starts empty): for tests and progress views.
  const std::vector<std::string>& trail() const { return trail_; }
  std::size_t hop_count() const { return hops_.size(); }
  std::size_t steps_in_hop() const { return state_.hop < hops_.size() ? hops_[state_.hop].steps.size() : 0; }

 private:
  // A step's outcomes, as the transition table names them.
  enum class Event { Done, Restarted, Verified, Failed };
  // Where an outcome leads, within the hop.
  enum class Goal {
    Next,               // the following step (the next hop's first, or the OtaUrl put back, after the last)
    NextUnlessFailed,   // the same, unless a failure waits for this restore: then the job fails with it
    VerifyVersion,      // the hop's next VerifyVersion (this one again, when the current step is one)
    PastVerifyVersion,  // the step after it: the version is verified already
    Restore,            // the hop's Restore; the job fails with the reason when the hop has none
  };
  struct Rule;
  static const Rule kRules[];
  static const Rule& rule_of(planner::Step step);

  enum class Wait { None, BackupRun, BackupStore, Restart, OtaUrlReply, UpgradeReply, VersionReply, HealthReply, HealthWindow, BackupLoad,
                    RestoreRun, OtaUrlBackReply, VerifyBackupRun, VerifyBackupLoad, RestartCheck };
  // A restart wait the broker's outage interrupted: when it began (the job's clock), the outage, the wait's deadline.
  std::int64_t restart_wait_from_ms_ = 0, restart_check_outage_ms_ = 0, restart_check_deadline_ms_ = 0;

  // What the device showed during the health window.
  struct Health {
    std::int64_t started_ms = 0, ends_ms = 0, next_poll_ms = 0;
    std::optional<std::int64_t> first_uptime_s, last_uptime_s, final_uptime_s;  // final: the closing Status 11's
    // When the first uptime reading arrived, and when the closing Status 11 was first asked: the device's
    // clock ran at least the difference between its two readings (the first was taken before it arrived,
    // the last after it was asked), so from 1 s on its uptime in whole seconds must have gone up.
    std::int64_t first_uptime_at_ms = 0, final_asked_ms = 0, recheck_at_ms = 0;
    // When each Status 11 not answered yet was asked, oldest first: a reply was taken no earlier than
    // the oldest. A late reply to an earlier ask is not the closing one (a lost reply only makes the
    // bound earlier: more asking, never a wrong verdict).
    std::deque<std::int64_t> status11_asked;
    std::int64_t final_reply_after_ms = 0;  // the closing reply's bound
    int observations = 0;  // Status 11 and tele STATE with an uptime
    std::optional<std::int64_t> boot_count, boot_count_end;
    std::optional<std::string> restart_reason;
    std::optional<std::int64_t> tele_period_s;
    std::int64_t last_state_ms = 0;  // last tele STATE (the window's start before the first)
    std::vector<std::int64_t> state_at_ms;
    bool asked_status1 = false, asked_tele_period = false, closing = false, got_final_status1 = false, got_final_status11 = false;
    std::int64_t query_deadline_ms = 0;
    int query_tries = 0;
    std::string failure;  // set: the window failed with this; waiting for the device to come back, then restore
  };

  // The table's verbs.
  JobEffects go(Event event, std::int64_t now_ms);
  JobEffects enter(std::int64_t now_ms, ResumePoint::How how);
  void move_to(std::size_t hop, std::size_t step);
  JobEffects fail(std::string why);
  JobEffects stop_here(const std::string& where);
  JobEffects finish_done();
  bool hop_untouched() const;  // nothing but the backup done in this hop so far
  std::optional<std::size_t> find_in_hop(planner::Step step, std::size_t from) const;

  // Entry of each step (kRules).
  JobEffects enter_backup(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_reset6(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_ota_url(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_upgrade(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_await_restart(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_verify_version(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_health_check(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_restore(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_verify_settings(std::int64_t now_ms, ResumePoint::How how);
  JobEffects enter_put_back_ota_url(std::int64_t now_ms);

  JobEffects send(std::string command, std::string payload);
  JobEffects send_destructive(std::string command, std::string payload);
  JobEffects wrap(std::vector<backup::DeviceAction> actions);
  void await_restart(std::int64_t now_ms, std::int64_t timeout_ms);
  JobEffects restarted(std::int64_t now_ms);
  JobEffects interim_booted(std::string_view info1, std::int64_t now_ms, bool& handled);
  JobEffects on_reply(std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  // What the running backup or restore job asked for, and what follows when it has finished.
  JobEffects from_inner(std::vector<backup::DeviceAction> actions, std::int64_t now_ms);
  JobEffects after_backup_job(std::int64_t now_ms);
  JobEffects after_restore_job(std::int64_t now_ms);
  // An in-place hop's VerifySettings: the settings taken again, compared with the hop's backup.
  JobEffects after_verify_backup(std::int64_t now_ms);
  JobEffects compare_with_hop_backup(const backup::BackupRecord& before, std::int64_t now_ms);
  // The health window.
  JobEffects health_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms);
  JobEffects health_time(std::int64_t now_ms);
  JobEffects health_failed(std::string what, std::int64_t now_ms);
  JobEffects health_close_if_complete(std::int64_t now_ms);
  void health_uptime(std::int64_t uptime_s, std::int64_t now_ms, std::string& problem);
  JobEffects ask_status11(std::int64_t now_ms);  // in the health window: remembers when
  bool health_needs_telemetry() const;
  std::string health_summary(std::int64_t now_ms) const;

  const JobHop& hop() const { return hops_[state_.hop]; }
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
  bool just_restarted_ = false;  // the step that ended saw the device restart: an AwaitRestart after it is over
  int query_tries_ = 0;
  bool upgrade_resumed_ = false;  // Upgrade 1 may have gone out before we were interrupted
  // An intermediate image announced itself (INFO1): the minimal build of the minimal step, or an ESP32's
  // safeboot image downloading the hop's image. Neither answers Status (support_command.ino, FIRMWARE_MINIMAL).
  enum class Interim { None, Minimal, Safeboot };
  Interim interim_ = Interim::None;
  std::string interim_version_;

  int ota_tries_ = 0;
  std::optional<backup::BackupJob> backup_;
  std::optional<backup::BackupRecord> hop_backup_;   // this hop's backup as kept (gone after a resume: loaded again)
  std::optional<backup::BackupRecord> after_backup_; // an in-place hop's settings taken again (not kept)
  std::optional<backup::RestoreJob> restore_;
  bool restore_verify_only_ = false;
  bool restore_retried_ = false;
  std::vector<std::uint8_t> restore_bytes_;
  std::string restore_topic_;
  Health health_;
  std::vector<std::string> events_;
  std::vector<std::string> trail_;
};

}  // namespace fleet::orchestrator
