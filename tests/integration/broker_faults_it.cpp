// The broker goes away in the middle of a rollout (docs/rollouts.md, "When the broker goes away"): a short
// restart and an outage longer than a step's timeout. Devices and daemon reconnect; the jobs' clock stands
// still while the broker is away. From the devices' side no step is repeated and none skipped: a finished
// device received Reset 6, OtaUrl and Upgrade 1 once each, in that order. A command sent in the moment the
// broker died may never have reached its device: that job fails with the reason, its device having had
// nothing after the unconfirmed command, and nothing destructive is sent again.
#include <gtest/gtest.h>

#include <set>

#include "rollout_world.h"

using it::World;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The order of the job's commands a device received: each of Reset 6, OtaUrl <image>, Upgrade 1 once, in order.
std::string sequence(World& w, const std::string& device) {
  std::string out;
  for (auto& r : it::received_by(w.dir.path("received.log"), device)) {
    if (r.command == "Reset 6") out += "R";
    else if (r.command.rfind("OtaUrl http://127.0.0.1", 0) == 0) out += "O";
    else if (r.command == "Upgrade 1") out += "U";
  }
  return out;
}

// Every device finished with the whole sequence, or failed with the reason after a command the outage may
// have swallowed (then nothing followed it); the devices that had their Reset 6 before the outage finish.
void expect_no_step_repeated_or_skipped(World& w, const std::set<std::string>& reset_before) {
  auto shown = w.show(1);
  for (auto& d : shown["devices"]) {
    std::string name = d["name"], seq = sequence(w, name);
    if (d["status"] == "finished") {
      EXPECT_EQ("ROU", seq) << name << w.cli({"log", name}).out;
      continue;
    }
    EXPECT_FALSE(reset_before.count(name)) << name << " had its Reset 6 before the outage: " << d.dump() << w.cli({"log", name}).out;
    EXPECT_NE(std::string::npos, d.value("reason", "").find("the broker went away as the command went out")) << d.dump();
    EXPECT_TRUE(seq == "" || seq == "R") << name << ": " << seq;
  }
}

std::set<std::string> reset_devices(World& w) {
  std::set<std::string> out;
  for (std::size_t i = 0; i < w.count_devices; ++i)
    if (w.count(fmt::format("dev{}", i), "Reset 6") > 0) out.insert(fmt::format("dev{}", i));
  return out;
}

json slow_restarts(json devices) {
  for (auto& d : devices) d["faults"] = {{"restart_ms", 3000}};
  return devices;
}

int received_total(World& w, const std::string& command) {
  int n = 0;
  for (std::size_t i = 0; i < w.count_devices; ++i) n += w.count(fmt::format("dev{}", i), command);
  return n;
}

}  // namespace

TEST(BrokerFaults, RestartedMidRolloutEveryDeviceEndsOnTheTargetNoStepRepeatedNoneSkipped) {
  // Restarts of 3 s, as a device's reboot takes seconds: the uptime it reports then tells a restart during
  // the outage from none (whole seconds; UpgradeJob::on_broker_back).
  World w(slow_restarts(it::fleet_of(6, {}, true)));
  w.start_daemon();
  auto start = w.cli({"rollout", "start", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "6", "--health-window", "2",
                      "--restart-timeout", "20", "--upgrade-timeout", "30", "--web-port", w.web_port});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  // In the middle: some devices reset, none upgraded yet.
  ASSERT_TRUE(it::wait_until([&] { return received_total(w, "Reset 6") >= 3; }, 30s)) << w.fleet->log();
  auto before = reset_devices(w);
  w.broker.stop();
  std::this_thread::sleep_for(2s);
  w.broker.start();
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 120s)) << w.show(1).dump(1) << w.fleet->log();
  expect_no_step_repeated_or_skipped(w, before);
  EXPECT_NE(std::string::npos, w.fleet->log().find("connection lost")) << "the broker went away under the daemon";
  ASSERT_TRUE(it::wait_until([&] { return w.on_version("9.2.0") >= static_cast<int>(before.size()); }, 20s));
}

// Down for longer than a restart may take (--restart-timeout 6, the broker away 10 s): the jobs' clock
// stands still while it is away, so the devices that restarted meanwhile are found restarted (their uptime)
// and go on; nothing destructive is sent again, and no step is skipped.
TEST(BrokerFaults, DownLongerThanAStepsTimeoutTheJobsWaitAndGoOn) {
  World w(slow_restarts(it::fleet_of(4, {}, true)));
  w.start_daemon();
  auto start = w.cli({"rollout", "start", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "4", "--health-window", "2",
                      "--restart-timeout", "6", "--upgrade-timeout", "10", "--web-port", w.web_port});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  ASSERT_TRUE(it::wait_until([&] { return received_total(w, "Reset 6") >= 2; }, 30s)) << w.fleet->log();
  auto before = reset_devices(w);
  w.broker.stop();
  std::this_thread::sleep_for(10s);
  w.broker.start();
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 120s)) << w.show(1).dump(1) << w.fleet->log();
  expect_no_step_repeated_or_skipped(w, before);
  auto log = w.cli({"log", "--rollout", "1"}).out;
  EXPECT_NE(std::string::npos, log.find("the broker was away for 1")) << log;  // 10 or 11 s
}
