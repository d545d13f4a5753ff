// The SQLite store on a real file: migrations from every earlier schema level, and the device rows.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "firmware/sha256.h"
#include "store/sqlite_inventory_store.h"
#include "store/sqlite_job_store.h"

using namespace fleet::store;
namespace fs = std::filesystem;

namespace {
class TempDb : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("fleet-store-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name = "fleet.db") { return (dir / name).string(); }
  fs::path dir;
};

fleet::inventory::DeviceRecord sample(const std::string& mac) {
  fleet::inventory::DeviceRecord r;
  r.mac = mac;
#define FILL(kind, name) r.name = fleet::inventory::kind{std::in_place};
  FLEET_DEVICE_FIELDS(FILL)
#undef FILL
  r.topic = "t-" + mac;
  r.hostname = "h";
  r.version = "9.1.0";
  r.build = "tasmota";
  r.free_kb = 380;
  r.flash_kb = 4096;
  r.uptime_s = 1LL << 35;
  r.signal_dbm = -60;
  r.online = true;
  r.first_seen_ms = 11;
  r.last_seen_ms = 22;
  r.status_at_ms = 33;
  r.bad_payloads = 4;
  return r;
}
}  // namespace

TEST_F(TempDb, MigrationsAreNumberedInOrderWithoutGaps) {
  const auto& all = migrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(static_cast<int>(i + 1), all[i].number) << all[i].name;
}

TEST_F(TempDb, UpgradesADatabaseCreatedAtEveryEarlierLevel) {
  const int latest = migrations().back().number;
  for (int level = 0; level < latest; ++level) {
    std::string p = path("level" + std::to_string(level) + ".db");
    {
      Database db(p);
      EXPECT_EQ(level, migrate(db, level));
      if (level >= 1) {  // the devices table exists from 0001 on: data written then must survive
        db.exec("INSERT INTO devices (mac, topic, version, first_seen_ms) VALUES ('AA:BB:CC:DD:EE:FF', 'old', '8.5.1', 5)");
      }
      if (level >= 2) {  // daemon_status from 0002: 0003 adds ota_base, empty for the old row
        db.exec("INSERT INTO daemon_status (id, pid, started_ms, heartbeat_ms, broker) VALUES (1, 7, 1, 2, 'mqtt://x')");
      }
      if (level >= 5) {  // upgrade_jobs from 0005: 0006 adds rollout_id, NULL for the old job
        db.exec("INSERT INTO upgrade_jobs (id, device_mac, target, hops, state, status, created_ms, updated_ms) "
                "VALUES (9, 'AA:BB:CC:DD:EE:FF', '15.0.1', '[]', '{}', 'running', 3, 4)");
      }
    }
    Database db(p);
    EXPECT_EQ(latest, migrate(db)) << "from level " << level;
    EXPECT_EQ(latest, schema_version(db));
    SqliteInventoryStore store(db);
    auto devices = store.load_devices();
    if (level >= 1) {
      ASSERT_EQ(1u, devices.size());
      EXPECT_EQ("old", devices[0].topic);
      EXPECT_EQ("8.5.1", devices[0].version);
      EXPECT_EQ(5, devices[0].first_seen_ms);
    }
    if (level >= 2) {
      auto status = store.daemon_status();
      ASSERT_TRUE(status);
      EXPECT_EQ(7, status->pid);
      EXPECT_EQ("", status->ota_base);
    }
    if (level >= 5) {
      auto job = SqliteJobStore(db).running_for("AA:BB:CC:DD:EE:FF");
      ASSERT_TRUE(job);
      EXPECT_EQ(9, job->id);
      EXPECT_EQ("15.0.1", job->target);
      EXPECT_FALSE(job->rollout_id);
    }
    auto integrity = db.prepare("PRAGMA integrity_check");
    ASSERT_TRUE(integrity.step());
    EXPECT_EQ("ok", integrity.text(0)) << "from level " << level;
    EXPECT_EQ(latest, migrate(db));  // applying again changes nothing
    auto q = db.prepare("SELECT count(*) FROM schema_version");
    q.step();
    EXPECT_EQ(latest, q.int64(0));
  }
}

TEST_F(TempDb, RefusesASchemaNewerThanTheProgram) {
  Database db(path());
  migrate(db);
  db.exec("INSERT INTO schema_version (version, name) VALUES (999, 'from the future')");
  EXPECT_THROW(migrate(db), StoreError);
}

// The daemon and a CLI view may open a new database at the same moment (CI saw "table devices already
// exists" from the second one): the migration must be applied once, and both must see the latest level.
TEST_F(TempDb, ProcessesOpeningANewDatabaseAtOnceMigrateItOnce) {
  const int latest = migrations().back().number;
  for (int round = 0; round < 5; ++round) {
    std::string p = path("race" + std::to_string(round) + ".db");
    std::atomic<bool> go{false};
    std::vector<std::string> errors(4);
    std::vector<int> levels(4, -1);
    std::vector<std::thread> openers;
    for (int i = 0; i < 4; ++i)
      openers.emplace_back([&, i] {
        while (!go) std::this_thread::yield();
        try {
          Database db(p);
          levels[i] = migrate(db);
        } catch (const StoreError& e) {
          errors[i] = e.what();
        }
      });
    go = true;
    for (auto& t : openers) t.join();
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ("", errors[i]) << "round " << round;
      EXPECT_EQ(latest, levels[i]) << "round " << round;
    }
    Database db(p);
    auto q = db.prepare("SELECT count(*) FROM schema_version");
    q.step();
    EXPECT_EQ(latest, q.int64(0));
  }
}

// The daemon's loop turn is one transaction; the stores' own transactions inside it are savepoints:
// an inner rollback undoes only its writes, and nothing is visible to another connection before the
// turn commits.
TEST_F(TempDb, TransactionsInsideALoopTurnAreSavepoints) {
  Database db(path());
  db.exec("CREATE TABLE t (v INTEGER)");
  Database other(path());
  auto count = [&] {
    auto q = other.prepare("SELECT count(*) FROM t");
    q.step();
    return q.int64(0);
  };
  {
    Turn turn(db);
    {
      Transaction kept(db);
      db.exec("INSERT INTO t VALUES (1)");
      kept.commit();
    }
    {
      Transaction undone(db);
      db.exec("INSERT INTO t VALUES (2)");
    }  // rolled back: only its own row
    EXPECT_EQ(0, count());  // not committed yet
    EXPECT_TRUE(turn.commit());
  }
  EXPECT_EQ(1, count());
  {
    Turn turn(db);
    db.exec("INSERT INTO t VALUES (3)");
  }  // a turn not committed (the process stopped mid-turn) leaves nothing
  EXPECT_EQ(1, count());
}

TEST_F(TempDb, UsesWriteAheadLogging) {
  Database db(path());
  auto q = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(q.step());
  EXPECT_EQ("wal", q.text(0));
}

TEST_F(TempDb, DeviceRowsRoundTripAndUpsertKeepsFirstSeen) {
  Database db(path());
  migrate(db);
  SqliteInventoryStore store(db);
  auto a = sample("AA:00:00:00:00:01");
  auto b = sample("AA:00:00:00:00:02");
  b.module = std::nullopt;
  store.save_devices({a, b});
  a.version = "15.0.1";
  a.first_seen_ms = 999;  // an upsert must not move first_seen
  a.online = false;
  store.save_devices({a});
  auto got = store.load_devices();
  ASSERT_EQ(2u, got.size());
  EXPECT_EQ("15.0.1", got[0].version);
  EXPECT_EQ(11, got[0].first_seen_ms);
  EXPECT_FALSE(got[0].online);
  EXPECT_EQ(1LL << 35, got[0].uptime_s);
  EXPECT_EQ(-60, got[0].signal_dbm);
  EXPECT_EQ(std::optional<std::string>(""), got[0].module);  // empty string stays empty, not NULL
  EXPECT_FALSE(got[1].module);                                // NULL stays unknown
  EXPECT_EQ(4, got[1].bad_payloads);
  EXPECT_EQ(33, got[1].status_at_ms);
}

TEST_F(TempDb, DaemonStatusRow) {
  Database db(path());
  migrate(db);
  SqliteInventoryStore store(db);
  EXPECT_FALSE(store.daemon_status());
  store.save_daemon_status({42, 1, 2, "mqtt://127.0.0.1:1883 as 'x'", true, 10, 1, 3, "", ""});
  store.save_daemon_status({42, 1, 5, "mqtt://127.0.0.1:1883 as 'x'", false, 20, 2, 4, "http://10.0.0.2:8070", "/var/lib/fw"});
  auto s = store.daemon_status();
  ASSERT_TRUE(s);
  EXPECT_EQ("http://10.0.0.2:8070", s->ota_base);
  EXPECT_EQ("/var/lib/fw", s->firmware_dir);
  EXPECT_EQ(5, s->heartbeat_ms);
  EXPECT_FALSE(s->connected);
  EXPECT_EQ(20, s->messages);
}

TEST_F(TempDb, ReaderSeesWritesWhileWriterHoldsTheDatabase) {
  Database writer(path());
  migrate(writer);
  SqliteInventoryStore ws(writer);
  ws.save_devices({sample("AA:00:00:00:00:03")});
  Database reader(path(), Database::Mode::ReadOnly);
  SqliteInventoryStore rs(reader);
  EXPECT_EQ(1u, rs.load_devices().size());
}

TEST_F(TempDb, BackupsAreKeptWholeAndNeverOverwritten) {
  Database db(path("backups.db"));
  migrate(db);
  fleet::store::SqliteBackupStore store(db);
  fleet::backup::BackupRecord r;
  r.device_mac = "AA:BB:CC:DD:EE:01";
  r.topic = "plug";
  r.version = "15.0.1";
  r.chip = "ESP8266";
  r.method = "mqtt";
  r.dmp = {1, 2, 3, 0, 255};
  r.sha256 = "abc";
  r.snapshot = R"({"Module":{"Module":{"18":"Generic"}}})";
  r.taken_ms = 100;
  auto first = store.add(r);
  r.taken_ms = 200;
  auto second = store.add(r);
  r.device_mac = "AA:BB:CC:DD:EE:02";
  r.taken_ms = 150;
  store.add(r);
  auto got = store.get(first);
  ASSERT_TRUE(got);
  EXPECT_EQ((std::vector<std::uint8_t>{1, 2, 3, 0, 255}), got->dmp);
  EXPECT_EQ("plug", got->topic);
  EXPECT_EQ(r.snapshot, got->snapshot);
  EXPECT_EQ(fleet::firmware::sha256_hex(got->dmp), got->sha256);  // computed by the store, not taken from the caller
  auto mine = store.list(std::string("AA:BB:CC:DD:EE:01"));
  ASSERT_EQ(2u, mine.size());
  EXPECT_EQ(second, mine[0].id);  // newest first
  EXPECT_EQ(3u, store.list(std::nullopt).size());
  // The database itself refuses to change a stored file.
  EXPECT_THROW(db.exec("UPDATE backups SET dmp = x'00' WHERE id = " + std::to_string(first)), fleet::store::StoreError);
  // Retention keeps the newest per device and every pinned backup.
  store.pin(first, std::string("job-7"));
  EXPECT_EQ(0, store.prune(1));  // the older one of device 01 is pinned
  store.pin(first, std::nullopt);
  EXPECT_EQ(1, store.prune(1));
  EXPECT_FALSE(store.get(first));
  EXPECT_TRUE(store.get(second));
}
