// A staged rollout driven by the daemon through its control API: a mixed fleet of six simulated
// devices, a canary then two waves, at most two device jobs at once. What the devices received is
// counted from the broker (an independent mosquitto_sub), the order from the audit log.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "firmware/synthetic_image.h"
#include "harness.h"

using nlohmann::json;
using namespace std::chrono_literals;

TEST(Rollout, CanaryThenWavesNeverMoreThanMaxParallelEveryDeviceOnTheTarget) {
  it::TempDir dir;
  it::Broker broker{dir};
  std::string db = dir.path("fleet.db"), fw = dir.path("firmware");
  json devices = json::array();
  for (int i = 0; i < 6; ++i)
    devices.push_back({{"version", i % 2 ? "8.5.1" : "9.1.0"}, {"topic", "dev" + std::to_string(i)},
                       {"mac", "5C:CF:7F:00:05:0" + std::to_string(i)}, {"ip", "127.0.0.5" + std::to_string(i)},
                       {"program_kb", 500}, {"free_kb", 500}, {"settings", {{"friendly_names", {"Dev " + std::to_string(i)}}}}});
  it::write_file(dir.path("fleet.json"), json{{"devices", devices}}.dump());
  // 8.5.1 devices go through the 9.1 checkpoint (its lite build): two hops (docs/planner.md).
  for (auto [v, build] : {std::pair<std::string, std::string>{"9.1.0", "tasmota-lite"}, {"9.2.0", "tasmota"}}) {
    auto image = fleet::firmware::make_image({fleet::planner::Chip::ESP8266, v, build, 300 * 1024, true});
    std::ofstream(dir.path(v + ".bin.gz"), std::ios::binary).write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    auto add = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path(v + ".bin.gz"), "--version", v, "--build", build});
    ASSERT_EQ(0, add.status) << add.err;
  }
  auto sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port")});
  auto web_port = it::read_file(dir.path("web.port"));
  web_port.erase(web_port.find_last_not_of('\n') + 1);
  int ota_port = it::free_port();
  auto fleet = it::start_fleet(dir, {"--broker", broker.url(), "--firmware-dir", fw, "--ota-listen", "127.0.0.1:" + std::to_string(ota_port)});
  ASSERT_TRUE(it::wait_until([&] { return it::complete(db, 6) && it::port_open(ota_port); }, 30s)) << fleet->log();
  it::Process watch({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t", "cmnd/#", "-v"}, dir.path("commands.log"));
  std::this_thread::sleep_for(300ms);

  // Through the daemon: the CLI finds it online and asks over the control API.
  auto r = it::run({it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn", "rollout", "start", "--all", "--to", "9.2.0",
                    "--canary", "1", "--waves", "50%,100%", "--max-parallel", "2", "--web-port", web_port, "--health-window", "3", "--follow"});
  EXPECT_EQ(0, r.status) << r.out << r.err << fleet->log();
  auto shown = json::parse(it::run({it::fleet_bin(), "--db", db, "rollout", "show", "1", "--json"}).out);
  EXPECT_EQ("finished", shown["status"]);
  EXPECT_EQ(6, shown["counts"]["finished"]) << shown.dump(2);
  for (auto& d : shown["devices"]) EXPECT_EQ("finished", d["status"]) << d.dump();
  EXPECT_EQ(3u, shown["groups"].size());
  // Every device on the target, told so by the devices themselves.
  ASSERT_TRUE(it::wait_until([&] {
    auto list = it::devices(db);
    int on = 0;
    for (auto& d : list) on += d.value("version", "") == "9.2.0";
    return on == 6;
  }, 20s));
  // Each device received Reset 6 and Upgrade 1 exactly once per hop of its plan.
  auto commands = it::read_file(dir.path("commands.log"));
  for (int i = 0; i < 6; ++i) {
    for (std::string c : {"Reset 6", "Upgrade 1"}) {
      std::string line = "cmnd/dev" + std::to_string(i) + "/" + c;
      int n = 0;
      for (auto at = commands.find(line); at != std::string::npos; at = commands.find(line, at + 1)) ++n;
      EXPECT_EQ(i % 2 ? 2 : 1, n) << line;
    }
  }
  // From the audit log: the canary finished before any other device started; never more than 2 in flight.
  auto log = json::parse(it::run({it::fleet_bin(), "--db", db, "log", "--rollout", "1", "--json"}).out);
  std::string canary = shown["devices"][0]["mac"];
  std::int64_t canary_done = -1;
  int in_flight = 0, peak = 0;
  for (auto& e : log) {
    if (e["kind"] != "state" || e["mac"].is_null()) continue;
    std::string text = e["text"];
    if (text.rfind("started upgrade job", 0) == 0) {
      if (e["mac"] != canary) {
        EXPECT_GE(canary_done, 0) << "a wave device started before the canary finished: " << e.dump();
      }
      peak = std::max(peak, ++in_flight);
    }
    if (text.rfind("finished", 0) == 0 || text.rfind("error", 0) == 0) {
      --in_flight;
      if (e["mac"] == canary) canary_done = e["id"];
    }
  }
  EXPECT_GE(canary_done, 0);
  EXPECT_EQ(2, peak);
  // The retained state topic of the rollout says so to every client.
  auto state = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t", "tasmota-fleet/v1/rollouts/1", "-C", "1", "-W", "5"});
  EXPECT_EQ("finished", json::parse(state.out).value("status", "")) << state.out;
  auto status = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t", "tasmota-fleet/v1/status", "-C", "1", "-W", "5"});
  EXPECT_EQ("online\n", status.out);
}
