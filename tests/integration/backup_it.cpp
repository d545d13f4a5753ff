// Backups end to end: simulated devices on a real mosquitto, the inventory from `serve`, then
// `tasmota-fleet backup` over its own broker connection: FileDownload over MQTT where the firmware has
// it (15.0.1), GET /dl over real HTTP where it does not (9.1.0, behind a web password), a snapshot of
// command replies only where no settings file can be had (5.14.0); each file validated and kept in
// SQLite; listed and exported as .dmp, JSON and commands.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
#include "harness.h"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kFleet = R"J({"devices": [
  {"version": "15.0.1", "topic": "kitchen", "mac": "5C:CF:7F:00:02:01", "ip": "127.0.0.21",
   "settings": {"friendly_names": ["Kitchen Plug", "Kitchen; Backlog Reset 1"], "mqtt_password": "devpw",
                "rules": ["ON Power1#State=1 DO Backlog Publish stat/kitchen/ON 1; Power2 1 ENDON"],
                "template": {"NAME": "Sonoff Basic", "GPIO": [32, 1, 1, 1, 1, 0, 0, 0, 224, 320, 1, 0, 0, 0], "FLAG": 0, "BASE": 1}}},
  {"version": "9.1.0", "topic": "attic", "mac": "5C:CF:7F:00:02:02", "ip": "127.0.0.22",
   "settings": {"friendly_name": "Attic", "web_password": "webpw"}},
  {"version": "5.14.0", "topic": "old", "mac": "5C:CF:7F:00:02:03", "ip": "127.0.0.23"}
]})J";

struct BackupFleet {
  it::TempDir dir;
  it::Broker broker{dir};
  std::string db = dir.path("fleet.db");
  std::unique_ptr<it::Process> sim, fleet;
  std::string web_port;

  BackupFleet() {
    it::write_file(dir.path("fleet.json"), kFleet);
    it::write_file(dir.path("creds.json"), R"({"kitchen": {"mqtt_password": "devpw"}, "5C:CF:7F:00:02:02": {"web_password": "webpw"}})");
    sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port")});
    web_port = it::read_file(dir.path("web.port"));
    while (!web_port.empty() && (web_port.back() == '\n')) web_port.pop_back();
    fleet = it::start_fleet(dir, {"--broker", broker.url(), "--no-ota"});
    EXPECT_TRUE(it::wait_until([&] { return it::complete(db, 3); }, 30s)) << fleet->log();
  }

  it::RunResult cli(std::vector<std::string> args) {
    std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn"};
    argv.insert(argv.end(), args.begin(), args.end());
    return it::run(argv);
  }
};

}  // namespace

TEST(Backup, EveryDeviceByTheBestMethodItHasValidatedAndKept) {
  BackupFleet f;
  auto r = f.cli({"backup", "--all", "--web-port", f.web_port, "--device-credentials", f.dir.path("creds.json")});
  EXPECT_EQ(1, r.status) << r.out << r.err;  // one device has no settings file to give
  EXPECT_NE(std::string::npos, r.out.find("kitchen: backup #")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("over mqtt")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("attic: backup #")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("over http")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("old: SNAPSHOT ONLY")) << r.out;

  auto list = json::parse(f.cli({"backups", "--json"}).out);
  ASSERT_EQ(3u, list.size());
  std::map<std::string, json> by_topic;
  for (auto& b : list) by_topic[b["topic"]] = b;
  EXPECT_EQ("mqtt", by_topic["kitchen"]["method"]);
  EXPECT_EQ(4096, by_topic["kitchen"]["bytes"]);
  EXPECT_EQ("Config_kitchen_0201_15.0.1.dmp", by_topic["kitchen"]["file_name"]);
  EXPECT_EQ("http", by_topic["attic"]["method"]);
  EXPECT_EQ("snapshot", by_topic["old"]["method"]);
  EXPECT_EQ(0, by_topic["old"]["bytes"]);

  // The .dmp as the device gave it: a valid 15.0.1 ESP8266 file with the device's settings.
  auto id = std::to_string(by_topic["kitchen"]["id"].get<int>());
  ASSERT_EQ(0, f.cli({"backup", "export", id, "--format", "dmp", "-o", f.dir.path("k.dmp")}).status);
  auto bytes = it::read_file(f.dir.path("k.dmp"));
  auto file = fleet::backup::read_dmp(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  ASSERT_TRUE(file.file) << file.error;
  EXPECT_EQ("15.0.1", file.file->version().str());
  auto fields = fleet::backup::SettingsLayouts::builtin().decode(*file.file).fields;
  EXPECT_EQ("Kitchen Plug", fields["friendlyname"][0]);
  EXPECT_EQ(224, fields["user_template"]["gpio"][8]);

  // JSON: decode-config's names, secrets masked unless asked for.
  auto j = json::parse(f.cli({"backup", "export", id, "--format", "json"}).out);
  EXPECT_EQ("15.0.1", j["header"]["version"]);
  EXPECT_EQ("kitchen", j["mqtt_topic"]);
  EXPECT_EQ("********", j["mqtt_pwd"]);
  EXPECT_EQ("devpw", json::parse(f.cli({"backup", "export", id, "--format", "json", "--with-secrets"}).out)["mqtt_pwd"]);

  // Commands: replayable; a value with ';' is a command of its own, never part of a Backlog.
  auto cmds = f.cli({"backup", "export", id, "--format", "commands"}).out;
  EXPECT_NE(std::string::npos, cmds.find("\nFriendlyName2 Kitchen; Backlog Reset 1\n")) << cmds;
  EXPECT_NE(std::string::npos, cmds.find("\nRule1 ON Power1#State=1 DO Backlog Publish stat/kitchen/ON 1; Power2 1 ENDON\n")) << cmds;
  EXPECT_NE(std::string::npos, cmds.find("Template {\"NAME\":\"Sonoff Basic\"")) << cmds;
  EXPECT_EQ(std::string::npos, cmds.find("\nMqttPassword")) << cmds;
  for (std::size_t at = cmds.find("\nBacklog "); at != std::string::npos; at = cmds.find("\nBacklog ", at + 1)) {
    auto line = cmds.substr(at + 1, cmds.find('\n', at + 1) - at - 1);
    EXPECT_EQ(std::string::npos, line.find("Reset")) << line;
    EXPECT_EQ(std::string::npos, line.find("Kitchen;")) << line;
  }

  // The snapshot of command replies beside the file.
  auto attic_list = json::parse(f.cli({"backups", "attic", "--json"}).out);
  ASSERT_EQ(1u, attic_list.size());
  EXPECT_EQ("5C:CF:7F:00:02:02", attic_list[0]["mac"]);
}

TEST(Backup, AWrongDevicePasswordFallsBackToHttpAndAMissingWebServerIsReported) {
  BackupFleet f;
  // No credentials: FileDownload is refused (Error 1) and /dl answers 401 without the web password.
  auto r = f.cli({"backup", "kitchen", "attic", "--web-port", f.web_port, "--no-snapshot"});
  EXPECT_EQ(1, r.status) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("kitchen: backup #")) << r.out;  // refused over MQTT, fine over HTTP
  EXPECT_NE(std::string::npos, r.out.find("MqttPassword")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("attic: NOT BACKED UP")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("HTTP 401")) << r.out;
  // An unknown device name is an error before anything is sent.
  auto unknown = f.cli({"backup", "nosuch"});
  EXPECT_EQ(2, unknown.status);
  EXPECT_NE(std::string::npos, unknown.err.find("no device 'nosuch'"));
}
