// Staged rollouts end to end: a real mosquitto, the simulator, the real daemon (or the command line
// driving the rollout in-process). What the devices received is counted from the devices' side (the
// simulator's command log, whichever topic a command came on), the order of events from the audit log (`tasmota-fleet log`).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <csignal>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include <httplib.h>

#include "../ha_schema.h"
#include "firmware/synthetic_image.h"
#include "harness.h"
#include "rollout_world.h"

using nlohmann::json;
using namespace std::chrono_literals;

using it::World;
using it::fleet_of;

TEST(Rollout, CanaryThenWavesNeverMoreThanMaxParallelEveryDeviceOnTheTarget) {
  World w(fleet_of(6));
  w.start_daemon();
  // Through the daemon: the CLI finds it online and asks over the control API.
  auto r = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "1", "--waves", "50%,100%", "--max-parallel", "2", "--web-port",
                  w.web_port, "--follow"});
  EXPECT_EQ(0, r.status) << r.out << r.err << w.fleet->log();
  auto shown = w.show(1);
  EXPECT_EQ("finished", shown["status"]);
  EXPECT_EQ(6, shown["counts"]["finished"]) << shown.dump(2);
  for (auto& d : shown["devices"]) EXPECT_EQ("finished", d["status"]) << d.dump();
  EXPECT_EQ(3u, shown["groups"].size());
  // Every device on the target, told so by the devices themselves.
  ASSERT_TRUE(it::wait_until([&] { return w.on_version("9.2.0") == 6; }, 20s));
  // Each device received Reset 6 and Upgrade 1 exactly once per hop of its plan.
  for (int i = 0; i < 6; ++i)
    for (std::string c : {"Reset 6", "Upgrade 1"}) EXPECT_EQ(i % 2 ? 2 : 1, w.count(fmt::format("dev{}", i), c)) << i << " " << c;
  // From the audit log: the canary finished before any other device started; never more than 2 in flight.
  std::string canary = shown["devices"][0]["mac"];
  std::int64_t canary_done = -1;
  int in_flight = 0, peak = 0;
  for (auto& e : w.audit(1)) {
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
  // The retained state topics say so to every client.
  auto state = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(w.broker.port()), "-t", "tasmota-fleet/v1/rollouts/1", "-C", "1", "-W", "5"});
  EXPECT_EQ("finished", json::parse(state.out, nullptr, false).value("status", "")) << state.out;
  auto job = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(w.broker.port()), "-t", "tasmota-fleet/v1/devices/5C:CF:7F:00:05:01/job",
                      "-C", "1", "-W", "5"});
  auto jj = json::parse(job.out, nullptr, false);
  EXPECT_EQ("finished", jj.value("status", "")) << job.out;
  EXPECT_EQ(100, jj.value("percent", 0)) << job.out;
  auto status = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(w.broker.port()), "-t", "tasmota-fleet/v1/status", "-C", "1", "-W", "5"});
  EXPECT_EQ("online\n", status.out);
  // A clean stop says offline, retained.
  w.fleet->stop();
  status = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(w.broker.port()), "-t", "tasmota-fleet/v1/status", "-C", "1", "-W", "5"});
  EXPECT_EQ("offline\n", status.out);
}

TEST(Rollout, InProcessTheErrorConditionPausesResumeGoesOnRetryRerunsOnlyTheFailures) {
  // dev1 and dev2 are sensors builds with no sensors image in the store: their preflight fails.
  World w(fleet_of(6, {1, 2}, true));
  w.start_daemon({"--no-rollouts"});  // inventory and OTA server only: the command line drives the rollout
  auto start = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "1", "--max-parallel", "1", "--error-threshold", "1",
                      "--web-port", w.web_port, "--follow"});
  EXPECT_EQ(1, start.status) << start.out << start.err;
  EXPECT_NE(std::string::npos, start.out.find("is paused: group 2 crossed its error condition: 2 of 5 devices failed")) << start.out;
  auto st = w.statuses(1);
  EXPECT_EQ("finished", st["dev0"]);  // the canary
  EXPECT_EQ("error", st["dev1"]);
  EXPECT_EQ("error", st["dev2"]);
  EXPECT_EQ("scheduled", st["dev3"]);
  EXPECT_EQ("scheduled", st["dev4"]);
  EXPECT_NE(std::string::npos, w.show(1)["devices"][1]["reason"].get<std::string>().find("tasmota-sensors.bin.gz is not in the firmware store"));
  // A device refused by its preflight, or not started yet, was sent nothing of a job (the inventory's own
  // Status 0 query aside).
  for (auto d : {"dev1", "dev3"})
    for (auto c : {"FileDownload", "Reset", "OtaUrl", "Upgrade"}) EXPECT_EQ(0, w.count(d, c)) << d << " " << c;
  // resume: the rest of the wave; the rollout finishes with its two failures.
  auto resumed = w.cli({"rollout", "resume", "1", "--follow"});
  EXPECT_EQ(1, resumed.status) << resumed.out << resumed.err;
  st = w.statuses(1);
  EXPECT_EQ("finished", st["dev3"]);
  EXPECT_EQ("finished", st["dev5"]);
  EXPECT_EQ("finished", w.show(1)["status"]);
  // retry: only the failed devices, now that their image is there.
  w.add_image("9.2.0", "tasmota-sensors");
  auto retried = w.cli({"rollout", "retry", "1", "--follow"});
  EXPECT_EQ(0, retried.status) << retried.out << retried.err;
  auto shown = w.show(1);
  EXPECT_EQ(6, shown["counts"]["finished"]) << shown.dump(2);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Reset 6")) << i;
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Upgrade 1")) << i;
  }
  EXPECT_EQ(2, shown["devices"][1]["attempt"]);
  EXPECT_EQ(1, shown["devices"][3]["attempt"]);
  ASSERT_TRUE(it::wait_until([&] { return w.on_version("9.2.0") == 6; }, 20s));
}

TEST(Rollout, AbortLetsTheDeviceInFlightFinishItsHopAndCancelsTheRest) {
  World w(fleet_of(4, {}, true), {"--ota-kbps", "60"});  // 300 KB at 60 KB/s: a download takes seconds
  w.start_daemon();
  auto start = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "1", "--web-port", w.web_port, "--json"});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  EXPECT_EQ(1, json::parse(start.out)["id"]);
  ASSERT_TRUE(it::wait_until([&] { return w.count("dev0", "Upgrade 1") == 1; }, 30s)) << w.fleet->log();
  auto aborted = w.cli({"rollout", "abort", "1", "--json"});
  ASSERT_EQ(0, aborted.status) << aborted.out << aborted.err;
  EXPECT_EQ("stopped", json::parse(aborted.out)["status"]);
  // The device mid-OTA is not abandoned: its hop is finished (upgraded, restored, verified).
  ASSERT_TRUE(it::wait_until([&] { return w.statuses(1)["dev0"] == "finished"; }, 60s)) << w.fleet->log();
  auto st = w.statuses(1);
  for (auto d : {"dev1", "dev2", "dev3"}) EXPECT_EQ("cancelled", st[d]) << d;
  for (auto d : {"dev1", "dev2", "dev3"})
    for (auto c : {"FileDownload", "Reset", "OtaUrl", "Upgrade"}) EXPECT_EQ(0, w.count(d, c)) << d << " " << c;
  EXPECT_EQ(1, w.count("dev0", "Reset 6"));
  EXPECT_EQ("stopped", w.show(1)["status"]);
  auto again = w.cli({"rollout", "abort", "1"});
  EXPECT_EQ(2, again.status);
  EXPECT_NE(std::string::npos, again.err.find("is stopped already")) << again.err;
}

TEST(Rollout, ADaemonStartedMidwayTakesOverFromAKilledCommandLine) {
  World w(fleet_of(3, {}, true), {"--ota-kbps", "60"});
  w.start_daemon({"--no-rollouts"});
  it::Process cli(w.cli_args({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "1", "--web-port", w.web_port,
                              "--follow"}),
                  w.dir.path("cli.log"));
  ASSERT_TRUE(it::wait_until([&] { return w.count("dev0", "Upgrade 1") == 1; }, 30s)) << cli.log();
  cli.stop(SIGKILL);
  // A full daemon (its own client id and OTA port) is started while the first goes on serving dev0's image.
  auto keep = std::move(w.fleet);
  w.start_daemon({"--client-id", "fleet-2"}, "fleet2.log", it::free_port());
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 90s)) << w.fleet->log();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Reset 6")) << i;
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Upgrade 1")) << i;
  }
  bool taken = false;
  for (auto& e : w.audit(1)) taken = taken || e["text"].get<std::string>().find("taken over from") != std::string::npos;
  EXPECT_TRUE(taken);
  EXPECT_EQ(3, w.show(1)["counts"]["finished"]);
}

// What systemd does at `systemctl stop` (the packaged unit's KillSignal): the daemon does not leave the
// device mid-OTA (its OTA server would go with it, and the device is between Reset 6 and its restore):
// that job runs on to its safe point (here its hop done, settings restored), nothing new starts, and
// the daemon exits 0 with its lease released. Started again, it goes on with the rest; no device is
// sent Reset 6 or Upgrade 1 a second time.
TEST(Rollout, SigtermMidOtaFinishesThatDeviceStartsNoOtherAndARestartGoesOn) {
  World w(fleet_of(2, {}, true), {"--ota-kbps", "60"});
  w.start_daemon();
  auto start = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "1", "--web-port", w.web_port, "--json"});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  ASSERT_TRUE(it::wait_until([&] { return w.count("dev0", "Upgrade 1") == 1; }, 30s)) << w.fleet->log();
  EXPECT_EQ(0, w.fleet->stop(SIGTERM, 60s)) << w.fleet->log();
  EXPECT_NE(std::string::npos, w.fleet->log().find("stopping: 1 device job in flight first reach a safe point")) << w.fleet->log();
  auto stopped = w.show(1);
  EXPECT_EQ("running", stopped["status"]);        // not ended: it waits for the next driver
  EXPECT_TRUE(stopped["lease_owner"].is_null());  // released, so that one takes it at once
  auto st = w.statuses(1);
  EXPECT_EQ("finished", st["dev0"]);
  EXPECT_EQ("scheduled", st["dev1"]);
  for (auto c : {"FileDownload", "Reset", "OtaUrl", "Upgrade"}) EXPECT_EQ(0, w.count("dev1", c)) << c;
  EXPECT_EQ(1, w.on_version("9.2.0"));
  w.fleet.reset();
  w.start_daemon();
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 90s)) << w.fleet->log();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Reset 6")) << i;
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Upgrade 1")) << i;
  }
  EXPECT_EQ(2, w.show(1)["counts"]["finished"]);
  EXPECT_EQ(2, w.on_version("9.2.0"));
}

TEST(Rollout, TheBrokersAclDecidesWhoMayStartARollout) {
  it::BrokerOptions bo;
  bo.username = "fleet";
  bo.password = "fleet-pw";
  bo.more_users = {{"admin", "admin-pw"}, {"viewer", "viewer-pw"}};
  bo.acl =
      "user fleet\ntopic readwrite #\n\n"
      "user admin\ntopic write tasmota-fleet/v1/control\ntopic read tasmota-fleet/v1/#\n\n"
      "user viewer\ntopic read tasmota-fleet/v1/#\n";
  it::TempDir dir;
  it::Broker broker(dir, bo);
  std::string db = dir.path("fleet.db");
  it::Process fleet({it::fleet_bin(), "serve", "--db", db, "--broker", broker.url(), "--username", "fleet", "--password", "fleet-pw", "--no-ota"},
                    dir.path("fleet.log"));
  auto pub = [&](const std::string& user, const std::string& pw, const std::string& payload) {
    return it::run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-u", user, "-P", pw, "-t",
                    "tasmota-fleet/v1/control", "-m", payload, "-q", "1"});
  };
  auto sub = [&](const std::string& topic) {
    return it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-u", "viewer", "-P", "viewer-pw", "-t", topic,
                    "-C", "1", "-W", "5"});
  };
  ASSERT_EQ("online\n", sub("tasmota-fleet/v1/status").out) << fleet.log();
  auto rollouts = [&] { return json::parse(it::run({it::fleet_bin(), "rollout", "list", "--db", db, "--json"}).out, nullptr, false); };
  // The viewer may read the state but not publish on the control topic: the broker drops it.
  pub("viewer", "viewer-pw", R"({"command":"rollout.start","devices":"all","to":"latest","name":"by-viewer"})");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(0u, rollouts().size()) << rollouts().dump();
  pub("admin", "admin-pw", R"({"command":"rollout.start","devices":"all","to":"latest","name":"by-admin"})");
  ASSERT_TRUE(it::wait_until([&] { return rollouts().size() == 1; }, 10s)) << fleet.log();
  EXPECT_EQ("by-admin", rollouts()[0]["name"]);
  // Its state is there for the viewer to read.
  auto state = json::parse(sub("tasmota-fleet/v1/rollouts/1").out, nullptr, false);
  EXPECT_EQ("by-admin", state.value("name", "")) << state.dump();
}

// A copied configuration: two real devices on topic dev0. Both obey cmnd/dev0/…, so every job command goes
// to the device's own fallback topic cmnd/<MqttClient>_fb/ (Tasmota's GetTopic_P: it answers there too,
// on stat/<MqttClient>_fb/), and each twin is upgraded exactly once, from the devices' side.
TEST(Rollout, TwoDevicesOnOneTopicAreEachUpgradedThroughTheirOwnFallbackTopic) {
  auto devices = fleet_of(2, {}, true);
  json twin = devices[0];
  twin["mac"] = "5C:CF:7F:00:05:10";
  twin["ip"] = "127.0.0.60";
  twin["copied_topic"] = true;
  devices.push_back(twin);
  World w(devices);
  w.start_daemon();
  ASSERT_TRUE(it::wait_until([&] { return it::devices(w.db).size() == 3; }, 10s));
  // Named, the topic is ambiguous: the request is refused whole.
  auto named = w.cli({"rollout", "start", "--health-window", "2", "dev0", "dev1", "--to", "9.2.0", "--web-port", w.web_port});
  EXPECT_EQ(2, named.status) << named.out;
  EXPECT_NE(std::string::npos, named.err.find("'dev0' is ambiguous: 2 devices")) << named.err;
  auto r = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "0", "--web-port", w.web_port, "--follow"});
  EXPECT_EQ(0, r.status) << r.out << r.err;
  auto shown = w.show(1);
  for (auto& d : shown["devices"]) EXPECT_EQ("finished", d["status"]) << shown.dump(2);
  for (std::string mac : {"5C:CF:7F:00:05:00", "5C:CF:7F:00:05:10"}) {
    std::string fallback = "cmnd/DVES_" + mac.substr(9, 2) + mac.substr(12, 2) + mac.substr(15, 2) + "_fb/";
    EXPECT_EQ(1, it::received(w.dir.path("received.log"), mac, "Reset 6")) << mac;
    EXPECT_EQ(1, it::received(w.dir.path("received.log"), mac, "Upgrade 1")) << mac;
    for (auto& got : it::received_by(w.dir.path("received.log"), mac)) {
      // Only the inventory's Status query went to the shared topic; every job command to the fallback.
      if (got.topic.rfind("cmnd/dev0/", 0) == 0) EXPECT_EQ("STATUS 0", got.command) << mac;
      else EXPECT_EQ(0u, got.topic.rfind(fallback, 0)) << mac << " " << got.topic << " " << got.command;
    }
  }
  bool noted = false;
  for (auto& e : w.audit(1)) noted = noted || e["text"].get<std::string>().find("is also used by") != std::string::npos;
  EXPECT_TRUE(noted) << "the conflict is in the audit log";
}

// The issue's fleet: 24 devices from 5.14 to 15.x, ESP8266 and three ESP32 variants, several builds,
// some with SetOption4 (replies on stat/<topic>/<COMMAND>), rolled out to the latest release with test
// images for every hop of every plan. Devices whose settings cannot be validated (before 6.0) end failed
// with the reason and are sent nothing destructive.
TEST(Rollout, AMixedFleetOf24ToTheLatestRelease) {
  const std::vector<std::tuple<std::string, std::string, std::string>> kinds = {
      {"5.14.0", "", ""},           {"6.7.1", "", ""},          {"7.2.0", "", ""},
      {"8.5.1", "", ""},            {"9.1.0", "", ""},          {"9.5.0", "", ""},
      {"10.1.0", "ir", ""},         {"12.5.0", "sensors", ""},  {"13.4.0", "tasmota32", "ESP32"},
      {"14.2.0", "tasmota32c3", "ESP32-C3"}, {"14.2.0", "tasmota32s3", "ESP32-S3"}, {"15.0.1", "lite", ""}};
  json devices = json::array();
  for (int i = 0; i < 24; ++i) {
    auto& [version, build, chip] = kinds[static_cast<std::size_t>(i) % kinds.size()];
    json d = {{"version", version}, {"topic", fmt::format("dev{:02}", i)}, {"mac", fmt::format("5C:CF:7F:00:06:{:02X}", i)},
              {"ip", fmt::format("127.0.0.{}", 100 + i)}, {"settings", {{"friendly_names", {fmt::format("Dev {}", i)}}, {"set_option4", i % 3 == 0}}}};
    if (!build.empty()) d["build"] = build;
    if (!chip.empty()) {  // room as an ESP32 with the default partitions has it
      d["chip"] = chip;
      d["program_kb"] = 1650;
      d["free_kb"] = 1230;
      d["flash_kb"] = 4096;
    }
    devices.push_back(d);
  }
  World w(devices, {}, false);
  w.start_daemon();
  auto plans = w.cli({"plan", "--all", "--to", "latest", "--json"});
  it::write_file(w.dir.path("plans.json"), plans.out);
  auto made = it::run({it::sim_bin(), "--make-images-for", w.dir.path("plans.json"), "--image-dir", w.dir.path("images")});
  ASSERT_EQ(0, made.status) << made.err;
  std::istringstream lines(made.out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    ASSERT_EQ(5u, f.size()) << line;
    auto add = w.cli({"--firmware-dir", w.fw, "firmware", "add", f[4], "--version", f[1], "--build", f[2], "--chip", f[3], "--path", f[0]});
    ASSERT_EQ(0, add.status) << add.out << add.err;
  }
  auto r = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "latest", "--canary", "1", "--waves", "25%,100%", "--max-parallel", "6",
                  "--web-port", w.web_port, "--follow"});
  EXPECT_EQ(1, r.status) << "the 5.14 devices fail" << r.out << r.err;
  auto shown = w.show(1);
  EXPECT_EQ("finished", shown["status"]) << shown.dump(2);
  auto planned = json::parse(plans.out);
  std::string latest = planned[1]["target"];
  ASSERT_TRUE(it::wait_until([&] { return w.on_version(latest) == 22; }, 30s)) << w.show(1).dump(2);
  for (auto& d : shown["devices"]) {
    std::string name = d["name"];
    int i = std::stoi(name.substr(3));
    if (i % 12 == 0) {
      EXPECT_EQ("error", d["status"]) << name;
      EXPECT_NE(std::string::npos, d["reason"].get<std::string>().find("no valid backup, nothing destructive was done")) << d.dump();
      EXPECT_EQ(0, w.count(name, "Upgrade")) << name;
      continue;
    }
    EXPECT_EQ("finished", d["status"]) << d.dump();
    // What the device received, from the broker: Reset 6 once per hop that has it, Upgrade 1 once per hop.
    json plan;
    for (auto& p : planned)
      if (p["device"] == name) plan = p;
    int resets = 0;
    for (auto& h : plan["hops"])
      for (auto& s : h["steps"]) resets += s == "Reset6";
    EXPECT_EQ(resets, w.count(name, "Reset 6")) << name;
    EXPECT_EQ(static_cast<int>(plan["hops"].size()), w.count(name, "Upgrade 1")) << name;
  }
  int in_flight = 0, peak = 0;
  for (auto& e : w.audit(1)) {
    if (e["kind"] != "state" || e["mac"].is_null()) continue;
    std::string text = e["text"];
    if (text.rfind("started upgrade job", 0) == 0) peak = std::max(peak, ++in_flight);
    if (text.rfind("finished", 0) == 0 || text.rfind("error", 0) == 0) --in_flight;
  }
  EXPECT_LE(peak, 6);
  EXPECT_GE(peak, 2);
}

TEST(Rollout, DeviceBackupOverTheControlApi) {
  World w(fleet_of(1, {}, true), {}, false);
  w.start_daemon();
  const std::string port = std::to_string(w.broker.port());
  it::Process reply({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "tasmota-fleet/v1/replies/t", "-C", "2", "-v"}, w.dir.path("reply.log"));
  std::this_thread::sleep_for(500ms);
  it::publish(w.broker.port(), "tasmota-fleet/v1/control",
              R"({"command":"device.backup","device":"dev0","request_id":"b1","reply_to":"tasmota-fleet/v1/replies/t","access":{"web_port":)" +
                  w.web_port + "}}");
  it::publish(w.broker.port(), "tasmota-fleet/v1/control",
              R"({"command":"device.backup","device":"nobody","request_id":"b2","reply_to":"tasmota-fleet/v1/replies/t"})");
  ASSERT_TRUE(it::wait_until([&] { return it::read_file(w.dir.path("reply.log")).find("b2") != std::string::npos; }, 10s));
  auto replies = it::read_file(w.dir.path("reply.log"));
  EXPECT_NE(std::string::npos, replies.find(R"("status":"started")")) << replies;
  EXPECT_NE(std::string::npos, replies.find("unknown device 'nobody'")) << replies;
  json outcome;
  ASSERT_TRUE(it::wait_until([&] {
    auto r = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "tasmota-fleet/v1/devices/5C:CF:7F:00:05:00/backup", "-C", "1", "-W", "2"});
    outcome = json::parse(r.out, nullptr, false);
    return outcome.is_object();
  }, 20s));
  EXPECT_EQ("done", outcome.value("status", "")) << outcome.dump();
  auto list = json::parse(w.cli({"backups", "dev0", "--json"}).out);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(outcome["id"], list[0]["id"]);
  EXPECT_EQ("9.1.0", list[0]["version"]);
}

namespace {
// One sample of a Prometheus text page: the number on the line `name{labels} value` (labels exactly as
// rendered, "" for none); nullopt when the page has no such line.
std::optional<double> sample(const std::string& page, const std::string& name, const std::string& labels = "") {
  std::istringstream in(page);
  std::string line, key = labels.empty() ? name + " " : name + "{" + labels + "} ";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  return std::nullopt;
}
}  // namespace

// serve --metrics-listen, scraped as Prometheus would: the devices by version, chip and online state
// as the simulator runs them, the backup's age, a rollout's commands, downloads and bytes, the jobs by
// status; /healthz healthy, then 503 naming the broker once the broker is gone.
TEST(Rollout, MetricsAndHealthAsAScraperSeesThem) {
  World w(fleet_of(3));  // dev0 and dev2 on 9.1.0, dev1 on 8.5.1
  int port = it::free_port();
  w.start_daemon({"--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  httplib::Client http("127.0.0.1", port);
  auto get = [&](const char* path) -> std::pair<int, std::string> {
    auto r = http.Get(path);
    return r ? std::pair(r->status, r->body) : std::pair(0, std::string());
  };
  std::string page;
  ASSERT_TRUE(it::wait_until([&] {
    page = get("/metrics").second;
    return sample(page, "tasmota_fleet_devices", R"(version="9.1.0",chip="ESP8266",online="true")") == 2.0;
  }, 20s)) << page;
  EXPECT_EQ(1.0, sample(page, "tasmota_fleet_devices", R"(version="8.5.1",chip="ESP8266",online="true")")) << page;
  EXPECT_NE(std::string::npos, page.find("# TYPE tasmota_fleet_commands_sent_total counter\n")) << page;
  EXPECT_EQ(1.0, sample(page, "tasmota_fleet_broker_connected"));
  EXPECT_EQ(1.0, sample(page, "tasmota_fleet_database_writable"));
  EXPECT_EQ(0.0, sample(page, "tasmota_fleet_commands_sent_total"));
  auto health = get("/healthz");
  EXPECT_EQ(200, health.first);
  EXPECT_NE(std::string::npos, health.second.find(R"("broker_connected":true)")) << health.second;

  auto up = w.cli({"upgrade", "dev0", "--to", "9.2.0", "--health-window", "1", "--web-port", w.web_port});
  ASSERT_EQ(0, up.status) << up.out << up.err;
  const double sent_by_dev0 = it::received_by(w.dir.path("received.log"), "dev0").size();
  ASSERT_TRUE(it::wait_until([&] {
    page = get("/metrics").second;
    return sample(page, "tasmota_fleet_device_jobs", R"(status="done")") == 1.0 && sample(page, "tasmota_fleet_commands_sent_total") > 0.0;
  }, 10s)) << page;
  // Every command the job sent reached the device (counted on its side); the inventory's own Status
  // queries are not device-job commands.
  EXPECT_LE(*sample(page, "tasmota_fleet_commands_sent_total"), sent_by_dev0) << page;
  EXPECT_GE(*sample(page, "tasmota_fleet_commands_sent_total"), 10.0) << page;
  EXPECT_EQ(1.0, sample(page, "tasmota_fleet_ota_downloads_total", R"(outcome="complete")")) << page;
  EXPECT_GE(*sample(page, "tasmota_fleet_ota_bytes_sent_total"), 300.0 * 1024 * 0.5) << page;  // a gzipped 300 KB image
  EXPECT_EQ(1.0, sample(page, "tasmota_fleet_rollouts", R"(status="finished")")) << page;
  auto age = sample(page, "tasmota_fleet_backup_age_seconds", R"(mac="5C:CF:7F:00:05:00",topic="dev0")");
  ASSERT_TRUE(age) << page;
  EXPECT_GE(*age, 0.0);
  EXPECT_LT(*age, 120.0);
  EXPECT_FALSE(sample(page, "tasmota_fleet_backup_age_seconds", R"(mac="5C:CF:7F:00:05:01",topic="dev1")")) << "dev1 has no backup";

  w.broker.stop();
  ASSERT_TRUE(it::wait_until([&] { return get("/healthz").first == 503; }, 10s));
  health = get("/healthz");
  EXPECT_NE(std::string::npos, health.second.find(R"("broker_connected":false)")) << health.second;
  EXPECT_NE(std::string::npos, health.second.find(R"("database_writable":true)")) << health.second;
}

namespace {
// Retained messages under a filter, as a client arriving now gets them: topic -> payload.
std::map<std::string, std::string> retained(int port, const std::string& filter) {
  auto r = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t", filter, "-v", "--retained-only", "-W", "1"});
  std::map<std::string, std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto space = line.find(' ');
    if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}
}  // namespace

// Home Assistant's side, with a real broker and the daemon: a firmware update entity per device whose
// discovery config attaches it to the device by MAC, a state with the installed and latest versions and
// the staged path, Install running the staged upgrade (counted on the device's side), the state
// following the job, and every config sent again when Home Assistant announces itself online.
TEST(Rollout, HomeAssistantInstallRunsTheStagedUpgradeAndTheStateFollowsIt) {
  World w(fleet_of(2, {}, true), {"--ota-kbps", "100"}, false);
  auto plan = json::parse(w.cli({"plan", "--from", "9.1.0", "--build", "tasmota", "--to", "latest", "--json"}).out)[0];
  const std::string latest = plan["target"];
  for (auto& h : plan["hops"]) w.add_image(h["version"], h["build"]);
  w.start_daemon({"--web-port", w.web_port, "--health-window", "1"});
  const int port = w.broker.port();
  const std::string mac = "5C:CF:7F:00:05:00", state_topic = "tasmota-fleet/v1/devices/" + mac + "/update";
  std::map<std::string, std::string> configs;
  ASSERT_TRUE(it::wait_until([&] {
    configs = retained(port, "homeassistant/#");
    return configs.size() >= 6 && retained(port, state_topic).size() == 1;
  }, 10s)) << configs.size();
  for (auto& [topic, payload] : configs) ha_schema::expect_valid_config("homeassistant", topic, json::parse(payload, nullptr, false));
  auto config = json::parse(configs["homeassistant/update/tasmota_fleet/5ccf7f000500_firmware/config"], nullptr, false);
  ASSERT_TRUE(config.is_object()) << configs.begin()->first;
  EXPECT_EQ("firmware", config["device_class"]);
  EXPECT_EQ("Firmware (staged upgrade)", config["name"]);
  EXPECT_EQ(json::parse(R"([["mac", "5c:cf:7f:00:05:00"]])"), config["device"]["connections"]);
  EXPECT_EQ("tasmota-fleet/v1/devices/" + mac + "/install", config["command_topic"]);
  for (auto t : {"homeassistant/update/tasmota_fleet/5ccf7f000501_firmware/config", "homeassistant/sensor/tasmota_fleet/rollout/config",
                 "homeassistant/button/tasmota_fleet/rollout_pause/config", "homeassistant/button/tasmota_fleet/rollout_resume/config",
                 "homeassistant/button/tasmota_fleet/rollout_abort/config"})
    EXPECT_TRUE(configs.count(t)) << t;
  auto state = json::parse(retained(port, state_topic)[state_topic]);
  ha_schema::expect_valid_update_state(state);
  EXPECT_EQ("9.1.0", state["installed_version"]);
  EXPECT_EQ(latest, state["latest_version"]);
  EXPECT_FALSE(state["in_progress"].get<bool>());
  EXPECT_NE(std::string::npos, state["release_summary"].get<std::string>().find("1 hop (9.1.0 > " + latest + ")")) << state.dump();

  // Install, as Home Assistant sends it; the state is watched live meanwhile.
  it::Process watch({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t", state_topic}, w.dir.path("states.log"));
  std::this_thread::sleep_for(300ms);
  it::publish(port, "tasmota-fleet/v1/devices/" + mac + "/install", "install");
  ASSERT_TRUE(it::wait_until([&] { return json::parse(retained(port, state_topic)[state_topic], nullptr, false).value("installed_version", "") == latest; }, 60s))
      << w.fleet->log();
  EXPECT_EQ(1, w.count("dev0", "Reset 6"));
  EXPECT_EQ(1, w.count("dev0", "Upgrade 1"));
  EXPECT_EQ(0, w.count("dev1", "Reset 6"));
  ASSERT_TRUE(it::wait_until([&] { return w.statuses(1)["dev0"] == "finished"; }, 10s));  // its settings restored and verified
  bool verified = false;
  for (auto& e : w.audit(1)) verified = verified || e["text"].get<std::string>().find("verified: every compared field matches") != std::string::npos;
  EXPECT_TRUE(verified);
  ASSERT_TRUE(it::wait_until([&] { return !json::parse(retained(port, state_topic)[state_topic]).value("in_progress", true); }, 10s));
  bool seen_in_progress = false;
  std::istringstream states(it::read_file(w.dir.path("states.log")));
  for (std::string line; std::getline(states, line);) {
    auto s = json::parse(line, nullptr, false);
    ha_schema::expect_valid_update_state(s);
    if (s.is_object() && s.value("in_progress", false)) {
      seen_in_progress = true;
      EXPECT_TRUE(s["update_percentage"].is_number()) << line;
    }
  }
  EXPECT_TRUE(seen_in_progress) << it::read_file(w.dir.path("states.log"));

  // Home Assistant restarted: its birth message brings every config again (live, not only retained).
  it::Process live({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-t", "homeassistant/+/tasmota_fleet/#", "-F", "%r %t"},
                   w.dir.path("live.log"));
  std::this_thread::sleep_for(300ms);
  it::publish(port, "homeassistant/status", "online");
  ASSERT_TRUE(it::wait_until([&] {
    auto l = it::read_file(w.dir.path("live.log"));
    return l.find("0 homeassistant/update/tasmota_fleet/5ccf7f000501_firmware/config") != std::string::npos &&
           l.find("0 homeassistant/sensor/tasmota_fleet/rollout/config") != std::string::npos;
  }, 5s)) << it::read_file(w.dir.path("live.log"));
}

// The fleet device's buttons act on the current rollout, its sensor follows it, and every entity goes
// unavailable when the daemon is killed (its LWT on the availability topic).
TEST(Rollout, HomeAssistantRolloutButtonsAndAvailability) {
  World w(fleet_of(3, {}, true), {"--ota-kbps", "60"});
  w.start_daemon();
  const int port = w.broker.port();
  auto start = w.cli({"rollout", "start", "--all", "--to", "9.2.0", "--canary", "0", "--max-parallel", "1", "--health-window", "1",
                      "--web-port", w.web_port, "--json"});
  ASSERT_EQ(0, start.status) << start.err;
  auto current = [&] {
    auto j = json::parse(retained(port, "tasmota-fleet/v1/rollouts/current")["tasmota-fleet/v1/rollouts/current"], nullptr, false);
    return j.is_object() ? j : json::object();
  };
  ASSERT_TRUE(it::wait_until([&] { return current().value("status", "") == "running"; }, 10s));
  EXPECT_EQ(1, current()["id"]);
  it::publish(port, "tasmota-fleet/v1/rollouts/current/set", "pause");
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "paused"; }, 10s)) << w.fleet->log();
  ASSERT_TRUE(it::wait_until([&] { return current().value("status", "") == "paused"; }, 5s));
  it::publish(port, "tasmota-fleet/v1/rollouts/current/set", "resume");
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "running"; }, 10s)) << w.fleet->log();
  it::publish(port, "tasmota-fleet/v1/rollouts/current/set", "reboot");  // not a button of ours: ignored
  it::publish(port, "tasmota-fleet/v1/rollouts/current/set", "abort");
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "stopped"; }, 10s)) << w.fleet->log();
  EXPECT_NE(std::string::npos, w.fleet->log().find("rollout button 'reboot' ignored")) << w.fleet->log();
  // Our own topics (the configs we published coming back, control requests) are ours, not unknown senders.
  EXPECT_EQ(std::string::npos, w.fleet->log().find("ignoring topic 'homeassistant/")) << w.fleet->log();
  EXPECT_EQ(std::string::npos, w.fleet->log().find("ignoring topic 'tasmota-fleet/")) << w.fleet->log();

  EXPECT_EQ("online", retained(port, "tasmota-fleet/v1/status")["tasmota-fleet/v1/status"]);
  w.fleet->stop(SIGKILL);
  // The broker sends the last will once the dead session's keep-alive runs out.
  ASSERT_TRUE(it::wait_until([&] { return retained(port, "tasmota-fleet/v1/status")["tasmota-fleet/v1/status"] == "offline"; }, 60s));
  auto config = json::parse(retained(port, "homeassistant/update/tasmota_fleet/5ccf7f000500_firmware/config")
                                ["homeassistant/update/tasmota_fleet/5ccf7f000500_firmware/config"]);
  EXPECT_EQ("tasmota-fleet/v1/status", config["availability_topic"]);
  EXPECT_EQ("offline", config.value("payload_not_available", "offline"));
}

// forget: an online device is refused (it would come back at once); a retired one leaves the
// inventory and Home Assistant (its retained config and state emptied), through the daemon, and also
// when it was forgotten while no daemon ran (cleared when the daemon starts and sees its config).
TEST(Rollout, AForgottenDeviceLeavesTheInventoryAndHomeAssistant) {
  World w(fleet_of(3, {}, true), {}, false);
  w.start_daemon();
  const int port = w.broker.port();
  auto config_of = [](int i) { return fmt::format("homeassistant/update/tasmota_fleet/5ccf7f0005{:02x}_firmware/config", i); };
  ASSERT_TRUE(it::wait_until([&] { return retained(port, "homeassistant/update/#").size() == 3; }, 10s));
  auto online = w.cli({"forget", "dev1"});
  EXPECT_EQ(1, online.status);
  EXPECT_NE(std::string::npos, online.out.find("it is online")) << online.out << online.err;
  w.sim->stop(SIGKILL);  // the fleet goes away: the broker sends each device's LWT Offline
  ASSERT_TRUE(it::wait_until([&] {
    auto d = it::devices(w.db);
    return d.size() == 3 && std::none_of(d.begin(), d.end(), [](const json& x) { return x.value("online", true); });
  }, 20s));
  auto gone = w.cli({"forget", "dev1"});
  EXPECT_EQ(0, gone.status) << gone.out << gone.err;
  ASSERT_TRUE(it::wait_until([&] { return retained(port, "homeassistant/update/#").size() == 2; }, 10s));
  auto left = retained(port, "homeassistant/update/#");
  EXPECT_TRUE(left.count(config_of(0)) && left.count(config_of(2)));
  EXPECT_TRUE(retained(port, "tasmota-fleet/v1/devices/5C:CF:7F:00:05:01/update").empty());
  EXPECT_EQ(2u, it::devices(w.db).size());
  bool audited = false;
  for (auto& e : json::parse(w.cli({"log", "--json"}).out)) audited = audited || e["text"] == "forgotten: taken out of the inventory";
  EXPECT_TRUE(audited);

  // Without a daemon: the row goes at once, the entity when the next daemon sees its config.
  w.fleet->stop(SIGTERM);
  auto offline = w.cli({"forget", "dev2"});
  EXPECT_EQ(0, offline.status) << offline.out << offline.err;
  EXPECT_EQ(1u, it::devices(w.db).size());
  // (Not start_daemon: that waits for the devices to be online, and these stay off.)
  w.fleet = std::make_unique<it::Process>(std::vector<std::string>{it::fleet_bin(), "serve", "--db", w.db, "--broker", w.broker.url(), "--firmware-dir",
                                                                   w.fw, "--ota-listen", "127.0.0.1:0"},
                                          w.dir.path("fleet2.log"));
  ASSERT_TRUE(it::wait_until([&] { return retained(port, "homeassistant/update/#").size() == 1; }, 10s)) << w.fleet->log();
  EXPECT_TRUE(retained(port, "homeassistant/update/#").count(config_of(0)));
}

TEST(Rollout, HomeAssistantDiscoveryOffPublishesNoConfig) {
  World w(fleet_of(1, {}, true), {}, false);
  w.start_daemon({"--ha-discovery", "off"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(retained(w.broker.port(), "homeassistant/#").empty());
  auto bad = it::run({it::fleet_bin(), "serve", "--db", w.db, "--ha-discovery", "maybe"});
  EXPECT_EQ(2, bad.status);
  EXPECT_NE(std::string::npos, bad.err.find("--ha-discovery: on or off")) << bad.err;
}

// The Node-RED flow shipped in docs/examples, loaded into a real Node-RED (from npm, headless, its own
// settings and flow files, on a free loopback port) as a user would import it, only pointed at this
// test's broker and given this test's rollout request: its Start inject starts a rollout through the
// control API, the device jobs move (seen from the devices' side), its progress node reports the
// rollout, and its Pause inject pauses it.
TEST(Rollout, TheShippedNodeRedFlowStartsARolloutShowsItsProgressAndPausesIt) {
  auto install = it::run({std::string(FLEET_SOURCE_DIR) + "/scripts/install-node-red.sh"});
  ASSERT_EQ(0, install.status) << install.err;
  std::string node_red = install.out.substr(0, install.out.find('\n'));
  World w(fleet_of(4, {}, true), {"--ota-kbps", "60"});
  w.start_daemon();
  auto flow = json::parse(it::read_file(std::string(FLEET_SOURCE_DIR) + "/docs/examples/node-red-rollout.json"));
  for (auto& n : flow) {
    if (n["type"] == "mqtt-broker") n["port"] = std::to_string(w.broker.port());
    if (n["id"] == "fleet_start") {
      auto request = json::parse(n["payload"].get<std::string>());
      EXPECT_EQ("rollout.start", request["command"]);
      request.update(json{{"to", "9.2.0"}, {"canary", 0}, {"waves", "100%"}, {"max_parallel", 1}, {"health_window_s", 2},
                          {"access", {{"web_port", std::stoi(w.web_port)}}}});
      n["payload"] = request.dump();
    }
  }
  it::write_file(w.dir.path("flows.json"), flow.dump());
  const int ui = it::free_port();
  it::write_file(w.dir.path("settings.js"), fmt::format(R"(module.exports = {{ uiHost: "127.0.0.1", uiPort: {}, flowFile: "{}",
    userDir: "{}", credentialSecret: false, logging: {{ console: {{ level: "info" }} }} }};)", ui, w.dir.path("flows.json"), w.dir.path("node-red")));
  it::Process nr({node_red, "--settings", w.dir.path("settings.js"), "--userDir", w.dir.path("node-red")}, w.dir.path("node-red.log"));
  ASSERT_TRUE(it::wait_until([&] { return nr.log().find("Connected to broker") != std::string::npos; }, 60s)) << nr.log();
  httplib::Client admin("127.0.0.1", ui);
  auto pressed = admin.Post("/inject/fleet_start");
  ASSERT_TRUE(pressed) << nr.log();
  EXPECT_EQ(200, pressed->status);
  ASSERT_TRUE(it::wait_until([&] { return w.count("dev0", "Upgrade 1") == 1; }, 30s)) << nr.log() << w.fleet->log();
  ASSERT_TRUE(it::wait_until([&] { return nr.log().find("rollout #1 running: ") != std::string::npos; }, 10s)) << nr.log();
  auto paused = admin.Post("/inject/fleet_pause");
  ASSERT_TRUE(paused);
  EXPECT_EQ(200, paused->status);
  ASSERT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "paused"; }, 10s)) << nr.log();
  ASSERT_TRUE(it::wait_until([&] { return w.show(1)["counts"]["running"] == 0; }, 60s));
  ASSERT_TRUE(it::wait_until([&] { return nr.log().find("rollout #1 paused: ") != std::string::npos; }, 10s)) << nr.log();
  EXPECT_EQ(0, w.count("dev3", "Reset 6"));  // paused before its turn
  EXPECT_EQ("scheduled", w.statuses(1)["dev3"]);
}

TEST(Rollout, SkipPoweredWaitsUntilTheRelayIsOff) {
  auto devices = fleet_of(2, {}, true);
  devices[0]["power"] = true;  // something is plugged in and on: a restart would cut it
  World w(devices);
  w.start_daemon();
  ASSERT_TRUE(it::wait_until([&] {  // (null until its first STATE)
    auto power = it::by_mac(it::devices(w.db), "5C:CF:7F:00:05:00")["power"];
    return power.is_string() && power == "ON";
  }, 20s));
  auto start = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--canary", "0", "--skip-powered", "--web-port",
                      w.web_port, "--json"});
  ASSERT_EQ(0, start.status) << start.out << start.err;
  ASSERT_TRUE(it::wait_until([&] { return w.statuses(1)["dev1"] == "finished"; }, 60s));
  EXPECT_EQ("scheduled", w.statuses(1)["dev0"]);
  EXPECT_EQ(0, w.count("dev0", "Reset"));
  bool waited = false;
  for (auto& e : w.audit(1)) waited = waited || e["text"].get<std::string>().find("its relay is on") != std::string::npos;
  EXPECT_TRUE(waited);
  it::publish(w.broker.port(), "cmnd/dev0/Power", "OFF");
  ASSERT_TRUE(it::wait_until([&] { return w.statuses(1)["dev0"] == "finished"; }, 60s)) << w.show(1).dump(2);
  EXPECT_EQ(1, w.count("dev0", "Reset 6"));  // none before the relay was off (checked above), one after
  EXPECT_TRUE(it::wait_until([&] { return w.show(1).value("status", "") == "finished"; }, 5s));
}

TEST(Rollout, ExitStatusSaysBadUsageApartFromARuntimeFailure) {
  it::TempDir dir;
  auto unknown_option = it::run({it::fleet_bin(), "rollout", "start", "--no-such-option"});
  EXPECT_EQ(2, unknown_option.status) << unknown_option.err;
  auto bad_value = it::run({it::fleet_bin(), "--db", dir.path("f.db"), "--broker", "mqtt://127.0.0.1:1", "rollout", "start", "--all",
                            "--max-parallel", "0", "--dry-run"});
  EXPECT_EQ(2, bad_value.status) << bad_value.out << bad_value.err;
  EXPECT_NE(std::string::npos, bad_value.err.find("max_parallel")) << bad_value.err;
  // A database that cannot be opened is not the caller's mistake.
  auto no_db = it::run({it::fleet_bin(), "--db", "/proc/no-such-dir/fleet.db", "rollout", "list"});
  EXPECT_EQ(4, no_db.status) << no_db.err;
  EXPECT_NE(std::string::npos, no_db.err.find("database")) << no_db.err;
  // Nor is a port someone else holds (the packaged unit restarts on it, but not on exit 2).
  it::Broker broker(dir);
  int taken = it::free_port();
  it::Process holder({"mosquitto", "-p", std::to_string(taken)}, dir.path("holder.log"));
  ASSERT_TRUE(it::wait_until([&] { return it::port_open(taken); }, 5s));
  auto busy = it::run({it::fleet_bin(), "serve", "--db", dir.path("f.db"), "--broker", broker.url(), "--no-ota", "--metrics-listen",
                       "127.0.0.1:" + std::to_string(taken), "--exit-after", "1"});
  EXPECT_EQ(4, busy.status) << busy.err;
  EXPECT_NE(std::string::npos, busy.err.find("cannot bind the metrics server")) << busy.err;
}

TEST(Rollout, InPlaceModeUpgradesWithoutReset6AndComparesTheSettings) {
  World w(fleet_of(2, {}, true));
  w.start_daemon();
  auto r = w.cli({"rollout", "start", "--health-window", "2", "--all", "--to", "9.2.0", "--mode", "in-place", "--web-port", w.web_port, "--follow"});
  EXPECT_EQ(0, r.status) << r.out << r.err << w.fleet->log();
  auto shown = w.show(1);
  EXPECT_EQ("finished", shown["status"]) << shown.dump(2);
  EXPECT_EQ(2, shown["counts"]["finished"]) << shown.dump(2);
  ASSERT_TRUE(it::wait_until([&] { return w.on_version("9.2.0") == 2; }, 20s));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(0, w.count(fmt::format("dev{}", i), "Reset")) << i;
    EXPECT_EQ(1, w.count(fmt::format("dev{}", i), "Upgrade 1")) << i;
  }
  // Each device's settings were taken again after its hop and matched its backup.
  int verified = 0;
  for (auto& e : w.audit(1))
    if (e["text"].is_string() && e["text"].get<std::string>().find("verify: the settings are those of backup") != std::string::npos) ++verified;
  EXPECT_EQ(2, verified) << w.audit(1).dump(2);
}
