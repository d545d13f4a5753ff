#include "orchestrator/upgrade_job.h"

#include <fmt/format.h>

#include "planner/version.h"

namespace fleet::orchestrator {
namespace {

using nlohmann::json;

std::optional<json> object_of(std::string_view payload) {
  if (payload.size() > 16384) return std::nullopt;
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

JobAction finished_action() {
  JobAction a;
  a.kind = JobAction::Kind::Finished;
  return a;
}

}  // namespace

json UpgradeJobState::to_json() const {
  return {{"hop", hop},
          {"step", step},
          {"sent", sent},
          {"current_version", current_version},
          {"backup_id", backup_id ? json(*backup_id) : json(nullptr)},
          {"status", status},
          {"error", error},
          {"failed_upgrade", failed_upgrade}};
}

UpgradeJobState UpgradeJobState::from_json(const json& j) {
  UpgradeJobState s;
  s.hop = j.at("hop").get<std::size_t>();
  s.step = j.at("step").get<std::size_t>();
  s.sent = j.at("sent").get<bool>();
  s.current_version = j.at("current_version").get<std::string>();
  if (!j.at("backup_id").is_null()) s.backup_id = j["backup_id"].get<std::int64_t>();
  s.status = j.at("status").get<std::string>();
  s.error = j.value("error", "");
  s.failed_upgrade = j.value("failed_upgrade", "");
  return s;
}

UpgradeJob::UpgradeJob(backup::BackupTarget device, std::vector<JobHop> hops, UpgradeJobState state, UpgradeSettings settings)
    : device_(std::move(device)), hops_(std::move(hops)), state_(std::move(state)), settings_(std::move(settings)) {
  if (state_.current_version.empty()) state_.current_version = device_.version.str();
}

std::string UpgradeJob::step_name() const {
  if (state_.hop >= hops_.size() || state_.step >= hops_[state_.hop].steps.size()) return "Done";
  return hops_[state_.hop].steps[state_.step];
}

std::string UpgradeJob::current_step() const {
  if (state_.hop >= hops_.size()) return "Done";
  return fmt::format("hop {}/{} ({}): {}", state_.hop + 1, hops_.size(), hop().version, step_name());
}

std::string UpgradeJob::command_topic() const {
  if (restore_) return restore_->command_topic();
  return restore_topic_.empty() ? device_.topic : restore_topic_;
}

std::vector<std::string> UpgradeJob::take_events() { return std::exchange(events_, {}); }

std::vector<JobAction> UpgradeJob::persist_then(std::vector<JobAction> then) {
  JobAction p;
  p.kind = JobAction::Kind::Persist;
  p.state = state_;
  then.insert(then.begin(), p);
  return then;
}

std::vector<JobAction> UpgradeJob::wrap(std::vector<backup::DeviceAction> actions) {
  std::vector<JobAction> out;
  for (auto& a : actions) {
    if (a.kind == backup::DeviceAction::Kind::Finished || a.kind == backup::DeviceAction::Kind::None) continue;
    JobAction j;
    j.kind = JobAction::Kind::Device;
    j.device = std::move(a);
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<JobAction> UpgradeJob::publish(std::string command, std::string payload) {
  return wrap({backup::DeviceAction::publish({std::move(command), std::move(payload)})});
}

std::vector<JobAction> UpgradeJob::fail(std::string why) {
  state_.status = "failed";
  state_.error = std::move(why);
  wait_ = Wait::None;
  event("failed: " + state_.error);
  auto out = persist_then({});
  out.push_back(finished_action());
  return out;
}

std::vector<JobAction> UpgradeJob::stop_here(const std::string& where) {
  state_.status = "stopped";
  wait_ = Wait::None;
  event(fmt::format("stopped as asked, {}: the device runs {}", where, state_.current_version));
  auto out = persist_then({});
  out.push_back(finished_action());
  return out;
}

bool UpgradeJob::hop_untouched() const {
  if (state_.hop >= hops_.size()) return true;
  for (std::size_t i = 0; i < state_.step && i < hop().steps.size(); ++i)
    if (hop().steps[i] != "Backup") return false;
  return !(state_.sent && state_.step < hop().steps.size() && hop().steps[state_.step] != "Backup");
}

std::vector<JobAction> UpgradeJob::start(std::int64_t now_ms) {
  if (finished()) return {finished_action()};
  if (stop_requested_ && hop_untouched()) return stop_here(fmt::format("before hop {}/{}", state_.hop + 1, hops_.size()));
  bool resumed = state_.sent || state_.hop > 0 || state_.step > 0;
  if (resumed) event(fmt::format("resuming at {}", current_step()));
  return enter_step(now_ms, resumed);
}

std::vector<JobAction> UpgradeJob::await_restart(std::int64_t now_ms, std::int64_t timeout_ms) {
  wait_ = Wait::Restart;
  seen_offline_ = false;
  online_at_ms_ = 0;
  deadline_ms_ = now_ms + timeout_ms;
  return {};
}

std::vector<JobAction> UpgradeJob::next_step(std::int64_t now_ms) {
  auto done_step = step_name();
  ++state_.step;
  state_.sent = false;
  ota_tries_ = 0;
  query_tries_ = 0;
  if (!state_.failed_upgrade.empty() && done_step == "Restore")
    return fail(fmt::format("Upgrade failed ({}); the settings were restored on {}", state_.failed_upgrade, state_.current_version));
  if (state_.step >= hop().steps.size()) {
    event(fmt::format("hop {}/{} done: the device runs {}", state_.hop + 1, hops_.size(), state_.current_version));
    ++state_.hop;
    state_.step = 0;
    state_.backup_id.reset();
    restored_ = false;
    if (state_.hop >= hops_.size()) {
      state_.status = "done";
      wait_ = Wait::None;
      event("done");
      auto out = persist_then({});
      out.push_back(finished_action());
      return out;
    }
  }
  if (stop_requested_ && hop_untouched()) return stop_here(fmt::format("before hop {}/{} ({})", state_.hop + 1, hops_.size(), hop().version));
  return persist_then(enter_step(now_ms, false));
}

std::vector<JobAction> UpgradeJob::enter_step(std::int64_t now_ms, bool resumed) {
  if (state_.hop >= hops_.size()) {
    state_.status = "done";
    return persist_then({finished_action()});
  }
  const auto name = step_name();
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  if (name == "Backup") {
    auto target = device_;
    target.version = planner::Version::parse(state_.current_version).value_or(device_.version);
    target.topic = command_topic();
    backup::BackupSettings bs;
    bs.device_mqtt_password = settings_.device_mqtt_password;
    backup_.emplace(target, bs);
    wait_ = Wait::BackupRun;
    event(fmt::format("backup of the settings on {}", state_.current_version));
    return from_inner(backup_->start(now_ms), now_ms);
  }
  if (name == "Reset6") {
    if (resumed && state_.sent) {
      event("Reset 6 may have gone out before the interruption: not sent again");
      return next_step(now_ms);
    }
    state_.sent = true;
    event("Reset 6");
    auto out = persist_then(publish("Reset", "6"));
    await_restart(now_ms, settings_.restart_timeout_ms);
    return out;
  }
  if (name == "OtaUrl") {
    wait_ = Wait::OtaUrlReply;
    ++ota_tries_;
    return publish("OtaUrl", hop().url);
  }
  if (name == "Upgrade") {
    if (resumed && state_.sent) {
      // Upgrade 1 may have gone out: look at the device instead of sending it again.
      upgrade_resumed_ = true;
      event("Upgrade 1 may have gone out before the interruption: asking the device what it runs");
      wait_ = Wait::VersionReply;
      return publish("Status", "2");
    }
    state_.sent = true;
    wait_ = Wait::UpgradeReply;
    deadline_ms_ = now_ms + settings_.upgrade_timeout_ms;
    event(fmt::format("Upgrade 1 to {} from {}", hop().version, hop().url));
    return persist_then(publish("Upgrade", "1"));
  }
  if (name == "AwaitRestart") {
    // Resumed: the restart may be over already; the version check that follows tells.
    if (resumed || upgrade_resumed_) return next_step(now_ms);
    return await_restart(now_ms, settings_.restart_timeout_ms);
  }
  if (name == "VerifyVersion") {
    wait_ = Wait::VersionReply;
    return publish("Status", "2");
  }
  if (name == "HealthCheck") {
    wait_ = Wait::HealthReply;
    return publish("Status", "11");
  }
  if (name == "Restore") {
    if (!state_.backup_id) return fail("no backup of this hop to restore");
    wait_ = Wait::BackupLoad;
    JobAction load;
    load.kind = JobAction::Kind::LoadBackup;
    load.backup_id = *state_.backup_id;
    return {load};
  }
  if (name == "VerifySettings") {
    // The Restore step reads the settings back and compares them; without one there is nothing to compare.
    if (!restored_) event("no restore in this hop: nothing to verify");
    return next_step(now_ms);
  }
  return fail("unknown step " + name);
}

std::vector<JobAction> UpgradeJob::from_inner(std::vector<backup::DeviceAction> actions, std::int64_t now_ms) {
  if (wait_ == Wait::BackupRun && backup_->finished()) return after_backup_job(now_ms);
  auto out = wrap(std::move(actions));
  if (wait_ == Wait::RestoreRun && restore_->finished()) {
    auto after = after_restore_job(now_ms);
    out.insert(out.end(), after.begin(), after.end());
  }
  return out;
}

std::vector<JobAction> UpgradeJob::after_backup_job(std::int64_t now_ms) {
  (void)now_ms;
  auto& job = *backup_;
  if (!job.result() || job.result()->dmp.empty()) {
    std::string why = job.problems().empty() ? "no settings file" : job.problems().back();
    return fail("no valid backup, nothing destructive was done: " + why);
  }
  wait_ = Wait::BackupStore;
  JobAction store;
  store.kind = JobAction::Kind::StoreBackup;
  store.record = *job.result();
  return {store};
}

std::vector<JobAction> UpgradeJob::on_backup_stored(std::int64_t id, std::int64_t now_ms) {
  if (wait_ != Wait::BackupStore) return {};
  state_.backup_id = id;
  event(fmt::format("backup #{} kept", id));
  backup_.reset();
  return next_step(now_ms);  // persists the backup id with the next step
}

std::vector<JobAction> UpgradeJob::on_backup_loaded(std::optional<std::vector<std::uint8_t>> bytes, std::int64_t now_ms) {
  if (wait_ != Wait::BackupLoad && wait_ != Wait::RestoreRun) return {};
  if (!bytes) return fail(fmt::format("backup #{} is gone", state_.backup_id.value_or(0)));
  auto target = device_;
  target.version = planner::Version::parse(state_.current_version).value_or(device_.version);
  target.topic = command_topic();
  backup::RestoreSettings rs;
  rs.device_mqtt_password = settings_.device_mqtt_password;
  rs.verify_only = state_.sent;  // resumed after the upload may have happened: look before uploading again
  restore_verify_only_ = rs.verify_only;
  restore_bytes_ = *bytes;
  restore_.emplace(target, *bytes, rs);
  wait_ = Wait::RestoreRun;
  event(rs.verify_only ? "the restore may have run before the interruption: verifying only" : "restore: " + restore_->plan().how);
  std::vector<JobAction> out;
  if (!state_.sent) {
    state_.sent = true;
    out = persist_then({});
  }
  auto more = from_inner(restore_->start(now_ms), now_ms);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<JobAction> UpgradeJob::after_restore_job(std::int64_t now_ms) {
  auto& job = *restore_;
  for (auto& l : job.log()) event("restore: " + l);
  restore_topic_ = job.final_topic();
  if (!job.succeeded() && restore_verify_only_ && !restore_retried_) {
    // Resumed after an interruption and the settings are not those of the backup: the upload did not
    // happen (or did not take). Uploading the same file again only writes the same settings.
    restore_retried_ = true;
    event("the settings were not restored before the interruption: restoring now");
    auto bytes = restore_bytes_;
    restore_.reset();
    state_.sent = false;
    return on_backup_loaded(bytes, now_ms);
  }
  if (!job.succeeded()) return fail("restore: " + (job.problems().empty() ? std::string("failed") : job.problems().front()));
  restore_.reset();
  restored_ = true;
  return next_step(now_ms);
}

std::vector<JobAction> UpgradeJob::restarted(std::int64_t now_ms) {
  const auto name = step_name();
  wait_ = Wait::None;
  online_at_ms_ = 0;
  seen_offline_ = false;
  event("the device restarted");
  if (name == "Upgrade" || name == "VerifyVersion") {
    // Go (back) to the version check.
    while (step_name() != "VerifyVersion" && state_.step < hop().steps.size()) ++state_.step;
    state_.sent = false;
    return persist_then(enter_step(now_ms, false));
  }
  return next_step(now_ms);
}

std::vector<JobAction> UpgradeJob::on_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  if (finished()) return {};
  if (wait_ == Wait::BackupRun && backup_) return tele ? std::vector<JobAction>{} : from_inner(backup_->on_message(suffix, payload, now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_message(tele, suffix, payload, now_ms), now_ms);
  if (wait_ == Wait::Restart || (wait_ == Wait::UpgradeReply && tele)) {
    if (!tele) return {};
    if (suffix == "LWT") {
      if (payload == "Offline") {
        seen_offline_ = true;
        online_at_ms_ = 0;
      } else if (payload == "Online" && seen_offline_ && online_at_ms_ == 0) {
        online_at_ms_ = now_ms;  // INFO1 follows once its commands are subscribed; else a quiet moment
      }
    } else if (suffix == "INFO1") {
      return restarted(now_ms);
    }
    return {};
  }
  if (tele) return {};
  auto j = object_of(payload);
  switch (wait_) {
    case Wait::OtaUrlReply:
      if (j && j->contains("OtaUrl") && (*j)["OtaUrl"] == hop().url) {
        event("OtaUrl set");
        return next_step(now_ms);
      }
      return {};
    case Wait::UpgradeReply: {
      if (suffix != "UPGRADE") return {};
      // Read the text even from a reply with broken quoting (9.5.0: tasmota-facts.md).
      std::string text = j && j->contains("Upgrade") && (*j)["Upgrade"].is_string() ? (*j)["Upgrade"].get<std::string>() : std::string(payload);
      if (text.find("Successful") != std::string::npos) {
        event("the device took the image: " + text);
        return next_step(now_ms);  // AwaitRestart
      }
      if (text.find("Failed") != std::string::npos) {
        bool space = text.find("Not Enough space") != std::string::npos || text.find("Does Not Fit") != std::string::npos;
        if (space) {
          event("the image does not fit: the device takes the -minimal step by itself (" + text + ")");
          return {};
        }
        state_.failed_upgrade = text;
        event("the upgrade failed: " + text + "; restoring the settings on " + state_.current_version);
        while (step_name() != "Restore" && state_.step < hop().steps.size()) ++state_.step;
        if (state_.step >= hop().steps.size()) return fail("Upgrade failed: " + text);
        state_.sent = false;
        return persist_then(enter_step(now_ms, false));
      }
      return {};
    }
    case Wait::VersionReply: {
      if (!j || !j->contains("StatusFWR")) return {};
      auto fw = planner::FirmwareVersion::parse((*j)["StatusFWR"].value("Version", ""));
      auto want = planner::Version::parse(hop().version);
      if (!fw || !want) return fail("the device's version is unreadable");
      if (fw->version == *want && fw->is_minimal()) {
        event("the minimal build booted: it fetches the full image by itself");
        await_restart(now_ms, settings_.upgrade_timeout_ms);
        return {};
      }
      if (fw->version == *want) {
        state_.current_version = fw->version.str();
        event("the device runs " + fw->str());
        if (upgrade_resumed_) {
          upgrade_resumed_ = false;
          while (step_name() != "VerifyVersion" && state_.step < hop().steps.size()) ++state_.step;
        }
        return next_step(now_ms);
      }
      if (upgrade_resumed_) {
        // Still the old firmware: maybe still downloading. Wait for a restart; never send Upgrade 1 again.
        event("still " + fw->str() + ": waiting in case the download is still running");
        await_restart(now_ms, settings_.upgrade_timeout_ms);
        return {};
      }
      return fail(fmt::format("expected {} after the upgrade, the device reports {}", hop().version, fw->str()));
    }
    case Wait::HealthReply:
      if (j && j->contains("StatusSTS")) {
        event("health check: the device answers");
        return next_step(now_ms);
      }
      return {};
    default: return {};
  }
}

std::vector<JobAction> UpgradeJob::on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms) {
  if (wait_ == Wait::BackupRun && backup_) return from_inner(backup_->on_http(std::move(body), error, now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_http(status, std::move(body), error, now_ms), now_ms);
  return {};
}

std::vector<JobAction> UpgradeJob::on_time(std::int64_t now_ms) {
  if (finished()) return {};
  if (wait_ == Wait::BackupRun && backup_) return from_inner(backup_->on_time(now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_time(now_ms), now_ms);
  if ((wait_ == Wait::Restart || wait_ == Wait::UpgradeReply) && online_at_ms_ > 0 && now_ms - online_at_ms_ >= kQuietAfterOnlineMs)
    return restarted(now_ms);
  if (now_ms < deadline_ms_) return {};
  switch (wait_) {
    case Wait::Restart:
      if (upgrade_resumed_)
        return fail(fmt::format("Upgrade 1 went out before the interruption and the device still runs {}: not sent again; check the device",
                                state_.current_version));
      return fail(fmt::format("the device did not come back within {} s ({})", (settings_.restart_timeout_ms) / 1000, current_step()));
    case Wait::OtaUrlReply:
      if (ota_tries_ < 3) return enter_step(now_ms, false);  // idempotent: ask again
      return fail("no answer to OtaUrl");
    case Wait::UpgradeReply: return fail("no outcome of Upgrade 1 within the time allowed: not sent again");
    case Wait::VersionReply:
    case Wait::HealthReply:
      // Queries are harmless: ask again a few times before giving up.
      if (++query_tries_ < 3) {
        deadline_ms_ = now_ms + settings_.reply_timeout_ms;
        return wait_ == Wait::VersionReply ? publish("Status", "2") : publish("Status", "11");
      }
      return fail(wait_ == Wait::VersionReply ? "no answer to Status 2" : "health check: the device does not answer Status 11");
    default: return {};
  }
}

}  // namespace fleet::orchestrator
