// Each fault the simulator can give a device (sim/faults.h, docs/simulator.md "Faults") in one rollout:
// every device ends in the state docs/upgrade.md documents for it — finished, failed with the reason, or
// skipped — and nothing is lost: a device whose upgrade failed holds its backup's settings again (`diff`
// against the device, read from the device), and no device received a destructive command more often than
// its plan says (the simulator's command log).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "rollout_world.h"

using it::World;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json esp32(const std::string& topic, int i) {
  return {{"version", "14.2.0"}, {"build", "tasmota32"}, {"chip", "ESP32"}, {"topic", topic}, {"mac", fmt::format("5C:CF:7F:00:06:{:02X}", i)},
          {"ip", fmt::format("127.0.0.{}", 80 + i)}, {"program_kb", 1650}, {"free_kb", 1230},
          {"settings", {{"friendly_names", {fmt::format("Esp {}", i)}}}}};
}

std::map<std::string, json> by_name(const json& shown) {
  std::map<std::string, json> out;
  for (auto& d : shown["devices"]) out[d["name"].get<std::string>()] = d;
  return out;
}

}  // namespace

TEST(Faults, EachFaultEndsInItsDocumentedStateWithNothingLost) {
  json devices = it::fleet_of(10, {}, true);  // dev0…dev9 on 9.1.0: one hop to 9.2.0
  devices[1]["faults"] = {{"never_returns", true}};
  devices[2]["faults"] = {{"keeps_old_version", true}};
  devices[3]["faults"] = {{"boot_loop", 2}};
  devices[4]["faults"] = {{"download_fails", true}};
  devices[5]["faults"] = {{"drop_commands", 2}};
  devices[6]["faults"] = {{"restart_ms", 3000}};
  devices[7]["faults"] = {{"rssi", 10}};
  devices[8]["settings"]["webserver"] = 0;
  devices[9]["faults"] = {{"offline_on", "FileUpload"}, {"offline_ms", 2000}};  // in the middle of the restore
  devices.push_back(esp32("esp0", 0));
  devices.back()["faults"] = {{"safeboot", true}};
  devices.push_back(esp32("esp1", 1));
  devices.back()["faults"] = {{"safeboot", true}, {"download_fails", "Update error: Stream Read Timeout"}};
  World w(devices);
  w.add_image("15.0.1", "tasmota32", fleet::planner::Chip::ESP32);
  w.start_daemon();
  std::vector<std::string> common{"--health-window", "3", "--canary", "0", "--waves", "100%", "--max-parallel", "20", "--error-threshold", "100%",
                                  "--restart-timeout", "8", "--upgrade-timeout", "20", "--offline-timeout", "2", "--min-rssi", "30",
                                  "--web-port", w.web_port, "--follow"};
  auto start = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"rollout", "start"});
    args.insert(args.end(), common.begin(), common.end());
    return w.cli(args);
  };
  auto esp = std::async(std::launch::async, [&] { return start({"esp0", "esp1", "--to", "15.0.1"}); });
  std::this_thread::sleep_for(300ms);  // rollout #1: the ESP32 pair
  auto r1 = start({"dev0", "dev1", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "--to", "9.2.0"});
  auto r2 = esp.get();
  EXPECT_EQ(1, r1.status) << r1.out << r1.err;  // devices failed
  EXPECT_EQ(1, r2.status) << r2.out << r2.err;
  auto shown = by_name(w.show(2));
  auto shown2 = by_name(w.show(1));
  shown.insert(shown2.begin(), shown2.end());
  // name -> the status and the words of the reason (docs/upgrade.md; docs/simulator.md "Faults")
  std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"dev0", {"finished", "runs 9.2.0"}},
      {"dev1", {"error", "the device did not come back within 8 s"}},
      {"dev2", {"error", "expected 9.2.0 after the upgrade, the device reports 9.1.0(tasmota); the settings were restored on 9.1.0"}},
      {"dev3", {"error", "health check failed: the device went offline"}},
      {"dev4", {"error", "Upgrade failed (Failed Update error: ERROR[6]: Stream Read Timeout); the settings were restored on 9.1.0"}},
      {"dev5", {"finished", "runs 9.2.0"}},  // the lost commands were queries: asked again
      {"dev6", {"finished", "runs 9.2.0"}},  // 3 s restarts within --restart-timeout 8
      {"dev7", {"error", "preflight: Wi-Fi RSSI 10 % is below --min-rssi 30 %"}},
      {"dev8", {"error", "no valid backup, nothing destructive was done"}},
      {"dev9", {"finished", "runs 9.2.0"}},  // off the network in the middle of the restore: taken up again
      {"esp0", {"finished", "runs 15.0.1"}},  // through safeboot
      {"esp1", {"error", "Upgrade failed in safeboot (Failed Update error: Stream Read Timeout): the device stays in 14.2.0(release-safeboot)"}},
  };
  for (auto& [name, want] : expected) {
    ASSERT_TRUE(shown.count(name)) << name;
    EXPECT_EQ(want.first, shown[name]["status"]) << name << ": " << shown[name].dump();
    EXPECT_NE(std::string::npos, shown[name].value("reason", "").find(want.second)) << name << ": " << shown[name].dump();
  }
  // From the devices' side: no destructive command more often than the one hop's plan says; none at all
  // where the preflight or the backup stopped the job.
  for (auto& [name, want] : expected) {
    int planned = name == "dev7" || name == "dev8" ? 0 : 1;
    EXPECT_EQ(planned, w.count(name, "Reset 6")) << name;
    EXPECT_EQ(planned, w.count(name, "Upgrade 1")) << name;
  }
  auto dropped = [&](const std::string& name, const std::string& command) {
    int n = 0;
    for (auto& rc : it::received_by(w.dir.path("received.log"), name)) n += rc.dropped && rc.command.rfind(command, 0) == 0;
    return n;
  };
  EXPECT_EQ(1, dropped("dev9", "FileUpload")) << "the fault hit the restore";
  int lost = 0;
  for (auto& rc : it::received_by(w.dir.path("received.log"), "dev5")) lost += rc.dropped;
  EXPECT_EQ(2, lost);
  // The versions the devices report now (the inventory, from their own telemetry).
  ASSERT_TRUE(it::wait_until(
      [&] {
        std::map<std::string, std::string> v;
        for (auto& d : it::devices(w.db)) v[d.value("topic", "")] = d.value("version", "");
        return v["dev0"] == "9.2.0" && v["dev2"] == "9.1.0" && v["dev3"] == "9.2.0" && v["dev4"] == "9.1.0" && v["dev9"] == "9.2.0" &&
               v["esp0"] == "15.0.1";
      },
      20s))
      << it::devices(w.db).dump();
  // Nothing lost: where the device still answers, its settings now equal its newest backup (the hop's,
  // taken before Reset 6), read back from the device.
  for (std::string name : {"dev0", "dev2", "dev3", "dev4", "dev5", "dev9", "esp0"}) {
    auto d = w.cli({"diff", name, "--web-port", w.web_port});
    EXPECT_EQ(0, d.status) << name << ": " << d.out << d.err;
  }
}
