// Backups end to end: simulated devices on a real mosquitto, the inventory from `serve`, then
// `tasmota-fleet backup` over its own broker connection: FileDownload over MQTT where the firmware has
// it (15.0.1), GET /dl over real HTTP where it does not (9.1.0, behind a web password), a snapshot of
// command replies only where no settings file can be had (5.14.0); each file validated and kept in
// SQLite; listed and exported as .dmp, JSON and commands.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
#include "firmware/synthetic_image.h"
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

  explicit BackupFleet(std::vector<std::string> serve_extra = {}) {
    it::write_file(dir.path("fleet.json"), kFleet);
    it::write_file(dir.path("creds.json"), R"({"kitchen": {"mqtt_password": "devpw"}, "5C:CF:7F:00:02:02": {"web_password": "webpw"}})");
    sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port"),
                                            "--command-log", dir.path("received.log")});
    web_port = it::read_file(dir.path("web.port"));
    while (!web_port.empty() && (web_port.back() == '\n')) web_port.pop_back();
    std::vector<std::string> args{"--broker", broker.url(), "--no-ota"};
    for (auto& a : serve_extra) args.push_back(a == "WEB_PORT" ? web_port : a == "CREDS" ? dir.path("creds.json") : a);
    fleet = it::start_fleet(dir, args);
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

namespace {

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

// The careful upgrade of the guide, by hand with the CLI: Backup -> Reset 6 -> Upgrade -> Restore -> Verify.
// An 8.5.1 device (no MQTT file transfer: backup and restore over its web server) with a template in
// the old GPIO numbering comes out on 9.1.0 with every setting back and the GPIOs renumbered.
TEST(Backup, BackupReset6UpgradeRestoreVerify) {
  it::TempDir dir;
  it::Broker broker(dir);
  it::write_file(dir.path("fleet.json"), R"J({"devices": [
    {"version": "8.5.1", "topic": "plug", "mac": "5C:CF:7F:00:03:01", "ip": "127.0.0.31", "program_kb": 500, "free_kb": 500,
     "settings": {"friendly_names": ["Desk Lamp", "Desk USB"], "tele_period": 60, "group_topic": "lamps",
                  "rules": ["ON Button1#State=2 DO Power2 TOGGLE ENDON"],
                  "template": {"NAME": "Lamp", "GPIO": [17, 255, 0, 0, 0, 0, 0, 0, 21, 56, 22, 0, 0], "FLAG": 0, "BASE": 18}}}
  ]})J");
  std::string db = dir.path("fleet.db"), fw = dir.path("firmware");
  write_bytes(dir.path("t910.bin.gz"), fleet::firmware::make_image({fleet::planner::Chip::ESP8266, "9.1.0", "tasmota", 300 * 1024, true}));
  auto add = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path("t910.bin.gz"), "--version", "9.1.0", "--build", "tasmota"});
  ASSERT_EQ(0, add.status) << add.err;
  auto sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json"), "--web-port", "0", "--web-port-file", dir.path("web.port")});
  auto web_port = it::read_file(dir.path("web.port"));
  web_port.erase(web_port.find_last_not_of("\n") + 1);
  int ota_port = it::free_port();
  auto fleet = it::start_fleet(dir, {"--broker", broker.url(), "--firmware-dir", fw, "--ota-listen", "127.0.0.1:" + std::to_string(ota_port)});
  ASSERT_TRUE(it::wait_until([&] { return it::complete(db, 1) && it::port_open(ota_port); }, 30s)) << fleet->log();
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--broker", broker.url(), "--log-level", "warn"};
    argv.insert(argv.end(), args.begin(), args.end());
    return it::run(argv);
  };
  auto device = [&] { return it::by_mac(it::devices(db), "5C:CF:7F:00:03:01"); };

  // 1. Backup (HTTP: 8.5.1 has no FileDownload).
  auto b = cli({"backup", "plug", "--web-port", web_port});
  ASSERT_EQ(0, b.status) << b.out << b.err;
  EXPECT_NE(std::string::npos, b.out.find("over http")) << b.out;

  // 2. Reset 6: names, rules, template gone; topic kept.
  it::publish(broker.port(), "cmnd/plug/Reset", "6");
  ASSERT_TRUE(it::wait_until([&] { auto d = device(); return d.value("friendly_name", "") == "Tasmota" && d.value("online", false); }, 20s))
      << device().dump();

  // 3. Upgrade to 9.1.0 from the built-in OTA server.
  auto url = "http://127.0.0.1:" + std::to_string(ota_port) + "/tasmota/release-9.1.0/tasmota.bin.gz";
  it::publish(broker.port(), "cmnd/plug/OtaUrl", url);
  it::publish(broker.port(), "cmnd/plug/Upgrade", "1");
  ASSERT_TRUE(it::wait_until([&] { auto d = device(); return d.value("version", "") == "9.1.0" && d.value("online", false); }, 30s))
      << device().dump() << sim->log();

  // 4. Restore: the dry run says what it will do and sends nothing.
  auto dry = cli({"restore", "plug", "--dry-run", "--web-port", web_port});
  EXPECT_EQ(0, dry.status) << dry.out << dry.err;
  EXPECT_NE(std::string::npos, dry.out.find("upload the backup's .dmp")) << dry.out;
  EXPECT_NE(std::string::npos, dry.out.find("renumbers the GPIOs")) << dry.out;
  EXPECT_EQ("Tasmota", device().value("friendly_name", ""));
  auto r = cli({"restore", "plug", "--web-port", web_port});
  EXPECT_EQ(0, r.status) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("plug: restored and verified")) << r.out;

  // 5. What the device holds now, read back independently: a fresh backup, decoded. (The inventory sees
  //    the restored device again first: the daemon re-asks it after its restart.)
  ASSERT_TRUE(it::wait_until([&] { auto d = device(); return d.value("friendly_name", "") == "Desk Lamp" && d.value("online", false); }, 20s))
      << device().dump();
  auto b2 = cli({"backup", "plug", "--web-port", web_port, "--no-snapshot"});
  ASSERT_EQ(0, b2.status) << b2.out;
  auto list = json::parse(cli({"backups", "plug", "--json"}).out);
  ASSERT_EQ(2u, list.size());
  auto j = json::parse(cli({"backup", "export", std::to_string(list[0]["id"].get<int>()), "--format", "json"}).out);
  EXPECT_EQ("9.1.0", j["header"]["version"]);
  EXPECT_EQ("Desk Lamp", j["friendlyname"][0]);
  EXPECT_EQ("Desk USB", j["friendlyname"][1]);
  EXPECT_EQ(60, j["tele_period"]);
  EXPECT_EQ("lamps", j["mqtt_grptopic"]);
  EXPECT_EQ("ON Button1#State=2 DO Power2 TOGGLE ENDON", j["rules"][0]);
  EXPECT_EQ("Lamp", j["templatename"]);
  EXPECT_EQ(32, j["user_template"]["gpio"][0]);   // Button1: 17 -> 32
  EXPECT_EQ(224, j["user_template"]["gpio"][8]);  // Relay1: 21 -> 224
  EXPECT_EQ(225, j["user_template"]["gpio"][10]); // Relay2: 22 -> 225
  EXPECT_EQ(320, j["user_template"]["gpio"][9]);  // Led1i: 56 -> 320

  // 6. On to the latest release: the firmware carries the settings over by itself (the settings delta);
  //    the template stays in the 9.1 numbering, the names and rules stay.
  write_bytes(dir.path("t1560.bin.gz"), fleet::firmware::make_image({fleet::planner::Chip::ESP8266, "15.6.0", "tasmota", 320 * 1024, true}));
  ASSERT_EQ(0, it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path("t1560.bin.gz"), "--version", "15.6.0",
                        "--build", "tasmota"}).status);
  auto plan = json::parse(cli({"plan", "--to", "15.6.0", "plug", "--json"}).out);
  auto latest_url = plan[0]["hops"].back()["url"].get<std::string>();
  it::publish(broker.port(), "cmnd/plug/OtaUrl", latest_url);
  it::publish(broker.port(), "cmnd/plug/Upgrade", "1");
  ASSERT_TRUE(it::wait_until([&] { auto d = device(); return d.value("version", "") == "15.6.0" && d.value("online", false); }, 30s))
      << device().dump() << latest_url;
  auto b3 = cli({"backup", "plug", "--no-snapshot"});  // 15.6.0 has FileDownload: over MQTT, no web port needed
  ASSERT_EQ(0, b3.status) << b3.out;
  EXPECT_NE(std::string::npos, b3.out.find("over mqtt")) << b3.out;
  auto latest = json::parse(cli({"backups", "plug", "--json"}).out)[0];
  auto j3 = json::parse(cli({"backup", "export", std::to_string(latest["id"].get<int>()), "--format", "json"}).out);
  EXPECT_EQ("15.6.0", j3["header"]["version"]);
  EXPECT_EQ("Desk Lamp", j3["friendlyname"][0]);
  EXPECT_EQ("ON Button1#State=2 DO Power2 TOGGLE ENDON", j3["rules"][0]);
  EXPECT_EQ(32, j3["user_template"]["gpio"][0]);
  EXPECT_EQ(225, j3["user_template"]["gpio"][10]);
}

TEST(Backup, AnUnreachableBrokerIsReportedNotWaitedFor) {
  BackupFleet f;
  int closed = it::free_port();  // nothing listens there
  auto start = std::chrono::steady_clock::now();
  auto r = it::run({it::fleet_bin(), "--db", f.db, "--broker", "mqtt://127.0.0.1:" + std::to_string(closed), "--log-level", "off", "backup", "kitchen"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(1, r.status) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("the broker could not be reached")) << r.out;
  EXPECT_LT(took, 30s);
  EXPECT_EQ("[]", json::parse(f.cli({"backups", "--json"}).out).dump());  // nothing half-kept
}

// diff: what changed on a device since its backup, named field by field, a secret named but never
// shown; two backups compared; a backup equal to the device now gives exit 0, as diff(1) does.
TEST(Backup, DiffNamesWhatChangedSinceABackupAndHidesSecrets) {
  BackupFleet f;
  const std::vector<std::string> creds{"--device-credentials", f.dir.path("creds.json"), "--web-port", f.web_port};
  auto with_creds = [&](std::vector<std::string> args) {
    args.insert(args.end(), creds.begin(), creds.end());
    return f.cli(args);
  };
  auto first = with_creds({"backup", "kitchen"});
  ASSERT_EQ(0, first.status) << first.out << first.err;
  auto same = with_creds({"diff", "kitchen"});
  EXPECT_EQ(0, same.status) << same.out << same.err;
  EXPECT_NE(std::string::npos, same.out.find("kitchen: backup #1 (15.0.1) -> the device now (15.0.1): no setting changed")) << same.out;

  it::publish(f.broker.port(), "cmnd/kitchen/GroupTopic", "lounge");
  it::publish(f.broker.port(), "cmnd/kitchen/WebPassword", "s3cret-pw");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto now = with_creds({"diff", "kitchen"});
  EXPECT_EQ(1, now.status) << now.out << now.err;
  EXPECT_NE(std::string::npos, now.out.find("2 settings changed")) << now.out;
  EXPECT_NE(std::string::npos, now.out.find("\"lounge\"")) << now.out;
  EXPECT_NE(std::string::npos, now.out.find("web_password: changed (a secret: its values are not shown)")) << now.out;
  EXPECT_EQ(std::string::npos, now.out.find("s3cret-pw")) << now.out;

  auto second = with_creds({"backup", "kitchen"});
  ASSERT_EQ(0, second.status) << second.out << second.err;
  auto between = with_creds({"diff", "kitchen", "1", "2", "--json"});
  EXPECT_EQ(1, between.status) << between.out << between.err;
  auto j = json::parse(between.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << between.out;
  EXPECT_EQ(1, j["from"]["backup"]);
  EXPECT_EQ(2, j["to"]["backup"]);
  ASSERT_EQ(1u, j["changed"].size()) << j.dump();
  EXPECT_EQ("lounge", j["changed"][0]["after"]) << j.dump();
  EXPECT_EQ(json::array({"web_password"}), j["secrets_changed"]);
  EXPECT_EQ(std::string::npos, between.out.find("s3cret-pw"));
  EXPECT_EQ(0, with_creds({"diff", "kitchen", "2"}).status);

  auto unknown = f.cli({"diff", "kitchen", "99"});
  EXPECT_EQ(2, unknown.status);
  EXPECT_NE(std::string::npos, unknown.err.find("no backup #99")) << unknown.err;
  auto other = f.cli({"diff", "attic", "1", "2"});
  EXPECT_EQ(2, other.status);
  EXPECT_NE(std::string::npos, other.err.find("backup #1 is of 5C:CF:7F:00:02:01, not of attic")) << other.err;
}

// serve --backup-every: every device backed up on its own, spread over the period; a check that finds the
// settings equal to the newest backup stores nothing ("unchanged"); a change on the device is stored
// and reported as drift naming the field, in the audit log and on the device's backup topic; --keep
// prunes. Counted from the devices' side too: each FileDownload the simulator received.
TEST(Backup, ScheduledBackupsStoreOnlyChangesAndReportDrift) {
  BackupFleet f({"--backup-every", "3s", "--keep", "2", "--device-credentials", "CREDS", "--web-port", "WEB_PORT"});
  auto backups_of = [&](const std::string& device) {
    auto j = json::parse(f.cli({"backups", device, "--json"}).out, nullptr, false);
    return j.is_array() ? j : json::array();
  };
  auto audit_of = [&](const std::string& device) { return f.cli({"log", device}).out; };
  // The first round: each device with a settings file backed up once, within about one period.
  ASSERT_TRUE(it::wait_until([&] { return backups_of("kitchen").size() == 1 && backups_of("attic").size() == 1; }, 10s)) << f.fleet->log();
  EXPECT_TRUE(backups_of("old").empty());  // 5.14: no settings file to keep
  // Later checks find nothing changed: the settings are taken again, nothing is stored twice.
  ASSERT_TRUE(it::wait_until([&] { return audit_of("kitchen").find("unchanged, the settings equal backup #") != std::string::npos; }, 10s))
      << audit_of("kitchen");
  EXPECT_EQ(1u, backups_of("kitchen").size());
  EXPECT_GE(it::received(f.dir.path("received.log"), "kitchen", "FileDownload"), 2);

  it::publish(f.broker.port(), "cmnd/kitchen/GroupTopic", "lounge");
  ASSERT_TRUE(it::wait_until([&] { return backups_of("kitchen").size() == 2; }, 10s)) << audit_of("kitchen");
  auto log = audit_of("kitchen");
  EXPECT_NE(std::string::npos, log.find("settings changed since backup #")) << log;
  EXPECT_NE(std::string::npos, log.find("mqtt_grptopic")) << log;
  auto r = it::run({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(f.broker.port()), "-t",
                    "tasmota-fleet/v1/devices/5C:CF:7F:00:02:01/backup", "-C", "1", "-W", "3"});
  auto state = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(state.is_object()) << r.out;
  EXPECT_EQ("done", state["status"]);
  EXPECT_TRUE(state["scheduled"].get<bool>());
  EXPECT_EQ(json::array({"mqtt_grptopic"}), state["drift"]["changed"]) << state.dump();

  it::publish(f.broker.port(), "cmnd/kitchen/GroupTopic", "attic2");
  ASSERT_TRUE(it::wait_until([&] {
    auto l = audit_of("kitchen");
    std::size_t n = 0;
    for (auto at = l.find("settings changed since backup #"); at != std::string::npos; at = l.find("settings changed since backup #", at + 1)) ++n;
    return n == 2;
  }, 10s)) << audit_of("kitchen");
  EXPECT_EQ(2u, backups_of("kitchen").size());  // --keep 2: the oldest of three pruned
  EXPECT_EQ(1u, backups_of("attic").size());
}
