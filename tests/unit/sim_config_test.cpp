// The simulator's configuration files, checked against the facts it plays (sim/sim_config.cpp cites
// them): FileDownload/FileUpload over MQTT in Tasmota's shapes, /dl, /rs, /u2, what Reset 6 keeps,
// and the firmware's migration of an uploaded older file (the 9.1 GPIO renumbering, the ESP8266 < 8.0
// limit) and of its own settings on an upgrade.
#include <gtest/gtest.h>

#include <fmt/ranges.h>

#include <functional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/backup_job.h"
#include "backup/file_transfer.h"
#include "backup/restore_job.h"
#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"
#include "backup/transfer_encoding.h"
#include "firmware/synthetic_image.h"
#include "sim/sim_device.h"

using namespace fleet::sim;
using namespace fleet::backup;
using fleet::planner::Version;
using nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1'790'000'000'000;

DeviceSpec spec(const std::string& version, const std::string& chip = "ESP8266") {
  DeviceSpec s;
  s.version = version;
  s.build = chip == "ESP8266" ? "tasmota" : "tasmota32";
  s.chip = chip;
  s.mac = "5C:CF:7F:12:34:56";
  s.ip = "127.0.0.5";
  s.settings.topic = "plug";
  s.settings.mqtt_password = "secret";
  s.settings.friendly_names[0] = "Kitchen Plug";
  s.settings.full_topic = "tasmota/%topic%/%prefix%/";
  s.settings.rules[0] = "ON Power1#State=1 DO Publish stat/plug/ON 1 ENDON";
  s.settings.set_option4 = false;
  s.settings.template_json = R"({"NAME":"Sonoff Basic","GPIO":[17,255,255,255,255,0,0,0,21,56,255,0,0],"FLAG":0,"BASE":1})";
  return s;
}

std::string cmnd(const SimDevice& d, const std::string& c) { return "tasmota/" + d.topic() + "/cmnd/" + c; }

json last(const Reaction& r) { return r.publish.empty() ? json() : json::parse(r.publish.back().payload); }

// Runs the whole FileDownload exchange as a client would and returns the file.
std::vector<std::uint8_t> download(SimDevice& d, const std::string& password = "secret") {
  auto start = d.handle(cmnd(d, "FileDownload"), json{{"Password", password}, {"Type", 2}}.dump(), kNow);
  EXPECT_EQ(2u, start.publish.size());
  EXPECT_EQ("tasmota/plug/stat/FILEDOWNLOAD", start.publish.at(0).topic);  // always this topic, whatever SetOption4
  EXPECT_EQ(json({{"FileDownload", "Started"}}), json::parse(start.publish.at(0).payload));
  auto info = last(start);
  int id = info["Id"];
  EXPECT_EQ(1, id % 2);  // odd id
  EXPECT_EQ(4096, info["Size"]);
  std::vector<std::uint8_t> file;
  for (int i = 0; i < 20; ++i) {
    auto r = d.handle(cmnd(d, "FileDownload"), "", kNow);
    auto j = json::parse(r.publish.at(0).payload);
    EXPECT_EQ(id, j["Id"]);
    if (j.contains("Md5")) {
      EXPECT_EQ(md5_hex(file), j["Md5"]);
      EXPECT_EQ(json({{"FileDownload", "Done"}}), last(r));
      return file;
    }
    auto chunk = base64_decode(j["Data"].get<std::string>());
    EXPECT_TRUE(chunk);
    EXPECT_LE(chunk->size(), 760u);
    file.insert(file.end(), chunk->begin(), chunk->end());
  }
  ADD_FAILURE() << "no MD5 after 20 chunks";
  return file;
}

// Runs a FileUpload as a client would, respecting MaxSize; returns the last reply.
Reaction upload(SimDevice& d, const std::vector<std::uint8_t>& file, const std::string& md5 = "") {
  auto r = d.handle(cmnd(d, "FileUpload"),
                    json{{"Password", "secret"}, {"File", "Config.dmp"}, {"Id", 116}, {"Type", 2}, {"Size", file.size()}}.dump(), kNow);
  EXPECT_EQ(json({{"FileUpload", "Started"}}), json::parse(r.publish.at(0).payload));
  std::size_t max = last(r)["MaxSize"];
  EXPECT_GT(max, 500u);
  std::size_t pos = 0;
  while (pos < file.size()) {
    std::size_t n = std::min(max, file.size() - pos);
    r = d.handle(cmnd(d, "FileUpload"), json{{"Id", 116}, {"Data", base64_encode(std::span(file).subspan(pos, n))}}.dump(), kNow);
    pos += n;
    EXPECT_EQ(116, last(r)["Id"]);
  }
  return d.handle(cmnd(d, "FileUpload"), json{{"Id", 116}, {"Md5", md5.empty() ? md5_hex(file) : md5}}.dump(), kNow);
}

nlohmann::ordered_json fields_of(const std::vector<std::uint8_t>& bytes) {
  auto r = read_dmp(bytes);
  EXPECT_TRUE(r.file) << r.error;
  return r.file ? SettingsLayouts::builtin().decode(*r.file).fields : nlohmann::ordered_json();
}

}  // namespace

TEST(SimConfig, FileDownloadHandsOutTheSettingsFileOfItsVersion) {
  SimDevice d(spec("15.0.1"), kNow);
  auto file = download(d);
  auto r = read_dmp(file);
  ASSERT_TRUE(r.file) << r.error;
  EXPECT_EQ("15.0.1", r.file->version().str());
  EXPECT_EQ(0, r.file->platform().value());
  auto f = SettingsLayouts::builtin().decode(*r.file).fields;
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ("plug", f["mqtt_topic"]);
  EXPECT_EQ("tasmota/%topic%/%prefix%/", f["mqtt_fulltopic"]);
  EXPECT_EQ("secret", f["mqtt_pwd"]);  // only the .dmp holds credentials
  EXPECT_EQ("ON Power1#State=1 DO Publish stat/plug/ON 1 ENDON", f["rules"][0]);
  EXPECT_EQ("Sonoff Basic", f["templatename"]);
  EXPECT_EQ(17, f["user_template"]["gpio"][0]);  // the template as given (this test's values)
  EXPECT_EQ(17, f["module"]);                    // Module 18 (Generic) is stored as 17
}

TEST(SimConfig, FileDownloadRefusals) {
  SimDevice d(spec("15.0.1"), kNow);
  EXPECT_EQ(json({{"FileDownload", "Error 1"}}), last(d.handle(cmnd(d, "FileDownload"), R"({"Password":"wrong","Type":2})", kNow)));
  EXPECT_EQ(json({{"FileDownload", "Error 3"}}), last(d.handle(cmnd(d, "FileDownload"), R"({"Password":"secret","Type":1})", kNow)));
  EXPECT_EQ(json({{"FileDownload", "Error 5"}}), last(d.handle("cmnd/tasmotas/FileDownload", R"({"Password":"secret","Type":2})", kNow)));
  // Started, then aborted.
  d.handle(cmnd(d, "FileDownload"), R"({"Password":"secret","Type":2})", kNow);
  EXPECT_EQ(json({{"FileDownload", "Aborted"}}), last(d.handle(cmnd(d, "FileDownload"), "0", kNow)));
  // Firmware without MQTT file transfer: an unknown command (how a client probes for it).
  SimDevice old(spec("9.1.0"), kNow);
  auto r = old.handle(cmnd(old, "FileDownload"), R"({"Password":"secret","Type":2})", kNow);
  EXPECT_EQ(json({{"Command", "Unknown"}}), last(r));
}

TEST(SimConfig, FileUploadOfAnOlderFileMigratesItAndRestarts) {
  // An 8.5.1 file (old GPIO numbering) restored onto a 15.0.1 device: the firmware renumbers the GPIOs.
  auto old_spec = spec("8.5.1");
  old_spec.settings.friendly_names[0] = "Attic";
  old_spec.settings.tele_period = 60;
  SimDevice source(old_spec, kNow);
  auto file = source.config_file();
  auto target_spec = spec("15.0.1");
  target_spec.settings.friendly_names[0] = "Tasmota";
  target_spec.settings.template_json.clear();
  SimDevice d(target_spec, kNow);
  auto r = upload(d, file);
  EXPECT_EQ(json({{"FileUpload", "Done"}}), last(r));
  EXPECT_TRUE(r.restart);
  d.reboot(kNow + 5000);
  auto f = fields_of(download(d));
  EXPECT_EQ("Attic", f["friendlyname"][0]);
  EXPECT_EQ(60, f["tele_period"]);
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);   // Button1: 17 -> 32
  EXPECT_EQ(224, f["user_template"]["gpio"][8]);  // Relay1: 21 -> 224
  EXPECT_EQ(320, f["user_template"]["gpio"][9]);  // Led1i: 56 -> 320
  EXPECT_EQ(1, f["user_template"]["gpio"][1]);    // User
  auto t = json::parse(d.handle(cmnd(d, "Template"), "", kNow).publish.at(0).payload);
  EXPECT_EQ(32, t["GPIO"][0]);
  EXPECT_EQ("Sonoff Basic", t["NAME"]);
}

TEST(SimConfig, FileUploadRefusals) {
  SimDevice d(spec("15.0.1"), kNow);
  auto file = SimDevice(spec("15.0.1"), kNow).config_file();
  EXPECT_EQ(json({{"FileUpload", "MD5 mismatch"}}), last(upload(d, file, std::string(32, '0'))));
  // A file for an ESP32 is refused by the settings restore.
  auto esp32_file = SimDevice(spec("15.0.1", "ESP32"), kNow).config_file();
  auto r = upload(d, esp32_file);
  EXPECT_EQ(json({{"FileUpload", "Failed"}}), last(r));
  EXPECT_FALSE(r.restart);
  // Newer than the firmware: refused too.
  SimDevice old(spec("12.5.0"), kNow);
  EXPECT_EQ(json({{"FileUpload", "Failed"}}), last(upload(old, file)));
  // Wrong password, and a chunk larger than the device's MQTT buffer never arrives (no reply at all).
  EXPECT_EQ(json({{"FileUpload", "Error 1"}}),
            last(d.handle(cmnd(d, "FileUpload"), R"({"Password":"x","File":"a","Id":9,"Type":2,"Size":4096})", kNow)));
  d.handle(cmnd(d, "FileUpload"), R"({"Password":"secret","File":"a","Id":9,"Type":2,"Size":4096})", kNow);
  auto big = d.handle(cmnd(d, "FileUpload"), json{{"Id", 9}, {"Data", base64_encode(std::vector<std::uint8_t>(1000, 1))}}.dump(), kNow);
  EXPECT_TRUE(big.publish.empty());
  // Another id mid-transfer aborts it.
  EXPECT_EQ(json({{"FileUpload", "Aborted"}}), last(d.handle(cmnd(d, "FileUpload"), R"({"Id":10,"Data":"AAAA"})", kNow)));
}

TEST(SimConfig, AnEsp8266RestoreOfAFileBefore80KeepsWifiAndMqttOnly) {
  auto old_spec = spec("7.2.0");
  old_spec.settings.mqtt_host = "broker.lan";
  SimDevice source(old_spec, kNow);
  SimDevice d(spec("15.0.1"), kNow);
  ASSERT_EQ("", d.restore_config(source.config_file()));
  auto f = fields_of(d.config_file());
  EXPECT_EQ("broker.lan", f["mqtt_host"]);
  EXPECT_EQ("plug", f["mqtt_topic"]);
  EXPECT_EQ("", f["friendlyname"][0]);  // not carried over from a pre-8.0 file
  EXPECT_EQ("", f["rules"][0]);
}

TEST(SimConfig, Reset6KeepsWifiMqttAndTopicOnly) {
  // tasmota-facts.md, Reset: SSIDs/passwords, MQTT host, port, user, password and topic survive;
  // FullTopic, prefixes, names, module/template, rules, SetOption4, TelePeriod, OtaUrl, web password do not.
  auto s = spec("15.0.1");
  s.settings.mqtt_host = "broker.lan";
  s.settings.mqtt_user = "dev";
  s.settings.set_option4 = true;
  s.settings.tele_period = 60;
  s.settings.ota_url = "http://fw.lan/x.bin";
  s.settings.web_password = "pw";
  s.settings.hostname = "kitchen";
  s.settings.group_topic = "kitchens";
  SimDevice d(s, kNow);
  ASSERT_EQ("", d.restore_config(SimDevice(s, kNow).config_file()));  // a restored file: fields the struct does not model too
  auto r = d.handle(cmnd(d, "Reset"), "6", kNow);
  EXPECT_TRUE(r.restart);
  d.reboot(kNow + 1000);
  auto f = fields_of(d.config_file());
  EXPECT_EQ("broker.lan", f["mqtt_host"]);
  EXPECT_EQ("dev", f["mqtt_user"]);
  EXPECT_EQ("secret", f["mqtt_pwd"]);
  EXPECT_EQ("plug", f["mqtt_topic"]);
  EXPECT_EQ("fleet-wifi", f["sta_ssid"][0]);
  EXPECT_EQ("%prefix%/%topic%/", f["mqtt_fulltopic"]);
  EXPECT_EQ("Tasmota", f["friendlyname"][0]);
  EXPECT_EQ("", f["rules"][0]);
  EXPECT_EQ(0, f["flag"]["mqtt_response"]);
  EXPECT_EQ(300, f["tele_period"]);
  EXPECT_EQ("", f["ota_url"]);
  EXPECT_EQ("", f["web_password"]);
  EXPECT_EQ("", f["hostname"]);
  EXPECT_EQ("", f["mqtt_grptopic"]);
  EXPECT_EQ("", f["templatename"]);
  EXPECT_EQ(2, f["webserver"]);
  // …and it now listens on the default FullTopic.
  EXPECT_EQ("cmnd/plug/+", d.command_filters().at(0));
}

TEST(SimConfig, WebServerBackupAndRestore) {
  auto s = spec("15.0.1");
  s.settings.web_password = "pw";
  SimDevice d(s, kNow);
  EXPECT_EQ(401, d.web({"GET", "/dl", std::nullopt, std::nullopt}).status);
  EXPECT_EQ(401, d.web({"GET", "/dl", std::make_pair(std::string("admin"), std::string("nope")), std::nullopt}).status);
  auto auth = std::make_pair(std::string("admin"), std::string("pw"));
  auto dl = d.web({"GET", "/dl", auth, std::nullopt});
  EXPECT_EQ(200, dl.status);
  EXPECT_EQ("application/octet-stream", dl.content_type);
  EXPECT_EQ("attachment; filename=Config_plug_3456_15.0.1.dmp", dl.headers["Content-Disposition"]);
  EXPECT_EQ(d.config_file(), dl.body);
  // /u2 without /rs first is taken as a firmware upload and fails.
  auto other = spec("14.2.0");
  other.settings.friendly_names[0] = "Renamed";
  auto file = SimDevice(other, kNow).config_file();
  auto u = d.web({"POST", "/u2", auth, file});
  EXPECT_NE(std::string::npos, std::string(u.body.begin(), u.body.end()).find("Upload Failed"));
  EXPECT_FALSE(u.restart);
  EXPECT_EQ(200, d.web({"GET", "/rs", auth, std::nullopt}).status);
  u = d.web({"POST", "/u2", auth, file});
  EXPECT_NE(std::string::npos, std::string(u.body.begin(), u.body.end()).find("Upload Successful"));
  EXPECT_TRUE(u.restart);
  EXPECT_EQ("Renamed", fields_of(d.config_file())["friendlyname"][0]);
  // WebServer 1 (user): no backup page.
  auto user_mode = spec("15.0.1");
  user_mode.settings.webserver = 1;
  SimDevice u1(user_mode, kNow);
  EXPECT_EQ(302, u1.web({"GET", "/dl", std::nullopt, std::nullopt}).status);
}

TEST(SimConfig, AnUpgradeAcross91RenumbersTheDevicesOwnGpios) {
  SimDevice d(spec("8.5.1"), kNow);
  d.handle(cmnd(d, "OtaUrl"), "http://127.0.0.1:8070/tasmota/release-9.1.0/tasmota.bin.gz", kNow);
  auto r = d.handle(cmnd(d, "Upgrade"), "1", kNow);
  ASSERT_TRUE(r.fetch);
  auto image = fleet::firmware::make_image(fleet::firmware::SyntheticImage{fleet::planner::Chip::ESP8266, "9.1.0", "tasmota", 300000, true});
  auto done = d.ota_downloaded(OtaDownload{*r.fetch, 200, image}, kNow);
  ASSERT_TRUE(done.restart);
  d.reboot(kNow + 2000);
  EXPECT_EQ("9.1.0", d.spec().version);
  auto f = fields_of(d.config_file());
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ("tasmota/%topic%/%prefix%/", f["mqtt_fulltopic"]);
}

namespace {

// Drives a client-side transfer against a simulated device, message by message, as the broker would.
template <typename Transfer>
void run(Transfer& t, SimDevice& d, Reaction* last_reaction = nullptr) {
  std::vector<DeviceCommand> queue{t.start()};
  for (int guard = 0; guard < 100 && !queue.empty(); ++guard) {
    auto c = queue.front();
    queue.erase(queue.begin());
    auto r = d.handle(cmnd(d, c.name), c.payload, kNow);
    if (last_reaction) *last_reaction = r;
    for (auto& p : r.publish) {
      auto suffix = p.topic.substr(p.topic.rfind('/') + 1);
      if (auto next = t.on_reply(suffix, p.payload)) queue.push_back(*next);
    }
  }
}

}  // namespace

TEST(FileTransfer, DownloadsAndUploadsAgainstTheSimulatedDevice) {
  SimDevice d(spec("15.0.1"), kNow);
  FileDownload down("secret");
  run(down, d);
  ASSERT_EQ(TransferState::Done, down.state()) << down.error();
  EXPECT_EQ(d.config_file(), down.file());
  EXPECT_EQ("Config_plug_3456_15.0.1.dmp", down.file_name());

  auto other = spec("14.2.0");
  other.settings.friendly_names[0] = "From Upload";
  FileUpload up("secret", SimDevice(other, kNow).config_file(), "Config.dmp");
  Reaction r;
  run(up, d, &r);
  ASSERT_EQ(TransferState::Done, up.state()) << up.error();
  EXPECT_TRUE(r.restart);
  EXPECT_EQ("From Upload", fields_of(d.config_file())["friendlyname"][0]);
}

TEST(FileTransfer, ReportsWhatTheDeviceRefused) {
  SimDevice d(spec("15.0.1"), kNow);
  FileDownload wrong("nope");
  run(wrong, d);
  EXPECT_EQ(TransferState::Failed, wrong.state());
  EXPECT_NE(std::string::npos, wrong.error().find("MqttPassword"));
  SimDevice old(spec("9.1.0"), kNow);
  FileDownload probe("secret");
  run(probe, old);
  EXPECT_EQ(TransferState::NotSupported, probe.state());
  FileUpload esp32("secret", SimDevice(spec("15.0.1", "ESP32"), kNow).config_file(), "x.dmp");
  run(esp32, d);
  EXPECT_EQ(TransferState::Failed, esp32.state());
  EXPECT_NE(std::string::npos, esp32.error().find("refused the settings file"));
  // Hostile replies: garbage, a chunk beyond the announced size, a bad MD5.
  FileDownload t("secret");
  EXPECT_FALSE(t.on_reply("FILEDOWNLOAD", "not json"));
  EXPECT_TRUE(t.on_reply("FILEDOWNLOAD", R"({"File":"x","Id":7,"Type":2,"Size":3})"));
  EXPECT_FALSE(t.on_reply("FILEDOWNLOAD", R"({"Id":8,"Data":"AAAA"})"));  // another transfer's id: ignored
  EXPECT_EQ(TransferState::Running, t.state());
  t.on_reply("FILEDOWNLOAD", R"({"Id":7,"Data":"AAAAAA=="})");  // 4 bytes > 3 announced
  EXPECT_EQ(TransferState::Failed, t.state());
  FileDownload m("secret");
  m.on_reply("FILEDOWNLOAD", R"({"File":"x","Id":7,"Type":2,"Size":3})");
  m.on_reply("FILEDOWNLOAD", R"({"Id":7,"Data":"AAAA"})");
  m.on_reply("FILEDOWNLOAD", R"({"Id":7,"Md5":"00000000000000000000000000000000"})");
  EXPECT_EQ(TransferState::Failed, m.state());
  EXPECT_NE(std::string::npos, m.error().find("MD5"));
}

namespace {

// Drives a BackupJob against a simulated device: MQTT through handle(), HTTP through web().
void drive(BackupJob& job, SimDevice& d, std::int64_t& now, bool web_up = true) {
  std::vector<DeviceAction> actions = job.start(now);
  for (int guard = 0; guard < 500 && !job.finished(); ++guard) {
    if (actions.empty()) {
      now += 1000;
      actions = job.on_time(now);
      continue;
    }
    auto a = actions.front();
    actions.erase(actions.begin());
    if (a.kind == DeviceAction::Kind::Publish) {
      auto r = d.handle(cmnd(d, a.command.name), a.command.payload, now);
      for (auto& p : r.publish) {
        auto more = job.on_message(p.topic.substr(p.topic.rfind('/') + 1), p.payload, now);
        actions.insert(actions.end(), more.begin(), more.end());
      }
    } else if (a.kind == DeviceAction::Kind::HttpGet) {
      WebReply down;
      down.status = 503;
      auto reply = web_up ? d.web({"GET", "/dl", std::nullopt, std::nullopt}) : down;
      auto more = reply.status == 200 ? job.on_http(reply.body, "", now) : job.on_http(std::nullopt, fmt::format("HTTP {}", reply.status), now);
      actions.insert(actions.end(), more.begin(), more.end());
    }
  }
}

BackupTarget target_of(const SimDevice& d) {
  return {d.spec().mac, d.topic(), d.spec().ip, *Version::parse(d.spec().version), fleet::planner::parse_chip(d.spec().chip)};
}

}  // namespace

TEST(BackupJob, TakesTheFileOverMqttAndASnapshotBesideIt) {
  SimDevice d(spec("15.0.1"), kNow);
  BackupSettings s;
  s.device_mqtt_password = "secret";
  BackupJob job(target_of(d), s);
  std::int64_t now = kNow;
  drive(job, d, now);
  ASSERT_TRUE(job.result());
  auto& r = *job.result();
  EXPECT_EQ("mqtt", r.method);
  EXPECT_EQ(d.config_file(), r.dmp);
  EXPECT_EQ("Config_plug_3456_15.0.1.dmp", r.file_name);
  auto snap = json::parse(r.snapshot);
  EXPECT_EQ(snapshot_commands().size(), snap.size());
  EXPECT_TRUE(snap["Status 0"].contains("StatusFWR"));
  EXPECT_EQ("Sonoff Basic", snap["Template"]["NAME"]);
  EXPECT_EQ("ON Power1#State=1 DO Publish stat/plug/ON 1 ENDON", snap["Rule1"]["Rule1"]["Rules"]);
  EXPECT_TRUE(job.problems().empty());
}

TEST(BackupJob, FallsBackToHttpOnOlderFirmwareAndRefusesAFileOfAnotherVersion) {
  SimDevice d(spec("9.1.0"), kNow);  // no FileDownload yet
  BackupSettings s;
  s.device_mqtt_password = "secret";
  s.snapshot = false;
  BackupJob job(target_of(d), s);
  std::int64_t now = kNow;
  drive(job, d, now);
  ASSERT_TRUE(job.result());
  EXPECT_EQ("http", job.result()->method);
  EXPECT_EQ(1u, job.notes().size());  // "mqtt: the firmware has no FileDownload"
  // The inventory says 9.0.0 but the device hands out a 9.1.0 file: not a valid backup of that device.
  auto t = target_of(d);
  t.version = Version{9, 0, 0, 0};
  BackupJob wrong(t, s);
  now = kNow;
  drive(wrong, d, now);
  EXPECT_FALSE(wrong.result());
  ASSERT_FALSE(wrong.problems().empty());
  EXPECT_NE(std::string::npos, wrong.problems().back().find("reports 9.0.0"));
}

TEST(BackupJob, WithoutAnyFileItKeepsASnapshotAndSaysSo) {
  SimDevice d(spec("9.1.0"), kNow);
  BackupSettings s;
  s.device_mqtt_password = "secret";
  BackupJob job(target_of(d), s);
  std::int64_t now = kNow;
  drive(job, d, now, /*web_up=*/false);
  ASSERT_TRUE(job.result());
  EXPECT_EQ("snapshot", job.result()->method);
  EXPECT_TRUE(job.result()->dmp.empty());
  EXPECT_FALSE(job.notes().empty());
  EXPECT_NE(std::string::npos, job.problems().back().find("HTTP 503"));
}

namespace {

// Drives a RestoreJob against a simulated device; a restart is played as the runner does it: LWT
// Offline, a fresh boot, then LWT Online and INFO1-3 on the (maybe new) topics.
// `after_upload`: runs once, when the device restarted after taking the file (a firmware that did not keep
// all of it).
void drive_restore(RestoreJob& job, SimDevice& d, std::int64_t& now, std::function<void(SimDevice&)> after_upload = {}) {
  std::vector<DeviceAction> actions = job.start(now);
  auto feed = [&](const Outgoing& p) {
    auto topic = p.topic;
    bool tele = topic.find("/tele/") != std::string::npos || topic.rfind("tele/", 0) == 0;
    return job.on_message(tele, topic.substr(topic.rfind('/') + 1), p.payload, now);
  };
  for (int guard = 0; guard < 2000 && !job.finished(); ++guard) {
    if (actions.empty()) {
      now += 1000;
      actions = job.on_time(now);
      continue;
    }
    auto a = actions.front();
    actions.erase(actions.begin());
    std::vector<DeviceAction> more;
    if (a.kind == DeviceAction::Kind::Publish) {
      // Commands go to the topic the job says, on the device's current FullTopic.
      auto topic = d.command_filters().at(0);
      topic = topic.substr(0, topic.size() - 1) + a.command.name;
      EXPECT_NE(std::string::npos, topic.find("/" + job.command_topic() + "/")) << topic;
      auto r = d.handle(topic, a.command.payload, now);
      for (auto& p : r.publish) {
        auto m = feed(p);
        more.insert(more.end(), m.begin(), m.end());
      }
      if (r.restart) {
        auto m = feed({d.lwt_topic(), "Offline", true});
        more.insert(more.end(), m.begin(), m.end());
        now += 1500;
        d.reboot(now);
        if (after_upload && a.command.name == "FileUpload") std::exchange(after_upload, {})(d);
        for (auto& p : d.on_connected(now)) {
          auto m2 = feed(p);
          more.insert(more.end(), m2.begin(), m2.end());
        }
      }
    } else if (a.kind == DeviceAction::Kind::HttpGet || a.kind == DeviceAction::Kind::HttpPost) {
      WebRequest req{a.kind == DeviceAction::Kind::HttpGet ? "GET" : "POST", a.path.substr(0, a.path.find('?')), std::nullopt, std::nullopt};
      if (a.kind == DeviceAction::Kind::HttpPost) req.upload = a.upload;
      auto reply = d.web(req);
      more = reply.status == 200 ? job.on_http(reply.status, reply.body, "", now) : job.on_http(reply.status, std::nullopt, fmt::format("HTTP {}", reply.status), now);
      if (reply.restart) {
        auto m = feed({d.lwt_topic(), "Offline", true});
        more.insert(more.end(), m.begin(), m.end());
        d.reboot(now + 1500);
        if (after_upload) std::exchange(after_upload, {})(d);
        for (auto& p : d.on_connected(now)) {
          auto m2 = feed(p);
          more.insert(more.end(), m2.begin(), m2.end());
        }
      }
    }
    actions.insert(actions.end(), more.begin(), more.end());
  }
}

}  // namespace

TEST(RestoreJob, AfterReset6TheUploadedBackupBringsEverythingBackAndIsVerified) {
  auto s = spec("15.0.1");
  SimDevice d(s, kNow);
  auto backup_file = d.config_file();
  d.handle(cmnd(d, "Reset"), "6", kNow);
  d.reboot(kNow + 1000);  // now on the default FullTopic, default names, no rules
  ASSERT_EQ("cmnd/plug/+", d.command_filters().at(0));
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";  // kept by Reset 6
  RestoreJob job(target_of(d), backup_file, rs);
  EXPECT_TRUE(job.plan().refusals.empty());
  std::int64_t now = kNow + 2000;
  drive_restore(job, d, now);
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  EXPECT_TRUE(job.differences().empty());
  EXPECT_EQ("tasmota/plug/cmnd/+", d.command_filters().at(0));  // its own FullTopic again
  auto f = fields_of(d.config_file());
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ("ON Power1#State=1 DO Publish stat/plug/ON 1 ENDON", f["rules"][0]);
}

// The fields an upload did not carry over are replayed as commands, exactly those, then verified again.
TEST(RestoreJob, FieldsTheUploadDidNotKeepAreReplayedAsCommandsAndVerifiedAgain) {
  SimDevice d(spec("15.0.1"), kNow);
  auto backup_file = d.config_file();
  d.handle(cmnd(d, "Reset"), "6", kNow);
  d.reboot(kNow + 1000);
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), backup_file, rs);
  std::int64_t now = kNow + 2000;
  std::vector<std::string> sent_after;
  drive_restore(job, d, now, [&](SimDevice& dev) {
    dev.handle(cmnd(dev, "FriendlyName1"), "Lost", now);  // as if the firmware had dropped the name and the TelePeriod
    dev.handle(cmnd(dev, "TelePeriod"), "60", now);
  });
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  auto f = fields_of(d.config_file());
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ(fields_of(backup_file)["tele_period"], f["tele_period"]);
  bool replayed = false;
  for (auto& l : job.log()) replayed = replayed || l.find("did not keep 2 fields of the file (friendlyname[0], tele_period)") != std::string::npos;
  EXPECT_TRUE(replayed) << fmt::format("{}", fmt::join(job.log(), " | "));
}

// What no command sets, or what the device still does not keep, fails the restore naming the fields.
TEST(RestoreJob, FieldsThatStillDifferAfterTheReplayFailTheRestoreNamingThem) {
  SimDevice d(spec("15.0.1"), kNow);
  auto backup_file = d.config_file();
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), backup_file, rs);
  std::int64_t now = kNow + 2000;
  drive_restore(job, d, now, [&](SimDevice& dev) {
    // bootcount_reset_time: no command sets it (a counter's stamp), and it is not volatile
    auto file = read_dmp(dev.config_file()).file.value();
    ASSERT_EQ("", SettingsLayouts::builtin().set(file, "bootcount_reset_time", 12345));
    file.seal();
    ASSERT_EQ("", dev.restore_config(file.bytes()));
  });
  ASSERT_FALSE(job.succeeded());
  EXPECT_NE(std::string::npos, job.problems().back().find("no command sets them: bootcount_reset_time")) << job.problems().back();
}

TEST(RestoreJob, An851BackupOnA91DeviceIsVerifiedAgainstTheRenumberedGpios) {
  SimDevice old(spec("8.5.1"), kNow);
  auto backup_file = old.config_file();
  SimDevice d(spec("9.1.0"), kNow);  // no FileUpload yet: /rs + /u2
  d.handle(cmnd(d, "Reset"), "6", kNow);
  d.reboot(kNow + 1000);
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), backup_file, rs);
  std::int64_t now = kNow + 2000;
  drive_restore(job, d, now);
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  EXPECT_EQ(32, fields_of(d.config_file())["user_template"]["gpio"][0]);
}

TEST(RestoreJob, APre80Esp8266BackupIsReplayedAsCommandsNotUploaded) {
  auto s7 = spec("7.2.0");
  s7.settings.tele_period = 120;
  SimDevice old(s7, kNow);
  auto backup_file = old.config_file();
  SimDevice d(spec("15.0.1"), kNow);
  d.handle(cmnd(d, "Reset"), "6", kNow);
  d.reboot(kNow + 1000);
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), backup_file, rs);
  EXPECT_NE(std::string::npos, job.plan().how.find("replay")) << job.plan().how;
  std::int64_t now = kNow + 2000;
  drive_restore(job, d, now);
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  auto f = fields_of(d.config_file());
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ(120, f["tele_period"]);
  EXPECT_EQ("tasmota/%topic%/%prefix%/", f["mqtt_fulltopic"]);
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);  // renumbered before replaying
}

TEST(RestoreJob, RefusesANewerBackupAndReportsAMismatch) {
  SimDevice newer(spec("15.0.1"), kNow);
  SimDevice d(spec("12.5.0"), kNow);
  RestoreJob refused(target_of(d), newer.config_file(), RestoreSettings{});
  ASSERT_FALSE(refused.plan().refusals.empty());
  EXPECT_NE(std::string::npos, refused.plan().refusals[0].find("upgrade the device first"));
  // compare_settings names field, expected and actual; GPIO "User" in either spelling is the same.
  nlohmann::ordered_json e = {{"friendlyname", {"A", "B"}}, {"my_gp", {1, 224}}, {"bootcount", 3}};
  nlohmann::ordered_json a = {{"friendlyname", {"A", "C"}}, {"my_gp", {65504, 224}}, {"bootcount", 9}};
  auto diffs = compare_settings(e, a);
  ASSERT_EQ(1u, diffs.size());
  EXPECT_EQ("friendlyname[1]", diffs[0].field);
  EXPECT_EQ("\"B\"", diffs[0].expected);
  EXPECT_EQ("\"C\"", diffs[0].actual);
}

namespace {

void upgrade_to(SimDevice& d, const std::string& version, std::int64_t now) {
  d.handle(cmnd(d, "OtaUrl"), "http://127.0.0.1:8070/tasmota/release-" + version + "/tasmota.bin", now);
  auto r = d.handle(cmnd(d, "Upgrade"), "1", now);
  ASSERT_TRUE(r.fetch);
  auto image = fleet::firmware::make_image(fleet::firmware::SyntheticImage{fleet::planner::Chip::ESP8266, version, "tasmota", 300000, false});
  auto done = d.ota_downloaded(OtaDownload{*r.fetch, 200, image}, now);
  ASSERT_TRUE(done.restart) << (done.publish.empty() ? "" : done.publish[0].payload);
  d.reboot(now + 1000);
  ASSERT_EQ(version, d.spec().version);
}

}  // namespace

TEST(RestoreJob, A720DeviceIsRestoredAtEachCheckpoint) {
  // The issue's rule: restore and take a fresh backup at each checkpoint, so the file handed to 9.1+ is
  // at least 8.x (an ESP8266 on 9.1+ keeps only Wi-Fi and MQTT of an older file).
  auto s = spec("7.2.0");
  s.settings.tele_period = 90;
  s.program_kb = 400;
  s.free_kb = 600;
  SimDevice d(s, kNow);
  std::int64_t now = kNow;
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  auto backup72 = d.config_file();
  for (auto [version, file_version] : {std::pair{"8.5.1", "7.2.0"}, std::pair{"9.1.0", "8.5.1"}}) {
    auto file = version == std::string("8.5.1") ? backup72 : d.config_file();  // a fresh backup at the checkpoint
    EXPECT_EQ(file_version, read_dmp(file).file->version().str());
    d.handle(cmnd(d, "Reset"), "6", now);
    d.reboot(now += 1000);
    upgrade_to(d, version, now += 1000);
    RestoreJob job(target_of(d), file, rs);
    EXPECT_NE(std::string::npos, job.plan().how.find("upload")) << version << ": " << job.plan().how;
    drive_restore(job, d, now);
    EXPECT_TRUE(job.succeeded()) << version << ": " << (job.problems().empty() ? "" : job.problems()[0]);
    auto f = fields_of(d.config_file());
    EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]) << version;
    EXPECT_EQ(90, f["tele_period"]) << version;
    EXPECT_EQ("tasmota/%topic%/%prefix%/", f["mqtt_fulltopic"]) << version;
  }
  EXPECT_EQ(32, fields_of(d.config_file())["user_template"]["gpio"][0]);
  // The shortcut the rule avoids: the 7.2.0 file handed straight to 9.1 would lose everything but
  // Wi-Fi and MQTT, so the job replays commands instead of uploading.
  RestoreJob shortcut(target_of(d), backup72, rs);
  EXPECT_NE(std::string::npos, shortcut.plan().how.find("replay")) << shortcut.plan().how;
}

TEST(RestoreJob, AReplayedNameWithASemicolonStaysOneNameAndRunsNothing) {
  auto s = spec("15.0.1");
  s.settings.friendly_names[1] = "Kitchen; Backlog Reset 1; Power 1";
  s.settings.rules[1] = "ON Time#Minute=5 DO Backlog Power1 ON; Delay 10; Power1 OFF ENDON";
  auto file = SimDevice(s, kNow).config_file();
  SimDevice d(spec("15.0.1"), kNow);
  RestoreSettings rs;
  rs.method = RestoreSettings::Method::Commands;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), file, rs);
  std::int64_t now = kNow;
  auto boots_before = d.spec().boot_count;
  drive_restore(job, d, now);
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  auto f = fields_of(d.config_file());
  EXPECT_EQ("Kitchen; Backlog Reset 1; Power 1", f["friendlyname"][1]);
  EXPECT_EQ("ON Time#Minute=5 DO Backlog Power1 ON; Delay 10; Power1 OFF ENDON", f["rules"][1]);
  // Only the two restarting groups restarted it; no Reset ever ran (the names survived).
  EXPECT_EQ(boots_before + 2, d.spec().boot_count);
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
}

TEST(BackupJob, ADeviceThatStopsAnsweringEndsTheSnapshotEarly) {
  SimDevice d(spec("9.1.0"), kNow);
  BackupSettings s;
  s.device_mqtt_password = "secret";
  s.method = BackupSettings::Method::Mqtt;  // no HTTP: straight to the snapshot after the probe
  BackupJob job(target_of(d), s);
  std::int64_t now = kNow;
  auto actions = job.start(now);
  // The device answers nothing at all: every wait runs out.
  int waits = 0;
  while (!job.finished() && waits < 100) {
    now += s.reply_timeout_ms;
    job.on_time(now);
    ++waits;
  }
  EXPECT_TRUE(job.finished());
  EXPECT_LE(waits, 4);  // the probe, then two snapshot commands: not all 19
  ASSERT_FALSE(job.problems().empty());
  EXPECT_NE(std::string::npos, job.problems().back().find("stopped answering"));
}

TEST(RestoreJob, AnEsp32C3DeviceIsBackedUpAndRestoredInItsOwnLayout) {
  auto s = spec("14.2.0", "ESP32-C3");
  s.settings.template_json = R"({"NAME":"C3 Board","GPIO":[32,0,0,0,224,225,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"FLAG":0,"BASE":1})";
  SimDevice d(s, kNow);
  auto file = d.config_file();
  auto r = read_dmp(file);
  ASSERT_TRUE(r.file) << r.error;
  EXPECT_EQ(4, r.file->platform().value());  // ESP32-C3
  auto f = SettingsLayouts::builtin().decode(*r.file).fields;
  EXPECT_TRUE(f.contains("user_template_esp32"));
  EXPECT_EQ(224, f["user_template_esp32"]["gpio_esp32c3"][4]);
  d.handle(cmnd(d, "Reset"), "6", kNow);
  d.reboot(kNow + 1000);
  RestoreSettings rs;
  rs.device_mqtt_password = "secret";
  RestoreJob job(target_of(d), file, rs);
  std::int64_t now = kNow + 2000;
  drive_restore(job, d, now);
  EXPECT_TRUE(job.succeeded()) << (job.problems().empty() ? "" : job.problems()[0]);
  auto after = fields_of(d.config_file());
  EXPECT_EQ("Kitchen Plug", after["friendlyname"][0]);
  EXPECT_EQ(225, after["user_template_esp32"]["gpio_esp32c3"][5]);
  // The same file is refused by an ESP8266 and by a plain ESP32: the platform byte differs.
  SimDevice esp32(spec("14.2.0", "ESP32"), kNow);
  EXPECT_NE("", esp32.restore_config(file));
}

TEST(RestoreJob, OnlyWhatTheBackupHoldsIsExpectedAfterTheFirmwareMigratedIt) {
  // A field a newer firmware added gets that firmware's default, whatever the backup says (it has none).
  nlohmann::ordered_json source = {{"friendlyname", {"A", "B", "C", "D"}}, {"flag", {{"save_state", 1}}}, {"tele_period", 60}};
  nlohmann::ordered_json expected = {{"friendlyname", {"A", "B", "C", "D", "", "", "", ""}},
                                     {"flag", {{"save_state", 1}, {"new_bit", 0}}},
                                     {"flag6", {{"x", 0}}},
                                     {"user_template", {{"flag", 0}}},
                                     {"tele_period", 60}};
  source["user_template"] = {{"flag", {{"adc0", 0}}}};  // a group in 8.x, a number from 9.0
  restrict_to(expected, source);
  EXPECT_FALSE(expected["user_template"].contains("flag"));
  EXPECT_EQ(4u, expected["friendlyname"].size());
  EXPECT_FALSE(expected["flag"].contains("new_bit"));
  EXPECT_FALSE(expected.contains("flag6"));
  EXPECT_EQ(60, expected["tele_period"]);
}

// The snapshot's queries are read-only: Status 0 alone first (older firmware answers it in a dozen
// messages), then a few at a time; each reply is recognised by the key it carries, a refusal is the
// oldest query's (Tasmota answers in order), and the snapshot keeps the commands' order.
TEST(BackupJob, SnapshotQueriesGoAFewAtATimeAndAreRecordedInOrder) {
  BackupSettings s;
  s.method = BackupSettings::Method::Http;
  BackupJob job({"5C:CF:7F:12:34:56", "plug", "127.0.0.5", *Version::parse("15.0.1"), fleet::planner::Chip::ESP8266}, s);
  auto names = [](const std::vector<DeviceAction>& acts) {
    std::vector<std::string> out;
    for (auto& a : acts)
      if (a.kind == DeviceAction::Kind::Publish) out.push_back(a.command.name);
    return out;
  };
  std::int64_t now = kNow;
  auto first = job.start(now);
  ASSERT_EQ(1u, first.size());
  auto sent = names(job.on_http(std::nullopt, "HTTP 503", now));
  EXPECT_EQ(std::vector<std::string>{"Status"}, sent);
  EXPECT_TRUE(names(job.on_message("STATUS1", R"({"StatusPRM":{"BootCount":3}})", now)).empty());  // Status 0 alone
  sent = names(job.on_message("STATUS11", R"({"StatusSTS":{"UptimeSec":9}})", now));
  EXPECT_EQ((std::vector<std::string>{"Module", "Template", "GPIO", "Rule1"}), sent);
  EXPECT_EQ(std::vector<std::string>{"Rule2"}, names(job.on_message("RESULT", R"({"NAME":"Sonoff Basic","GPIO":[17]})", now)));
  EXPECT_EQ(std::vector<std::string>{"Rule3"}, names(job.on_message("RESULT", R"({"Command":"Unknown"})", now)));  // Module's
  EXPECT_TRUE(names(job.on_message("RESULT", R"({"Other":1})", now)).empty());  // nobody's: nothing moves
  // The rest never answers. One stall (the four in flight, together) is one timeout: the next four go
  // out; a second stall in a row ends the snapshot with what came.
  EXPECT_EQ((std::vector<std::string>{"Timers", "FullTopic", "GroupTopic", "Prefix1"}), names(job.on_time(now + s.reply_timeout_ms)));
  EXPECT_FALSE(job.finished());
  job.on_time(now + 2 * s.reply_timeout_ms);
  ASSERT_TRUE(job.finished());
  ASSERT_TRUE(job.result());
  auto snap = nlohmann::ordered_json::parse(job.result()->snapshot);
  std::vector<std::string> keys;
  for (auto& [k, v] : snap.items()) keys.push_back(k);
  EXPECT_EQ((std::vector<std::string>{"Status 0", "Module", "Template", "GPIO", "Rule1", "Rule2", "Rule3", "Timers", "FullTopic",
                                      "GroupTopic", "Prefix1"}),
            keys);
  EXPECT_EQ(3, snap["Status 0"]["StatusPRM"]["BootCount"]);
  EXPECT_EQ("Unknown", snap["Module"]["Command"]);
  EXPECT_EQ("Sonoff Basic", snap["Template"]["NAME"]);
  EXPECT_TRUE(snap["GPIO"].is_null());
}
