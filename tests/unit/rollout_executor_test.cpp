// The rollout executor keeps the device rows of the rollouts it drives in memory (at 10,000 devices,
// reading them on every drive was a tenth of the daemon's CPU): read once, then again only when another
// writer changed them. Real SQLite file (a second connection plays the other process); the executor's
// other ports are fakes.
#include <gtest/gtest.h>

#include "tests/unit/rollout_world.h"

using namespace fleet;

namespace {

struct World : fleet::testing::RolloutWorld {
  // plug1..3 on 8.5.1, plug3 offline.
  World() : RolloutWorld((std::filesystem::temp_directory_path() / ("rollout-executor-" + std::to_string(::getpid()) + ".db")).string()) {
    for (int i = 1; i <= 3; ++i) device("plug" + std::to_string(i), mac(i), "8.5.1(tasmota)", "ESP8266EX", i != 3);
  }
  static std::string mac(int i) { return "5C:CF:7F:00:00:0" + std::to_string(i); }
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
  std::string status_of(std::int64_t id, int device) { return rollouts.s.device(id, mac(device))->status; }
};

}  // namespace

TEST(RolloutExecutor, ARolloutIsDrivenOnFromItsRowsInMemoryReadOnce) {
  World w;
  auto id = w.start({{"devices", {"plug1", "plug2", "plug3"}}, {"target", "9.1.0"}, {"canary", "0"}, {"max_parallel", 1}});
  w.rollouts.reads = 0;
  w.drive(20);
  EXPECT_EQ("running", w.status_of(id, 1)) << "one job at a time: the first device's";
  EXPECT_EQ("scheduled", w.status_of(id, 2));
  auto r = w.rollouts.s.get(id);
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
  auto waited = w.rollouts.s.device(id, World::mac(3));
  ASSERT_NE(0, waited->waiting_since_ms) << "its turn came and it waits";
  w.rollouts.reads = 0;
  {
    // Another process (a command line beside the daemon, an edit by hand) cancels it.
    store::Database other(w.path);
    store::SqliteRolloutStore theirs(other);
    auto row = theirs.device(id, World::mac(3));
    row->status = "cancelled";
    row->reason = "cancelled elsewhere";
    theirs.update_device(*row);
  }
  w.drive(10);  // 3 s: past the offline timeout, when a stale row would be skipped
  EXPECT_EQ(1, w.rollouts.reads) << "read again once, after the other writer";
  auto row = w.rollouts.s.device(id, World::mac(3));
  EXPECT_EQ("cancelled", row->status) << "not overwritten from the rows held before: " << row->reason;
  EXPECT_EQ("cancelled elsewhere", row->reason);
  EXPECT_EQ("finished", w.rollouts.s.get(id)->status) << "every device has ended";
}
