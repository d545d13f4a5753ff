#pragma once
// A rollout's world for integration tests: a mosquitto of its own, the simulator with a fleet file, a
// firmware store with the images, the daemon, and the command line; what devices received is read from
// the simulator's command log.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "firmware/synthetic_image.h"
#include "harness.h"

namespace it {

using nlohmann::json;
using namespace std::chrono_literals;

// `n` ESP8266 devices dev0…dev<n-1>: even ones on 9.1.0, odd ones on 8.5.1 (two hops to 9.2.0 through
// the 9.1 checkpoint's lite build, docs/planner.md); `sensors` makes these indexes the sensors build.
inline json fleet_of(int n, std::set<int> sensors = {}, bool all_91 = false) {
  json devices = json::array();
  for (int i = 0; i < n; ++i) {
    json d = {{"version", all_91 || i % 2 == 0 ? "9.1.0" : "8.5.1"}, {"topic", fmt::format("dev{}", i)},
              {"mac", fmt::format("5C:CF:7F:00:05:{:02X}", i)}, {"ip", fmt::format("127.0.0.{}", 50 + i)},
              {"program_kb", 500}, {"free_kb", 500}, {"settings", {{"friendly_names", {fmt::format("Dev {}", i)}}}}};
    if (sensors.count(i)) d["build"] = "sensors";
    devices.push_back(d);
  }
  return devices;
}

struct World {
  it::TempDir dir;
  it::Broker broker;
  std::string db = dir.path("fleet.db"), fw = dir.path("firmware"), web_port;
  int ota_port = it::free_port();
  std::unique_ptr<it::Process> sim, fleet;
  std::size_t count_devices;

  World(const json& devices, std::vector<std::string> sim_extra = {}, bool images = true)
      : broker(dir), count_devices(devices.size()) {
    it::write_file(dir.path("fleet.json"), json{{"devices", devices}}.dump());
    if (images) {  // what 9.1.0 and 8.5.1 devices need to reach 9.2.0
      add_image("9.1.0", "tasmota-lite");
      add_image("9.2.0", "tasmota");
    }
    std::vector<std::string> args{"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port"),
                                  "--command-log", dir.path("received.log")};
    args.insert(args.end(), sim_extra.begin(), sim_extra.end());
    sim = it::start_sim(dir, broker.url(), args);
    web_port = it::read_file(dir.path("web.port"));
    web_port.erase(web_port.find_last_not_of('\n') + 1);
  }

  // A synthetic image in the store: gzipped for an ESP8266, plain for an ESP32 (which takes no .gz).
  void add_image(const std::string& version, const std::string& build, fleet::planner::Chip chip = fleet::planner::Chip::ESP8266) {
    bool gz = chip == fleet::planner::Chip::ESP8266;
    auto image = fleet::firmware::make_image({chip, version, build, 300 * 1024, gz});
    auto file = dir.path(version + "-" + build + (gz ? ".bin.gz" : ".bin"));
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    auto add = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", file, "--version", version, "--build", build});
    ASSERT_EQ(0, add.status) << add.err;
  }

  // `serve` with its OTA server on our port; extra: --no-rollouts, --client-id …
  void start_daemon(std::vector<std::string> extra = {}, std::string log = "fleet.log", int port = 0) {
    std::vector<std::string> argv{it::fleet_bin(), "serve", "--db", db, "--log-level", "info", "--broker", broker.url(), "--firmware-dir", fw,
                                  "--ota-listen", "127.0.0.1:" + std::to_string(port ? port : ota_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    fleet = std::make_unique<it::Process>(argv, dir.path(log));
    ASSERT_TRUE(it::wait_until([&] { return it::complete(db, count_devices) && it::port_open(port ? port : ota_port); }, 60s)) << fleet->log();
  }

  std::vector<std::string> cli_args(std::vector<std::string> args) {
    std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  it::RunResult cli(std::vector<std::string> args) { return it::run(cli_args(std::move(args))); }

  // What the device received, from the simulator's side (whichever topic it came on).
  int count(const std::string& device, const std::string& command) { return it::received(dir.path("received.log"), device, command); }
  json show(int id) { return json::parse(cli({"rollout", "show", std::to_string(id), "--json"}).out, nullptr, false); }
  json audit(int id) { return json::parse(cli({"log", "--rollout", std::to_string(id), "--json"}).out, nullptr, false); }
  std::map<std::string, std::string> statuses(int id) {
    std::map<std::string, std::string> out;
    auto shown = show(id);  // (not show(id)["devices"] in the loop: the temporary would be gone)
    for (auto& d : shown["devices"]) out[d["name"].get<std::string>()] = d["status"].get<std::string>();
    return out;
  }
  int on_version(const std::string& v) {
    int n = 0;
    for (auto& d : it::devices(db)) n += d.value("version", "") == v;
    return n;
  }
};


}  // namespace it
