#include "cli/upgrade_cmd.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "orchestrator/upgrade_device_job.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"

namespace fleet::cli {
namespace {

using nlohmann::json;

using orchestrator::hops_from_json;
using orchestrator::hops_to_json;

}  // namespace

int run_upgrade(const UpgradeOptions& o, const inventory::DeviceRecord& device, const planner::UpgradePlan& plan) {
  auto name = device.topic.value_or(device.mac);
  store::Database db(o.base.db);
  store::migrate(db);
  store::SqliteJobStore jobs(db);
  store::SqliteBackupStore backups(db);
  core::SystemClock clock;
  auto version = planner::Version::parse(device.version.value_or(""));
  if (!device.topic || !version) {
    std::cout << name << ": cannot upgrade: the inventory does not know its topic and version yet\n";
    return 1;
  }
  auto running = jobs.running_for(device.mac);
  std::vector<orchestrator::JobHop> hops;
  orchestrator::UpgradeJobState state;
  std::int64_t id = 0;
  if (running) {
    id = running->id;
    hops = hops_from_json(json::parse(running->hops));
    state = orchestrator::UpgradeJobState::from_json(json::parse(running->state));
    std::cout << fmt::format("{}: resuming upgrade job #{} to {} (started {} s ago)\n", name, id, running->target,
                             (clock.now_ms() - running->created_ms) / 1000);
  } else {
    if (!plan.ok()) {
      std::cout << name << ": cannot be planned: " << plan.error << "\n";
      return 1;
    }
    if (plan.hops.empty()) {
      std::cout << name << ": already runs " << plan.target.str() << " (" << plan.target_build << "): nothing to do\n";
      return 0;
    }
    for (auto& h : plan.hops) {
      hops.push_back({h.version.str(), h.build, h.url, h.steps});
    }
    std::cout << fmt::format("{}: {} -> {} in {} hop{}\n", name, version->str(), plan.target.str(), hops.size(), hops.size() == 1 ? "" : "s");
  }
  for (std::size_t i = 0; i < hops.size(); ++i) {
    std::string steps;
    for (auto s : hops[i].steps) steps += (steps.empty() ? "" : " > ") + std::string(planner::to_string(s));
    std::cout << fmt::format("  {}. {} {}  {}\n     {}\n", i + 1, hops[i].version, hops[i].build, hops[i].url, steps);
  }
  if (o.dry_run) {
    std::cout << "dry run: nothing was sent\n";
    return 0;
  }
  if (!device.online) {
    std::cout << name << ": cannot upgrade now: the device is offline\n";
    return 1;
  }
  if (!running) {
    store::JobRow row;
    row.device_mac = device.mac;
    row.target = plan.target.str();
    row.target_build = plan.target_build;
    row.hops = hops_to_json(hops).dump();
    row.state = state.to_json().dump();
    row.status = "running";
    row.created_ms = clock.now_ms();
    id = jobs.create(row);
    std::cout << fmt::format("{}: upgrade job #{}\n", name, id);
  }
  auto access = access_for(o.base, load_credentials(o.base), device);
  orchestrator::UpgradeSettings us;
  us.device_mqtt_password = access.mqtt_password;
  backup::BackupTarget target{device.mac, *device.topic, device.ip.value_or(""), *version, planner::parse_chip(device.chip.value_or(""))};
  auto task = std::make_shared<orchestrator::UpgradeDeviceJob>(device.mac, device.ip.value_or(""), access,
                                                               std::make_unique<orchestrator::UpgradeJob>(target, hops, state, us), id, jobs,
                                                               backups);
  task->on_event = [](const std::string& e) { std::cout << "  " << e << "\n" << std::flush; };
  auto run = o.base.run;
  run.overall_timeout_ms = static_cast<std::int64_t>(hops.size()) * 20 * 60'000;
  orchestrator::run_locally(run, {task});
  const auto& job = task->job();
  if (!task->gave_up().empty()) {
    std::cout << fmt::format("{}: upgrade job #{} interrupted: {} (run the same command again to resume it)\n", name, id, task->gave_up());
    return 1;
  }
  if (job.state().status == "done") {
    std::cout << fmt::format("{}: upgraded to {}, settings restored and verified\n", name, job.state().current_version);
    return 0;
  }
  std::cout << fmt::format("{}: UPGRADE FAILED at {}: {}\n", name, job.current_step(), job.state().error);
  return 1;
}

}  // namespace fleet::cli

namespace fleet::cli {

int list_jobs(const std::string& path, std::optional<std::int64_t> id, bool as_json) {
  store::Database db(path);
  store::migrate(db);
  store::SqliteJobStore jobs(db);
  std::vector<store::JobRow> rows;
  if (id) {
    auto r = jobs.get(*id);
    if (!r) throw std::runtime_error(fmt::format("no upgrade job #{}", *id));
    rows.push_back(*r);
  } else {
    rows = jobs.recent(100);
  }
  auto topic_of = [&](const std::string& mac) {
    auto q = db.prepare("SELECT topic FROM devices WHERE mac = ?");
    q.bind(1, mac);
    return q.step() ? q.text(0) : mac;
  };
  if (as_json) {
    json out = json::array();
    for (auto& r : rows) {
      json j = {{"id", r.id},          {"mac", r.device_mac}, {"device", topic_of(r.device_mac)}, {"target", r.target},
                {"status", r.status},  {"state", json::parse(r.state)}, {"hops", json::parse(r.hops)},
                {"created_ms", r.created_ms}, {"updated_ms", r.updated_ms}};
      if (id) j["events"] = jobs.events(r.id);
      out.push_back(j);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no upgrade jobs\n";
    return 0;
  }
  for (auto& r : rows) {
    orchestrator::UpgradeJobState state;
    std::vector<orchestrator::JobHop> hops;
    try {
      state = orchestrator::UpgradeJobState::from_json(json::parse(r.state));
      hops = hops_from_json(json::parse(r.hops));
    } catch (const std::exception& e) {
      // A job this program cannot read (a newer version's, or damaged) is listed, not fatal.
      std::cout << fmt::format("#{:<4} {:<18} -> {:<8} {:<8} unreadable: {}\n", r.id, topic_of(r.device_mac), r.target, r.status, e.what());
      continue;
    }
    std::string where = state.hop < hops.size() && state.step < hops[state.hop].steps.size()
                            ? fmt::format("hop {}/{} {}", state.hop + 1, hops.size(), planner::to_string(hops[state.hop].steps[state.step]))
                            : "";
    std::cout << fmt::format("#{:<4} {:<18} -> {:<8} {:<8} {}{}\n", r.id, topic_of(r.device_mac), r.target, r.status,
                             r.status == "running" ? where : state.current_version, state.error.empty() ? "" : "  " + state.error);
    if (id)
      for (auto& e : jobs.events(r.id)) std::cout << "  " << e << "\n";
  }
  return 0;
}

}  // namespace fleet::cli
