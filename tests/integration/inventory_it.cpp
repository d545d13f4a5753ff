// The inventory end to end: a real mosquitto, tasmota-sim with a fleet of mixed versions, the
// tasmota-fleet daemon and its CLI, a real SQLite file.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"

using it::by_mac;
using it::complete;
using it::devices;
using it::start_fleet;
using it::start_sim;

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kFleet = R"J({"devices": [
  {"version": "5.14.0", "build": "sonoff", "topic": "old514", "mac": "5C:CF:7F:00:00:01", "free_kb": 500},
  {"version": "6.7.1", "build": "sonoff", "topic": "old671", "mac": "5C:CF:7F:00:00:02"},
  {"version": "7.2.0", "build": "tasmota", "topic": "dev720", "mac": "5C:CF:7F:00:00:03", "program_kb": 580, "free_kb": 420},
  {"version": "8.5.1", "build": "tasmota", "topic": "dev851", "mac": "5C:CF:7F:00:00:04"},
  {"version": "9.1.0", "build": "lite", "topic": "dev910", "mac": "5C:CF:7F:00:00:05", "settings": {"set_option4": true}},
  {"version": "9.5.0", "build": "tasmota", "topic": "dev950", "mac": "5C:CF:7F:00:00:06", "flash_kb": 1024},
  {"version": "12.5.0", "build": "sensors", "topic": "dev1250", "mac": "5C:CF:7F:00:00:07"},
  {"version": "14.2.0", "build": "tasmota32c3", "chip": "ESP32-C3", "topic": "c3", "mac": "5C:CF:7F:00:00:08",
   "program_flash_kb": 2880, "program_kb": 1650, "free_kb": 1230},
  {"version": "15.0.1", "build": "tasmota", "topic": "new", "mac": "5C:CF:7F:00:00:09", "ip": "127.0.0.99",
   "settings": {"friendly_name": "Kitchen", "ota_url": "http://127.0.0.1:8080/tasmota.bin.gz"}},
  {"version": "9.1.0.2", "build": "tasmota", "topic": "devbuild", "mac": "5C:CF:7F:00:00:0A"}
]})J";

// A broker, the kFleet devices and a daemon that has taken all ten into its inventory.
struct KnownFleet {
  it::TempDir dir;
  it::Broker broker{dir};
  std::unique_ptr<it::Process> sim;
  std::unique_ptr<it::Process> fleet;
  std::string db = dir.path("fleet.db");

  explicit KnownFleet(std::vector<std::string> serve_args = {}) {
    it::write_file(dir.path("fleet.json"), kFleet);
    sim = start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json")});
    serve_args.insert(serve_args.begin(), {"--broker", broker.url()});
    fleet = start_fleet(dir, serve_args);
    EXPECT_TRUE(it::wait_until([&] { return complete(db, 10); }, 30s)) << fleet->log();
  }
};

}  // namespace

TEST(Inventory, MixedFleetIsRecordedAsTheDevicesReportIt) {
  KnownFleet f;
  auto& [dir, broker, sim, fleet, db] = f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto list = devices(db);
  auto d = [&](const char* mac) { return by_mac(list, mac); };
  EXPECT_EQ("5.14.0", d("5C:CF:7F:00:00:01")["version"]);
  EXPECT_EQ("5.14.0", d("5C:CF:7F:00:00:01")["firmware"]);  // 5.x had no build in its version string
  EXPECT_EQ(500, d("5C:CF:7F:00:00:01")["free_kb"]);
  EXPECT_EQ("6.7.1(sonoff)", d("5C:CF:7F:00:00:02")["firmware"]);
  EXPECT_EQ("sonoff", d("5C:CF:7F:00:00:02")["build"]);
  EXPECT_EQ(580, d("5C:CF:7F:00:00:03")["program_kb"]);
  EXPECT_EQ(420, d("5C:CF:7F:00:00:03")["free_kb"]);
  EXPECT_EQ("lite", d("5C:CF:7F:00:00:05")["build"]);
  EXPECT_EQ(1024, d("5C:CF:7F:00:00:06")["flash_kb"]);
  EXPECT_EQ("12.5.0(release-sensors)", d("5C:CF:7F:00:00:07")["firmware"]);
  EXPECT_EQ("sensors", d("5C:CF:7F:00:00:07")["build"]);
  EXPECT_EQ("ESP32-C3", d("5C:CF:7F:00:00:08")["chip"]);
  EXPECT_EQ("tasmota32c3", d("5C:CF:7F:00:00:08")["build"]);
  EXPECT_EQ(1230, d("5C:CF:7F:00:00:08")["free_kb"]);
  auto n = d("5C:CF:7F:00:00:09");
  EXPECT_EQ("new", n["topic"]);
  EXPECT_EQ("127.0.0.99", n["ip"]);
  EXPECT_EQ("Kitchen", n["friendly_name"]);
  EXPECT_EQ("http://127.0.0.1:8080/tasmota.bin.gz", n["ota_url"]);
  EXPECT_EQ("ESP8266", n["chip"]);
  EXPECT_EQ("Power On", n["restart_reason"]);
  EXPECT_FALSE(n["hostname"].is_null());
  EXPECT_FALSE(n["uptime_s"].is_null());
  EXPECT_EQ("9.1.0.2", d("5C:CF:7F:00:00:0A")["version"]);
  for (const auto& dev : list) EXPECT_EQ(0, dev["bad_payloads"]) << dev["mac"];

  // The table, whether or not the daemon runs.
  auto table = it::run({it::fleet_bin(), "devices", "--db", db});
  EXPECT_EQ(0, table.status);
  EXPECT_NE(std::string::npos, table.out.find("daemon: running"));
  EXPECT_NE(std::string::npos, table.out.find("10 devices, 10 online"));
  EXPECT_EQ(0, fleet->stop(SIGTERM));
  auto after = it::run({it::fleet_bin(), "devices", "--db", db, "dev851"});
  EXPECT_NE(std::string::npos, after.out.find("daemon: not running"));
  EXPECT_NE(std::string::npos, after.out.find("1 devices"));
  EXPECT_NE(std::string::npos, after.out.find("8.5.1"));

  // Devices going away are seen going away.
  sim->stop(SIGKILL);
  fleet = start_fleet(dir, {"--broker", broker.url()});
  EXPECT_TRUE(it::wait_until([&] {
    for (const auto& dev : devices(db)) if (dev["online"].get<bool>()) return false;
    return true;
  }, 20s)) << fleet->log();
}

TEST(Inventory, TopicChangeKeepsTheSameRow) {
  KnownFleet f;
  auto& [dir, broker, sim, fleet, db] = f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto pub = it::run({"mosquitto_pub", "-p", std::to_string(broker.port()), "-t", "cmnd/dev851/Topic", "-m", "hallway"});
  ASSERT_EQ(0, pub.status) << pub.err;
  ASSERT_TRUE(it::wait_until([&] {
    auto d = by_mac(devices(db), "5C:CF:7F:00:00:04");
    return !d.is_null() && d["topic"] == "hallway" && d["online"].get<bool>() && d["boot_count"] == 2;
  }, 20s)) << fleet->log();
  EXPECT_EQ(10u, devices(db).size());
}

TEST(Inventory, CustomFullTopicFromConfigFileAndEnvironment) {
  it::TempDir dir;
  it::Broker broker(dir);
  it::write_file(dir.path("fleet.json"), R"J({"defaults": {"settings": {"full_topic": "tasmota/%topic%/%prefix%/"}},
    "devices": [{"version": "15.0.1", "topic": "a"}, {"version": "8.5.1", "topic": "b"}, {"version": "6.7.1", "topic": "c"}]})J");
  auto sim = start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json")});
  it::write_file(dir.path("fleet.conf"), "full-topic = \"tasmota/%topic%/%prefix%/\"\nclient-id = \"fleet-from-file\"\n");
  auto fleet = start_fleet(dir, {}, {{"TASMOTA_FLEET_CONFIG", dir.path("fleet.conf")}, {"TASMOTA_FLEET_BROKER", broker.url()}});
  ASSERT_TRUE(it::wait_until([&] { return complete(dir.path("fleet.db"), 3); }, 30s)) << fleet->log();
  EXPECT_NE(std::string::npos, fleet->log().find("as 'fleet-from-file'"));
}

TEST(Inventory, TlsBrokerWithPasswordFile) {
  it::TempDir dir;
  const std::string secret = "s3cret-Pa55";
  it::Broker broker(dir, {.tls = true, .username = "fleet", .password = secret});
  it::write_file(dir.path("fleet.json"), kFleet);
  auto sim = start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--ca-file", broker.ca_file(), "--username", "fleet"},
                       {{"TASMOTA_SIM_PASSWORD", secret}});
  it::write_file(dir.path("password"), secret + "\n");
  auto fleet = start_fleet(dir, {"--broker", broker.url(), "--ca-file", broker.ca_file(), "--username", "fleet",
                                 "--password-file", dir.path("password")});
  ASSERT_TRUE(it::wait_until([&] { return complete(dir.path("fleet.db"), 10); }, 30s)) << fleet->log();
  EXPECT_EQ(std::string::npos, fleet->log().find(secret));
  auto table = it::run({it::fleet_bin(), "devices", "--db", dir.path("fleet.db")});
  EXPECT_EQ(std::string::npos, table.out.find(secret));
  EXPECT_NE(std::string::npos, table.out.find("(password set)"));

  // A wrong password is refused by the broker and retried with backoff, never logged.
  it::TempDir other;
  it::write_file(other.path("password"), "wrong-one\n");
  auto bad = std::make_unique<it::Process>(
      std::vector<std::string>{it::fleet_bin(), "serve", "--db", other.path("fleet.db"), "--broker", broker.url(), "--ca-file",
                               broker.ca_file(), "--username", "fleet", "--password-file", other.path("password")},
      other.path("fleet.log"));
  EXPECT_TRUE(it::wait_until([&] { return bad->log().find("retrying in") != std::string::npos; }, 15s)) << bad->log();
  EXPECT_EQ(std::string::npos, bad->log().find("wrong-one"));
  EXPECT_TRUE(bad->running());
}

TEST(Inventory, BrokerRestartDuringIngest) {
  it::TempDir dir;
  it::Broker broker(dir);
  auto sim = start_sim(dir, broker.url(), {"--count", "60", "--tele-scale", "0.005"});
  auto fleet = start_fleet(dir, {"--broker", broker.url()});
  std::string db = dir.path("fleet.db");
  ASSERT_TRUE(it::wait_until([&] { return complete(db, 60); }, 30s)) << fleet->log();
  std::this_thread::sleep_for(1s);
  broker.stop();
  std::this_thread::sleep_for(1500ms);
  auto restarted_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  broker.start();
  // Back on the broker: every device re-asked (fresh Status answer) and telemetry flowing again.
  EXPECT_TRUE(it::wait_until([&] {
    auto list = devices(db);
    if (list.size() != 60) return false;
    for (const auto& d : list)
      if (d["status_at_ms"].get<std::int64_t>() < restarted_ms || d["last_seen_ms"].get<std::int64_t>() < restarted_ms) return false;
    return true;
  }, 45s)) << fleet->log();
  EXPECT_TRUE(fleet->running());
  EXPECT_NE(std::string::npos, fleet->log().find("connection lost"));
  EXPECT_EQ(60u, devices(db).size());
}

TEST(Inventory, HostilePayloadsAreCountedAndLoseNothing) {
  KnownFleet f({"--max-payload", "65536"});
  auto& [dir, broker, sim, fleet, db] = f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto before = by_mac(devices(db), "5C:CF:7F:00:00:09");
  auto port = std::to_string(broker.port());
  auto pub = [&](const std::string& topic, const std::string& payload) {
    return it::run({"mosquitto_pub", "-p", port, "-t", topic, "-m", payload}).status;
  };
  EXPECT_EQ(0, pub("tele/new/STATE", "{not json"));
  EXPECT_EQ(0, pub("tele/new/STATE", std::string(5000, '[')));
  EXPECT_EQ(0, pub("stat/new/STATUS0", R"J({"StatusFWR":{"Version":"DROP TABLE devices"},"StatusNET":{"Mac":"5C:CF:7F:00:00:09","Hostname":7}})J"));
  EXPECT_EQ(0, pub("tele/new/INFO1", R"J({"Info1":{"Version":["x"]}})J"));
  EXPECT_EQ(0, pub("tele/new/LWT", "maybe"));
  it::write_file(dir.path("huge"), std::string(200000, 'x'));
  EXPECT_EQ(0, it::run({"mosquitto_pub", "-p", port, "-t", "tele/new/STATE", "-f", dir.path("huge")}).status);
  EXPECT_EQ(0, pub("some/other/topic/entirely", "hello"));
  ASSERT_TRUE(it::wait_until([&] { return by_mac(devices(db), "5C:CF:7F:00:00:09")["bad_payloads"] == 6; }, 10s))
      << by_mac(devices(db), "5C:CF:7F:00:00:09").dump() << fleet->log();
  auto after = by_mac(devices(db), "5C:CF:7F:00:00:09");
  for (const char* k : {"version", "firmware", "build", "hostname", "topic", "ip", "chip"}) EXPECT_EQ(before[k], after[k]) << k;
  EXPECT_TRUE(after["online"].get<bool>());
  EXPECT_TRUE(fleet->running());
  // Logged once for the device, however many bad payloads it sent.
  auto log = fleet->log();
  size_t mentions = 0;
  for (size_t pos = log.find("bad payload from 'new'"); pos != std::string::npos; pos = log.find("bad payload from 'new'", pos + 1)) ++mentions;
  EXPECT_EQ(1u, mentions) << log;
  // And the daemon keeps working.
  EXPECT_EQ(0, pub("cmnd/dev720/Restart", "1"));
  EXPECT_TRUE(it::wait_until([&] { return by_mac(devices(db), "5C:CF:7F:00:00:03")["boot_count"] == 2; }, 15s));
}

TEST(Inventory, KilledDaemonRestartsFromItsDatabase) {
  KnownFleet f;
  auto& [dir, broker, sim, fleet, db] = f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  fleet->stop(SIGKILL);
  EXPECT_EQ(10u, devices(db).size());  // committed before the kill
  fleet = start_fleet(dir, {"--broker", broker.url()});
  EXPECT_TRUE(it::wait_until([&] { return fleet->log().find("10 devices from the store") != std::string::npos; }, 10s)) << fleet->log();
  EXPECT_TRUE(it::wait_until([&] { return complete(db, 10); }, 20s));
}

// `tasmota-fleet plan` on the live inventory: every device of the mixed fleet planned, JSON as agreed.
TEST(Plan, EveryDeviceOfTheInventory) {
  KnownFleet f({"--no-ota"});  // without the built-in OTA server, plans name the official OTA server
  auto& [dir, broker, sim, fleet, db] = f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto r = it::run({it::fleet_bin(), "plan", "--db", db, "--all", "--to", "latest", "--json"});
  ASSERT_EQ(0, r.status) << r.out << r.err;
  auto plans = json::parse(r.out);
  ASSERT_EQ(10u, plans.size());
  for (const auto& p : plans) {
    ASSERT_TRUE(p.contains("hops")) << p.dump();
    EXPECT_EQ("15.6.0", p["target"]);
    EXPECT_EQ("15.6.0", p["hops"].back()["version"]);
  }
  auto by_device = [&](const char* name) {
    for (const auto& p : plans)
      if (p["device"] == name) return p;
    return json();
  };
  std::vector<std::string> path;
  json old = by_device("old514");
  for (const auto& h : old["hops"]) path.push_back(h["version"]);
  EXPECT_EQ((std::vector<std::string>{"6.7.1", "7.2.0", "8.5.1", "9.1.0", "15.6.0"}), path);
  EXPECT_EQ("http://ota.tasmota.com/tasmota32/release-15.6.0/tasmota32c3.bin", by_device("c3")["hops"][0]["url"]);
  EXPECT_EQ("tasmota-lite", by_device("dev910")["hops"][0]["build"]);  // keeps its build

  // A device that cannot go there: non-zero exit, the reason named, the others still planned.
  auto down = it::run({it::fleet_bin(), "plan", "--db", db, "--to", "8.5.1", "dev1250", "dev720", "nosuch"});
  EXPECT_EQ(3, down.status);
  EXPECT_NE(std::string::npos, down.out.find("dev1250: refusing 12.5.0 -> 8.5.1")) << down.out;
  EXPECT_NE(std::string::npos, down.out.find("GPIO mapping"));
  EXPECT_NE(std::string::npos, down.out.find("dev720: 7.2.0 (tasmota, ESP8266) -> 8.5.1"));
  EXPECT_NE(std::string::npos, down.out.find("nosuch: no such device"));
}

TEST(Plan, HypotheticalDeviceWithoutABroker) {
  it::TempDir dir;
  // --build before --to is the device's, after --to the target's.
  auto r = it::run({it::fleet_bin(), "plan", "--from", "6.7.1", "--build", "sonoff-sensors", "--free-kb", "300", "--to",
                    "9.1.0", "--build", "tasmota", "--json", "--ota-base", "http://127.0.0.1:8080"});
  ASSERT_EQ(0, r.status) << r.err;
  auto p = json::parse(r.out)[0];
  EXPECT_EQ("sonoff-sensors", p["from_build"]);
  EXPECT_EQ("tasmota", p["target_build"]);
  ASSERT_EQ(3u, p["hops"].size());
  EXPECT_EQ("http://127.0.0.1:8080/tasmota/release-7.2.0/tasmota-lite.bin", p["hops"][0]["url"]);
  EXPECT_EQ("http://127.0.0.1:8080/tasmota/release-7.2.0/tasmota-minimal.bin", p["hops"][0]["minimal_url"]);
  EXPECT_EQ("http://127.0.0.1:8080/tasmota/release-9.1.0/tasmota.bin.gz", p["hops"][2]["url"]);
  // A local catalog adds a release without rebuilding.
  it::write_file(dir.path("local.json"), R"J({"releases": ["16.0.0"]})J");
  auto local = it::run({it::fleet_bin(), "plan", "--from", "15.0.1", "--to", "latest", "--catalog", dir.path("local.json")});
  EXPECT_EQ(0, local.status) << local.err;
  EXPECT_NE(std::string::npos, local.out.find("-> 16.0.0 (tasmota)")) << local.out;
  auto refused = it::run({it::fleet_bin(), "plan", "--from", "1.0.9", "--to", "latest"});
  EXPECT_EQ(3, refused.status);
  EXPECT_NE(std::string::npos, refused.out.find("not migratable over the air"));
  auto bad = it::run({it::fleet_bin(), "plan", "--from", "nine", "--to", "latest"});
  EXPECT_EQ(2, bad.status);
  EXPECT_NE(std::string::npos, bad.err.find("'nine' is not a version"));
}
