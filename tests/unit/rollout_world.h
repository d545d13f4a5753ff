#pragma once
// One rollout executor and control API over a real SQLite database (a file, or ":memory:") and the unit
// tests' fakes for the rest (clock, transport, inventory store): for the control API's, the executor's and
// the fuzzers' tests alike. The rollout store counts how often a rollout's device rows are read.
#include <filesystem>
#include <string>

#include "orchestrator/control_api.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"
#include "tests/unit/fakes.h"

namespace fleet::testing {

// The SQLite store, counting the reads of a rollout's device rows.
struct CountingRolloutStore : orchestrator::RolloutStore {
  using RolloutRow = orchestrator::RolloutRow;
  using RolloutDeviceRow = orchestrator::RolloutDeviceRow;
  store::SqliteRolloutStore s;
  int reads = 0;
  explicit CountingRolloutStore(store::Database& db) : s(db) {}
  std::int64_t create(const RolloutRow& r, const std::vector<RolloutDeviceRow>& d) override { return s.create(r, d); }
  std::optional<RolloutRow> get(std::int64_t id) override { return s.get(id); }
  std::vector<RolloutRow> list(std::size_t limit) override { return s.list(limit); }
  std::vector<std::int64_t> unfinished() override { return s.unfinished(); }
  std::vector<RolloutDeviceRow> devices(std::int64_t id) override {
    ++reads;
    return s.devices(id);
  }
  std::optional<RolloutDeviceRow> device(std::int64_t id, const std::string& mac) override { return s.device(id, mac); }
  void set_status(std::int64_t id, const std::string& st, const std::string& why, std::int64_t now) override { s.set_status(id, st, why, now); }
  void set_group(std::int64_t id, int g, std::int64_t now) override { s.set_group(id, g, now); }
  void set_acknowledged_errors(std::int64_t id, int e, std::int64_t now) override { s.set_acknowledged_errors(id, e, now); }
  void update_device(const RolloutDeviceRow& row) override { s.update_device(row); }
  bool acquire_lease(std::int64_t id, const std::string& o, std::int64_t now, std::int64_t d) override { return s.acquire_lease(id, o, now, d); }
  void release_lease(std::int64_t id, const std::string& o) override { s.release_lease(id, o); }
  std::optional<std::int64_t> active_rollout_of(const std::string& mac) override { return s.active_rollout_of(mac); }
};

struct RolloutWorld {
  std::string path;
  store::Database db;
  int level;
  CountingRolloutStore rollouts{db};
  store::SqliteAuditLog audit{db};
  store::SqliteJobStore jobs{db};
  store::SqliteBackupStore backups{db};
  FakeClock clock;
  FakeTransport transport;
  FakeStore inv_store;
  inventory::Inventory inv{mqtt::TopicScheme(), transport, inv_store, clock};
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 100}};
  orchestrator::RolloutExecutor exec{{rollouts, audit, jobs, backups, runner, inv, transport, clock}, options()};
  orchestrator::ControlApi api{exec, rollouts, "tasmota-fleet"};

  // A file path (removed first and at the end) or ":memory:".
  explicit RolloutWorld(std::string file = ":memory:") : path(std::move(file)), db((remove_file(), path)), level(store::migrate(db)) {}
  ~RolloutWorld() { remove_file(); }
  RolloutWorld(const RolloutWorld&) = delete;
  RolloutWorld& operator=(const RolloutWorld&) = delete;

  static orchestrator::RolloutOptions options() {
    orchestrator::RolloutOptions o;
    o.owner = "test:1";
    return o;
  }
  // A device the inventory knows: its LWT, STATUS (topic), STATUS5 (MAC, address) and STATUS2 (version).
  void device(const std::string& topic, const std::string& mac, const std::string& version, const std::string& hardware,
              bool online = true) {
    inv.on_message("tele/" + topic + "/LWT", "Online", true);
    inv.on_message("stat/" + topic + "/STATUS", R"({"Status":{"Module":1,"Topic":")" + topic + R"("}})", false);
    inv.on_message("stat/" + topic + "/STATUS5",
                   R"({"StatusNET":{"Hostname":")" + topic + R"(","IPAddress":"127.0.0.9","Mac":")" + mac + R"("}})", false);
    inv.on_message("stat/" + topic + "/STATUS2", R"({"StatusFWR":{"Version":")" + version + R"(","Hardware":")" + hardware + R"("}})", false);
    if (!online) inv.on_message("tele/" + topic + "/LWT", "Offline", true);
  }

 private:
  void remove_file() {
    if (path != ":memory:") std::filesystem::remove(path);
  }
};

}  // namespace fleet::testing
