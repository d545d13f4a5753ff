#include "cli/jobs_view.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "orchestrator/upgrade_job.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_job_store.h"

namespace fleet::cli {

using nlohmann::json;
using orchestrator::hops_from_json;

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
