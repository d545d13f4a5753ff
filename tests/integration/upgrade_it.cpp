// `tasmota-fleet upgrade` end to end: one device taken through its plan (Backup, Reset 6, OtaUrl,
// Upgrade, restart, version and health checks, restore and verification) against the simulator, a real
// mosquitto and the built-in OTA server; and the same upgrade with our process killed (SIGKILL) in the
// middle of it: the next run resumes the job and no destructive command reaches the device twice
// (counted on the broker by an independent mosquitto_sub).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "firmware/synthetic_image.h"
#include "harness.h"
#include "store/database.h"
#include "store/sqlite_job_store.h"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct UpgradeFleet {
  it::TempDir dir;
  it::Broker broker{dir};
  std::string db = dir.path("fleet.db"), fw = dir.path("firmware");
  std::unique_ptr<it::Process> sim, fleet;
  std::string web_port;

  explicit UpgradeFleet(int ota_kbps) {
    it::write_file(dir.path("fleet.json"), R"J({"devices": [
      {"version": "8.5.1", "topic": "plug", "mac": "5C:CF:7F:00:04:01", "ip": "127.0.0.41", "program_kb": 500, "free_kb": 500,
       "settings": {"friendly_names": ["Desk Lamp"], "tele_period": 60,
                    "template": {"NAME": "Lamp", "GPIO": [17, 255, 0, 0, 0, 0, 0, 0, 21, 56, 22, 0, 0], "FLAG": 0, "BASE": 18}}}]})J");
    auto image = fleet::firmware::make_image({fleet::planner::Chip::ESP8266, "9.1.0", "tasmota", 300 * 1024, true});
    std::ofstream(dir.path("t910.bin.gz"), std::ios::binary).write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    auto add = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path("t910.bin.gz"), "--version", "9.1.0", "--build", "tasmota"});
    EXPECT_EQ(0, add.status) << add.err;
    sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port"),
                                            "--ota-kbps", std::to_string(ota_kbps), "--command-log", dir.path("received.log")});
    web_port = it::read_file(dir.path("web.port"));
    web_port.erase(web_port.find_last_not_of('\n') + 1);
    int ota_port = it::free_port();
    // The daemon keeps the inventory and serves the images; the command line drives the upgrade in-process.
    fleet = it::start_fleet(dir, {"--broker", broker.url(), "--firmware-dir", fw, "--ota-listen", "127.0.0.1:" + std::to_string(ota_port),
                                  "--no-rollouts"});
    EXPECT_TRUE(it::wait_until([&] { return it::complete(db, 1) && it::port_open(ota_port); }, 30s)) << fleet->log();
  }

  std::vector<std::string> upgrade_args() {
    // A short health window keeps the test quick; the window's rules are unit-tested (upgrade_job_test).
    return {it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn", "upgrade", "plug", "--to", "9.1.0", "--web-port", web_port,
            "--health-window", "5"};
  }

  // What the device received, from the simulator's side (whichever topic it came on).
  int count(const std::string& device, const std::string& command) { return it::received(dir.path("received.log"), device, command); }

  json device() { return it::by_mac(it::devices(db), "5C:CF:7F:00:04:01"); }

  json exported_latest() {
    auto run = [&](std::vector<std::string> args) {
      std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn"};
      argv.insert(argv.end(), args.begin(), args.end());
      return it::run(argv);
    };
    EXPECT_TRUE(it::wait_until([&] { return device().value("online", false); }, 20s));
    auto b = run({"backup", "plug", "--no-snapshot", "--web-port", web_port});
    EXPECT_EQ(0, b.status) << b.out;
    auto list = json::parse(run({"backups", "plug", "--json"}).out);
    return json::parse(run({"backup", "export", std::to_string(list[0]["id"].get<int>()), "--format", "json"}).out);
  }
};

}  // namespace

TEST(Upgrade, OneDeviceThroughEveryStepKeepingItsSettings) {
  UpgradeFleet f(0);
  auto r = it::run(f.upgrade_args());
  EXPECT_EQ(0, r.status) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("plug: upgraded to 9.1.0, settings restored and verified")) << r.out;
  EXPECT_EQ(1, f.count("plug", "Reset 6"));
  EXPECT_EQ(1, f.count("plug", "Upgrade 1"));
  auto j = f.exported_latest();
  EXPECT_EQ("9.1.0", j["header"]["version"]);
  EXPECT_EQ("Desk Lamp", j["friendlyname"][0]);
  EXPECT_EQ(60, j["tele_period"]);
  EXPECT_EQ(32, j["user_template"]["gpio"][0]);
  // The job and its history are kept.
  fleet::store::Database db(f.db);
  fleet::store::SqliteJobStore jobs(db);
  auto recent = jobs.recent();
  ASSERT_EQ(1u, recent.size());
  EXPECT_EQ("done", recent[0].status);
  auto events = jobs.events(recent[0].id);
  EXPECT_NE(events.end(), std::find(events.begin(), events.end(), "Reset 6"));
  // The health window ran against the device, and the job says what it saw.
  EXPECT_NE(events.end(), std::find_if(events.begin(), events.end(), [](const std::string& e) {
              return e.rfind("health: ", 0) == 0 && e.find(" observations over ") != std::string::npos &&
                     e.find("restart reason Software/System restart") != std::string::npos;
            }));
  EXPECT_NE(events.end(), std::find(events.begin(), events.end(), "OtaUrl put back"));
  auto listed = json::parse(it::run({it::fleet_bin(), "jobs", "--db", f.db, "--json"}).out);
  ASSERT_EQ(1u, listed.size());
  EXPECT_EQ("done", listed[0]["status"]);
  EXPECT_EQ("plug", listed[0]["device"]);
  EXPECT_EQ("9.1.0", listed[0]["state"]["current_version"]);
  auto shown = it::run({it::fleet_bin(), "jobs", "--db", f.db, std::to_string(listed[0]["id"].get<int>())});
  EXPECT_NE(std::string::npos, shown.out.find("Upgrade 1 to 9.1.0")) << shown.out;
  // Nothing left to do: a second run says so.
  auto again = it::run(f.upgrade_args());
  EXPECT_EQ(0, again.status) << again.out;
  EXPECT_NE(std::string::npos, again.out.find("nothing to do")) << again.out;
}

TEST(Upgrade, KilledMidwayAndResumedWithoutRepeatingResetOrUpgrade) {
  UpgradeFleet f(40);  // 300 KB at 40 KB/s: the download takes several seconds
  it::Process first(f.upgrade_args(), f.dir.path("first.log"));
  // Kill it while the device downloads: Upgrade 1 is out, the job waits for the restart.
  ASSERT_TRUE(it::wait_until([&] { return f.count("plug", "Upgrade 1") == 1; }, 30s)) << first.log();
  std::this_thread::sleep_for(500ms);
  first.stop(SIGKILL);
  {
    fleet::store::Database db(f.db);
    auto running = fleet::store::SqliteJobStore(db).running_for("5C:CF:7F:00:04:01");
    ASSERT_TRUE(running) << "the killed run left its job running";
    auto state = json::parse(running->state);
    EXPECT_TRUE(state["sent"].get<bool>()) << state.dump();  // the state said "Upgrade 1 may be out" before it went out
  }
  // Meanwhile the device is that job's: a backup or restore from the command line is refused, and
  // sends it nothing (a FileDownload after its Reset 6 would take the blank settings for a backup).
  int downloads = f.count("plug", "FileDownload");
  for (std::vector<std::string> cmd : {std::vector<std::string>{"backup", "plug", "--web-port", f.web_port},
                                       std::vector<std::string>{"restore", "plug", "--web-port", f.web_port}}) {
    std::vector<std::string> argv{it::fleet_bin(), "--db", f.db, "--broker", f.broker.url(), "--log-level", "warn"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = it::run(argv);
    EXPECT_EQ(1, r.status) << r.out << r.err;
    EXPECT_NE(std::string::npos, r.out.find("upgrade job #1 is running on it (rollout #1)")) << r.out;
  }
  EXPECT_EQ(downloads, f.count("plug", "FileDownload"));
  auto second = it::run(f.upgrade_args());
  EXPECT_EQ(0, second.status) << second.out << second.err;
  EXPECT_NE(std::string::npos, second.out.find("resuming rollout #1")) << second.out;
  EXPECT_NE(std::string::npos, second.out.find("taken over from")) << second.out;  // the killed run's lease, at once
  EXPECT_NE(std::string::npos, second.out.find("resuming upgrade job")) << second.out;
  EXPECT_NE(std::string::npos, second.out.find("Upgrade 1 may have gone out before the interruption")) << second.out;
  EXPECT_EQ(1, f.count("plug", "Reset 6"));
  EXPECT_EQ(1, f.count("plug", "Upgrade 1"));
  auto j = f.exported_latest();
  EXPECT_EQ("9.1.0", j["header"]["version"]);
  EXPECT_EQ("Desk Lamp", j["friendlyname"][0]);
  EXPECT_EQ(32, j["user_template"]["gpio"][0]);
}
