// The rollout executor keeps the device rows of the rollouts it drives in memory (at 10,000 devices,
// reading them on every drive was a tenth of the daemon's CPU): read once, then again only when another
// writer changed them. Real SQLite file (a second connection plays the other process); the executor's
// other ports are fakes.
#include <gtest/gtest.h>

#include <filesystem>

#include "fakes.h"
#include "orchestrator/rollout_executor.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"

using namespace fleet;
using orchestrator::RolloutDeviceRow;
using orchestrator::RolloutRow;

namespace {

// The SQLite store, counting how often a rollout's device rows are read.
struct CountingRolloutStore : orchestrator::RolloutStore {
  store::SqliteRolloutStore& s;
  int reads = 0;
  explicit CountingRolloutStore(store::SqliteRolloutStore& store) : s(store) {}
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

struct World {
  std::string path = (std::filesystem::temp_directory_path() / ("rollout-executor-" + std::to_string(::getpid()) + ".db")).string();
  store::Database db{(std::filesystem::remove(path), path)};
  int level = store::migrate(db);
  store::SqliteRolloutStore sqlite_rollouts{db};
  CountingRolloutStore rollouts{sqlite_rollouts};
  store::SqliteAuditLog audit{db};
  store::SqliteJobStore jobs{db};
  store::SqliteBackupStore backups{db};
  fleet::testing::FakeClock clock;
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeStore inv_store;
  inventory::Inventory inv{mqtt::TopicScheme(), transport, inv_store, clock};
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 100}};
  orchestrator::RolloutExecutor exec{{rollouts, audit, jobs, backups, runner, inv, transport, clock}, options()};

  static orchestrator::RolloutOptions options() {
    orchestrator::RolloutOptions o;
    o.owner = "test:1";
    return o;
  }

  World() {
    for (int i = 1; i <= 3; ++i) device(i, i != 3);
  }
  ~World() { std::filesystem::remove(path); }

  // plug1..: on 8.5.1; `online` false: its LWT says Offline.
  void device(int i, bool online) {
    auto t = "plug" + std::to_string(i);
    inv.on_message("tele/" + t + "/LWT", "Online", true);
    inv.on_message("stat/" + t + "/STATUS", R"({"Status":{"Module":1,"Topic":")" + t + R"("}})", false);
    inv.on_message("stat/" + t + "/STATUS5",
                   R"({"StatusNET":{"Hostname":")" + t + R"(","IPAddress":"127.0.0.9","Mac":"5C:CF:7F:00:00:0)" + std::to_string(i) + R"("}})",
                   false);
    inv.on_message("stat/" + t + "/STATUS2",
                   R"J({"StatusFWR":{"Version":"8.5.1(tasmota)","Core":"2_7_4_9","SDK":"2.2.2-dev(38a443e)","Hardware":"ESP8266EX"}})J", false);
    if (!online) inv.on_message("tele/" + t + "/LWT", "Offline", true);
  }
  std::int64_t start(const nlohmann::json& spec) {
    auto s = orchestrator::RolloutSpec::from_json(spec);
    EXPECT_TRUE(bool(s)) << (s ? "" : s.error());
    auto r = exec.start(*s, false);
    EXPECT_TRUE(bool(r)) << (r ? "" : r.error());
    return r->value("id", 0);
  }
  void drive(int times) {
    for (int i = 0; i < times; ++i) {
      clock.advance(300);  // past the executor's drive period
      exec.tick();
      runner.tick();
    }
  }
  std::string status_of(std::int64_t id, int device) { return sqlite_rollouts.device(id, "5C:CF:7F:00:00:0" + std::to_string(device))->status; }
};

}  // namespace

TEST(RolloutExecutor, ARolloutIsDrivenOnFromItsRowsInMemoryReadOnce) {
  World w;
  auto id = w.start({{"devices", {"plug1", "plug2", "plug3"}}, {"target", "9.1.0"}, {"canary", "0"}, {"max_parallel", 1}});
  w.rollouts.reads = 0;
  w.drive(20);
  EXPECT_EQ("running", w.status_of(id, 1)) << "one job at a time: the first device's";
  EXPECT_EQ("scheduled", w.status_of(id, 2));
  auto r = w.sqlite_rollouts.get(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(1, w.rollouts.reads) << "20 drives, one read: the executor's own writes (the start, the offline device's wait) keep its rows current";
  EXPECT_GE(r->devices_rev, 2) << "the start of plug1 and plug3's wait were written";
  ASSERT_NE(nullptr, w.exec.current_rows(*r));
  EXPECT_EQ("running", w.exec.current_rows(*r)->at(0).status);
}

TEST(RolloutExecutor, RowsChangedByAnotherProcessAreReadAgainNotOverwritten) {
  World w;
  // plug3 is offline at its turn: it waits up to offline_timeout_s, then is skipped.
  auto id = w.start({{"devices", {"plug3"}}, {"target", "9.1.0"}, {"canary", "0"}, {"offline_timeout_s", 1}});
  w.drive(2);
  ASSERT_EQ("scheduled", w.status_of(id, 3));
  auto waited = w.sqlite_rollouts.device(id, "5C:CF:7F:00:00:03");
  ASSERT_NE(0, waited->waiting_since_ms) << "its turn came and it waits";
  w.rollouts.reads = 0;
  {
    // Another process (a command line beside the daemon, an edit by hand) cancels it.
    store::Database other(w.path);
    store::SqliteRolloutStore theirs(other);
    auto row = theirs.device(id, "5C:CF:7F:00:00:03");
    row->status = "cancelled";
    row->reason = "cancelled elsewhere";
    theirs.update_device(*row);
  }
  w.drive(10);  // 3 s: past the offline timeout, when a stale row would be skipped
  EXPECT_EQ(1, w.rollouts.reads) << "read again once, after the other writer";
  auto row = w.sqlite_rollouts.device(id, "5C:CF:7F:00:00:03");
  EXPECT_EQ("cancelled", row->status) << "not overwritten from the rows held before: " << row->reason;
  EXPECT_EQ("cancelled elsewhere", row->reason);
  EXPECT_EQ("finished", w.sqlite_rollouts.get(id)->status) << "every device has ended";
}
