#include "cli/forget_cmd.h"

#include <fmt/format.h>

#include <iostream>

#include "cli/control_client.h"
#include "core/clock.h"
#include "orchestrator/control_api.h"
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
  // Named as every other command names a device (a MAC in any spelling; a name two devices share is refused).
  auto found = orchestrator::requested_device(nlohmann::json{{"device", name}}, inventory.load_devices());
  if (!found) throw std::runtime_error(found.error() + " in the inventory (" + db_path + ")");
  const auto& d = *found;
  if (d.online) {
    std::cout << fmt::format("{}: not forgotten: it was online when last seen (it would be found again at once)\n", name);
    return 1;
  }
  store::SqliteJobStore jobs(db);
  if (auto held = orchestrator::held_by_upgrade_job(jobs, d.mac)) {
    std::cout << fmt::format("{}: not forgotten: {}\n", name, *held);
    return 1;
  }
  inventory.forget_device(d.mac);
  std::cout << fmt::format("{} ({}): forgotten (no daemon runs: its Home Assistant entity goes when one starts)\n", name, d.mac);
  return 0;
}

}  // namespace fleet::cli
