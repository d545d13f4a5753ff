#include "cli/rollout_cmd.h"

#include <fmt/format.h>

#include <unistd.h>

#include <ctime>
#include <iostream>
#include <map>
#include <thread>

#include "cli/control_client.h"
#include "orchestrator/control_api.h"
#include "orchestrator/rollout_executor.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_inventory_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"

namespace fleet::cli {
namespace {

using nlohmann::json;

std::string clock_time(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

void print_rollout(const json& r, bool with_devices = true) {
  std::cout << fmt::format("rollout #{}{} {}{}: to {}, {} device{}\n", r.value("id", 0),
                           r.value("name", "").empty() ? "" : " '" + r.value("name", "") + "'", r.value("status", ""),
                           r.value("reason", "").empty() ? "" : " (" + r.value("reason", "") + ")", r.value("target", ""),
                           r.value("devices_total", 0), r.value("devices_total", 0) == 1 ? "" : "s");
  for (auto& g : r.value("groups", json::array())) {
    std::string counts;
    for (auto& [k, v] : g["counts"].items())
      if (v.get<int>() > 0) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", v.get<int>(), k);
    std::cout << fmt::format("  {:<22} {:>4} device{}  {}\n", g.value("name", ""), g.value("total", 0), g.value("total", 0) == 1 ? " " : "s", counts);
  }
  if (with_devices && r.contains("devices"))
    for (auto& d : r["devices"])
      std::cout << fmt::format("    {:<20} {:<10} {}\n", d.value("name", ""), d.value("status", ""), d.value("reason", ""));
}

void print_dry_run(const json& r) {
  std::cout << "dry run: nothing is stored or sent\n";
  for (auto& g : r["groups"]) {
    std::string names;
    for (auto& n : g["devices"]) names += (names.empty() ? "" : ", ") + n.get<std::string>();
    std::cout << fmt::format("  {}: {}\n", g.value("name", ""), names);
  }
  for (auto& s : r["skipped"]) std::cout << fmt::format("  skipped {}: {}\n", s.value("name", ""), s.value("reason", ""));
  for (auto& p : r["plans"]) {
    if (!p.value("skipped", "").empty()) continue;
    std::string path;
    for (auto& h : p["hops"]) path += " > " + h.value("version", "");
    std::cout << fmt::format("  {} {}{}\n", p.value("name", ""), p.value("from", ""), path);
    for (auto& h : p["hops"]) {
      std::string steps;
      for (auto& s : h["steps"]) steps += (steps.empty() ? "" : " > ") + s.get<std::string>();
      std::cout << fmt::format("     {} {}  {}\n     {}\n", h.value("version", ""), h.value("build", ""), h.value("url", ""), steps);
    }
  }
}

// Follows a rollout from the database (the same whether a daemon or this process drives it): every
// state change as a line, or as one JSON object per event.
class Follower {
 public:
  Follower(std::string db, std::int64_t id, bool as_json, bool verbose)
      : db_(std::move(db), store::Database::Mode::ReadOnly), rollouts_(db_), audit_(db_), jobs_(db_), id_(id), json_(as_json),
        verbose_(verbose), live_(!as_json && ::isatty(STDOUT_FILENO)) {}

  void poll() {
    clear_block();
    if (names_.empty())
      for (auto& d : rollouts_.devices(id_)) names_[d.mac] = d.name;
    for (;;) {
      orchestrator::AuditQuery q;
      q.rollout_id = id_;
      q.after_id = last_;
      q.limit = 500;
      auto entries = audit_.read(q);
      for (auto& e : entries) {
        last_ = e.id;
        if (!verbose_ && e.kind != "state") continue;
        std::string who = e.device_mac ? names_.count(*e.device_mac) ? names_[*e.device_mac] : *e.device_mac : "rollout";
        if (json_) {
          std::cout << json{{"id", e.id}, {"at_ms", e.at_ms}, {"rollout", id_}, {"device", who},
                            {"mac", e.device_mac ? json(*e.device_mac) : json(nullptr)}, {"kind", e.kind}, {"text", e.text}}
                           .dump()
                    << "\n";
        } else {
          std::cout << fmt::format("{} {:<18} {}\n", clock_time(e.at_ms), who, e.text);
        }
      }
      if (entries.size() < 500) break;
    }
    draw_block();
    std::cout << std::flush;
  }

  // On a terminal, below the event lines: a bar per group, counts by status and a line per device in
  // flight with its hop and step, redrawn in place at every poll.
  void draw_block() {
    if (!live_) return;
    auto r = rollouts_.get(id_);
    if (!r) return;
    auto devices = rollouts_.devices(id_);
    auto j = orchestrator::rollout_json(rollouts_, *r, false);
    std::vector<std::string> lines;
    std::string counts;
    for (auto& [k, v] : j["counts"].items())
      if (v.get<int>() > 0) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", v.get<int>(), k);
    lines.push_back(fmt::format("rollout #{} {}: {}", id_, r->status, counts));
    for (auto& g : j["groups"]) {
      if (g["index"].get<int>() < 0) continue;
      int total = g["total"].get<int>();
      int ended = 0;
      for (auto k : {"finished", "error", "skipped", "cancelled"}) ended += g["counts"].value(k, 0);
      int width = 24, filled = total ? ended * width / total : width;
      lines.push_back(fmt::format("  {:<10} [{}{}] {}/{}", g["name"].get<std::string>(), std::string(static_cast<std::size_t>(filled), '#'),
                                  std::string(static_cast<std::size_t>(width - filled), '.'), ended, total));
    }
    for (auto& d : devices) {
      if (d.status != "running" || !d.job_id) continue;
      auto job = jobs_.get(*d.job_id);
      std::string where = "starting";
      if (job) {
        auto state = json::parse(job->state, nullptr, false);
        auto hops = json::parse(job->hops, nullptr, false);
        if (state.is_object() && hops.is_array()) {
          auto hop = state.value("hop", std::size_t{0}), step = state.value("step", std::size_t{0});
          if (hop < hops.size() && step < hops[hop]["steps"].size())
            where = fmt::format("hop {}/{} ({}): {}", hop + 1, hops.size(), hops[hop].value("version", ""), hops[hop]["steps"][step].get<std::string>());
        }
      }
      lines.push_back(fmt::format("  {:<18} {}", d.name, where));
    }
    for (auto& l : lines) std::cout << l << "\x1b[K\n";
    drawn_ = lines.size();
  }

  void clear_block() {
    if (!live_ || drawn_ == 0) return;
    std::cout << fmt::format("\x1b[{}A\x1b[J", drawn_);
    drawn_ = 0;
  }

  // Over: finished, or stopped/paused with nothing in flight.
  bool over() {
    auto r = rollouts_.get(id_);
    if (!r) return true;
    if (r->status == "finished") return true;
    if (r->status != "stopped" && r->status != "paused") return false;
    for (auto& d : rollouts_.devices(id_))
      if (d.status == "running") return false;
    return true;
  }

  int summary(bool upgrade_view) {
    clear_block();
    auto r = rollouts_.get(id_);
    if (!r) return 1;
    auto devices = rollouts_.devices(id_);
    bool bad = r->status != "finished";
    for (auto& d : devices) {
      bad = bad || d.status == "error";
      if (!upgrade_view || json_) continue;
      if (d.status == "finished")
        std::cout << fmt::format("{}: upgraded{}, settings restored and verified\n", d.name,
                                 d.reason.rfind("runs ", 0) == 0 ? " to " + d.reason.substr(5) : "");
      else if (d.status == "skipped" && d.reason.rfind("already runs", 0) == 0)
        std::cout << fmt::format("{}: {}: nothing to do\n", d.name, d.reason);
      else if (d.status == "error")
        std::cout << fmt::format("{}: UPGRADE FAILED: {}\n", d.name, d.reason);
      else
        std::cout << fmt::format("{}: not upgraded ({}){}\n", d.name, d.status, d.reason.empty() ? "" : ": " + d.reason);
    }
    if (!json_) {
      auto j = orchestrator::rollout_json(rollouts_, *r, false);
      if (!upgrade_view) print_rollout(j);
      if (r->status == "paused")
        std::cout << fmt::format("rollout #{} is paused: {} (tasmota-fleet rollout resume {})\n", id_, r->reason, id_);
    }
    return bad ? 1 : 0;
  }

 private:
  store::Database db_;
  store::SqliteRolloutStore rollouts_;
  store::SqliteAuditLog audit_;
  store::SqliteJobStore jobs_;
  std::int64_t id_;
  bool json_, verbose_, live_;
  std::size_t drawn_ = 0;
  std::int64_t last_ = 0;
  std::map<std::string, std::string> names_;
};

json request_of(const RolloutCommand& c) {
  if (c.action == "start" || c.action == "upgrade") {
    json r = c.spec;
    r["command"] = "rollout.start";
    if (c.dry_run) r["dry_run"] = true;
    return r;
  }
  return json{{"command", "rollout." + c.action}, {"id", c.id}};
}

// The unfinished rollout that already has one of these devices, if any (an interrupted `upgrade` run).
std::optional<std::int64_t> unfinished_rollout_of(const std::string& db_path, const json& names) {
  store::Database db(db_path);
  store::migrate(db);
  store::SqliteRolloutStore rollouts(db);
  auto devices = store::SqliteInventoryStore(db).load_devices();
  for (auto& n : names) {
    if (!n.is_string()) continue;
    for (auto& d : devices)
      if (d.mac == n || d.topic == n.get<std::string>() || d.hostname == n.get<std::string>())
        if (auto id = rollouts.active_rollout_of(d.mac)) return id;
  }
  return std::nullopt;
}

}  // namespace

int run_rollout_command(const RolloutCommand& c0, orchestrator::DaemonOptions d, const std::atomic<bool>& stop) {
  RolloutCommand c = c0;
  const bool drives = c.action == "start" || c.action == "upgrade" || c.action == "resume" || c.action == "retry";
  const bool follow = c.follow || c.action == "upgrade";
  if (c.action == "upgrade" && !c.dry_run) {
    if (auto id = unfinished_rollout_of(d.db_path, c.spec.value("devices", json::array()))) {
      std::cout << fmt::format("resuming rollout #{}, which already has these devices\n", *id);
      c.action = "drive";
      c.id = *id;
    }
  }
  std::optional<json> result;
  std::string error;
  bool by_daemon = false;
  if (!c.dry_run) {
    ControlClient client(d.broker, d.api_base);
    if (client.daemon_online(std::chrono::milliseconds(1500))) {
      by_daemon = true;
      if (c.action == "drive") {
        result = json{{"id", c.id}};  // the daemon drives it: follow
      } else {
        auto r = client.request(request_of(c), std::chrono::seconds(30));
        if (!r) error = r.error();
        else result = *r;
      }
    }
  }
  if (!by_daemon) {
    // No daemon: the same orchestrator, in this process, for this one rollout.
    d.control_api = false;
    d.log_jobs = false;
    if (c.dry_run || !drives) d.no_ota = true;
    std::unique_ptr<Follower> follower;
    std::int64_t last_poll = 0;
    d.on_ready = [&](orchestrator::RolloutExecutor& ex) -> std::optional<std::int64_t> {
      // The very request the daemon would get, through the same control API code.
      auto r = c.action == "drive" ? Result<json>(json{{"id", c.id}})
                                   : orchestrator::ControlApi(ex, ex.store(), d.api_base).run(request_of(c));
      if (!r) {
        error = r.error();
        return std::nullopt;
      }
      result = *r;
      if (c.dry_run || !drives || !result->contains("id")) return std::nullopt;
      if (!c.json && c.action != "drive") {
        if (c.action == "upgrade") std::cout << fmt::format("rollout #{}: upgrading {} device{}\n", (*result)["id"].get<std::int64_t>(),
                                                             (*result)["devices_total"].get<int>(), (*result)["devices_total"] == 1 ? "" : "s");
        else print_rollout(*result, false);
      }
      follower = std::make_unique<Follower>(d.db_path, (*result)["id"].get<std::int64_t>(), c.json, c.verbose);
      return (*result)["id"].get<std::int64_t>();
    };
    d.done = [&](std::int64_t now) {
      if (!follower || now - last_poll < 300) return false;
      last_poll = now;
      follower->poll();
      return follower->over();
    };
    orchestrator::run_daemon(d, stop);
    if (!error.empty()) {
      std::cerr << "tasmota-fleet: " << error << "\n";
      return 2;
    }
    if (!result) return 1;
    if (c.dry_run) {
      if (c.json) std::cout << result->dump(2) << "\n";
      else print_dry_run(*result);
      return 0;
    }
    if (!follower) {
      if (c.json) std::cout << result->dump(2) << "\n";
      else print_rollout(*result);
      return 0;
    }
    follower->poll();
    if (stop) {
      std::cout << fmt::format("interrupted: rollout #{} goes on when it is driven again (tasmota-fleet rollout resume, or serve)\n",
                               (*result)["id"].get<std::int64_t>());
      return 1;
    }
    return follower->summary(c.action == "upgrade" || c.action == "drive");
  }
  if (!error.empty()) {
    std::cerr << "tasmota-fleet: " << error << "\n";
    return 2;
  }
  if (c.dry_run || !follow || !result->contains("id")) {
    if (c.json) std::cout << result->dump(2) << "\n";
    else print_rollout(*result);
    return 0;
  }
  // Followed from the database while the daemon drives it; Ctrl-C detaches, the rollout goes on.
  auto id = (*result)["id"].get<std::int64_t>();
  if (c.json && !follow) std::cout << result->dump() << "\n";
  if (!c.json && result->contains("status")) print_rollout(*result, false);
  Follower f(d.db_path, id, c.json, c.verbose);
  while (!stop) {
    f.poll();
    if (f.over()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  f.poll();
  if (stop) {
    std::cout << fmt::format("detached: rollout #{} goes on in the daemon\n", id);
    return 0;
  }
  return f.summary(c.action == "upgrade" || c.action == "drive");
}

int list_rollouts(const std::string& db_path, bool as_json) {
  store::Database db(db_path);
  store::migrate(db);
  store::SqliteRolloutStore rollouts(db);
  json out = json::array();
  for (auto& r : rollouts.list(100)) out.push_back(orchestrator::rollout_json(rollouts, r, false));
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (out.empty()) std::cout << "no rollouts\n";
  for (auto& r : out) {
    std::string counts;
    for (auto& [k, v] : r["counts"].items())
      if (v.get<int>() > 0) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", v.get<int>(), k);
    std::cout << fmt::format("#{:<4} {:<9} to {:<8} {:>4} devices  {}{}\n", r["id"].get<int>(), r["status"].get<std::string>(),
                             r["target"].get<std::string>(), r["devices_total"].get<int>(), counts,
                             r["reason"].get<std::string>().empty() ? "" : "  (" + r["reason"].get<std::string>() + ")");
  }
  return 0;
}

int show_rollout(const std::string& db_path, std::int64_t id, bool as_json) {
  store::Database db(db_path);
  store::migrate(db);
  store::SqliteRolloutStore rollouts(db);
  auto r = rollouts.get(id);
  if (!r) {
    std::cerr << "tasmota-fleet: no rollout #" << id << "\n";
    return 1;
  }
  auto j = orchestrator::rollout_json(rollouts, *r, true);
  if (as_json) std::cout << j.dump(2) << "\n";
  else print_rollout(j);
  return 0;
}

int show_log(const std::string& db_path, const std::optional<std::string>& device, std::optional<std::int64_t> rollout, bool as_json) {
  store::Database db(db_path);
  store::migrate(db);
  store::SqliteAuditLog audit(db);
  orchestrator::AuditQuery q;
  if (device) {
    auto s = db.prepare("SELECT mac FROM devices WHERE mac = ?1 OR topic = ?1 OR hostname = ?1");
    s.bind(1, *device);
    q.device_mac = s.step() ? s.text(0) : *device;
  }
  q.rollout_id = rollout;
  q.limit = 1000;
  json out = json::array();
  for (;;) {
    auto entries = audit.read(q);
    for (auto& e : entries) {
      q.after_id = e.id;
      if (as_json)
        out.push_back({{"id", e.id}, {"at_ms", e.at_ms}, {"rollout", e.rollout_id ? json(*e.rollout_id) : json(nullptr)},
                       {"mac", e.device_mac ? json(*e.device_mac) : json(nullptr)}, {"job", e.job_id ? json(*e.job_id) : json(nullptr)},
                       {"kind", e.kind}, {"text", e.text}});
      else
        std::cout << fmt::format("{} {:<8} {:<17} {:<7} {}\n", clock_time(e.at_ms), e.rollout_id ? fmt::format("#{}", *e.rollout_id) : "",
                                 e.device_mac.value_or(""), e.kind, e.text);
    }
    if (entries.size() < q.limit) break;
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace fleet::cli
