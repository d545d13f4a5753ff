#include "orchestrator/rollout_executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <ctime>

#include <unistd.h>

#include "core/log.h"
#include "orchestrator/device_plan.h"

namespace fleet::orchestrator {
namespace {

using nlohmann::json;

constexpr std::int64_t kDriveEveryMs = 250;
constexpr std::int64_t kDriveSoonMs = 50;

// A device's plan as its job's hops: in-place (no Reset 6, no restore: the settings stay in flash and are
// compared after each hop) when the rollout says so.
json hops_json(const planner::UpgradePlan& plan, const std::string& mode) {
  std::vector<JobHop> hops;
  for (auto& h : plan.hops) {
    JobHop hop{h.version.str(), h.build, h.url, h.steps};
    hops.push_back(mode == "in-place" ? in_place_hop(std::move(hop)) : std::move(hop));
  }
  return hops_to_json(hops);
}

planner::PlanRequest request_of(const RolloutSpec& spec) {
  planner::PlanRequest r;
  if (spec.target != "latest") r.target = planner::Version::parse(spec.target);
  r.target_build = spec.target_build;
  return r;
}

int local_minute(std::int64_t now_ms) {
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

std::string group_name(int g, bool canary) {
  if (g < 0) return "skipped at selection";
  if (canary) return g == 0 ? "canary" : fmt::format("wave {}", g);
  return fmt::format("wave {}", g + 1);
}

}  // namespace

std::string process_host() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

namespace {

// How far a job is, 0-100: its hops done and the share of the current hop's steps.
int percent_of_job(const UpgradeDeviceJob& job) {
  const auto& st = job.job().state();
  auto hops = job.job().hop_count();
  double steps = static_cast<double>(std::max<std::size_t>(1, job.job().steps_in_hop()));
  return hops ? static_cast<int>(100.0 * (static_cast<double>(st.hop) + static_cast<double>(st.step) / steps) / static_cast<double>(hops)) : 0;
}

}  // namespace

json device_job_state(const RolloutDeviceRow& row, const UpgradeDeviceJob* job) {
  json j = {{"rollout", row.rollout_id}, {"status", row.status}, {"job", row.job_id ? json(*row.job_id) : json(nullptr)},
            {"reason", row.reason}};
  if (job) {
    const auto& st = job->job().state();
    auto hops = job->job().hop_count();
    j["hop"] = std::min(st.hop + 1, hops);
    j["hops"] = hops;
    j["step"] = job->job().current_step();
    j["percent"] = percent_of_job(*job);
  } else {
    j["percent"] = row.status == "finished" ? 100 : 0;
  }
  return j;
}

json rollout_json(RolloutStore& store, const RolloutRow& r, bool with_devices) { return rollout_json(r, store.devices(r.id), with_devices); }

json rollout_state_json(RolloutStore& store, const RolloutRow& r, const std::vector<RolloutDeviceRow>* rows) {
  auto j = rows ? rollout_json(r, *rows, false) : rollout_json(store, r, false);
  j.erase("updated_ms");
  j.erase("lease_owner");
  return j;
}

json rollout_json(const RolloutRow& r, const std::vector<RolloutDeviceRow>& devices, bool with_devices) {
  auto spec = json::parse(r.spec, nullptr, false);
  bool canary = spec.is_object() && spec.contains("canary") && spec["canary"] != "0" && spec["canary"] != 0;
  // Counted in plain integers (it runs over every row on each drive and each view), made JSON once.
  static constexpr std::array<std::string_view, 6> kStatuses = {"scheduled", "running", "finished", "error", "skipped", "cancelled"};
  using Counts = std::array<int, kStatuses.size()>;
  auto index_of = [](const std::string& status) {
    return static_cast<std::size_t>(std::find(kStatuses.begin(), kStatuses.end(), status) - kStatuses.begin());
  };
  auto counts_json = [](const Counts& c) {
    json j = json::object();
    for (std::size_t i = 0; i < kStatuses.size(); ++i) j[std::string(kStatuses[i])] = c[i];
    return j;
  };
  Counts all{};
  std::map<int, std::pair<int, Counts>> by_group;  // group -> total, counts
  for (auto& d : devices) {
    auto i = index_of(d.status);
    auto& g = by_group[d.group_index];
    ++g.first;
    if (i < kStatuses.size()) ++all[i], ++g.second[i];  // (the store refuses any other status)
  }
  json counts = counts_json(all);
  json gl = json::array();
  for (auto& [i, g] : by_group) gl.push_back({{"index", i}, {"name", group_name(i, canary)}, {"total", g.first}, {"counts", counts_json(g.second)}});
  json j = {{"id", r.id},
            {"name", r.name},
            {"status", r.status},
            {"reason", r.reason},
            {"current_group", r.current_group},
            {"target", spec.is_object() ? spec.value("target", "") : ""},
            {"devices_total", devices.size()},
            {"counts", counts},
            {"groups", gl},
            {"lease_owner", r.lease_owner ? json(*r.lease_owner) : json(nullptr)},
            {"created_ms", r.created_ms},
            {"updated_ms", r.updated_ms}};
  if (with_devices) {
    json dl = json::array();
    for (auto& d : devices)
      dl.push_back({{"mac", d.mac}, {"name", d.name}, {"group", d.group_index}, {"status", d.status}, {"reason", d.reason},
                    {"job", d.job_id ? json(*d.job_id) : json(nullptr)}, {"attempt", d.attempt}});
    j["devices"] = dl;
    j["spec"] = spec;
  }
  return j;
}

RolloutExecutor::RolloutExecutor(RolloutPorts ports, RolloutOptions options) : p_(ports), o_(std::move(options)) {}

void RolloutExecutor::audit(std::optional<std::int64_t> rollout, std::optional<std::string> mac, std::optional<std::int64_t> job,
                            const std::string& kind, const std::string& text) {
  AuditEntry e;
  e.at_ms = p_.clock.now_ms();
  e.rollout_id = rollout;
  e.device_mac = std::move(mac);
  e.job_id = job;
  e.kind = kind;
  e.text = text;
  if (o_.on_event) o_.on_event(fmt::format("{}{}{}: {}", rollout ? fmt::format("rollout #{} ", *rollout) : "",
                                           e.device_mac ? *e.device_mac + " " : "", kind, text));
  audit_buffer_.push_back(std::move(e));
}

void RolloutExecutor::flush_audit() {
  if (audit_buffer_.empty()) return;
  try {
    p_.audit.append(audit_buffer_);
  } catch (const std::exception& ex) {
    log::warn("audit: {} entries not written: {}", audit_buffer_.size(), ex.what());
  }
  audit_buffer_.clear();
}

Result<json> RolloutExecutor::start(const RolloutSpec& asked, bool dry_run) {
  // "latest" is pinned when the rollout is made: a catalog update halfway must not move its target.
  RolloutSpec spec = asked;
  if (spec.target == "latest") spec.target = o_.catalog.latest().str();
  if (spec.mode != "clean" && spec.mode != "in-place") return fail("mode: '" + spec.mode + "' is not clean or in-place");
  if (spec.target != "latest" && !planner::Version::parse(spec.target)) return fail("to: '" + spec.target + "' is not a version (or 'latest')");
  auto chosen = select_devices(p_.inventory.devices(), spec);
  if (!chosen) return fail(chosen.error());
  planner::Planner planner(o_.catalog);
  auto req = request_of(spec);
  std::vector<RolloutDeviceRow> rows, skipped;
  json plans = json::array();
  std::string target_str;
  for (const auto& d : *chosen) {
    RolloutDeviceRow row;
    row.mac = d.mac;
    row.name = d.topic.value_or(d.mac);
    auto plan = plan_device(planner, d, req);
    target_str = plan.ok() ? plan.target.str() : target_str;
    json pj = {{"mac", d.mac}, {"name", row.name}, {"from", d.version.value_or("")}, {"chip", d.chip.value_or("")}, {"hops", hops_json(plan, spec.mode)}};
    if (!plan.ok()) {
      row.status = "skipped";
      row.reason = "cannot be planned: " + plan.error;
    } else if (plan.hops.empty()) {
      row.status = "skipped";
      row.reason = fmt::format("already runs {} ({})", plan.target.str(), plan.target_build);
    }
    pj["skipped"] = row.reason;
    plans.push_back(pj);
    (row.status == "skipped" ? skipped : rows).push_back(row);
  }
  // The canary is a device of the most common kind in the selection (same path of hops, build and chip):
  // what it proves then holds for most of the fleet. The others keep their order.
  if (spec.canary.value > 0 && rows.size() > 1) {
    // Among kinds as common as each other, the shortest path: the target image proven soonest.
    std::map<std::string, int> kinds;
    std::map<std::string, std::string> kind_of;
    std::map<std::string, std::size_t> hops_of;
    for (auto& p : plans) {
      if (!p["skipped"].get<std::string>().empty()) continue;
      std::string k = p.value("chip", "");
      for (auto& h : p["hops"]) k += "|" + h.value("version", "") + ":" + h.value("build", "");
      kind_of[p["mac"].get<std::string>()] = k;
      hops_of[p["mac"].get<std::string>()] = p["hops"].size();
      ++kinds[k];
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const RolloutDeviceRow& a, const RolloutDeviceRow& b) {
      auto ka = kinds[kind_of[a.mac]], kb = kinds[kind_of[b.mac]];
      return ka != kb ? ka > kb : hops_of[a.mac] < hops_of[b.mac];
    });
    auto n = spec.canary.of(rows.size());
    // Only the canary moves to the front; the waves keep the selection's order.
    std::vector<RolloutDeviceRow> canary(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n)), rest;
    for (auto& r : *chosen)
      for (auto& x : rows)
        if (x.mac == r.mac && std::none_of(canary.begin(), canary.end(), [&](auto& c) { return c.mac == x.mac; })) rest.push_back(x);
    rows = canary;
    rows.insert(rows.end(), rest.begin(), rest.end());
  }
  auto sizes = group_sizes(rows.size(), spec.canary, spec.waves);
  std::size_t at = 0;
  for (std::size_t g = 0; g < sizes.size(); ++g)
    for (std::size_t k = 0; k < sizes[g]; ++k) rows[at++].group_index = static_cast<int>(g);
  for (auto& s : skipped) s.group_index = -1;
  if (dry_run) {
    json groups = json::array();
    at = 0;
    for (std::size_t g = 0; g < sizes.size(); ++g) {
      json names = json::array();
      for (std::size_t k = 0; k < sizes[g]; ++k) names.push_back(rows[at++].name);
      groups.push_back({{"index", g}, {"name", group_name(static_cast<int>(g), spec.canary.value > 0)}, {"devices", names}});
    }
    json sk = json::array();
    for (auto& s : skipped) sk.push_back({{"name", s.name}, {"mac", s.mac}, {"reason", s.reason}});
    return json{{"dry_run", true}, {"target", spec.target}, {"groups", groups}, {"skipped", sk}, {"plans", plans}};
  }
  RolloutRow r;
  r.name = spec.name;
  r.spec = spec.to_json().dump();
  r.status = rows.empty() ? "finished" : "ready";
  r.reason = rows.empty() ? "nothing to do: every selected device was skipped" : "";
  auto now = p_.clock.now_ms();
  r.created_ms = r.updated_ms = now;
  rows.insert(rows.end(), skipped.begin(), skipped.end());
  auto id = p_.rollouts.create(r, rows);
  audit(id, std::nullopt, std::nullopt, "state",
        fmt::format("created: {} device{} to {} in {} group{}, {} skipped", rows.size() - skipped.size(), rows.size() - skipped.size() == 1 ? "" : "s",
                    spec.target, sizes.size(), sizes.size() == 1 ? "" : "s", skipped.size()));
  for (auto& s : skipped) audit(id, s.mac, std::nullopt, "state", "skipped: " + s.reason);
  publish_rollout(id);
  return shown(id);
}

Result<json> RolloutExecutor::shown(std::int64_t id) {
  flush_audit();  // a client reading the log right after its request sees what it did
  auto r = p_.rollouts.get(id);
  if (!r) return fail(fmt::format("no rollout #{}", id));
  return rollout_json(p_.rollouts, *r, true);
}

Result<json> RolloutExecutor::pause(std::int64_t id) {
  auto r = p_.rollouts.get(id);
  if (!r) return fail(fmt::format("no rollout #{}", id));
  if (r->status != "running" && r->status != "ready") return fail(fmt::format("rollout #{} is {}: only a running rollout can be paused", id, r->status));
  p_.rollouts.set_status(id, "paused", "paused on request", p_.clock.now_ms());
  audit(id, std::nullopt, std::nullopt, "state", "paused on request: no new device starts; running ones stop at their next safe point");
  publish_rollout(id);
  return shown(id);
}

Result<json> RolloutExecutor::resume(std::int64_t id) {
  auto r = p_.rollouts.get(id);
  if (!r) return fail(fmt::format("no rollout #{}", id));
  if (r->status != "paused") return fail(fmt::format("rollout #{} is {}: only a paused rollout can be resumed", id, r->status));
  // The failures that paused it are acknowledged: the error condition judges the ones after them.
  int errors = 0;
  for (auto& d : p_.rollouts.devices(id)) errors += d.group_index == r->current_group && d.status == "error";
  p_.rollouts.set_acknowledged_errors(id, errors, p_.clock.now_ms());
  p_.rollouts.set_status(id, "running", "", p_.clock.now_ms());
  audit(id, std::nullopt, std::nullopt, "state", errors ? fmt::format("resumed past {} failure{} of group {}", errors, errors == 1 ? "" : "s",
                                                                      r->current_group + 1)
                                                        : "resumed");
  publish_rollout(id);
  return shown(id);
}

Result<json> RolloutExecutor::abort(std::int64_t id) {
  auto r = p_.rollouts.get(id);
  if (!r) return fail(fmt::format("no rollout #{}", id));
  if (r->status == "finished" || r->status == "stopped") return fail(fmt::format("rollout #{} is {} already", id, r->status));
  auto now = p_.clock.now_ms();
  p_.rollouts.set_status(id, "stopped", "aborted on request", now);
  for (auto& d : p_.rollouts.devices(id))
    if (d.status == "scheduled") end_device(d, "cancelled", "the rollout was aborted before its turn", now);
  audit(id, std::nullopt, std::nullopt, "state", "aborted: devices in flight finish their hop (or are restored) and stop");
  publish_rollout(id);
  return shown(id);
}

Result<json> RolloutExecutor::retry(std::int64_t id) {
  auto r = p_.rollouts.get(id);
  if (!r) return fail(fmt::format("no rollout #{}", id));
  auto now = p_.clock.now_ms();
  int first = -1, n = 0;
  for (auto& d : p_.rollouts.devices(id)) {
    if (d.status != "error") continue;
    d.status = "scheduled";
    d.reason.clear();
    d.waiting_since_ms = 0;
    d.finished_ms = 0;
    save(d);
    if (first < 0 || d.group_index < first) first = d.group_index;
    ++n;
  }
  if (n == 0) return fail(fmt::format("rollout #{} has no failed device to retry", id));
  p_.rollouts.set_group(id, first, now);  // (which also clears the acknowledged failures: they are being retried)
  p_.rollouts.set_status(id, "running", "", now);
  audit(id, std::nullopt, std::nullopt, "state", fmt::format("retry: {} failed device{} scheduled again", n, n == 1 ? "" : "s"));
  publish_rollout(id);
  return shown(id);
}

std::optional<int> RolloutExecutor::percent_of(const std::string& mac) const {
  auto it = jobs_.find(mac);
  if (it == jobs_.end()) return std::nullopt;
  return percent_of_job(*it->second.job);
}

void RolloutExecutor::publish_progress() {
  for (auto& [mac, run] : jobs_) {
    auto progress = run.job->progress_key();
    if (progress == run.last_progress) continue;
    run.last_progress = progress;
    RolloutDeviceRow row;
    row.rollout_id = run.rollout_id;
    row.status = "running";
    row.job_id = run.job->job_id();
    publish_device(mac, device_job_state(row, run.job.get()));
  }
}

void RolloutExecutor::tick() {
  auto now = p_.clock.now_ms();
  // Progress of the jobs in flight, for the device state topics: looked at every 10 ms, not on every
  // loop turn (a busy loop turns hundreds of times a second; a step takes at least a round trip).
  if (now - last_progress_ms_ >= 10 || now < last_progress_ms_) {
    last_progress_ms_ = now;
    publish_progress();
  }
  // Every 250 ms, or 50 ms after a device job ended: its slot goes to the next device without waiting
  // (a quarter second idle per slot and round was a tenth of a rollout's wall time in bench/rollout).
  if (draining_) {
    // Not driven on, but still held: jobs in flight finishing their hop must not be taken over (and
    // run a second time) by another process while this one waits for them.
    for (auto& [id, h] : held_)
      if (now - h.renewed_ms > o_.lease_ms / 3 && p_.rollouts.acquire_lease(id, o_.owner, now, o_.lease_ms)) h.renewed_ms = now;
    flush_audit();
    return;
  }
  if (now - last_drive_ms_ < (slot_freed_ ? kDriveSoonMs : kDriveEveryMs)) {
    flush_audit();
    return;
  }
  slot_freed_ = false;
  last_drive_ms_ = now;
  while (!starts_.empty() && now - starts_.front() > 60'000) starts_.pop_front();
  std::vector<std::int64_t> ids;
  try {
    ids = o_.only ? std::vector<std::int64_t>{*o_.only} : p_.rollouts.unfinished();
    // An aborted rollout is driven on until its devices in flight are done.
    for (auto& [mac, run] : jobs_)
      if (std::find(ids.begin(), ids.end(), run.rollout_id) == ids.end()) ids.push_back(run.rollout_id);
    for (auto id : ids) drive(id, now);
  } catch (const std::exception& e) {
    log::warn("rollouts: {}", e.what());
  }
  flush_audit();
}

// A lease held by a process of this host that no longer exists (killed): waiting for it to expire would
// only delay the takeover. Taken by acquiring at its expiry time, which the store treats as expired.
bool RolloutExecutor::take_from_dead_owner(std::int64_t id, std::int64_t now) {
  auto r = p_.rollouts.get(id);
  if (!r || !r->lease_owner) return false;
  auto mine = process_host();
  const auto& owner = *r->lease_owner;
  auto colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != mine) return false;
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(owner.substr(colon + 1)));
  } catch (...) {
    return false;
  }
  if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) return false;
  if (!p_.rollouts.acquire_lease(id, o_.owner, std::max(now, r->lease_until_ms), o_.lease_ms)) return false;
  audit(id, std::nullopt, std::nullopt, "state", fmt::format("taken over from {}, which is no longer running", owner));
  return true;
}

void RolloutExecutor::drive(std::int64_t id, std::int64_t now) {
  auto held = held_.find(id);
  if (held == held_.end() || now - held->second.renewed_ms > o_.lease_ms / 3) {
    if (!p_.rollouts.acquire_lease(id, o_.owner, now, o_.lease_ms) && !take_from_dead_owner(id, now)) {
      if (held_.erase(id)) log::warn("rollout #{}: its lease went to another process", id);
      return;
    }
    if (held == held_.end()) {
      held = held_.emplace(id, Held{}).first;
      audit(id, std::nullopt, std::nullopt, "state", "driven by " + o_.owner);
    }
    held->second.renewed_ms = now;
  }
  auto r = p_.rollouts.get(id);
  if (!r) return;
  // The spec is read again only when its text changed (driven every 250 ms, it almost never does).
  auto& cached = specs_[id];
  if (!cached.second || cached.first != r->spec) {
    auto spec_r = RolloutSpec::from_json(json::parse(r->spec, nullptr, false));
    if (!spec_r) {
      specs_.erase(id);
      p_.rollouts.set_status(id, "stopped", "its stored spec is unreadable: " + spec_r.error(), now);
      return;
    }
    cached = {r->spec, *spec_r};
  }
  const RolloutSpec& spec = *cached.second;  // (specs_ is not changed again in this drive)
  auto& rows = rows_of(*r);  // (not read again in this drive: references to its rows stay good)
  // Devices this rollout has running: resumed here after a restart or a takeover, stopped when asked.
  for (auto& row : rows) {
    if (row.status != "running") continue;
    auto it = jobs_.find(row.mac);
    if (it == jobs_.end()) {
      resume_device(id, row, spec, now);
    } else if (r->status == "paused" || r->status == "stopped") {
      it->second.job->request_stop();
    } else if (auto conflict = p_.inventory.conflict_of(row.mac); conflict && !it->second.conflict_noted) {
      // A second device appeared on its topic mid-job. Commands to its own fallback topic reach only it;
      // without one nothing new is started on it after its safe point.
      it->second.conflict_noted = true;
      if (it->second.job->fallbacks().empty()) {
        it->second.job->request_stop();
        audit(id, row.mac, row.job_id, "state", *conflict + ": the job stops at its next safe point");
      } else {
        audit(id, row.mac, row.job_id, "state", *conflict + ": its commands go to its own fallback topic only");
      }
    }
  }
  if (r->status == "finished" || (r->status == "stopped" && std::none_of(rows.begin(), rows.end(), [](auto& d) { return d.status == "running"; }))) {
    publish_rollout(id);
    p_.rollouts.release_lease(id, o_.owner);
    held_.erase(id);
    return;
  }
  RolloutView v;
  v.spec = spec;
  v.status = r->status;
  v.current_group = r->current_group;
  v.acknowledged_errors = r->acknowledged_errors;
  v.now_ms = now;
  v.local_minute = local_minute(now);
  v.running_fleetwide = jobs_.size() + p_.runner.queued();
  v.starts_last_minute = starts_.size();
  // The views of the last drive are filled in again: their MACs are already there (a fresh copy of
  // 10,000 17-character MACs per drive was an allocation each).
  auto& views = held->second.rows.views;
  v.devices = std::move(views);
  v.devices.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    auto& d = v.devices[i];
    v.groups = std::max(v.groups, row.group_index + 1);
    if (d.mac != row.mac) d.mac = row.mac;
    d.group = row.group_index;
    d.status = row.status;
    d.waiting_since_ms = row.waiting_since_ms;
    d.online = d.powered_on = d.busy = false;
    d.not_ready.clear();
    // What the inventory knows matters only to a device that may start (the decision counts the rest):
    // not looked up for the thousands running or ended on every drive.
    if (row.status != "scheduled" || row.group_index < r->current_group) continue;
    if (const auto* rec = p_.inventory.find(row.mac)) {
      d.online = rec->online;
      d.powered_on = rec->power == "ON";
      if (auto conflict = p_.inventory.conflict_of(row.mac); conflict && fallbacks_for(*rec).empty())
        d.not_ready = "preflight: " + *conflict + " and it has no fallback topic: no command that could reach both is sent";
      if (spec.min_rssi && rec->rssi && *rec->rssi < *spec.min_rssi)
        d.not_ready = fmt::format("preflight: Wi-Fi RSSI {} % is below --min-rssi {} %", *rec->rssi, *spec.min_rssi);
    } else {
      d.not_ready = "the device is no longer in the inventory";
    }
    d.busy = p_.runner.has(row.mac) && jobs_.count(row.mac) == 0;
  }
  auto effects = decide(v);
  views = std::move(v.devices);
  for (const auto& e : effects) apply(id, e, spec, now);
  publish_rollout(id);  // (from the rows kept up to date by the effects: not read a second time)
}

std::vector<RolloutDeviceRow>& RolloutExecutor::rows_of(const RolloutRow& r) {
  auto& c = held_.at(r.id).rows;  // (only a rollout it holds)
  if (c.rev != r.devices_rev || c.at.empty()) {
    c.rows = p_.rollouts.devices(r.id);
    c.at.clear();
    for (std::size_t i = 0; i < c.rows.size(); ++i) c.at.emplace(c.rows[i].mac, i);
    c.rev = r.devices_rev;
  }
  return c.rows;
}

RolloutDeviceRow* RolloutExecutor::cached_row(std::int64_t id, const std::string& mac) {
  auto h = held_.find(id);
  if (h == held_.end()) return nullptr;
  auto& c = h->second.rows;
  auto i = c.at.find(mac);
  return i == c.at.end() ? nullptr : &c.rows[i->second];
}

const std::vector<RolloutDeviceRow>* RolloutExecutor::current_rows(const RolloutRow& r) const {
  auto h = held_.find(r.id);
  if (h == held_.end()) return nullptr;
  const auto& c = h->second.rows;
  return c.rev == r.devices_rev && !c.at.empty() ? &c.rows : nullptr;
}

void RolloutExecutor::save(const RolloutDeviceRow& row) {
  p_.rollouts.update_device(row);  // (throws when not written: the cache is then left as it was)
  auto h = held_.find(row.rollout_id);
  if (h == held_.end()) return;
  auto& c = h->second.rows;
  auto i = c.at.find(row.mac);
  if (i == c.at.end()) {
    c.at.clear();  // not a row it knew: read them all again
    return;
  }
  auto& cached = c.rows[i->second];
  if (&cached != &row) cached = row;
  ++c.rev;  // (the store's trigger moved it by one for this write)
}

void RolloutExecutor::apply(std::int64_t id, const RolloutEffect& e, const RolloutSpec& spec, std::int64_t now) {
  auto row_of = [&](const std::string& mac) { return cached_row(id, mac); };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, effect::Run>) {
          p_.rollouts.set_status(id, "running", "", now);
          audit(id, std::nullopt, std::nullopt, "state", "running");
        } else if constexpr (std::is_same_v<T, effect::Start>) {
          if (auto* row = row_of(x.mac)) start_device(id, *row, spec, now);
        } else if constexpr (std::is_same_v<T, effect::Wait>) {
          if (auto* row = row_of(x.mac)) {
            row->waiting_since_ms = now;
            row->reason = "waiting: " + x.why;
            save(*row);
            audit(id, x.mac, std::nullopt, "state", fmt::format("its turn came: waiting ({}) up to {} s", x.why, spec.offline_timeout_s));
          }
        } else if constexpr (std::is_same_v<T, effect::Skip>) {
          if (auto* row = row_of(x.mac)) end_device(*row, "skipped", x.reason, now);
        } else if constexpr (std::is_same_v<T, effect::Fail>) {
          if (auto* row = row_of(x.mac)) {
            row->attempt += 1;
            end_device(*row, "error", x.reason, now);
          }
        } else if constexpr (std::is_same_v<T, effect::Advance>) {
          p_.rollouts.set_group(id, x.group, now);
          audit(id, std::nullopt, std::nullopt, "state", fmt::format("group {} starts", x.group + 1));
        } else if constexpr (std::is_same_v<T, effect::Pause>) {
          p_.rollouts.set_status(id, "paused", x.reason, now);
          audit(id, std::nullopt, std::nullopt, "state", "paused: " + x.reason);
        } else if constexpr (std::is_same_v<T, effect::Finish>) {
          p_.rollouts.set_status(id, "finished", "", now);
          audit(id, std::nullopt, std::nullopt, "state", "finished");
        } else if constexpr (std::is_same_v<T, effect::Stopped>) {
          audit(id, std::nullopt, std::nullopt, "state", "stopped: no device in flight");
        }
      },
      e);
}

std::shared_ptr<UpgradeDeviceJob> RolloutExecutor::make_job(std::int64_t job_id, const JobRow& jr, const inventory::DeviceRecord& d,
                                                            const RolloutSpec& spec) {
  auto access = o_.access_for ? o_.access_for(d, spec.access) : DeviceAccess{};
  UpgradeSettings us = o_.upgrade;
  us.device_mqtt_password = access.mqtt_password;
  us.health_window_ms = spec.health_window_s * 1000;
  us.restart_timeout_ms = spec.restart_timeout_s * 1000;
  us.upgrade_timeout_ms = spec.upgrade_timeout_s * 1000;
  auto version = planner::Version::parse(d.version.value_or("")).value_or(planner::Version{});
  backup::BackupTarget target{d.mac, d.topic.value_or(""), d.ip.value_or(""), version, planner::parse_chip(d.chip.value_or(""))};
  auto state = UpgradeJobState::from_json(json::parse(jr.state));
  auto hops = hops_from_json(json::parse(jr.hops));
  // A job planned by another process (one that died, its OTA server with it) names that server's images:
  // the same paths are under this process's OTA base (the layout is the same on every server, Catalog::
  // image_path), and the resumed job sends OtaUrl again before an Upgrade 1 it has not sent.
  std::vector<std::string> moved;
  if (!o_.catalog.official_base())
    for (auto& h : hops) {
      auto scheme = h.url.find("://");
      auto slash = scheme == std::string::npos ? std::string::npos : h.url.find('/', scheme + 3);
      auto base = slash == std::string::npos ? std::string() : h.url.substr(0, slash);
      if (base.empty() || base == o_.catalog.ota_base() || base == "http://ota.tasmota.com" || base.find("github.com") != std::string::npos) continue;
      h.url = o_.catalog.ota_base() + h.url.substr(slash);
      moved.push_back(h.version);
    }
  auto job = std::make_shared<UpgradeDeviceJob>(d.mac, d.ip.value_or(""), access, std::make_unique<UpgradeJob>(target, hops, state, us), job_id,
                                                p_.jobs, p_.backups);
  job->set_fallbacks(fallbacks_for(d));
  auto rollout = jr.rollout_id;
  auto mac = d.mac;
  job->on_event = [this, rollout, mac, job_id](const std::string& text) { audit(rollout, mac, job_id, "state", text); };
  if (!moved.empty()) audit(rollout, mac, job_id, "state", fmt::format("the images of hop(s) to {} now come from {}", fmt::join(moved, ", "), o_.catalog.ota_base()));
  return job;
}

void RolloutExecutor::start_device(std::int64_t id, RolloutDeviceRow& row, const RolloutSpec& spec, std::int64_t now) {
  const auto* d = p_.inventory.find(row.mac);
  if (!d) return end_device(row, "skipped", "the device is no longer in the inventory", now);
  row.attempt += 1;  // its turn came: a preflight refusal is a failed attempt too
  planner::Planner planner(o_.catalog);
  auto plan = plan_device(planner, *d, request_of(spec));
  if (!plan.ok()) return end_device(row, "error", "preflight: cannot be planned: " + plan.error, now);
  if (plan.hops.empty()) return end_device(row, "finished", fmt::format("runs {} already", plan.target.str()), now);
  if (!d->topic) return end_device(row, "error", "preflight: the inventory does not know its topic", now);
  if (o_.check_images) {
    auto problems = o_.check_images(plan, fit_of(*d));
    if (!problems.empty()) {
      std::string all;
      for (auto& p : problems) all += (all.empty() ? "" : "; ") + p;
      return end_device(row, "error", "preflight: " + all, now);
    }
  }
  if (p_.jobs.running_for(row.mac)) {
    // A job of another run holds the device: its turn waits.
    row.attempt -= 1;
    if (row.waiting_since_ms == 0) {
      row.waiting_since_ms = now;
      row.reason = "waiting: another upgrade job holds the device";
      save(row);
    }
    return;
  }
  JobRow jr;
  jr.device_mac = row.mac;
  jr.target = plan.target.str();
  jr.target_build = plan.target_build;
  jr.hops = hops_json(plan, spec.mode).dump();
  jr.state = UpgradeJobState{}.to_json().dump();
  jr.status = "running";
  jr.created_ms = now;
  jr.rollout_id = id;
  std::int64_t job_id = 0;
  try {
    job_id = p_.jobs.create(jr);
  } catch (const std::exception& e) {
    log::warn("rollout #{}: {}: job not created: {}", id, row.name, e.what());
    row.attempt -= 1;
    return;
  }
  row.status = "running";
  row.job_id = job_id;
  row.started_ms = now;
  row.reason.clear();
  save(row);
  starts_.push_back(now);
  std::string path;
  for (auto& h : plan.hops) path += (path.empty() ? "" : " > ") + h.version.str();
  audit(id, row.mac, job_id, "state", fmt::format("started upgrade job #{} (attempt {}): {} > {}", job_id, row.attempt, plan.from.str(), path));
  auto job = make_job(job_id, jr, *d, spec);
  auto conflict = p_.inventory.conflict_of(row.mac);
  if (conflict && !job->fallbacks().empty())
    audit(id, row.mac, job_id, "state", fmt::format("{}: its commands go to its own fallback topic cmnd/{}/ only", *conflict, job->fallbacks().front()));
  jobs_[row.mac] = Running{id, job, std::nullopt, conflict.has_value()};
  p_.runner.add(job);
  publish_device(row.mac, device_job_state(row, job.get()));
}

void RolloutExecutor::resume_device(std::int64_t id, RolloutDeviceRow& row, const RolloutSpec& spec, std::int64_t now) {
  if (!row.job_id) return end_device(row, "error", "running without a job (the database was edited?)", now);
  auto jr = p_.jobs.get(*row.job_id);
  if (!jr) return end_device(row, "error", fmt::format("its job #{} is gone", *row.job_id), now);
  if (jr->status != "running") {
    // It ended while no process drove this rollout (e.g. a plain `upgrade` run finished it).
    std::string reason;
    try {
      reason = UpgradeJobState::from_json(json::parse(jr->state)).error;
    } catch (const std::exception& e) {
      reason = std::string("its job's state is unreadable: ") + e.what();
    }
    auto status = jr->status == "done" ? "finished" : jr->status == "stopped" ? "scheduled" : "error";
    return end_device(row, status, reason, now);
  }
  const auto* d = p_.inventory.find(row.mac);
  if (!d || !d->topic) return;  // not heard of yet since our start: resumed on a later tick
  std::shared_ptr<UpgradeDeviceJob> job;
  try {
    job = make_job(*row.job_id, *jr, *d, spec);
  } catch (const std::exception& e) {
    // A stored job this program cannot read (a newer version's, or damaged): refused, not guessed at.
    auto why = fmt::format("its job #{} cannot be resumed: {}", *row.job_id, e.what());
    p_.jobs.add_events(*row.job_id, {"not resumed: " + std::string(e.what())}, now);
    p_.jobs.save(*row.job_id, jr->state, "failed", now);
    return end_device(row, "error", why, now);
  }
  jobs_[row.mac] = Running{id, job, std::nullopt, false};
  p_.runner.add(job);
  audit(id, row.mac, *row.job_id, "state", fmt::format("resuming upgrade job #{} (driven by {})", *row.job_id, o_.owner));
}

void RolloutExecutor::end_device(RolloutDeviceRow& row, const std::string& status, const std::string& reason, std::int64_t now) {
  row.status = status;
  row.reason = reason;
  if (status == "scheduled") {
    row.waiting_since_ms = 0;
  } else {
    row.finished_ms = now;
  }
  save(row);
  audit(row.rollout_id, row.mac, row.job_id, "state", status + (reason.empty() ? "" : ": " + reason));
  publish_device(row.mac, device_job_state(row, nullptr));
}

void RolloutExecutor::on_job_done(const std::shared_ptr<DeviceJob>& done) {
  auto it = jobs_.find(done->mac());
  if (it == jobs_.end() || it->second.job.get() != done.get()) return;
  auto run = it->second;
  jobs_.erase(it);
  slot_freed_ = true;
  auto now = p_.clock.now_ms();
  if (!done->gave_up().empty()) {
    // Our run ends (a clean stop): the job stays running in the database and is resumed later.
    return;
  }
  auto r = p_.rollouts.get(run.rollout_id);
  if (!r) return;
  // Its row as kept for the rollout when this process drives it (read again if another wrote meanwhile),
  // else the one row, not the rollout's thousands.
  std::optional<RolloutDeviceRow> read;
  RolloutDeviceRow* row = nullptr;
  if (held_.count(r->id)) {
    rows_of(*r);
    row = cached_row(r->id, done->mac());
  }
  if (!row && (read = p_.rollouts.device(run.rollout_id, done->mac()))) row = &*read;
  if (!row) return;
  const auto& st = run.job->job().state();
  if (st.status == "done") return end_device(*row, "finished", "runs " + st.current_version, now);
  if (st.status == "failed") return end_device(*row, "error", st.error, now);
  bool aborted = r->status == "stopped";
  end_device(*row, aborted ? "cancelled" : "scheduled",
             fmt::format("stopped at a safe point on {} ({})", st.current_version,
                         aborted ? "aborted" : draining_ ? "the process driving it stopped; it goes on with the next one" : "paused"),
             now);
}

void RolloutExecutor::release_all() {
  flush_audit();
  for (auto& [id, h] : held_) p_.rollouts.release_lease(id, o_.owner);
  held_.clear();
}

void RolloutExecutor::publish_rollout(std::int64_t id) {
  if (o_.state_base.empty()) return;
  auto r = p_.rollouts.get(id);
  if (!r) return;
  auto j = rollout_state_json(p_.rollouts, *r, current_rows(*r));
  auto topic = fmt::format("{}/rollouts/{}", o_.state_base, id);
  auto payload = j.dump();
  auto& last = published_[topic];
  if (last == payload) return;
  last = payload;
  p_.transport.publish_retained(topic, payload);
}

void RolloutExecutor::publish_device(const std::string& mac, const json& state) {
  if (o_.state_base.empty()) return;
  auto topic = fmt::format("{}/devices/{}/job", o_.state_base, mac);
  auto payload = state.dump();
  auto& last = published_[topic];
  if (last == payload) return;
  last = payload;
  p_.transport.publish_retained(topic, payload);
}

}  // namespace fleet::orchestrator
