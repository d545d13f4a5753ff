#include "backup/backup_job.h"

#include <fmt/format.h>

#include <algorithm>

#include "backup/dmp_file.h"
#include "backup/transfer_encoding.h"

namespace fleet::backup {
namespace {

using ojson = nlohmann::ordered_json;

// The key a reply to the command carries (Tasmota answers {"<Command>": …}; Template with the template
// object itself; GPIO with one key per pin; GroupTopic as GroupTopic1 on newer firmware).
std::string reply_key(const std::string& command) {
  if (command == "Template") return "NAME";
  if (command == "GroupTopic") return "GroupTopic";
  return command;
}

bool is_refusal(const ojson& j) { return j.contains("Command") && (j["Command"] == "Unknown" || j["Command"] == "Error"); }

}  // namespace

const std::vector<std::string>& snapshot_commands() {
  static const std::vector<std::string> commands = {"Status 0",   "Module",     "Template", "GPIO",      "Rule1",        "Rule2",
                                                    "Rule3",      "Timers",     "FullTopic", "GroupTopic", "Prefix1",      "Prefix2",
                                                    "Prefix3",    "TelePeriod", "PowerOnState", "Timezone", "Latitude", "Longitude",
                                                    "OtaUrl"};
  return commands;
}

BackupJob::BackupJob(BackupTarget target, BackupSettings settings) : target_(std::move(target)), settings_(std::move(settings)) {
  record_.device_mac = target_.mac;
  record_.topic = target_.topic;
  record_.version = target_.version.str();
  record_.chip = planner::to_string(target_.chip);
}

std::vector<DeviceAction> BackupJob::start(std::int64_t now_ms) {
  record_.taken_ms = now_ms;
  if (settings_.method == BackupSettings::Method::Http) return begin_http(now_ms);
  phase_ = Phase::Mqtt;
  download_.emplace(settings_.device_mqtt_password);
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  return {DeviceAction::publish(download_->start())};
}

bool BackupJob::accept_file(const std::vector<std::uint8_t>& bytes, const std::string& method, const std::string& file_name) {
  auto r = read_dmp(bytes);
  if (!r.file) {
    problems_.push_back(fmt::format("{}: the settings file is not usable: {}", method, r.error));
    return false;
  }
  auto wrong = check_backup(*r.file, target_.version, target_.chip);
  if (!wrong.empty()) {
    for (auto& w : wrong) problems_.push_back(fmt::format("{}: {}", method, w));
    return false;
  }
  record_.method = method;
  record_.dmp = bytes;
  record_.file_name = file_name;
  have_file_ = true;
  return true;
}

std::vector<DeviceAction> BackupJob::begin_http(std::int64_t now_ms) {
  if (settings_.method == BackupSettings::Method::Mqtt) return begin_snapshot(now_ms);
  if (target_.ip.empty()) {
    problems_.push_back("http: the device's IP is unknown");
    return begin_snapshot(now_ms);
  }
  phase_ = Phase::Http;
  return {DeviceAction::http_get("/dl")};
}

std::vector<DeviceAction> BackupJob::begin_snapshot(std::int64_t now_ms) {
  if (!settings_.snapshot) return finish();
  phase_ = Phase::Snapshot;
  snapshot_next_ = 0;
  snapshot_waiting_.clear();
  snapshot_replies_.clear();
  status0_ = ojson::object();
  return next_snapshot_commands(now_ms);
}

std::vector<DeviceAction> BackupJob::next_snapshot_commands(std::int64_t now_ms) {
  const auto& all = snapshot_commands();
  std::vector<DeviceAction> out;
  while (snapshot_next_ < all.size() && !snapshot_waiting_.count(0) && snapshot_waiting_.size() < kSnapshotWindow) {
    const auto& c = all[snapshot_next_];
    auto space = c.find(' ');
    snapshot_waiting_[snapshot_next_] = now_ms + settings_.reply_timeout_ms;
    out.push_back(DeviceAction::publish({space == std::string::npos ? c : c.substr(0, space), space == std::string::npos ? "" : c.substr(space + 1)}));
    ++snapshot_next_;  // (Status 0, the first, stays alone in flight: the loop stops while it waits)
  }
  if (out.empty() && snapshot_waiting_.empty()) return finish();
  return out;
}

std::vector<DeviceAction> BackupJob::snapshot_reply(std::size_t index, ojson reply, std::int64_t now_ms) {
  snapshot_waiting_.erase(index);
  snapshot_replies_[index] = std::move(reply);
  snapshot_timeouts_ = 0;
  return next_snapshot_commands(now_ms);
}

std::vector<DeviceAction> BackupJob::finish() {
  phase_ = Phase::Finished;
  if (settings_.snapshot && !snapshot_replies_.empty()) {
    ojson snapshot = ojson::object();  // in the order of the commands, whatever order the replies came in
    for (auto& [i, reply] : snapshot_replies_) snapshot[snapshot_commands()[i]] = reply;
    record_.snapshot = snapshot.dump();
  }
  if (!have_file_) {
    record_.method = "snapshot";
    if (record_.snapshot.empty()) return {DeviceAction::finished()};
    notes_.push_back("no settings file: a snapshot of command replies only (no credentials, not restorable as a whole)");
  }
  result_ = record_;
  return {DeviceAction::finished()};
}

std::vector<DeviceAction> BackupJob::on_message(std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  if (phase_ == Phase::Mqtt && download_) {
    auto next = download_->on_reply(suffix, payload);
    deadline_ms_ = now_ms + settings_.reply_timeout_ms;
    switch (download_->state()) {
      case TransferState::Running:
        if (next) return {DeviceAction::publish(*next)};
        return {};
      case TransferState::Done:
        if (accept_file(download_->file(), "mqtt", download_->file_name())) return begin_snapshot(now_ms);
        return begin_http(now_ms);
      case TransferState::NotSupported:
        notes_.push_back("mqtt: " + download_->error());
        return begin_http(now_ms);
      case TransferState::Failed:
        problems_.push_back("mqtt: " + download_->error());
        return begin_http(now_ms);
    }
  }
  if (phase_ == Phase::Snapshot && !snapshot_waiting_.empty()) {
    if (payload.size() > 16384) return {};
    auto j = ojson::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return {};
    if (snapshot_waiting_.count(0)) {  // Status 0, alone in flight
      if (suffix.rfind("STATUS", 0) != 0) return is_refusal(j) ? snapshot_reply(0, std::move(j), now_ms) : std::vector<DeviceAction>{};
      for (auto& [k, v] : j.items()) status0_[k] = v;
      if (suffix != "STATUS0" && suffix != "STATUS11") return {};  // older firmware: one message per part
      return snapshot_reply(0, std::exchange(status0_, ojson::object()), now_ms);
    }
    // The command whose key the reply carries; a refusal is the oldest one's (replies come in order).
    std::optional<std::size_t> which;
    if (is_refusal(j)) {
      which = snapshot_waiting_.begin()->first;
    } else {
      for (auto& [i, deadline] : snapshot_waiting_) {
        std::string key = reply_key(snapshot_commands()[i]);
        for (auto& [k, v] : j.items())
          if (k.rfind(key, 0) == 0) which = i;
        if (which) break;
      }
    }
    if (!which) return {};
    return snapshot_reply(*which, std::move(j), now_ms);
  }
  return {};
}

std::vector<DeviceAction> BackupJob::on_http(std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms) {
  if (phase_ != Phase::Http) return {};
  if (!body) problems_.push_back("http: " + error);
  else accept_file(*body, "http", "");
  return begin_snapshot(now_ms);
}

// What on_time() looks at, and nothing else: a wait that runs out there must have its time here.
std::optional<std::int64_t> BackupJob::wake_at_ms() const {
  if (phase_ == Phase::Mqtt) return deadline_ms_;
  if (phase_ == Phase::Snapshot && !snapshot_waiting_.empty())
    return std::min_element(snapshot_waiting_.begin(), snapshot_waiting_.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->second;
  return std::nullopt;
}

std::vector<DeviceAction> BackupJob::on_time(std::int64_t now_ms) {
  if (phase_ == Phase::Mqtt) {
    if (now_ms < deadline_ms_) return {};
    problems_.push_back(download_ && download_->file().empty() ? "mqtt: no answer to FileDownload" : "mqtt: the download stalled");
    return begin_http(now_ms);
  }
  if (phase_ == Phase::Snapshot && !snapshot_waiting_.empty()) {
    std::vector<std::size_t> late;
    for (auto& [i, deadline] : snapshot_waiting_)
      if (now_ms >= deadline) late.push_back(i);
    if (late.empty()) return {};
    for (auto i : late) {
      snapshot_waiting_.erase(i);
      // No reply: recorded as such (Status 0 keeps the parts that came).
      snapshot_replies_[i] = i == 0 && !status0_.empty() ? std::exchange(status0_, ojson::object()) : ojson(nullptr);
    }
    // The queries in flight together time out together: one stall, counted once. Two in a row (with no
    // answer between) end the snapshot.
    if (++snapshot_timeouts_ >= 2) {
      problems_.push_back("snapshot: the device stopped answering; the rest of the snapshot is missing");
      snapshot_waiting_.clear();
      snapshot_next_ = snapshot_commands().size();
      return finish();
    }
    return next_snapshot_commands(now_ms);
  }
  return {};
}

}  // namespace fleet::backup
