// Chaos: a 100-device mixed rollout (one and two hops) during which the daemon is killed with SIGKILL at
// 20 seeded random moments and started again each time. Afterwards every device is on the target or failed
// with a reason, the devices' own logs show no Reset 6 or Upgrade 1 more often than their plans say, and
// the database passes PRAGMA integrity_check after every kill. The seed is printed; FLEET_CHAOS_SEED=N
// replays a run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "rollout_world.h"

using it::World;
using nlohmann::json;
using namespace std::chrono_literals;

TEST(Chaos, KilledTwentyTimesMidRolloutNoDeviceGetsADestructiveCommandTwiceNothingIsLost) {
  const char* given = std::getenv("FLEET_CHAOS_SEED");
  std::uint32_t seed = given ? static_cast<std::uint32_t>(std::strtoul(given, nullptr, 10)) : std::random_device{}();
  std::cerr << "chaos seed " << seed << " (FLEET_CHAOS_SEED=" << seed << " replays it)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);
  constexpr int kDevices = 100, kKills = 20;
  World w(it::fleet_of(kDevices));  // even devices on 9.1.0 (one hop to 9.2.0), odd ones on 8.5.1 (two)
  w.start_daemon();
  auto start = w.cli({"rollout", "start", "--all", "--to", "9.2.0", "--canary", "0", "--waves", "100%", "--max-parallel", "20",
                      "--error-threshold", "100%", "--health-window", "1", "--restart-timeout", "15", "--upgrade-timeout", "15",
                      "--web-port", w.web_port});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  auto integrity = [&] {
    auto r = it::run({"sqlite3", w.db, "PRAGMA integrity_check"});
    return r.out;
  };
  std::string at_kills;
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 1500)(rng)));
    int running = 0;
    auto now = w.show(1);  // (not show(1)["devices"] in the loop: the temporary would be gone)
    for (auto& d : now["devices"]) running += d.value("status", "") == "running";
    // Every kill must hit device jobs in flight, else it proves nothing.
    ASSERT_GT(running, 0) << "the rollout ended before kill " << k + 1 << ":" << at_kills << " (seed " << seed << ")";
    at_kills += " " + std::to_string(running);
    w.fleet->stop(SIGKILL);
    ASSERT_EQ("ok\n", integrity()) << "after kill " << k + 1 << " (seed " << seed << ")";
    std::vector<std::string> argv{it::fleet_bin(), "serve", "--db", w.db, "--log-level", "info", "--broker", w.broker.url(), "--firmware-dir", w.fw,
                                  "--ota-listen", "127.0.0.1:" + std::to_string(w.ota_port)};
    w.fleet = std::make_unique<it::Process>(argv, w.dir.path(fmt::format("fleet-{}.log", k + 1)));
    ASSERT_TRUE(it::wait_until([&] { return it::port_open(w.ota_port); }, 20s)) << w.fleet->log();
  }
  std::cerr << "chaos: device jobs running at each kill:" << at_kills << "\n";
  // Left alone now: the rollout ends.
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 240s)) << w.show(1).dump(1) << " seed " << seed;
  auto shown = w.show(1);
  int finished = 0, failed = 0;
  for (auto& d : shown["devices"]) {
    std::string name = d["name"], status = d["status"];
    int index = std::stoi(name.substr(3));
    int hops = index % 2 == 0 ? 1 : 2;
    if (status == "finished") {
      ++finished;
    } else {
      ++failed;
      EXPECT_EQ("error", status) << d.dump();
      EXPECT_FALSE(d.value("reason", "").empty()) << "failed without a reason: " << d.dump();
      std::cerr << "chaos: " << name << " failed: " << d.value("reason", "") << "\n";
    }
    // The devices' side: never more destructive commands than the plan's hops.
    EXPECT_LE(w.count(name, "Reset 6"), hops) << name << " seed " << seed;
    EXPECT_LE(w.count(name, "Upgrade 1"), hops) << name << " seed " << seed;
  }
  std::cerr << "chaos: " << finished << " finished, " << failed << " failed with a reason\n";
  EXPECT_EQ(kDevices, finished + failed);
  EXPECT_GT(finished, kDevices / 2) << "most devices get through " << kKills << " kills";
  // The finished ones run the target, by their own account.
  ASSERT_TRUE(it::wait_until([&] { return w.on_version("9.2.0") >= finished; }, 30s));
  EXPECT_EQ("ok\n", integrity());
}

// Two daemons on one database (and one broker): the first drives the rollout, the second waits for its
// lease; killed, the first hands the rollout to the second at once (same host, its process gone), which
// finishes it from the stored job states, its own OTA server now serving the images.
TEST(Chaos, TwoDaemonsOnOneDatabaseKillingTheDriverHandsTheRolloutToTheOther) {
  World w(it::fleet_of(8));
  w.start_daemon({"--client-id", "fleet-a"}, "fleet-a.log");
  auto start = w.cli({"rollout", "start", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "2", "--health-window", "1",
                      "--restart-timeout", "15", "--upgrade-timeout", "15", "--web-port", w.web_port});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  // The first drives (its jobs have begun) before the second starts: else either may take the lease first.
  ASSERT_TRUE(it::wait_until([&] { return w.count("dev0", "Reset 6") + w.count("dev1", "Reset 6") > 0; }, 30s));
  int port_b = it::free_port();
  std::vector<std::string> argv{it::fleet_bin(), "serve", "--db", w.db, "--log-level", "info", "--broker", w.broker.url(), "--firmware-dir", w.fw,
                                "--ota-listen", "127.0.0.1:" + std::to_string(port_b), "--client-id", "fleet-b"};
  auto b = std::make_unique<it::Process>(argv, w.dir.path("fleet-b.log"));
  ASSERT_TRUE(it::wait_until([&] { return it::port_open(port_b); }, 20s)) << b->log();
  // Both run; only the first drives: the second leaves the rollout alone while the lease is held.
  std::this_thread::sleep_for(2s);
  auto audit_text = [&] {
    std::string all;
    for (auto& e : w.audit(1)) all += e.value("text", "") + "\n";
    return all;
  };
  EXPECT_EQ(std::string::npos, audit_text().find("taken over")) << "the second daemon must wait while the first holds the lease";
  ASSERT_EQ("running", w.show(1).value("status", "")) << "killed mid-rollout";
  w.fleet->stop(SIGKILL);
  ASSERT_TRUE(it::wait_until([&] { return audit_text().find("taken over from") != std::string::npos; }, 15s)) << b->log();
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 180s)) << w.show(1).dump(1) << b->log();
  auto shown = w.show(1);
  int finished = 0;
  for (auto& d : shown["devices"]) {
    std::string name = d["name"];
    int hops = std::stoi(name.substr(3)) % 2 == 0 ? 1 : 2;
    if (d["status"] == "finished") ++finished;
    else EXPECT_FALSE(d.value("reason", "").empty()) << d.dump();
    EXPECT_LE(w.count(name, "Reset 6"), hops) << name;
    EXPECT_LE(w.count(name, "Upgrade 1"), hops) << name;
  }
  EXPECT_GE(finished, 6) << shown.dump(1);  // at most the jobs mid-download from the killed server fail
  // The jobs the second daemon resumed fetch from its own OTA server.
  EXPECT_NE(std::string::npos, b->log().find("127.0.0.1:" + std::to_string(port_b))) << b->log();
  int from_b = 0;
  for (int i = 0; i < 8; ++i) from_b += w.count(fmt::format("dev{}", i), "OtaUrl http://127.0.0.1:" + std::to_string(port_b) + "/");
  EXPECT_GT(from_b, 0) << "the devices were pointed at the second daemon's OTA server (devices' side)\n" << audit_text();
}
