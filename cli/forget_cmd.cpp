#include "cli/forget_cmd.h"

#include <fmt/format.h>

#include <iostream>

#include "cli/control_client.h"
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
  auto all = inventory.load_devices();
  auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.mac == name || d.topic == name || d.hostname == name; });
  if (it == all.end()) throw std::runtime_error("no device '" + name + "' in the inventory (" + db_path + ")");
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
