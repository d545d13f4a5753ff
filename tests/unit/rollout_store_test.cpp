// Rollouts, their lease and the audit log in SQLite, on a real file (migrations/0006_rollouts.sql).
#include <gtest/gtest.h>

#include <unistd.h>

#include <exception>
#include <filesystem>
#include <functional>
#include <latch>
#include <thread>

#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_audit_log.h"
#include "store/sqlite_job_store.h"
#include "store/sqlite_rollout_store.h"

using namespace fleet::store;
using fleet::orchestrator::AuditEntry;
using fleet::orchestrator::AuditQuery;
using fleet::orchestrator::RolloutDeviceRow;
using fleet::orchestrator::RolloutRow;
namespace fs = std::filesystem;

namespace {

class StoreFile : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() /
          ("fleet-rollouts-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path() { return (dir / "fleet.db").string(); }
  fs::path dir;
};
class RolloutStoreTest : public StoreFile {};
class RolloutStoreMigration : public StoreFile {};
class AuditLogTest : public StoreFile {};

RolloutRow rollout(const std::string& name, const std::string& status = "ready", std::int64_t created_ms = 100) {
  RolloutRow r;
  r.name = name;
  r.spec = R"({"target":"15.0.1","groups":[1,5]})";
  r.status = status;
  r.created_ms = created_ms;
  return r;
}

RolloutDeviceRow device(const std::string& mac, const std::string& name, int group) {
  RolloutDeviceRow d;
  d.mac = mac;
  d.name = name;
  d.group_index = group;
  return d;
}

// A running upgrade job for the device, as a rollout (or the upgrade command) starts one.
std::int64_t add_job(Database& db, const std::string& mac, std::optional<std::int64_t> rollout_id) {
  JobRow j;
  j.device_mac = mac;
  j.target = "15.0.1";
  j.hops = "[]";
  j.state = "{}";
  j.status = "running";
  j.created_ms = 50;
  j.rollout_id = rollout_id;
  return SqliteJobStore(db).create(j);
}

std::vector<std::string> macs(const std::vector<RolloutDeviceRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.mac);
  return out;
}

std::vector<std::string> texts(const std::vector<AuditEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.text);
  return out;
}

// The file is sound and no row points at one that is not there.
void expect_intact(Database& db) {
  auto integrity = db.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(integrity.step());
  EXPECT_EQ("ok", integrity.text(0));
  auto fk = db.prepare("PRAGMA foreign_key_check");
  EXPECT_FALSE(fk.step()) << "a dangling reference in " << fk.text(0);
}

std::int64_t count(Database& db, const std::string& table) {
  auto q = db.prepare("SELECT count(*) FROM " + table);
  q.step();
  return q.int64(0);
}

}  // namespace

TEST_F(RolloutStoreTest, CreatesARolloutWithItsDevicesByGroupThenInTheOrderGiven) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  // MAC order differs from the order given, so an ORDER BY the primary key would show.
  auto id = store.create(rollout("kitchen first"), {device("CC:00:00:00:00:01", "lamp", 1), device("BB:00:00:00:00:02", "plug", 0),
                                                    device("AA:00:00:00:00:03", "fan", 1), device("DD:00:00:00:00:04", "heater", 0),
                                                    device("00:00:00:00:00:05", "pump", 2)});
  auto other = store.create(rollout("another", "ready", 200), {device("CC:00:00:00:00:01", "lamp", 0)});
  EXPECT_NE(id, other);

  auto got = store.get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(id, got->id);
  EXPECT_EQ("kitchen first", got->name);
  EXPECT_EQ(R"({"target":"15.0.1","groups":[1,5]})", got->spec);
  EXPECT_EQ("ready", got->status);
  EXPECT_EQ(0, got->current_group);
  EXPECT_EQ("", got->reason);
  EXPECT_FALSE(got->lease_owner);
  EXPECT_EQ(0, got->lease_until_ms);
  EXPECT_EQ(100, got->created_ms);
  EXPECT_EQ(100, got->updated_ms);  // created now, so updated now
  EXPECT_FALSE(store.get(other + 1));

  auto devices = store.devices(id);
  EXPECT_EQ((std::vector<std::string>{"BB:00:00:00:00:02", "DD:00:00:00:00:04", "CC:00:00:00:00:01", "AA:00:00:00:00:03",
                                      "00:00:00:00:00:05"}),
            macs(devices));
  EXPECT_EQ("plug", devices[0].name);
  EXPECT_EQ(2, devices[4].group_index);
  for (const auto& d : devices) {
    EXPECT_EQ(id, d.rollout_id);
    EXPECT_EQ("scheduled", d.status);
    EXPECT_FALSE(d.job_id);
    EXPECT_EQ(0, d.attempt);
  }
  ASSERT_EQ(1u, store.devices(other).size());  // the same device in another rollout is another row
  EXPECT_EQ(other, store.devices(other)[0].rollout_id);
  EXPECT_TRUE(store.devices(other + 1).empty());
  expect_intact(db);
}

TEST_F(RolloutStoreTest, ListsNewestFirstAndUnfinishedOldestFirst) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  std::vector<std::int64_t> ids;
  for (const char* status : {"ready", "finished", "paused", "stopped", "running"})
    ids.push_back(store.create(rollout(status, status), {}));
  auto newest = store.list(3);
  ASSERT_EQ(3u, newest.size());
  EXPECT_EQ(ids[4], newest[0].id);
  EXPECT_EQ(ids[3], newest[1].id);
  EXPECT_EQ(ids[2], newest[2].id);
  EXPECT_EQ("running", newest[0].status);
  EXPECT_EQ(5u, store.list(100).size());
  EXPECT_EQ((std::vector<std::int64_t>{ids[0], ids[2], ids[4]}), store.unfinished());
  store.set_status(ids[0], "finished", "", 300);
  store.set_status(ids[3], "running", "", 300);  // a stopped one resumed is unfinished again
  EXPECT_EQ((std::vector<std::int64_t>{ids[2], ids[3], ids[4]}), store.unfinished());
  expect_intact(db);
}

TEST_F(RolloutStoreTest, CreateIsOneTransaction) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  auto bad = device("AA:00:00:00:00:02", "b", 0);
  bad.status = "done";  // not a device status
  EXPECT_THROW(store.create(rollout("r"), {device("AA:00:00:00:00:01", "a", 0), bad}), StoreError);
  EXPECT_THROW(store.create(rollout("r"), {device("AA:00:00:00:00:01", "a", 0), device("AA:00:00:00:00:01", "again", 1)}),
               StoreError);  // the same device twice
  EXPECT_TRUE(store.list(10).empty());
  EXPECT_EQ(0, count(db, "rollout_devices"));
  // And the connection is usable afterwards: nothing was left half open.
  auto id = store.create(rollout("r"), {device("AA:00:00:00:00:01", "a", 0)});
  EXPECT_EQ(1u, store.devices(id).size());
  expect_intact(db);
}

TEST_F(RolloutStoreTest, UpdatesArePersistedAcrossReopeningTheFile) {
  std::int64_t id = 0, job = 0;
  {
    Database db(path());
    migrate(db);
    SqliteRolloutStore store(db);
    id = store.create(rollout("r"), {device("AA:00:00:00:00:01", "a", 0), device("AA:00:00:00:00:02", "b", 0),
                                     device("AA:00:00:00:00:03", "c", 1)});
    job = add_job(db, "AA:00:00:00:00:02", id);
    store.set_status(id, "running", "", 200);
    store.set_acknowledged_errors(id, 3, 240);
    EXPECT_EQ(3, store.get(id)->acknowledged_errors);
    store.set_group(id, 1, 250);
    EXPECT_EQ(0, store.get(id)->acknowledged_errors) << "a new group's failures are its own";
    auto d = store.devices(id)[1];
    d.status = "error";
    d.job_id = job;
    d.reason = "did not come back after Upgrade 1";
    d.attempt = 2;
    d.waiting_since_ms = 210;
    d.started_ms = 220;
    d.finished_ms = 240;
    d.name = "renamed";  // not an updated field
    d.group_index = 7;   // nor this
    store.update_device(d);
    store.set_status(id, "paused", "AA:00:00:00:00:02 failed", 300);
  }
  Database db(path());
  SqliteRolloutStore store(db);
  auto r = store.get(id);
  ASSERT_TRUE(r);
  EXPECT_EQ("paused", r->status);
  EXPECT_EQ("AA:00:00:00:00:02 failed", r->reason);
  EXPECT_EQ(1, r->current_group);
  EXPECT_EQ(100, r->created_ms);
  EXPECT_EQ(300, r->updated_ms);
  auto devices = store.devices(id);
  ASSERT_EQ(3u, devices.size());
  const auto& d = devices[1];
  EXPECT_EQ("AA:00:00:00:00:02", d.mac);
  EXPECT_EQ("b", d.name);
  EXPECT_EQ(0, d.group_index);
  EXPECT_EQ("error", d.status);
  EXPECT_EQ(std::optional<std::int64_t>(job), d.job_id);
  EXPECT_EQ("did not come back after Upgrade 1", d.reason);
  EXPECT_EQ(2, d.attempt);
  EXPECT_EQ(210, d.waiting_since_ms);
  EXPECT_EQ(220, d.started_ms);
  EXPECT_EQ(240, d.finished_ms);
  for (int i : {0, 2}) {  // the others untouched
    EXPECT_EQ("scheduled", devices[i].status);
    EXPECT_FALSE(devices[i].job_id);
    EXPECT_EQ(0, devices[i].started_ms);
  }
  // A retry clears the job again.
  auto retry = d;
  retry.status = "scheduled";
  retry.job_id = std::nullopt;
  store.update_device(retry);
  EXPECT_FALSE(store.devices(id)[1].job_id);
  expect_intact(db);
}

// The executor keeps a driven rollout's device rows in memory and reads them again when devices_rev
// moved by more than its own writes: the database moves it on every device update, whoever makes it.
TEST_F(RolloutStoreTest, DevicesRevCountsEveryDeviceUpdateFromAnyConnection) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  auto a = store.create(rollout("a"), {device("AA:00:00:00:00:01", "a", 0), device("AA:00:00:00:00:02", "b", 0)});
  auto b = store.create(rollout("b"), {device("AA:00:00:00:00:01", "a", 0)});
  EXPECT_EQ(0, store.get(a)->devices_rev);
  auto d = store.devices(a)[0];
  d.status = "running";
  store.update_device(d);
  store.update_device(d);  // the same values again: still a write
  EXPECT_EQ(2, store.get(a)->devices_rev);
  EXPECT_EQ(0, store.get(b)->devices_rev) << "another rollout's rows did not change";
  store.set_status(a, "running", "", 300);
  store.set_group(a, 0, 300);
  store.set_acknowledged_errors(a, 0, 300);
  store.acquire_lease(a, "me", 300, 1000);
  EXPECT_EQ(2, store.get(a)->devices_rev) << "only device rows move it";
  Database other(path());
  SqliteRolloutStore theirs(other);
  d.status = "cancelled";
  theirs.update_device(d);
  EXPECT_EQ(3, store.get(a)->devices_rev);
  other.exec("UPDATE rollout_devices SET reason = 'by hand' WHERE rollout_id = " + std::to_string(a));
  EXPECT_EQ(5, store.get(a)->devices_rev) << "an edit of two rows by hand";
}

TEST_F(RolloutStoreTest, RefusesAStatusOutsideTheListsAndRowsThatAreNotThere) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  EXPECT_THROW(store.create(rollout("r", "done"), {}), StoreError);
  auto id = store.create(rollout("r"), {device("AA:00:00:00:00:01", "a", 0)});
  EXPECT_THROW(store.set_status(id, "done", "", 200), StoreError);
  EXPECT_THROW(store.set_status(id, "Running", "", 200), StoreError);  // the values are exact
  EXPECT_EQ("ready", store.get(id)->status);
  EXPECT_EQ(100, store.get(id)->updated_ms);
  auto d = store.devices(id)[0];
  d.status = "failed";
  EXPECT_THROW(store.update_device(d), StoreError);
  EXPECT_EQ("scheduled", store.devices(id)[0].status);
  // A wrong id is a mistake worth hearing about, not a silent no-op.
  EXPECT_THROW(store.set_status(id + 1, "running", "", 200), StoreError);
  EXPECT_THROW(store.set_group(id + 1, 1, 200), StoreError);
  d.status = "running";
  d.mac = "AA:00:00:00:00:99";
  EXPECT_THROW(store.update_device(d), StoreError);
  // A device's job must be a job.
  d.mac = "AA:00:00:00:00:01";
  d.job_id = 12345;
  EXPECT_THROW(store.update_device(d), StoreError);
  EXPECT_FALSE(store.devices(id)[0].job_id);
  expect_intact(db);
}

TEST_F(RolloutStoreTest, LeaseIsHeldByOneOwnerUntilItExpires) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  auto id = store.create(rollout("r"), {});
  EXPECT_TRUE(store.acquire_lease(id, "daemon-a", 1000, 500));
  EXPECT_EQ(std::optional<std::string>("daemon-a"), store.get(id)->lease_owner);
  EXPECT_EQ(1500, store.get(id)->lease_until_ms);
  EXPECT_FALSE(store.acquire_lease(id, "daemon-b", 1200, 500));
  EXPECT_EQ(std::optional<std::string>("daemon-a"), store.get(id)->lease_owner);
  EXPECT_EQ(1500, store.get(id)->lease_until_ms);  // a refused owner changes nothing
  EXPECT_TRUE(store.acquire_lease(id, "daemon-a", 1400, 500));  // renewed by the holder
  EXPECT_EQ(1900, store.get(id)->lease_until_ms);
  EXPECT_FALSE(store.acquire_lease(id, "daemon-b", 1600, 500));  // past the first term, within the renewal
  EXPECT_FALSE(store.acquire_lease(id, "daemon-b", 1899, 500));
  EXPECT_TRUE(store.acquire_lease(id, "daemon-b", 1900, 500));  // expired: taken over
  EXPECT_EQ(std::optional<std::string>("daemon-b"), store.get(id)->lease_owner);
  EXPECT_EQ(2400, store.get(id)->lease_until_ms);
  EXPECT_FALSE(store.acquire_lease(id, "daemon-a", 2000, 500));  // the old holder has lost it
  store.release_lease(id, "daemon-a");                           // and cannot release it
  EXPECT_EQ(std::optional<std::string>("daemon-b"), store.get(id)->lease_owner);
  EXPECT_EQ(2400, store.get(id)->lease_until_ms);
  store.release_lease(id, "daemon-b");
  EXPECT_FALSE(store.get(id)->lease_owner);
  EXPECT_EQ(0, store.get(id)->lease_until_ms);
  EXPECT_TRUE(store.acquire_lease(id, "daemon-a", 2000, 500));  // free again, long before 2400
  EXPECT_FALSE(store.acquire_lease(id + 1, "daemon-a", 2000, 500));  // no such rollout
  // The lease is not the rollout's progress: it leaves updated_ms alone.
  EXPECT_EQ(100, store.get(id)->updated_ms);
  expect_intact(db);
}

TEST_F(RolloutStoreTest, TwoConnectionsCompetingForALeaseHaveOneWinner) {
  Database a(path());
  migrate(a);
  Database b(path());
  SqliteRolloutStore sa(a), sb(b);
  auto id = sa.create(rollout("r"), {});
  EXPECT_TRUE(sa.acquire_lease(id, "daemon-a", 1000, 30'000));
  EXPECT_FALSE(sb.acquire_lease(id, "daemon-b", 1001, 30'000));
  EXPECT_EQ(std::optional<std::string>("daemon-a"), sb.get(id)->lease_owner);
  EXPECT_TRUE(sb.acquire_lease(id, "daemon-b", 31'000, 30'000));  // a's lease ran out
  EXPECT_FALSE(sa.acquire_lease(id, "daemon-a", 31'001, 30'000));

  // At the same moment, from two threads with a connection each: exactly one gets it, every time.
  for (int round = 0; round < 25; ++round) {
    auto rid = sa.create(rollout("race " + std::to_string(round)), {});
    bool won[2] = {false, false};
    std::exception_ptr error[2];
    std::latch start(2);
    auto race = [&](int i, SqliteRolloutStore& s, const char* owner) {
      start.arrive_and_wait();
      try {
        won[i] = s.acquire_lease(rid, owner, 5000, 30'000);
      } catch (...) {
        error[i] = std::current_exception();
      }
    };
    std::thread ta(race, 0, std::ref(sa), "daemon-a");
    std::thread tb(race, 1, std::ref(sb), "daemon-b");
    ta.join();
    tb.join();
    ASSERT_FALSE(error[0] || error[1]) << "round " << round << ": an acquire threw (busy?)";
    ASSERT_NE(won[0], won[1]) << "round " << round;
    EXPECT_EQ(std::optional<std::string>(won[0] ? "daemon-a" : "daemon-b"), sb.get(rid)->lease_owner);
  }
  expect_intact(a);
}

TEST_F(RolloutStoreTest, ActiveRolloutOfADevice) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  auto with = [](RolloutDeviceRow d, const std::string& status) {
    d.status = status;
    return d;
  };
  auto running = store.create(rollout("running", "running"),
                              {with(device("AA:00:00:00:00:01", "a", 0), "running"), device("AA:00:00:00:00:02", "b", 1),
                               with(device("AA:00:00:00:00:03", "c", 0), "finished"),
                               with(device("AA:00:00:00:00:04", "d", 0), "error"),
                               with(device("AA:00:00:00:00:05", "e", 0), "skipped"),
                               with(device("AA:00:00:00:00:06", "f", 0), "cancelled")});
  store.create(rollout("finished", "finished"), {device("AA:00:00:00:00:07", "g", 0)});
  store.create(rollout("stopped", "stopped"), {device("AA:00:00:00:00:08", "h", 0)});
  auto paused = store.create(rollout("paused", "paused"), {device("AA:00:00:00:00:09", "i", 0)});
  auto ready = store.create(rollout("ready"), {device("AA:00:00:00:00:0A", "j", 0), device("AA:00:00:00:00:03", "c", 0)});
  using Id = std::optional<std::int64_t>;
  EXPECT_EQ(Id(running), store.active_rollout_of("AA:00:00:00:00:01"));
  EXPECT_EQ(Id(running), store.active_rollout_of("AA:00:00:00:00:02"));
  EXPECT_EQ(Id(ready), store.active_rollout_of("AA:00:00:00:00:03"));  // done in one, scheduled in the next
  for (const char* done : {"AA:00:00:00:00:04", "AA:00:00:00:00:05", "AA:00:00:00:00:06"})
    EXPECT_EQ(Id(), store.active_rollout_of(done)) << done;
  EXPECT_EQ(Id(), store.active_rollout_of("AA:00:00:00:00:07"));  // scheduled, but its rollout finished
  EXPECT_EQ(Id(), store.active_rollout_of("AA:00:00:00:00:08"));  // or was stopped
  EXPECT_EQ(Id(paused), store.active_rollout_of("AA:00:00:00:00:09"));
  EXPECT_EQ(Id(ready), store.active_rollout_of("AA:00:00:00:00:0A"));
  EXPECT_EQ(Id(), store.active_rollout_of("FF:FF:FF:FF:FF:FF"));
  store.set_status(running, "stopped", "by the operator", 500);
  EXPECT_EQ(Id(), store.active_rollout_of("AA:00:00:00:00:01"));
  auto d = store.devices(paused)[0];
  d.status = "finished";
  store.update_device(d);
  EXPECT_EQ(Id(), store.active_rollout_of("AA:00:00:00:00:09"));
  expect_intact(db);
}

TEST_F(RolloutStoreTest, UpgradeJobsCarryTheirRollout) {
  Database db(path());
  migrate(db);
  SqliteRolloutStore store(db);
  SqliteJobStore jobs(db);
  auto id = store.create(rollout("r", "running"), {device("AA:00:00:00:00:01", "a", 0)});
  auto from_rollout = add_job(db, "AA:00:00:00:00:01", id);
  auto on_its_own = add_job(db, "AA:00:00:00:00:02", std::nullopt);
  EXPECT_EQ(std::optional<std::int64_t>(id), jobs.get(from_rollout)->rollout_id);
  EXPECT_FALSE(jobs.get(on_its_own)->rollout_id);
  EXPECT_EQ(std::optional<std::int64_t>(id), jobs.running_for("AA:00:00:00:00:01")->rollout_id);
  auto recent = jobs.recent(10);
  ASSERT_EQ(2u, recent.size());
  EXPECT_FALSE(recent[0].rollout_id);
  EXPECT_EQ(std::optional<std::int64_t>(id), recent[1].rollout_id);
  EXPECT_THROW(add_job(db, "AA:00:00:00:00:03", id + 1), StoreError);  // no such rollout
  // Still one running job per device, whoever started it.
  EXPECT_THROW(add_job(db, "AA:00:00:00:00:01", std::nullopt), StoreError);
  expect_intact(db);
}

TEST_F(RolloutStoreMigration, FromLevel5KeepsTheUpgradeJobs) {
  {
    Database db(path());
    ASSERT_EQ(5, migrate(db, 5));
    db.exec("INSERT INTO upgrade_jobs (id, device_mac, target, target_build, hops, state, status, created_ms, updated_ms) "
            "VALUES (3, 'AA:00:00:00:00:01', '15.0.1', 'tasmota', '[{\"version\":\"15.0.1\"}]', '{\"hop\":0}', 'running', "
            "10, 20)");
    db.exec("INSERT INTO upgrade_jobs (id, device_mac, target, hops, state, status, created_ms, updated_ms) "
            "VALUES (4, 'AA:00:00:00:00:02', '9.1.0', '[]', '{}', 'done', 30, 40)");
    db.exec("INSERT INTO upgrade_events (job_id, at_ms, text) VALUES (3, 11, 'backup #1 taken')");
  }
  Database db(path());
  EXPECT_EQ(migrations().back().number, migrate(db));
  SqliteJobStore jobs(db);
  auto old = jobs.get(3);
  ASSERT_TRUE(old);
  EXPECT_EQ("AA:00:00:00:00:01", old->device_mac);
  EXPECT_EQ("15.0.1", old->target);
  EXPECT_EQ("tasmota", old->target_build);
  EXPECT_EQ(R"([{"version":"15.0.1"}])", old->hops);
  EXPECT_EQ(R"({"hop":0})", old->state);
  EXPECT_EQ("running", old->status);
  EXPECT_EQ(10, old->created_ms);
  EXPECT_EQ(20, old->updated_ms);
  EXPECT_FALSE(old->rollout_id);
  EXPECT_FALSE(jobs.get(4)->rollout_id);
  EXPECT_EQ(3, jobs.running_for("AA:00:00:00:00:01")->id);
  EXPECT_EQ((std::vector<std::string>{"backup #1 taken"}), jobs.events(3));
  EXPECT_THROW(add_job(db, "AA:00:00:00:00:01", std::nullopt), StoreError);  // the one-running index survived
  // The new tables are there and work beside the old rows.
  SqliteRolloutStore store(db);
  auto id = store.create(rollout("r"), {device("AA:00:00:00:00:02", "b", 0)});
  auto d = store.devices(id)[0];
  d.job_id = 4;
  store.update_device(d);
  SqliteAuditLog(db).append({{0, 50, id, std::string("AA:00:00:00:00:02"), 4, "state", "attached"}});
  EXPECT_EQ(1, count(db, "audit_log"));
  expect_intact(db);
}

TEST_F(AuditLogTest, ReadsByDeviceByRolloutAndBoth) {
  Database db(path());
  migrate(db);
  SqliteAuditLog log(db);
  const std::optional<std::string> a("AA:00:00:00:00:01"), b("AA:00:00:00:00:02");
  log.append({{0, 100, 1, a, 10, "command", "a: Backup"},
              {0, 101, 1, b, 11, "command", "b: Backup"},
              {0, 102, std::nullopt, a, 12, "reply", "a: on its own"},
              {0, 103, 2, b, std::nullopt, "state", "b: rollout 2"},
              {0, 104, 1, std::nullopt, std::nullopt, "state", "rollout 1 paused"}});
  log.append({{0, 105, 1, a, 10, "reply", "a: Done"}});

  auto all = log.read({});
  ASSERT_EQ(6u, all.size());
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].id, all[i].id);
  EXPECT_GT(all[0].id, 0);
  EXPECT_EQ(100, all[0].at_ms);
  EXPECT_EQ(std::optional<std::int64_t>(1), all[0].rollout_id);
  EXPECT_EQ(a, all[0].device_mac);
  EXPECT_EQ(std::optional<std::int64_t>(10), all[0].job_id);
  EXPECT_EQ("command", all[0].kind);
  EXPECT_FALSE(all[2].rollout_id);  // NULL stays NULL, not 0
  EXPECT_FALSE(all[3].job_id);
  EXPECT_FALSE(all[4].device_mac);

  EXPECT_EQ((std::vector<std::string>{"a: Backup", "a: on its own", "a: Done"}), texts(log.read({.device_mac = a})));
  EXPECT_EQ((std::vector<std::string>{"a: Backup", "b: Backup", "rollout 1 paused", "a: Done"}), texts(log.read({.rollout_id = 1})));
  EXPECT_EQ((std::vector<std::string>{"b: Backup"}), texts(log.read({.device_mac = b, .rollout_id = 1})));
  EXPECT_EQ((std::vector<std::string>{"b: rollout 2"}), texts(log.read({.device_mac = b, .rollout_id = 2})));
  EXPECT_TRUE(log.read({.device_mac = "FF:FF:FF:FF:FF:FF"}).empty());
  EXPECT_EQ(2u, log.read({.limit = 2}).size());
  expect_intact(db);
}

TEST_F(AuditLogTest, PagesOnAfterTheLastIdRead) {
  Database db(path());
  migrate(db);
  SqliteAuditLog log(db);
  const std::string a = "AA:00:00:00:00:01", b = "AA:00:00:00:00:02";
  std::vector<AuditEntry> entries;
  std::vector<std::string> expected;
  for (int i = 0; i < 14; ++i) {
    const auto& mac = i % 2 ? b : a;
    entries.push_back({0, 100 + i, 7, mac, std::nullopt, "command", mac + " #" + std::to_string(i)});
    if (mac == a) expected.push_back(entries.back().text);
  }
  log.append(entries);
  std::vector<std::string> paged;
  AuditQuery q{.device_mac = a, .rollout_id = 7, .limit = 3};
  std::vector<std::size_t> sizes;
  for (;;) {
    auto page = log.read(q);
    sizes.push_back(page.size());
    if (page.empty()) break;
    for (const auto& e : page) EXPECT_GT(e.id, q.after_id);
    q.after_id = page.back().id;
    for (auto& t : texts(page)) paged.push_back(t);
  }
  EXPECT_EQ(expected, paged);
  EXPECT_EQ((std::vector<std::size_t>{3, 3, 1, 0}), sizes);
  // Entries appended later show on the next page of a reader that has read everything.
  log.append({{0, 200, 7, a, std::nullopt, "reply", "late"}});
  EXPECT_EQ((std::vector<std::string>{"late"}), texts(log.read(q)));
}

TEST_F(AuditLogTest, AppendIsOneTransaction) {
  Database db(path());
  migrate(db);
  SqliteAuditLog log(db);
  // A temporary trigger stands in for a failure half-way through a batch.
  db.exec("CREATE TEMP TRIGGER refuse_poison BEFORE INSERT ON audit_log WHEN NEW.text = 'poison' "
          "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  EXPECT_THROW(log.append({{0, 1, std::nullopt, std::nullopt, std::nullopt, "state", "first"},
                           {0, 2, std::nullopt, std::nullopt, std::nullopt, "state", "poison"}}),
               StoreError);
  EXPECT_TRUE(log.read({}).empty());
  log.append({});  // nothing to do, and no transaction left open by the failure
  log.append({{0, 3, std::nullopt, std::nullopt, std::nullopt, "state", "after"}});
  EXPECT_EQ((std::vector<std::string>{"after"}), texts(log.read({})));
}

TEST_F(AuditLogTest, RefusesUpdateAndDelete) {
  Database db(path());
  migrate(db);
  SqliteAuditLog log(db);
  log.append({{0, 100, 1, std::string("AA:00:00:00:00:01"), 5, "command", "Upgrade 1"}});
  auto id = std::to_string(log.read({})[0].id);
  try {
    db.exec("UPDATE audit_log SET text = 'nothing happened' WHERE id = " + id);
    ADD_FAILURE() << "an entry was changed";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("append-only")) << e.what();
  }
  try {
    db.exec("DELETE FROM audit_log WHERE id = " + id);
    ADD_FAILURE() << "an entry was deleted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("append-only")) << e.what();
  }
  EXPECT_THROW(db.exec("DELETE FROM audit_log"), StoreError);
  Database other(path());  // not a rule of this connection: of the file
  EXPECT_THROW(other.exec("UPDATE audit_log SET at_ms = 0"), StoreError);
  auto entries = log.read({});
  ASSERT_EQ(1u, entries.size());
  EXPECT_EQ("Upgrade 1", entries[0].text);
  EXPECT_EQ(100, entries[0].at_ms);
  expect_intact(db);
}
