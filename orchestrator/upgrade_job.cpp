#include "orchestrator/upgrade_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"
#include "planner/version.h"

namespace fleet::orchestrator {
namespace {

using nlohmann::json;
using planner::Step;
using How = ResumePoint::How;

// Telemetry is late when no tele STATE came for TelePeriod and this much more.
constexpr std::int64_t kTeleMarginS = 30;
constexpr std::int64_t kDefaultTelePeriodS = 300;  // Tasmota's TELE_PERIOD

std::optional<json> object_of(std::string_view payload) {
  if (payload.size() > 16384) return std::nullopt;
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool destructive_command(std::string_view name, std::string_view payload) {
  auto n = lower(trim(name));
  payload = trim(payload);
  // "Reset" and "Upgrade" without an argument only report; with one they erase or flash.
  if (n == "reset" || n == "upgrade") return !payload.empty();
  // The message carrying the checksum ends the upload: the device then takes the file and restarts.
  if (n == "fileupload") return payload.find("\"Md5\"") != std::string_view::npos;
  if (n == "backlog") {
    while (!payload.empty()) {
      auto semi = payload.find(';');
      auto one = trim(payload.substr(0, semi));
      payload = semi == std::string_view::npos ? std::string_view{} : payload.substr(semi + 1);
      auto sp = one.find_first_of(" \t");
      if (destructive_command(one.substr(0, sp), sp == std::string_view::npos ? std::string_view{} : one.substr(sp + 1))) return true;
    }
  }
  return false;
}

// Tasmota's uptime: "UptimeSec" (newer firmware), else "Uptime" as "1T02:03:04" (older: "1 02:03:04").
std::optional<std::int64_t> uptime_of(const json& j) {
  if (j.contains("UptimeSec") && j["UptimeSec"].is_number_integer()) return j["UptimeSec"].get<std::int64_t>();
  if (!j.contains("Uptime") || !j["Uptime"].is_string()) return std::nullopt;
  auto text = j["Uptime"].get<std::string>();
  long long d = 0, h = 0, m = 0, s = 0;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld:%lld:%lld", &d, &sep, &h, &m, &s) != 5 || (sep != 'T' && sep != ' ')) return std::nullopt;
  return ((d * 24 + h) * 60 + m) * 60 + s;
}

// A restart reason that means the firmware crashed or hung rather than restarted as asked. Tasmota
// reports ESP_getResetReason(): on ESP8266 the core's texts ("Exception", "Hardware Watchdog", "Software
// Watchdog" beside "Power on", "Software/System restart", …) or "Blocked Loop" after its own loop
// watchdog (tasmota_support/support.ino); on ESP32 the ROM's reset causes ("… Watch dog reset …",
// "Super watchdog …", "Time Group0 reset CPU", tasmota_support/support_esp32.ino).
bool crash_restart(std::string_view reason) {
  auto r = lower(reason);
  for (const char* word : {"exception", "watchdog", "watch dog", "blocked loop", "time group"})
    if (r.find(word) != std::string::npos) return true;
  return false;
}

std::string step_text(Step s) { return std::string(planner::to_string(s)); }

std::string known_steps() {
  std::string all;
  for (auto s : {Step::Backup, Step::Reset6, Step::OtaUrl, Step::Upgrade, Step::AwaitRestart, Step::VerifyVersion, Step::HealthCheck,
                 Step::Restore, Step::VerifySettings})
    all += (all.empty() ? "" : ", ") + step_text(s);
  return all;
}

Step step_of(const json& name, const std::string& where) {
  if (!name.is_string()) throw std::invalid_argument(where + ": a step is not a name: " + name.dump());
  auto s = planner::step_from_string(name.get<std::string>());
  if (!s) throw std::invalid_argument(fmt::format("{}: unknown step '{}' (known: {})", where, name.get<std::string>(), known_steps()));
  return *s;
}

// The hint a device that gives no usable settings file gets in clean mode.
constexpr const char* kInPlaceHint = "(use --mode in-place to upgrade it without Reset 6)";

// Leaf by leaf: what `before` holds must be the same in `after` (a newer firmware may add keys, and entries
// at the end of a list).
void compare_json(const json& before, const json& after, const std::string& path, const std::set<std::string>& skip,
                  std::vector<backup::FieldDifference>& out) {
  if (before.is_object()) {
    if (!after.is_object()) {
      out.push_back({path, before.dump(), after.dump()});
      return;
    }
    for (auto& [k, v] : before.items()) {
      if (skip.count(k)) continue;
      auto p = path.empty() ? k : path + "." + k;
      if (!after.contains(k)) out.push_back({p, v.dump(), "(not reported)"});
      else compare_json(v, after[k], p, skip, out);
    }
    return;
  }
  if (before.is_array() && after.is_array() && after.size() > before.size()) {
    // Entries a newer firmware adds at the end (a longer template): what the older reply holds is compared.
    json head(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(before.size()));
    if (before != head) out.push_back({path, before.dump(), after.dump()});
    return;
  }
  if (before != after) out.push_back({path, before.dump(), after.dump()});
}

// Two snapshots (command replies) of one device, before and after an in-place hop: the replies that
// describe its configuration. Left out: OtaUrl (the job sets it, and puts the device's own back at the
// end); of Status 0 only Status, StatusLOG and StatusMQT are compared, without the power state and the
// connection counter (the other sections are counters, memory, network, time, sensors and the firmware);
// Module, Template and GPIO when the hop crosses the 9.1 GPIO renumbering (their numbers change); a
// command the device did not answer before.
std::vector<backup::FieldDifference> compare_snapshots(const json& before, const json& after, bool gpio_renumbered) {
  static const std::set<std::string> status0 = {"Status", "StatusLOG", "StatusMQT"};
  static const std::set<std::string> skip = {"Power", "MqttCount", "MAX_PACKET_SIZE", "KEEPALIVE", "SOCKET_TIMEOUT"};
  std::vector<backup::FieldDifference> out;
  if (!before.is_object()) return out;
  for (auto& [command, reply] : before.items()) {
    if (command == "OtaUrl" || reply.is_null()) continue;
    if (gpio_renumbered && (command == "Module" || command == "Template" || command == "GPIO")) continue;
    const json& later = after.is_object() && after.contains(command) ? after[command] : json();
    if (later.is_null()) {
      out.push_back({command, "answered", "(no reply)"});
      continue;
    }
    if (command == "Status 0") {
      for (auto& [section, v] : reply.items())
        if (status0.count(section)) compare_json(json{{section, v}}, later, command, skip, out);
      continue;
    }
    compare_json(reply, later, command, skip, out);
  }
  return out;
}

std::string differences_text(const std::vector<backup::FieldDifference>& diffs) {
  std::string list;
  for (std::size_t i = 0; i < diffs.size() && i < 20; ++i)
    list += fmt::format("\n  {}: before {}, now {}", diffs[i].field, diffs[i].expected, diffs[i].actual);
  if (diffs.size() > 20) list += fmt::format("\n  … and {} more", diffs.size() - 20);
  return list;
}

}  // namespace

JobHop in_place_hop(JobHop hop) {
  std::vector<Step> steps;
  for (std::size_t i = 0; i < hop.steps.size(); ++i) {
    auto s = hop.steps[i];
    if (s == Step::Restore) continue;
    if (s == Step::Reset6) {
      // A Reset 6 after the upgrade (6.6.0.7–6.6.0.11) has its own restart wait: it goes with it.
      bool after_upgrade = std::find(hop.steps.begin(), hop.steps.begin() + static_cast<std::ptrdiff_t>(i), Step::Upgrade) !=
                           hop.steps.begin() + static_cast<std::ptrdiff_t>(i);
      if (after_upgrade && i + 1 < hop.steps.size() && hop.steps[i + 1] == Step::AwaitRestart) ++i;
      continue;
    }
    steps.push_back(s);
  }
  hop.steps = std::move(steps);
  hop.in_place = true;
  return hop;
}

bool is_destructive(const backup::DeviceAction& a) {
  if (a.kind == backup::DeviceAction::Kind::HttpPost) return true;  // POST /u2: a settings upload
  return a.kind == backup::DeviceAction::Kind::Publish && destructive_command(a.command.name, a.command.payload);
}

namespace effect {

Send::Send(backup::DeviceAction action) : action_(std::move(action)) {
  if (is_destructive(action_))
    throw std::logic_error("upgrade job: '" + action_.command.name + " " + action_.command.payload +
                           "' is destructive: it goes out only through PersistThenSend");
}

PersistThenSend::PersistThenSend(UpgradeJobState state, backup::DeviceAction command) : state_(std::move(state)), command_(std::move(command)) {
  if (!state_.sent) throw std::logic_error("upgrade job: a destructive command must be announced by a state that says it was sent");
}

}  // namespace effect

json hops_to_json(const std::vector<JobHop>& hops) {
  json out = json::array();
  for (auto& h : hops) {
    json steps = json::array();
    for (auto s : h.steps) steps.push_back(step_text(s));
    json one = {{"version", h.version}, {"build", h.build}, {"url", h.url}, {"steps", steps}};
    if (h.in_place) one["mode"] = "in-place";  // absent: clean (what every job stored before had)
    out.push_back(std::move(one));
  }
  return out;
}

std::vector<JobHop> hops_from_json(const json& j) {
  if (!j.is_array()) throw std::invalid_argument("stored job: its hops are not a list");
  std::vector<JobHop> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto where = fmt::format("stored job, hop {}", i + 1);
    const auto& h = j[i];
    JobHop hop;
    try {
      hop.version = h.at("version").get<std::string>();
      hop.build = h.at("build").get<std::string>();
      hop.url = h.at("url").get<std::string>();
      if (!h.at("steps").is_array()) throw std::invalid_argument(where + ": its steps are not a list");
      for (auto& s : h["steps"]) hop.steps.push_back(step_of(s, where));
      auto mode = h.value("mode", std::string("clean"));
      if (mode != "clean" && mode != "in-place") throw std::invalid_argument(where + ": unknown mode '" + mode + "'");
      hop.in_place = mode == "in-place";
    } catch (const json::exception& e) {
      throw std::invalid_argument(where + " is malformed: " + e.what());
    }
    out.push_back(std::move(hop));
  }
  return out;
}

json UpgradeJobState::to_json() const {
  return {{"v", kVersion},
          {"hop", hop},
          {"step", step},
          {"step_name", step_kind ? json(step_text(*step_kind)) : json(nullptr)},
          {"sent", sent},
          {"current_version", current_version},
          {"backup_id", backup_id ? json(*backup_id) : json(nullptr)},
          {"status", status},
          {"error", error},
          {"failure", failed_step ? json{{"step", step_text(*failed_step)}, {"reason", failed_reason}} : json(nullptr)},
          {"ota_url_before", ota_url_before ? json(*ota_url_before) : json(nullptr)}};
}

UpgradeJobState UpgradeJobState::from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("upgrade job state: not a JSON object");
  int v = 1;  // v1 had no version field
  if (j.contains("v")) {
    if (!j["v"].is_number_integer()) throw std::invalid_argument("upgrade job state: its version is not a number: " + j["v"].dump());
    v = j["v"].get<int>();
    if (v > kVersion)
      throw std::invalid_argument(fmt::format("upgrade job state: version {} is newer than this program reads (up to {}): not resumed", v, kVersion));
    if (v < 1) throw std::invalid_argument(fmt::format("upgrade job state: unknown version {}", v));
  }
  UpgradeJobState s;
  try {
    s.hop = j.at("hop").get<std::size_t>();
    s.step = j.at("step").get<std::size_t>();
    s.sent = j.at("sent").get<bool>();
    s.current_version = j.at("current_version").get<std::string>();
    if (!j.at("backup_id").is_null()) s.backup_id = j["backup_id"].get<std::int64_t>();
    s.status = j.at("status").get<std::string>();
    s.error = j.value("error", "");
    if (v == 1) {
      // v1 knew one pending failure, a failed Upgrade, by Tasmota's text.
      auto failed = j.value("failed_upgrade", "");
      if (!failed.empty()) {
        s.failed_step = Step::Upgrade;
        s.failed_reason = "Upgrade failed (" + failed + ")";
      }
    } else {
      const auto& name = j.at("step_name");
      if (!name.is_null()) s.step_kind = step_of(name, "upgrade job state");
      const auto& f = j.at("failure");
      if (!f.is_null()) {
        s.failed_step = step_of(f.at("step"), "upgrade job state, failure");
        s.failed_reason = f.at("reason").get<std::string>();
      }
      const auto& url = j.at("ota_url_before");
      if (!url.is_null()) s.ota_url_before = url.get<std::string>();
    }
  } catch (const json::exception& e) {
    throw std::invalid_argument(fmt::format("upgrade job state (v{}) is malformed: {}", v, e.what()));
  }
  if (s.status != "running" && s.status != "done" && s.status != "failed" && s.status != "stopped")
    throw std::invalid_argument("upgrade job state: unknown status '" + s.status + "'");
  return s;
}

ResumePoint resume_point(const UpgradeJobState& s, const std::vector<JobHop>& hops) {
  ResumePoint r{s.hop, s.step, How::Fresh, ""};
  if (s.status != "running") {
    r.how = How::Finished;
    return r;
  }
  if (s.hop >= hops.size() || s.step >= hops[s.hop].steps.size()) return r;  // the OtaUrl put back: harmless to send again
  switch (hops[s.hop].steps[s.step]) {
    case Step::Reset6:
      if (s.sent) {
        r.how = How::AlreadySent;
        r.why = "Reset 6 may have gone out before the interruption: not sent again";
      }
      break;
    case Step::Upgrade:
      if (s.sent) {
        r.how = How::CheckVersion;
        r.why = "Upgrade 1 may have gone out before the interruption: asking the device what it runs";
      } else if (s.step > 0 && hops[s.hop].steps[s.step - 1] == Step::OtaUrl) {
        // The image may come from another OTA server now (another process took the job over): OtaUrl again.
        r.step = s.step - 1;
        r.why = "resumed before Upgrade 1: OtaUrl first again";
      }
      break;
    case Step::Restore:
      if (s.sent) {
        r.how = How::VerifyFirst;
        r.why = "the restore may have run before the interruption: verifying only";
      }
      break;
    case Step::AwaitRestart:
      if (s.hop > 0 || s.step > 0) {
        r.how = How::SkipWait;
        r.why = "the restart may be over already: the version check that follows tells";
      }
      break;
    default: break;  // queries, the backup and OtaUrl are harmless to repeat; the health window starts anew
  }
  return r;
}

// What each step does on entry and where its outcomes lead: the one place the order of a hop is decided.
// The hop's own list says which steps there are; an outcome a step does not list fails the job.
struct UpgradeJob::Rule {
  Step step;
  JobEffects (UpgradeJob::*enter)(std::int64_t now_ms, How how);
  std::vector<std::pair<Event, Goal>> on;
};

const UpgradeJob::Rule UpgradeJob::kRules[] = {
    // A validated backup, kept: the job's first durable fact.
    {Step::Backup, &UpgradeJob::enter_backup, {{Event::Done, Goal::Next}}},
    // Reset 6, committed first, then the restart it causes.
    {Step::Reset6, &UpgradeJob::enter_reset6, {{Event::Restarted, Goal::Next}, {Event::Done, Goal::Next}}},
    // OtaUrl <the hop's image> until the device confirms it.
    {Step::OtaUrl, &UpgradeJob::enter_ota_url, {{Event::Done, Goal::Next}}},
    // Upgrade 1, committed first. "Successful" goes on to the restart; a restart seen first goes to the
    // version check; resumed, the device's version decides; a failure restores the settings.
    {Step::Upgrade, &UpgradeJob::enter_upgrade,
     {{Event::Done, Goal::Next}, {Event::Restarted, Goal::VerifyVersion}, {Event::Verified, Goal::PastVerifyVersion}, {Event::Failed, Goal::Restore}}},
    // The boot announcement (or a restart the step before saw already).
    {Step::AwaitRestart, &UpgradeJob::enter_await_restart, {{Event::Restarted, Goal::Next}, {Event::Done, Goal::Next}}},
    // Status 2: the hop's version; a minimal build booted first is checked again after its restart.
    {Step::VerifyVersion, &UpgradeJob::enter_verify_version,
     {{Event::Done, Goal::Next}, {Event::Restarted, Goal::VerifyVersion}, {Event::Failed, Goal::Restore}}},
    // The stability window; failed with the device answering: the settings are restored, then the job fails.
    {Step::HealthCheck, &UpgradeJob::enter_health_check, {{Event::Done, Goal::Next}, {Event::Failed, Goal::Restore}}},
    // The hop's backup put back and verified field by field; a failure waiting for it fails the job here.
    {Step::Restore, &UpgradeJob::enter_restore, {{Event::Done, Goal::NextUnlessFailed}}},
    // Done by Restore (it reads the settings back and compares them); in an in-place hop the settings are
    // taken again and compared with the hop's backup, and a difference fails the job naming the fields.
    {Step::VerifySettings, &UpgradeJob::enter_verify_settings, {{Event::Done, Goal::Next}}},
};

const UpgradeJob::Rule& UpgradeJob::rule_of(Step step) {
  for (const auto& r : kRules)
    if (r.step == step) return r;
  throw std::logic_error("upgrade job: no rule for step " + step_text(step));
}

UpgradeJob::UpgradeJob(backup::BackupTarget device, std::vector<JobHop> hops, UpgradeJobState state, UpgradeSettings settings)
    : device_(std::move(device)), hops_(std::move(hops)), state_(std::move(state)), settings_(std::move(settings)) {
  if (state_.current_version.empty()) state_.current_version = device_.version.str();
}

std::string UpgradeJob::step_name() const {
  if (finished() && state_.hop >= hops_.size()) return "Done";
  if (state_.hop >= hops_.size()) return "PutBackOtaUrl";
  if (state_.step >= hops_[state_.hop].steps.size()) return "Done";
  return step_text(hops_[state_.hop].steps[state_.step]);
}

std::string UpgradeJob::current_step() const {
  if (state_.hop >= hops_.size()) return finished() ? "Done" : fmt::format("after hop {0}/{0}: putting back the device's OtaUrl", hops_.size());
  return fmt::format("hop {}/{} ({}): {}", state_.hop + 1, hops_.size(), hop().version, step_name());
}

std::string UpgradeJob::command_topic() const {
  if (restore_) return restore_->command_topic();
  return restore_topic_.empty() ? device_.topic : restore_topic_;
}

std::vector<std::string> UpgradeJob::take_events() { return std::exchange(events_, {}); }

void UpgradeJob::move_to(std::size_t hop, std::size_t step) {
  state_.hop = hop;
  state_.step = step;
  state_.step_kind = hop < hops_.size() && step < hops_[hop].steps.size() ? std::optional(hops_[hop].steps[step]) : std::nullopt;
}

std::optional<std::size_t> UpgradeJob::find_in_hop(Step step, std::size_t from) const {
  for (std::size_t i = from; i < hop().steps.size(); ++i)
    if (hop().steps[i] == step) return i;
  return std::nullopt;
}

JobEffects UpgradeJob::send(std::string command, std::string payload) {
  return {effect::Send(backup::DeviceAction::publish({std::move(command), std::move(payload)}))};
}

JobEffects UpgradeJob::send_destructive(std::string command, std::string payload) {
  state_.sent = true;
  return {effect::PersistThenSend(state_, backup::DeviceAction::publish({std::move(command), std::move(payload)}))};
}

JobEffects UpgradeJob::wrap(std::vector<backup::DeviceAction> actions) {
  JobEffects out;
  for (auto& a : actions) {
    if (a.kind == backup::DeviceAction::Kind::Finished || a.kind == backup::DeviceAction::Kind::None) continue;
    if (is_destructive(a)) {
      // The end of a settings upload: only in the Restore step, whose state already says it may have run.
      state_.sent = true;
      out.emplace_back(effect::PersistThenSend(state_, std::move(a)));
    } else {
      out.emplace_back(effect::Send(std::move(a)));
    }
  }
  return out;
}

JobEffects UpgradeJob::fail(std::string why) {
  state_.status = "failed";
  state_.error = std::move(why);
  wait_ = Wait::None;
  event("failed: " + state_.error);
  return {effect::Persist{state_}, effect::Finished{}};
}

JobEffects UpgradeJob::stop_here(const std::string& where) {
  state_.status = "stopped";
  wait_ = Wait::None;
  event(fmt::format("stopped as asked, {}: the device runs {}", where, state_.current_version));
  return {effect::Persist{state_}, effect::Finished{}};
}

JobEffects UpgradeJob::finish_done() {
  move_to(hops_.size(), 0);
  state_.status = "done";
  wait_ = Wait::None;
  event("done");
  return {effect::Persist{state_}, effect::Finished{}};
}

bool UpgradeJob::hop_untouched() const {
  if (state_.hop >= hops_.size()) return true;
  for (std::size_t i = 0; i < state_.step && i < hop().steps.size(); ++i)
    if (hop().steps[i] != Step::Backup) return false;
  return !(state_.sent && state_.step < hop().steps.size() && hop().steps[state_.step] != Step::Backup);
}

JobEffects UpgradeJob::start(std::int64_t now_ms) {
  if (finished()) return {effect::Finished{}};
  // A state that does not fit its hops is refused rather than guessed at.
  if (state_.hop > hops_.size() || (state_.hop < hops_.size() && state_.step >= hop().steps.size()))
    return fail(fmt::format("the stored state (hop {}, step {}) does not fit the job's {} hop(s): not resumed", state_.hop + 1, state_.step + 1,
                            hops_.size()));
  if (state_.hop < hops_.size() && state_.step_kind && *state_.step_kind != hop().steps[state_.step])
    return fail(fmt::format("the stored state is at {} where hop {} has {}: not resumed", step_text(*state_.step_kind), state_.hop + 1,
                            step_text(hop().steps[state_.step])));
  if (stop_requested_ && state_.hop < hops_.size() && hop_untouched())
    return stop_here(fmt::format("before hop {}/{}", state_.hop + 1, hops_.size()));
  auto r = resume_point(state_, hops_);
  if (state_.sent || state_.hop > 0 || state_.step > 0) event(fmt::format("resuming at {}", current_step()));
  if (!r.why.empty()) event(r.why);
  move_to(r.hop, r.step);
  return enter(now_ms, r.how);
}

JobEffects UpgradeJob::go(Event e, std::int64_t now_ms) {
  wait_ = Wait::None;
  ota_tries_ = 0;
  query_tries_ = 0;
  if (state_.hop >= hops_.size()) return finish_done();  // the OtaUrl is back: nothing follows
  const auto from = hop().steps[state_.step];
  const auto& rule = rule_of(from);
  auto t = std::find_if(rule.on.begin(), rule.on.end(), [&](const auto& p) { return p.first == e; });
  if (t == rule.on.end()) return fail(fmt::format("internal: {} has no way on from this outcome", step_text(from)));
  std::size_t next = state_.step + 1;
  switch (t->second) {
    case Goal::Next: break;
    case Goal::NextUnlessFailed:
      if (state_.failed_step) return fail(fmt::format("{}; the settings were restored on {}", state_.failed_reason, state_.current_version));
      break;
    case Goal::VerifyVersion:
      if (auto at = find_in_hop(Step::VerifyVersion, state_.step)) next = *at;
      break;
    case Goal::PastVerifyVersion:
      if (auto at = find_in_hop(Step::VerifyVersion, state_.step)) next = *at + 1;
      break;
    case Goal::Restore: {
      auto at = find_in_hop(Step::Restore, state_.step);
      // No Restore in this hop: no Reset 6 either, so the device still holds its settings.
      if (!at) return fail(state_.failed_reason);
      next = *at;
      break;
    }
  }
  state_.sent = false;
  if (next >= hop().steps.size()) {
    event(fmt::format("hop {}/{} done: the device runs {}", state_.hop + 1, hops_.size(), state_.current_version));
    state_.backup_id.reset();
    hop_backup_.reset();
    move_to(state_.hop + 1, 0);
  } else {
    move_to(state_.hop, next);
  }
  if (state_.hop < hops_.size() && stop_requested_ && hop_untouched())
    return stop_here(fmt::format("before hop {}/{} ({})", state_.hop + 1, hops_.size(), hop().version));
  // The new position is committed before its first effect, unless that effect commits a later one.
  auto position = state_;
  auto out = enter(now_ms, How::Fresh);
  bool committed = !out.empty() && (std::holds_alternative<effect::Persist>(out.front()) || std::holds_alternative<effect::PersistThenSend>(out.front()));
  if (!committed) out.insert(out.begin(), effect::Persist{position});
  return out;
}

JobEffects UpgradeJob::enter(std::int64_t now_ms, How how) {
  if (how == How::Finished) return {effect::Finished{}};
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  if (state_.hop >= hops_.size()) {
    trail_.push_back("PutBackOtaUrl");
    return enter_put_back_ota_url(now_ms);
  }
  const auto& rule = rule_of(hop().steps[state_.step]);
  trail_.push_back(step_text(rule.step));
  return (this->*rule.enter)(now_ms, how);
}

JobEffects UpgradeJob::enter_backup(std::int64_t now_ms, How) {
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

JobEffects UpgradeJob::enter_reset6(std::int64_t now_ms, How how) {
  if (how == How::AlreadySent) return go(Event::Done, now_ms);
  event("Reset 6");
  auto out = send_destructive("Reset", "6");
  await_restart(now_ms, settings_.restart_timeout_ms);
  return out;
}

JobEffects UpgradeJob::enter_ota_url(std::int64_t, How) {
  wait_ = Wait::OtaUrlReply;
  ++ota_tries_;
  return send("OtaUrl", hop().url);
}

JobEffects UpgradeJob::enter_upgrade(std::int64_t now_ms, How how) {
  if (how == How::CheckVersion) {
    // Upgrade 1 may have gone out: look at the device instead of sending it again.
    upgrade_resumed_ = true;
    wait_ = Wait::VersionReply;
    return send("Status", "2");
  }
  wait_ = Wait::UpgradeReply;
  deadline_ms_ = now_ms + settings_.upgrade_timeout_ms;
  event(fmt::format("Upgrade 1 to {} from {}", hop().version, hop().url));
  return send_destructive("Upgrade", "1");
}

JobEffects UpgradeJob::enter_await_restart(std::int64_t now_ms, How how) {
  if (how == How::SkipWait || std::exchange(just_restarted_, false)) return go(Event::Done, now_ms);
  await_restart(now_ms, settings_.restart_timeout_ms);
  return {};
}

JobEffects UpgradeJob::enter_verify_version(std::int64_t, How) {
  wait_ = Wait::VersionReply;
  return send("Status", "2");
}

JobEffects UpgradeJob::enter_health_check(std::int64_t now_ms, How) {
  if (settings_.health_window_ms <= 0) {
    wait_ = Wait::HealthReply;
    return send("Status", "11");
  }
  health_ = Health{};
  health_.started_ms = now_ms;
  health_.ends_ms = now_ms + settings_.health_window_ms;
  health_.next_poll_ms = now_ms + std::max<std::int64_t>(1000, settings_.health_window_ms / 2);
  health_.last_state_ms = now_ms;
  health_.asked_status1 = health_.asked_tele_period = true;
  health_.query_deadline_ms = now_ms + settings_.reply_timeout_ms;
  wait_ = Wait::HealthWindow;
  event(fmt::format("health: watching the device for {} s", settings_.health_window_ms / 1000));
  // Status 1: the restart reason and boot count; Status 11: the uptime; TelePeriod: when STATE is due.
  auto out = send("Status", "1");
  auto uptime = ask_status11(now_ms);
  auto period = send("TelePeriod", "");
  out.insert(out.end(), uptime.begin(), uptime.end());
  out.insert(out.end(), period.begin(), period.end());
  return out;
}

JobEffects UpgradeJob::enter_restore(std::int64_t, How) {
  // Resumed (VerifyFirst), the state says "sent" already: on_backup_loaded then reads the settings back first.
  if (!state_.backup_id) return fail("no backup of this hop to restore");
  wait_ = Wait::BackupLoad;
  return {effect::LoadBackup{*state_.backup_id}};
}

JobEffects UpgradeJob::enter_verify_settings(std::int64_t now_ms, How) {
  if (hop().in_place) {
    // The settings stayed in flash: take them again (not kept) and compare them with the hop's backup.
    auto target = device_;
    target.version = planner::Version::parse(state_.current_version).value_or(device_.version);
    target.topic = command_topic();
    backup::BackupSettings bs;
    bs.device_mqtt_password = settings_.device_mqtt_password;
    backup_.emplace(target, bs);
    after_backup_.reset();
    wait_ = Wait::VerifyBackupRun;
    event(fmt::format("verify: taking the settings again on {} to compare them with backup #{}", state_.current_version,
                      state_.backup_id.value_or(0)));
    return from_inner(backup_->start(now_ms), now_ms);
  }
  // The Restore step reads the settings back and compares them; without one there is nothing to compare.
  if (!find_in_hop(Step::Restore, 0)) event("no restore in this hop: nothing to verify");
  return go(Event::Done, now_ms);
}

JobEffects UpgradeJob::after_verify_backup(std::int64_t now_ms) {
  auto& job = *backup_;
  if (!job.result()) {
    std::string why = job.problems().empty() ? "no reply" : job.problems().back();
    return fail(fmt::format("verify: the settings cannot be taken again on {} ({}): not compared with backup #{}", state_.current_version, why,
                            state_.backup_id.value_or(0)));
  }
  after_backup_ = *job.result();
  backup_.reset();
  if (hop_backup_) return compare_with_hop_backup(*hop_backup_, now_ms);
  if (!state_.backup_id) return fail("verify: no backup of this hop to compare with");
  wait_ = Wait::VerifyBackupLoad;
  return {effect::LoadBackup{*state_.backup_id, true}};
}

JobEffects UpgradeJob::on_backup_record_loaded(std::optional<backup::BackupRecord> record, std::int64_t now_ms) {
  if (wait_ != Wait::VerifyBackupLoad) return {};
  if (!record) return fail(fmt::format("verify: backup #{} is gone", state_.backup_id.value_or(0)));
  hop_backup_ = std::move(record);
  return compare_with_hop_backup(*hop_backup_, now_ms);
}

JobEffects UpgradeJob::compare_with_hop_backup(const backup::BackupRecord& before, std::int64_t now_ms) {
  const auto& after = *after_backup_;
  std::vector<backup::FieldDifference> diffs;
  std::string what;
  auto old_file = before.dmp.empty() ? backup::DmpRead{} : backup::read_dmp(before.dmp);
  auto new_file = after.dmp.empty() ? backup::DmpRead{} : backup::read_dmp(after.dmp);
  if (old_file.file && new_file.file && old_file.file->platform() == new_file.file->platform()) {
    // What the older file becomes on this firmware (its own migration at boot), restricted to what it holds.
    auto& layouts = backup::SettingsLayouts::builtin();
    auto expected = backup::expected_settings(layouts, backup::migrate_settings(*old_file.file, new_file.file->version()), *old_file.file);
    expected.erase("ota_url");  // the job set it; the device's own is put back at the end
    diffs = backup::compare_settings(expected, layouts.decoded(*new_file.file)->fields);
    what = fmt::format("the settings files ({} fields compared)", expected.size());
  } else {
    auto from = planner::Version::parse(before.version);
    auto to = planner::Version::parse(after.version);
    bool renumbered = from && to && backup::crosses_gpio_renumbering(*from, *to, device_.chip == planner::Chip::ESP8266 ? 0 : 1);
    diffs = compare_snapshots(json::parse(before.snapshot.empty() ? "{}" : before.snapshot, nullptr, false),
                              json::parse(after.snapshot.empty() ? "{}" : after.snapshot, nullptr, false), renumbered);
    what = before.dmp.empty() ? "the command snapshots (no settings file before)" : "the command snapshots (no settings file after)";
  }
  hop_backup_.reset();
  after_backup_.reset();
  if (!diffs.empty()) {
    std::string names;
    for (std::size_t i = 0; i < diffs.size() && i < 20; ++i) names += (names.empty() ? "" : ", ") + diffs[i].field;
    event(fmt::format("verify: {} differ{} from backup #{}:{}", diffs.size() == 1 ? "1 setting" : fmt::format("{} settings", diffs.size()),
                      diffs.size() == 1 ? "s" : "", state_.backup_id.value_or(0), differences_text(diffs)));
    return fail(fmt::format("the upgrade to {} changed {} setting{} ({}): {}; the device runs {} and keeps them as they are now (backup #{} has "
                            "the settings before)",
                            hop().version, diffs.size(), diffs.size() == 1 ? "" : "s", what, names, state_.current_version,
                            state_.backup_id.value_or(0)));
  }
  event(fmt::format("verify: the settings are those of backup #{}: {} match", state_.backup_id.value_or(0), what));
  return go(Event::Done, now_ms);
}

JobEffects UpgradeJob::enter_put_back_ota_url(std::int64_t now_ms) {
  if (!state_.ota_url_before) {
    event("the device's OtaUrl before the job is not known: not put back");
    return finish_done();
  }
  if (state_.ota_url_before->empty()) {
    event("the device had no OtaUrl before the job: nothing to put back");
    return finish_done();
  }
  if (ota_tries_ == 0) event("putting back the device's own OtaUrl " + *state_.ota_url_before);
  ++ota_tries_;
  wait_ = Wait::OtaUrlBackReply;
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  return send("OtaUrl", *state_.ota_url_before);
}

void UpgradeJob::await_restart(std::int64_t now_ms, std::int64_t timeout_ms) {
  wait_ = Wait::Restart;
  restart_wait_from_ms_ = now_ms;
  restart_check_outage_ms_ = 0;
  seen_offline_ = false;
  online_at_ms_ = 0;
  deadline_ms_ = now_ms + timeout_ms;
}

JobEffects UpgradeJob::restarted(std::int64_t now_ms) {
  wait_ = Wait::None;
  online_at_ms_ = 0;
  seen_offline_ = false;
  event("the device restarted");
  interim_ = Interim::None;
  interim_version_.clear();
  if (state_.hop < hops_.size() && hop().steps[state_.step] == Step::HealthCheck)
    return health_failed(health_.failure.empty() ? "the device restarted during the window" : health_.failure, now_ms);
  just_restarted_ = true;
  auto out = go(Event::Restarted, now_ms);
  just_restarted_ = false;
  return out;
}

JobEffects UpgradeJob::from_inner(std::vector<backup::DeviceAction> actions, std::int64_t now_ms) {
  if (wait_ == Wait::BackupRun && backup_->finished()) return after_backup_job(now_ms);
  if (wait_ == Wait::VerifyBackupRun && backup_->finished()) return after_verify_backup(now_ms);
  auto out = wrap(std::move(actions));
  if (wait_ == Wait::RestoreRun && restore_->finished()) {
    auto after = after_restore_job(now_ms);
    out.insert(out.end(), after.begin(), after.end());
  }
  return out;
}

JobEffects UpgradeJob::after_backup_job(std::int64_t) {
  auto& job = *backup_;
  bool in_place = hop().in_place;
  if (!job.result() || (job.result()->dmp.empty() && !in_place)) {
    std::string why = job.problems().empty() ? "no settings file" : job.problems().back();
    return fail(fmt::format("no valid backup, nothing destructive was done: {} {}", why, kInPlaceHint));
  }
  if (job.result()->dmp.empty()) {
    std::string why = job.problems().empty() ? "no settings file" : job.problems().back();
    event("in place: no settings file (" + why + "): a snapshot of command replies is the backup; the settings stay in flash");
  }
  hop_backup_ = *job.result();
  wait_ = Wait::BackupStore;
  if (state_.hop == 0 && !state_.ota_url_before) {
    // The first backup sees the device as it was before the job: its OtaUrl is put back at the end.
    const auto snap = json::parse(job.result()->snapshot, nullptr, false);
    if (snap.is_object() && snap.contains("OtaUrl") && snap["OtaUrl"].is_object() && snap["OtaUrl"].value("OtaUrl", json()).is_string())
      state_.ota_url_before = snap["OtaUrl"]["OtaUrl"].get<std::string>();
    else if (snap.is_object() && snap.contains("Status 0") && snap["Status 0"].is_object() && snap["Status 0"].contains("StatusPRM") &&
             snap["Status 0"]["StatusPRM"].value("OtaUrl", json()).is_string())
      state_.ota_url_before = snap["Status 0"]["StatusPRM"]["OtaUrl"].get<std::string>();
    else
      event("the backup's snapshot does not show the device's OtaUrl: it will not be put back");
  }
  return {effect::StoreBackup{*job.result()}};
}

JobEffects UpgradeJob::on_backup_stored(std::int64_t id, std::int64_t now_ms) {
  if (wait_ != Wait::BackupStore) return {};
  state_.backup_id = id;
  event(fmt::format("backup #{} kept", id));
  backup_.reset();
  return go(Event::Done, now_ms);  // persists the backup id with the next step
}

JobEffects UpgradeJob::on_backup_loaded(std::optional<std::vector<std::uint8_t>> bytes, std::int64_t now_ms) {
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
  event(rs.verify_only ? "verifying the settings before uploading anything" : "restore: " + restore_->plan().how);
  JobEffects out;
  if (!state_.sent) {
    // A replay of commands writes settings as it goes: from here on the restore may have run.
    state_.sent = true;
    out.emplace_back(effect::Persist{state_});
  }
  auto more = from_inner(restore_->start(now_ms), now_ms);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

JobEffects UpgradeJob::after_restore_job(std::int64_t now_ms) {
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
  return go(Event::Done, now_ms);
}

JobEffects UpgradeJob::on_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  if (finished()) return {};
  if ((wait_ == Wait::BackupRun || wait_ == Wait::VerifyBackupRun) && backup_) return tele ? JobEffects{} : from_inner(backup_->on_message(suffix, payload, now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_message(tele, suffix, payload, now_ms), now_ms);
  if (wait_ == Wait::HealthWindow) return health_message(tele, suffix, payload, now_ms);
  if (wait_ == Wait::Restart || ((wait_ == Wait::UpgradeReply || wait_ == Wait::RestartCheck) && tele)) {
    if (!tele) return {};
    if (suffix == "LWT") {
      if (payload == "Offline") {
        seen_offline_ = true;
        online_at_ms_ = 0;
      } else if (payload == "Online" && seen_offline_ && online_at_ms_ == 0) {
        online_at_ms_ = now_ms;  // INFO1 follows once its commands are subscribed; else a quiet moment
      }
    } else if (suffix == "INFO1") {
      bool handled = false;
      auto out = interim_booted(payload, now_ms, handled);
      if (handled) return out;
      return restarted(now_ms);
    }
    return {};
  }
  if (tele) return {};
  return on_reply(suffix, payload, now_ms);
}

// The boot announcement of an image on the way to the hop's: the minimal build fetches the full image by
// itself, the safeboot image downloads the hop's image and reports the outcome on stat/…/UPGRADE
// (support_tasmota.ino; docs/upgrade.md). Either way the job waits for the next boot, as long as an
// upgrade may take, instead of asking a version these images do not answer.
JobEffects UpgradeJob::interim_booted(std::string_view info1, std::int64_t now_ms, bool& handled) {
  handled = false;
  auto j = object_of(info1);
  if (!j) return {};
  const auto& o = j->contains("Info1") && (*j)["Info1"].is_object() ? (*j)["Info1"] : *j;
  if (!o.contains("Version") || !o["Version"].is_string()) return {};
  auto fw = planner::FirmwareVersion::parse(o["Version"].get<std::string>());
  if (!fw || !(fw->is_minimal() || fw->is_safeboot())) return {};
  handled = true;
  interim_version_ = fw->str();
  if (fw->is_safeboot()) {
    interim_ = Interim::Safeboot;
    event("the device restarted into " + fw->str() + ", which downloads the image itself");
    wait_ = Wait::UpgradeReply;  // its outcome: "Successful. Restarting", then the boot into the hop's image
    seen_offline_ = false;
    online_at_ms_ = 0;
    deadline_ms_ = now_ms + settings_.upgrade_timeout_ms;
    return {};
  }
  interim_ = Interim::Minimal;
  event("the minimal build booted (" + fw->str() + "): it fetches the full image by itself");
  await_restart(now_ms, settings_.upgrade_timeout_ms);
  return {};
}

JobEffects UpgradeJob::on_reply(std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  auto j = object_of(payload);
  switch (wait_) {
    case Wait::OtaUrlReply:
      if (j && j->contains("OtaUrl") && (*j)["OtaUrl"] == hop().url) {
        event("OtaUrl set");
        return go(Event::Done, now_ms);
      }
      return {};
    case Wait::OtaUrlBackReply:
      if (j && j->contains("OtaUrl") && (*j)["OtaUrl"] == *state_.ota_url_before) {
        event("OtaUrl put back");
        return go(Event::Done, now_ms);
      }
      return {};
    case Wait::UpgradeReply: {
      if (suffix != "UPGRADE") return {};
      // Read the text even from a reply with broken quoting (9.5.0: tasmota-facts.md).
      std::string text = j && j->contains("Upgrade") && (*j)["Upgrade"].is_string() ? (*j)["Upgrade"].get<std::string>() : std::string(payload);
      if (text.find("Successful") != std::string::npos) {
        event("the device took the image: " + text);
        return go(Event::Done, now_ms);  // AwaitRestart
      }
      if (text.find("Failed") != std::string::npos) {
        bool space = text.find("Not Enough space") != std::string::npos || text.find("Does Not Fit") != std::string::npos;
        if (space) {
          event("the image does not fit: the device takes the -minimal step by itself (" + text + ")");
          return {};
        }
        if (interim_ == Interim::Safeboot)  // it stays there: no settings to restore into, no Status to ask
          return fail(fmt::format("Upgrade failed in safeboot ({}): the device stays in {}; Restart 3 takes it back to its firmware "
                                  "(its settings are kept in flash), or run the upgrade again",
                                  text, interim_version_));
        state_.failed_step = Step::Upgrade;
        state_.failed_reason = "Upgrade failed (" + text + ")";
        event("the upgrade failed: " + text + "; restoring the settings on " + state_.current_version);
        return go(Event::Failed, now_ms);
      }
      return {};
    }
    case Wait::VersionReply: {
      // (Status 2 is all this wait asked; older firmware answers Unknown without naming the input.)
      const json* input = j && j->contains("Input") ? &(*j)["Input"] : nullptr;
      bool unknown = j && j->contains("Command") && (*j)["Command"] == "Unknown";
      if (unknown && (!input || (input->is_string() && input->get<std::string>().starts_with("STATUS")))) {
        // A minimal or safeboot image has no Status (its boot announcement was missed): wait for its next boot.
        event("the device does not know Status: an intermediate (minimal or safeboot) image; waiting for its next boot");
        interim_ = Interim::Minimal;
        await_restart(now_ms, settings_.upgrade_timeout_ms);
        return {};
      }
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
        bool resumed = std::exchange(upgrade_resumed_, false);
        return go(resumed && hop().steps[state_.step] == Step::Upgrade ? Event::Verified : Event::Done, now_ms);
      }
      if (upgrade_resumed_) {
        // Still the old firmware: maybe still downloading. Wait for a restart; never send Upgrade 1 again.
        event("still " + fw->str() + ": waiting in case the download is still running");
        await_restart(now_ms, settings_.upgrade_timeout_ms);
        return {};
      }
      // The old image booted again (the new one did not take): the settings are restored on it, then the job fails.
      state_.failed_step = Step::Upgrade;
      state_.failed_reason = fmt::format("expected {} after the upgrade, the device reports {}", hop().version, fw->str());
      event(state_.failed_reason + "; restoring the settings on " + fw->str());
      state_.current_version = fw->version.str();
      return go(Event::Failed, now_ms);
    }
    case Wait::RestartCheck: {
      if (!j || !j->contains("StatusSTS")) return {};
      auto up = uptime_of((*j)["StatusSTS"]);
      if (!up) return {};
      // Uptime counts whole seconds: it booted after the wait began only if even the longest uptime it can
      // mean (up + 1 s) is shorter than the time since (a device that booted just before would pass otherwise).
      auto since_ms = now_ms - restart_wait_from_ms_ + restart_check_outage_ms_;
      auto since_s = since_ms / 1000;
      if ((*up + 1) * 1000 <= since_ms) {
        event(fmt::format("the device has been up {} s, less than the {} s since the wait began: it restarted meanwhile", *up, since_s));
        return restarted(now_ms);
      }
      // Still up from before: the restart has not happened (yet). Back to waiting, to the same deadline.
      wait_ = Wait::Restart;
      deadline_ms_ = restart_check_deadline_ms_;
      event(fmt::format("the device has been up {} s: it has not restarted since {} s ago; waiting on", *up, since_s));
      return {};
    }
    case Wait::HealthReply:
      if (j && j->contains("StatusSTS")) {
        event("health check: the device answers");
        return go(Event::Done, now_ms);
      }
      return {};
    default: return {};
  }
}

bool UpgradeJob::health_needs_telemetry() const {
  auto period = health_.tele_period_s.value_or(kDefaultTelePeriodS);
  return period > 0 && settings_.health_window_ms >= (period + kTeleMarginS) * 1000;
}

void UpgradeJob::health_uptime(std::int64_t uptime_s, std::int64_t now_ms, std::string& problem) {
  if (health_.last_uptime_s && uptime_s < *health_.last_uptime_s)
    problem = fmt::format("the uptime went back from {} s to {} s: the device restarted", *health_.last_uptime_s, uptime_s);
  if (!health_.first_uptime_s) {
    health_.first_uptime_s = uptime_s;
    health_.first_uptime_at_ms = now_ms;
  }
  health_.last_uptime_s = uptime_s;
}

std::string UpgradeJob::health_summary(std::int64_t now_ms) const {
  const auto& h = health_;
  std::string s = fmt::format("{} observation{} over {} s", h.observations, h.observations == 1 ? "" : "s", (now_ms - h.started_ms) / 1000);
  if (h.first_uptime_s && h.last_uptime_s) s += fmt::format(", uptime {}→{} s", *h.first_uptime_s, *h.last_uptime_s);
  else s += ", uptime not reported";
  if (h.boot_count && h.boot_count_end && *h.boot_count_end != *h.boot_count) s += fmt::format(", boot count {}→{}", *h.boot_count, *h.boot_count_end);
  else if (h.boot_count) s += fmt::format(", boot count {}", *h.boot_count);
  else s += ", boot count not reported";
  s += ", restart reason " + h.restart_reason.value_or("not reported");
  if (h.state_at_ms.size() >= 2)
    s += fmt::format(", STATE every {} s", (h.state_at_ms.back() - h.state_at_ms.front()) / 1000 / static_cast<std::int64_t>(h.state_at_ms.size() - 1));
  else if (h.state_at_ms.size() == 1) s += ", 1 STATE";
  else if (!health_needs_telemetry())
    s += fmt::format(", no STATE expected (TelePeriod {} s + {} s is longer than the window)", h.tele_period_s.value_or(kDefaultTelePeriodS), kTeleMarginS);
  else s += ", no STATE";
  return s;
}

JobEffects UpgradeJob::health_failed(std::string what, std::int64_t now_ms) {
  state_.failed_step = Step::HealthCheck;
  state_.failed_reason = "health check failed: " + what;
  event(fmt::format("health: {} ({})", what, health_summary(now_ms)));
  if (find_in_hop(Step::Restore, state_.step)) event("restoring the settings on " + state_.current_version + " before failing");
  return go(Event::Failed, now_ms);
}

JobEffects UpgradeJob::health_message(bool tele, std::string_view suffix, std::string_view payload, std::int64_t now_ms) {
  auto& h = health_;
  std::string problem;
  if (tele) {
    if (suffix == "LWT" && payload == "Offline") {
      // Gone: wait for it to come back before restoring anything; it may be restarting.
      h.failure = fmt::format("the device went offline {} s into the window", (now_ms - h.started_ms) / 1000);
      event("health: " + h.failure + "; waiting for it to come back");
      await_restart(now_ms, settings_.restart_timeout_ms);
      seen_offline_ = true;
      return {};
    }
    if (suffix == "INFO1") return health_failed("the device restarted during the window (a boot announcement)", now_ms);
    if (suffix != "STATE") return {};
    auto j = object_of(payload);
    if (!j) return {};
    h.state_at_ms.push_back(now_ms);
    h.last_state_ms = now_ms;
    ++h.observations;
    if (auto up = uptime_of(*j)) health_uptime(*up, now_ms, problem);
    if (!problem.empty()) return health_failed(problem, now_ms);
    return health_close_if_complete(now_ms);
  }
  auto j = object_of(payload);
  if (!j) return {};
  if (j->contains("StatusPRM") && (*j)["StatusPRM"].is_object()) {
    const auto& prm = (*j)["StatusPRM"];
    std::optional<std::int64_t> boots;
    if (prm.contains("BootCount") && prm["BootCount"].is_number_integer()) boots = prm["BootCount"].get<std::int64_t>();
    if (!h.closing) {
      if (!h.asked_status1) return {};
      h.asked_status1 = false;
      h.boot_count = boots;
      if (prm.contains("RestartReason") && prm["RestartReason"].is_string()) h.restart_reason = prm["RestartReason"].get<std::string>();
      if (h.restart_reason && crash_restart(*h.restart_reason))
        return health_failed(fmt::format("the restart reason is '{}': the firmware crashed or hung", *h.restart_reason), now_ms);
    } else {
      if (h.got_final_status1) return {};
      h.got_final_status1 = true;
      h.boot_count_end = boots;
      if (h.boot_count && boots && *boots != *h.boot_count)
        return health_failed(fmt::format("the boot count went from {} to {}: the device restarted", *h.boot_count, *boots), now_ms);
    }
    return health_close_if_complete(now_ms);
  }
  if (j->contains("StatusSTS") && (*j)["StatusSTS"].is_object()) {
    ++h.observations;
    auto up = uptime_of((*j)["StatusSTS"]);
    std::int64_t asked = 0;  // no ask of ours outstanding: someone else's query, taken when we do not know
    if (!h.status11_asked.empty()) {
      asked = h.status11_asked.front();
      h.status11_asked.pop_front();
    }
    if (up) health_uptime(*up, now_ms, problem);
    if (!problem.empty()) return health_failed(problem, now_ms);
    if (h.closing && h.recheck_at_ms == 0 && asked >= h.final_asked_ms) {
      h.got_final_status11 = true;
      h.final_uptime_s = up;
      h.final_reply_after_ms = asked;
    }
    h.query_tries = 0;
    return health_close_if_complete(now_ms);
  }
  if (j->contains("TelePeriod") && (*j)["TelePeriod"].is_number_integer() && h.asked_tele_period) {
    h.asked_tele_period = false;
    h.tele_period_s = (*j)["TelePeriod"].get<std::int64_t>();
    return {};
  }
  return {};
}

JobEffects UpgradeJob::health_close_if_complete(std::int64_t now_ms) {
  auto& h = health_;
  if (!h.closing || !h.got_final_status1 || !h.got_final_status11) return {};
  if (h.first_uptime_s && h.final_uptime_s && *h.final_uptime_s <= *h.first_uptime_s) {
    if (h.final_reply_after_ms - h.first_uptime_at_ms >= 1000)
      return health_failed(fmt::format("the uptime did not increase ({} s)", *h.final_uptime_s), now_ms);
    // Too close to tell (the first reading came late, on a busy broker or daemon): ask again once a
    // second of the device's time has surely passed since it.
    h.got_final_status11 = false;
    h.final_uptime_s.reset();
    h.recheck_at_ms = h.first_uptime_at_ms + 1000;
    h.query_deadline_ms = h.recheck_at_ms + settings_.reply_timeout_ms;
    return {};
  }
  if (health_needs_telemetry() && h.state_at_ms.empty()) return health_failed("no telemetry (tele STATE) during the window", now_ms);
  event("health: " + health_summary(now_ms));
  return go(Event::Done, now_ms);
}

JobEffects UpgradeJob::health_time(std::int64_t now_ms) {
  auto& h = health_;
  auto period = h.tele_period_s.value_or(kDefaultTelePeriodS);
  if (health_needs_telemetry() && now_ms - h.last_state_ms > (period + kTeleMarginS) * 1000)
    return health_failed(fmt::format("no telemetry: no tele STATE for {} s (TelePeriod {} s + {} s)", (now_ms - h.last_state_ms) / 1000, period,
                                     kTeleMarginS),
                         now_ms);
  if (h.recheck_at_ms != 0 && now_ms >= h.recheck_at_ms) {
    h.recheck_at_ms = 0;
    h.final_asked_ms = now_ms;
    return ask_status11(now_ms);
  }
  bool waiting = h.asked_status1 || (h.closing && (!h.got_final_status1 || !h.got_final_status11));
  if (waiting && now_ms >= h.query_deadline_ms) {
    // Queries are harmless: ask again a few times before giving up on a device that no longer answers.
    if (++h.query_tries >= 3) {
      auto what = h.asked_status1 || !h.got_final_status1 ? "Status 1" : "Status 11";
      return fail(fmt::format("health check: the device does not answer {} ({})", what, health_summary(now_ms)));
    }
    h.query_deadline_ms = now_ms + settings_.reply_timeout_ms;
    JobEffects out;
    if (h.asked_status1 || (h.closing && !h.got_final_status1)) out = send("Status", "1");
    if (h.closing && !h.got_final_status11) {
      auto m = ask_status11(now_ms);
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  }
  if (h.asked_tele_period && now_ms >= h.query_deadline_ms) h.asked_tele_period = false;  // not answered: Tasmota's default
  if (!h.closing && now_ms >= h.ends_ms) {
    h.closing = true;
    h.final_asked_ms = now_ms;
    h.query_tries = 0;
    h.query_deadline_ms = now_ms + settings_.reply_timeout_ms;
    auto out = send("Status", "1");
    auto m = ask_status11(now_ms);
    out.insert(out.end(), m.begin(), m.end());
    return out;
  }
  if (!h.closing && now_ms >= h.next_poll_ms) {
    h.next_poll_ms = now_ms + std::max<std::int64_t>(1000, settings_.health_window_ms / 2);
    return ask_status11(now_ms);
  }
  return {};
}

JobEffects UpgradeJob::ask_status11(std::int64_t now_ms) {
  health_.status11_asked.push_back(now_ms);
  return send("Status", "11");
}

// After an outage a restart wait asks the device whether it restarted since the wait began (its uptime,
// Status 11, is shorter than the time since then, outage included); a wait for Upgrade 1's outcome looks
// at its version, as a resumed job does. Other waits go on: their clock stood still, and a query whose
// answer was lost is asked again when its wait runs out.
JobEffects UpgradeJob::on_broker_back(std::int64_t now_ms, std::int64_t outage_ms) {
  if (finished()) return {};
  event(fmt::format("the broker was away for {} s", (outage_ms + 500) / 1000));
  if (wait_ == Wait::UpgradeReply && interim_ == Interim::None) return enter_upgrade(now_ms, How::CheckVersion);
  if (wait_ != Wait::Restart) return {};
  restart_check_outage_ms_ += outage_ms;
  restart_check_deadline_ms_ = deadline_ms_;
  wait_ = Wait::RestartCheck;
  query_tries_ = 0;
  deadline_ms_ = now_ms + settings_.reply_timeout_ms;
  return send("Status", "11");
}

JobEffects UpgradeJob::on_http(int status, std::optional<std::vector<std::uint8_t>> body, const std::string& error, std::int64_t now_ms) {
  if ((wait_ == Wait::BackupRun || wait_ == Wait::VerifyBackupRun) && backup_) return from_inner(backup_->on_http(std::move(body), error, now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_http(status, std::move(body), error, now_ms), now_ms);
  return {};
}

// What on_time() and health_time() look at, and nothing else: a wait that runs out there must have its
// time here (the upgrade tests check that on_time() before it does nothing).
std::optional<std::int64_t> UpgradeJob::wake_at_ms() const {
  if (finished()) return std::nullopt;
  switch (wait_) {
    case Wait::BackupRun:
    case Wait::VerifyBackupRun:
      return backup_ ? backup_->wake_at_ms() : std::nullopt;
    case Wait::RestoreRun:
      return restore_ ? restore_->wake_at_ms() : std::nullopt;
    case Wait::HealthWindow: {
      const auto& h = health_;
      std::optional<std::int64_t> at;
      auto earliest = [&at](std::int64_t t) { at = at ? std::min(*at, t) : t; };
      if (health_needs_telemetry())
        earliest(h.last_state_ms + (h.tele_period_s.value_or(kDefaultTelePeriodS) + kTeleMarginS) * 1000 + 1);
      if (h.recheck_at_ms != 0) earliest(h.recheck_at_ms);
      if (h.asked_status1 || h.asked_tele_period || (h.closing && (!h.got_final_status1 || !h.got_final_status11)))
        earliest(h.query_deadline_ms);
      if (!h.closing) {
        earliest(h.ends_ms);
        earliest(h.next_poll_ms);
      }
      return at;
    }
    case Wait::Restart:
    case Wait::UpgradeReply:
      return online_at_ms_ > 0 ? std::min(deadline_ms_, online_at_ms_ + kQuietAfterOnlineMs) : deadline_ms_;
    case Wait::OtaUrlReply:
    case Wait::OtaUrlBackReply:
    case Wait::VersionReply:
    case Wait::HealthReply:
    case Wait::RestartCheck:
      return deadline_ms_;
    default:
      return std::nullopt;
  }
}

JobEffects UpgradeJob::on_time(std::int64_t now_ms) {
  if (finished()) return {};
  if ((wait_ == Wait::BackupRun || wait_ == Wait::VerifyBackupRun) && backup_) return from_inner(backup_->on_time(now_ms), now_ms);
  if (wait_ == Wait::RestoreRun && restore_) return from_inner(restore_->on_time(now_ms), now_ms);
  if (wait_ == Wait::HealthWindow) return health_time(now_ms);
  if ((wait_ == Wait::Restart || wait_ == Wait::UpgradeReply) && online_at_ms_ > 0 && now_ms - online_at_ms_ >= kQuietAfterOnlineMs)
    return restarted(now_ms);
  if (now_ms < deadline_ms_) return {};
  switch (wait_) {
    case Wait::Restart:
      if (state_.hop < hops_.size() && hop().steps[state_.step] == Step::HealthCheck)
        return fail(fmt::format("health check failed: {}; the device did not come back within {} s: the settings were not restored (backup #{})",
                                health_.failure, settings_.restart_timeout_ms / 1000, state_.backup_id.value_or(0)));
      if (upgrade_resumed_) {
        upgrade_resumed_ = false;
        state_.failed_step = Step::Upgrade;
        state_.failed_reason = fmt::format("Upgrade 1 went out before the interruption and the device still runs {}: not sent again; check the device",
                                           state_.current_version);
        event(state_.failed_reason);
        return go(Event::Failed, now_ms);
      }
      if (interim_ == Interim::Minimal && !interim_version_.empty())
        return fail(fmt::format("the device booted {} and did not go on to the full image within {} s: it stays on the minimal build; "
                                "check its OtaUrl and the image, then run the upgrade again",
                                interim_version_, settings_.upgrade_timeout_ms / 1000));
      if (restart_check_outage_ms_ > 0)
        return fail(fmt::format("the device did not restart within {} s ({}): the broker went away as the command went out and it may never "
                                "have reached the device; not sent again",
                                settings_.restart_timeout_ms / 1000, current_step()));
      return fail(fmt::format("the device did not come back within {} s ({})", (settings_.restart_timeout_ms) / 1000, current_step()));
    case Wait::OtaUrlReply:
      if (ota_tries_ < 3) return enter_ota_url(now_ms, How::Fresh);  // idempotent: ask again
      return fail("no answer to OtaUrl");
    case Wait::OtaUrlBackReply:
      if (ota_tries_ < 3) return enter_put_back_ota_url(now_ms);
      return fail(fmt::format("the device runs {} with its settings restored, but did not confirm its own OtaUrl {} being put back",
                              state_.current_version, *state_.ota_url_before));
    case Wait::UpgradeReply: return fail("no outcome of Upgrade 1 within the time allowed: not sent again");
    case Wait::VersionReply:
    case Wait::HealthReply:
    case Wait::RestartCheck:
      // Queries are harmless: ask again a few times before giving up.
      if (++query_tries_ < 3) {
        deadline_ms_ = now_ms + settings_.reply_timeout_ms;
        return wait_ == Wait::VersionReply ? send("Status", "2") : send("Status", "11");
      }
      if (wait_ == Wait::RestartCheck) {  // no answer: the restart wait goes on to its own deadline
        wait_ = Wait::Restart;
        deadline_ms_ = std::max(now_ms, restart_check_deadline_ms_);
        return {};
      }
      return fail(wait_ == Wait::VersionReply ? "no answer to Status 2" : "health check: the device does not answer Status 11");
    default: return {};
  }
}

}  // namespace fleet::orchestrator
