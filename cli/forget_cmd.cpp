#include "cli/forget_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/control_client.h"
#include "core/clock.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_inventory_store.h"
#include "store/sqlite_job_store.h"

namespace fleet::cli {

int forget_device(const mqtt::BrokerConfig& broker, const std::string& api_base, const std::string& db_path, const std::string& name) {
  ControlClient client(broker, api_base);
  if (!api_base.empty() && client.daemon_online(std::chrono::milliseconds(1500))) {
    auto r = client.request({{"command", "device.forget"}, {"device", name}}, std::chrono::seconds(10));
    if (!r) {
      std::cout << r.error() << "\n";
      return 1;
    }
    std::cout << fmt::format("{} ({}): forgotten\n", r->value("device", name), r->value("mac", ""));
    return 0;
  }
  store::Database db(db_path);
  store::migrate(db);
  store::SqliteInventoryStore inventory(db);
  // A daemon without its control API (--no-rollouts) still holds the inventory: it would write the row back.
  if (auto status = inventory.daemon_status(); status && status->connected &&
                                              core::SystemClock().now_ms() - status->heartbeat_ms < 10'000) {
    std::cout << fmt::format("{}: not forgotten: a daemon runs without its control API (pid {}); stop it, or forget through one that has it\n",
                             name, status->pid);
    return 1;
  }
  auto all = inventory.load_devices();
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::vector<inventory::DeviceRecord> matches;
  for (const auto& d : all)
    if (d.mac == upper || d.topic == name || d.hostname == name) matches.push_back(d);
  if (matches.empty()) throw std::runtime_error("no device '" + name + "' in the inventory (" + db_path + ")");
  if (matches.size() > 1) throw std::runtime_error("'" + name + "' names " + std::to_string(matches.size()) + " devices: give the MAC");
  auto it = matches.begin();
  if (it->online) {
    std::cout << fmt::format("{}: not forgotten: it was online when last seen (it would be found again at once)\n", name);
    return 1;
  }
  store::SqliteJobStore jobs(db);
  if (auto held = orchestrator::held_by_upgrade_job(jobs, it->mac)) {
    std::cout << fmt::format("{}: not forgotten: {}\n", name, *held);
    return 1;
  }
  inventory.forget_device(it->mac);
  std::cout << fmt::format("{} ({}): forgotten (no daemon runs: its Home Assistant entity goes when one starts)\n", name, it->mac);
  return 0;
}

}  // namespace fleet::cli
