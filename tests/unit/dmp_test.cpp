// The .dmp codec and the settings decoder, checked against decode-config's decoding of the vectors in
// ../shared/reference/dmp-vectors (README there: decode-config v15.0.1 is an independent implementation
// of the format). Format facts (tasmota-facts.md, "The .dmp format"; Tasmota settings.ino
// SettingsConfigRestore/SettingsSave): XOR 0x5A + i from byte 2, version at 0x008, platform at 0xF36,
// CRC-32 at 0xFFC after 6.6.0.10, else a 16-bit weighted sum at 0x00E; both written on every save.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "backup/dmp_file.h"
#include "tests/unit/decode_config_compare.h"
#include "backup/gpio_numbering.h"
#include "backup/settings_layouts.h"
#include "backup/settings_commands.h"
#include "backup/settings_migration.h"

using namespace fleet::backup;
using fleet::planner::Chip;
using fleet::planner::Version;
using nlohmann::json;
using nlohmann::ordered_json;
using fleet::testing::compare;
using fleet::testing::number_of;

namespace {

std::string vector_path(const std::string& name) { return std::string(FLEET_DMP_VECTORS) + "/" + name; }

std::vector<std::uint8_t> load(const std::string& name) {
  std::ifstream in(vector_path(name), std::ios::binary);
  if (!in) ADD_FAILURE() << "missing test vector " << vector_path(name) << " (../shared beside the checkout)";
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json load_json(const std::string& name) {
  std::ifstream in(vector_path(name));
  return json::parse(in);
}

DmpFile read_ok(const std::vector<std::uint8_t>& bytes) {
  auto r = read_dmp(bytes);
  EXPECT_TRUE(r.file) << r.error;
  return r.file ? *r.file : DmpFile{};
}

void expect_agrees_with_decode_config(const std::string& dmp, const std::string& decoded, int min_leaves) {
  auto file = read_ok(load(dmp));
  auto d = SettingsLayouts::builtin().decode(file);
  auto theirs = load_json(decoded);
  std::vector<std::string> diffs;
  int leaves = 0;
  compare(d.fields, theirs, "", diffs, leaves);
  for (auto& x : diffs) ADD_FAILURE() << dmp << x;
  EXPECT_GE(leaves, min_leaves) << "too few values compared";
  EXPECT_TRUE(d.notes.empty());
}

}  // namespace

TEST(Dmp, ReadsTheVectorsHeaderAsDecodeConfigDoes) {
  auto f = read_ok(load("sample-15.0.1.dmp"));
  auto dc = load_json("sample-15.0.1.json")["header"]["data"];
  EXPECT_EQ(0x0F000100u, f.version_id());
  EXPECT_EQ("15.0.1", f.version().str());
  EXPECT_EQ(4096, f.cfg_size());
  EXPECT_EQ(0u, f.platform().value());
  EXPECT_TRUE(f.uses_crc32());
  EXPECT_EQ(number_of(dc["crc32"]).value(), f.stored_crc32());
  EXPECT_EQ(number_of(dc["crc32"]).value(), f.computed_crc32());
  EXPECT_EQ(number_of(dc["crc"]).value(), f.computed_crc16());  // decode-config shows the computed sum
  auto f8 = read_ok(load("sample-8.5.1.dmp"));
  EXPECT_EQ("8.5.1", f8.version().str());
  EXPECT_EQ(number_of(load_json("sample-8.5.1.json")["header"]["data"]["crc32"]).value(), f8.stored_crc32());
  auto f32 = read_ok(load("sample-15.0.1-esp32.dmp"));
  EXPECT_EQ(1u, f32.platform().value());  // README: an ESP32 (platform 1) image
}

TEST(Dmp, WritesBackTheSameBytes) {
  for (auto name : {"sample-15.0.1.dmp", "sample-8.5.1.dmp", "sample-15.0.1-esp32.dmp"}) {
    auto bytes = load(name);
    EXPECT_EQ(bytes, read_ok(bytes).bytes()) << name;
  }
}

TEST(Dmp, DecodesEveryFieldLikeDecodeConfig_15_0_1) { expect_agrees_with_decode_config("sample-15.0.1.dmp", "sample-15.0.1.json", 500); }
TEST(Dmp, DecodesEveryFieldLikeDecodeConfig_8_5_1) { expect_agrees_with_decode_config("sample-8.5.1.dmp", "sample-8.5.1.json", 380); }

TEST(Dmp, DecodesTheFieldsThatDefineADevice) {
  auto d = SettingsLayouts::builtin().decode(read_ok(load("sample-15.0.1.dmp")));
  auto& f = d.fields;
  EXPECT_EQ("14.6.0.1", d.layout);  // the newest layout not newer than 15.0.1
  EXPECT_EQ("Kitchen Plug", f["friendlyname"][0]);
  EXPECT_EQ("kitchen_plug", f["mqtt_topic"]);
  EXPECT_EQ("broker.example.lan", f["mqtt_host"]);
  EXPECT_EQ(1883, f["mqtt_port"]);
  EXPECT_EQ(json::array({"cmnd", "stat", "tele"}), json(f["mqtt_prefix"]));
  EXPECT_EQ("ON Power1#State=1 DO Publish stat/kitchen_plug/ON 1 ENDON", f["rules"][0]);
  EXPECT_EQ(1, f["user_template"]["base"]);  // stored 0, shown +1 as Tasmota's Template BASE
  EXPECT_EQ(32, f["user_template"]["gpio"][0]);  // Button1 in the 9.1+ numbering
  EXPECT_EQ(420, f["timer"][0]["time"]);
  EXPECT_EQ(300, f["tele_period"]);
  EXPECT_EQ(18u, f["my_gp"].size());  // ESP8266: 18 GPIOs (decode-config also lists its my_gp_esp32 alias)
  // The same device on 8.5.1: the old 8-bit GPIO numbering (README: Button1=17, Relay1=21, Led1i=56).
  auto old = SettingsLayouts::builtin().decode(read_ok(load("sample-8.5.1.dmp"))).fields;
  EXPECT_EQ(17, old["user_template"]["gpio"][0]);
  EXPECT_EQ(21, old["my_gp"][12]);
}

TEST(Dmp, DecodesAnEsp32FileWithTheEsp32Fields) {
  auto d = SettingsLayouts::builtin().decode(read_ok(load("sample-15.0.1-esp32.dmp")));
  EXPECT_EQ("ESP32", d.platform);
  EXPECT_TRUE(d.fields.contains("my_gp_esp32"));
  EXPECT_TRUE(d.fields.contains("user_template_esp32"));
  EXPECT_FALSE(d.fields.contains("my_gp"));
  EXPECT_FALSE(d.fields.contains("user_template"));
}

TEST(Dmp, RefusesCorruptTruncatedAndForeignFiles) {
  auto bytes = load("sample-15.0.1.dmp");
  auto flipped = bytes;
  flipped[0x100] ^= 0x01;
  EXPECT_NE(std::string::npos, read_dmp(flipped).error.find("CRC-32 mismatch")) << read_dmp(flipped).error;
  std::vector<std::uint8_t> truncated(bytes.begin(), bytes.begin() + 2000);
  EXPECT_NE(std::string::npos, read_dmp(truncated).error.find("truncated")) << read_dmp(truncated).error;
  EXPECT_FALSE(read_dmp(std::vector<std::uint8_t>(7, 0)).file);
  std::vector<std::uint8_t> text(4096, 'A');
  EXPECT_FALSE(read_dmp(text).file);
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(read_dmp(longer).file);
}

TEST(Dmp, ABackupMustMatchTheDeviceThatGaveIt) {
  auto f = read_ok(load("sample-15.0.1.dmp"));
  EXPECT_TRUE(check_backup(f, Version{15, 0, 1, 0}, Chip::ESP8266).empty());
  EXPECT_TRUE(check_backup(f, Version{15, 0, 1, 0}, Chip::ESP8285).empty());
  auto wrong_version = check_backup(f, Version{14, 2, 0, 0}, Chip::ESP8266);
  ASSERT_EQ(1u, wrong_version.size());
  EXPECT_NE(std::string::npos, wrong_version[0].find("reports 14.2.0"));
  auto wrong_chip = check_backup(f, Version{15, 0, 1, 0}, Chip::ESP32C3);
  ASSERT_EQ(1u, wrong_chip.size());
  EXPECT_NE(std::string::npos, wrong_chip[0].find("for ESP8266"));
  auto esp32 = read_ok(load("sample-15.0.1-esp32.dmp"));
  EXPECT_TRUE(check_backup(esp32, Version{15, 0, 1, 0}, Chip::ESP32).empty());
  EXPECT_FALSE(check_backup(esp32, Version{15, 0, 1, 0}, Chip::ESP8266).empty());
}

TEST(Dmp, RestoreTakesOlderFilesOfTheSameChipOnly) {
  // tasmota-facts.md: Tasmota accepts an uploaded .dmp of any older version for the same chip.
  auto f8 = read_ok(load("sample-8.5.1.dmp"));
  EXPECT_TRUE(check_restorable(f8, Version{15, 0, 1, 0}, Chip::ESP8266).empty());
  EXPECT_TRUE(check_restorable(f8, Version{8, 5, 1, 0}, Chip::ESP8266).empty());
  auto newer = check_restorable(read_ok(load("sample-15.0.1.dmp")), Version{9, 1, 0, 0}, Chip::ESP8266);
  ASSERT_EQ(1u, newer.size());
  EXPECT_NE(std::string::npos, newer[0].find("newer than the device's 9.1.0"));
  EXPECT_FALSE(check_restorable(f8, Version{15, 0, 1, 0}, Chip::ESP32).empty());
}

TEST(Dmp, SetWritesFieldsThatDecodeBack) {
  auto& layouts = SettingsLayouts::builtin();
  auto f = read_ok(load("sample-15.0.1.dmp"));
  EXPECT_EQ("", layouts.set(f, "friendlyname/1", "Kitchen Light; Backlog Reset 1"));
  EXPECT_EQ("", layouts.set(f, "mqtt_topic", "kitchen"));
  EXPECT_EQ("", layouts.set(f, "user_template/base", 18));
  EXPECT_EQ("", layouts.set(f, "user_template/gpio/3", 224));
  EXPECT_EQ("", layouts.set(f, "timer/2/arm", 1));
  EXPECT_EQ("", layouts.set(f, "flag/mqtt_response", 1));
  EXPECT_EQ("", layouts.set(f, "latitude", 48.858));
  EXPECT_EQ("", layouts.set(f, "rules/1", "ON System#Boot DO Power 1 ENDON"));
  f.seal();
  auto reread = read_ok(f.bytes());
  auto d = layouts.decode(reread).fields;
  EXPECT_EQ("Kitchen Plug", d["friendlyname"][0]);  // the neighbour in the text pool is untouched
  EXPECT_EQ("Kitchen Light; Backlog Reset 1", d["friendlyname"][1]);
  EXPECT_EQ("kitchen", d["mqtt_topic"]);
  EXPECT_EQ("broker.example.lan", d["mqtt_host"]);
  EXPECT_EQ(18, d["user_template"]["base"]);
  EXPECT_EQ(224, d["user_template"]["gpio"][3]);
  EXPECT_EQ(1, d["timer"][2]["arm"]);
  EXPECT_EQ(0, d["timer"][2]["days"]);
  EXPECT_EQ(1, d["flag"]["mqtt_response"]);
  EXPECT_NEAR(48.858, d["latitude"].get<double>(), 1e-6);
  EXPECT_EQ("ON System#Boot DO Power 1 ENDON", d["rules"][1]);
}

TEST(Dmp, SetRefusesWhatDoesNotFit) {
  auto& layouts = SettingsLayouts::builtin();
  auto f = read_ok(load("sample-15.0.1.dmp"));
  auto before = f.settings;
  EXPECT_NE("", layouts.set(f, "no_such_field", 1));
  EXPECT_NE("", layouts.set(f, "friendlyname/8", "x"));
  EXPECT_NE("", layouts.set(f, "mqtt_port", 70000));
  EXPECT_NE("", layouts.set(f, "mqtt_port", "1883"));
  EXPECT_NE("", layouts.set(f, "timer/0/mode", 4));  // 2 bits
  EXPECT_NE("", layouts.set(f, "rules/0", std::string(3000, 'x')));  // compressed or not: longer than 2040 bytes
  EXPECT_NE("", layouts.set(f, "friendlyname/0", std::string(800, 'x')));  // the text pool holds 699 bytes
  EXPECT_NE("", layouts.set(f, "user_template", 1));
  EXPECT_EQ(before, f.settings);
}

TEST(Dmp, OlderErasUseTheSixteenBitChecksum) {
  // 6.0 … 6.6.0.6: 0xE00 bytes; up to 6.6.0.10 a weighted 16-bit sum (tasmota-facts.md).
  DmpFile f;
  f.settings.assign(0xE00, 0);
  f.settings[0x002] = 0x00;
  f.settings[0x003] = 0x0E;
  f.settings[0x008] = 0x00;  // 6.5.0.0 → 0x06050000
  f.settings[0x00A] = 0x05;
  f.settings[0x00B] = 0x06;
  EXPECT_EQ("", SettingsLayouts::builtin().set(f, "mqtt_topic", "attic"));
  f.seal();
  auto r = read_dmp(f.bytes());
  ASSERT_TRUE(r.file) << r.error;
  EXPECT_FALSE(r.file->uses_crc32());
  EXPECT_EQ("attic", SettingsLayouts::builtin().decode(*r.file).fields["mqtt_topic"]);
  EXPECT_FALSE(r.file->platform());
  EXPECT_TRUE(check_backup(*r.file, Version{6, 5, 0, 0}, Chip::ESP8266).empty());
  auto bytes = f.bytes();
  bytes[0x300] ^= 0x10;
  EXPECT_NE(std::string::npos, read_dmp(bytes).error.find("checksum mismatch"));
  // Before 6.0 the file is not read: the snapshot over MQTT covers those devices.
  f.settings[0x00B] = 0x05;
  EXPECT_NE(std::string::npos, read_dmp(f.bytes()).error.find("before 6.0"));
}

TEST(Dmp, FilesWithTheSettingsHeaderAreObfuscatedFromByteEighteen) {
  auto plain = read_ok(load("sample-15.0.1.dmp"));
  DmpFile f = plain;
  f.header.assign(16, 0);
  std::string name = "/.settings";
  std::copy(name.begin(), name.end(), f.header.begin());
  f.header[14] = 0x10;  // 16 + 4096 = 0x1010
  f.header[15] = 0x10;
  auto bytes = f.bytes();
  EXPECT_EQ(16u + 4096u, bytes.size());
  EXPECT_EQ(plain.settings[2] ^ std::uint8_t(0x5A + 18), bytes[18]);
  auto r = read_dmp(bytes);
  ASSERT_TRUE(r.file) << r.error;
  EXPECT_EQ(plain.settings, r.file->settings);
}

TEST(Dmp, UpgradingAcross91RenumbersTheGpiosOfTheSameDevice) {
  // The vectors are the same device on 8.5.1 and 15.0.1 (README): migrating the 8.5.1 file the way the
  // firmware does must give the 15.0.1 file's GPIOs and template.
  auto f8 = read_ok(load("sample-8.5.1.dmp"));
  auto migrated = migrate_settings(f8, Version{15, 0, 1, 0});
  auto r = read_dmp(migrated.bytes());
  ASSERT_TRUE(r.file) << r.error;
  auto got = SettingsLayouts::builtin().decode(*r.file).fields;
  auto want = SettingsLayouts::builtin().decode(read_ok(load("sample-15.0.1.dmp"))).fields;
  EXPECT_EQ(want["user_template"]["gpio"], got["user_template"]["gpio"]);
  EXPECT_EQ(want["templatename"], got["templatename"]);
  EXPECT_EQ(want["friendlyname"], got["friendlyname"]);
  EXPECT_EQ(want["rules"], got["rules"]);
  EXPECT_EQ(want["timer"], got["timer"]);
  for (std::size_t i = 0; i < 17; ++i) EXPECT_EQ(want["my_gp"][i], got["my_gp"][i]) << "GPIO" << i;
  EXPECT_EQ(Version(15, 0, 1, 0), r.file->version());
  EXPECT_EQ(0, gpio_from_legacy(0));
  EXPECT_EQ(kGpioUser, gpio_from_legacy(255));
  EXPECT_TRUE(same_gpio_function(1, kGpioUser));
}

TEST(Dmp, AnEsp8266RestoreOfAFileBefore80KeepsOnlyWifiAndMqtt) {
  // tasmota-facts.md: "on ESP8266 a file older than 8.0 comes back as Wi-Fi + MQTT only".
  auto& layouts = SettingsLayouts::builtin();
  auto old = blank_settings(Version{7, 2, 0, 0}, 0);
  ASSERT_EQ("", layouts.set(old, "mqtt_host", "broker.lan"));
  ASSERT_EQ("", layouts.set(old, "mqtt_topic", "attic"));
  ASSERT_EQ("", layouts.set(old, "sta_ssid/0", "home"));
  ASSERT_EQ("", layouts.set(old, "friendlyname/0", "Attic"));
  ASSERT_EQ("", layouts.set(old, "tele_period", 60));
  old.seal();
  auto on9 = layouts.decode(migrate_settings(old, Version{9, 1, 0, 0})).fields;
  EXPECT_EQ("broker.lan", on9["mqtt_host"]);
  EXPECT_EQ("attic", on9["mqtt_topic"]);
  EXPECT_EQ("home", on9["sta_ssid"][0]);
  EXPECT_EQ("", on9["friendlyname"][0]);
  EXPECT_EQ(0, on9["tele_period"]);
  // From 8.x everything comes along.
  auto f8 = blank_settings(Version{8, 5, 1, 0}, 0);
  ASSERT_EQ("", layouts.set(f8, "friendlyname/0", "Attic"));
  ASSERT_EQ("", layouts.set(f8, "tele_period", 60));
  auto on9b = layouts.decode(migrate_settings(f8, Version{9, 1, 0, 0})).fields;
  EXPECT_EQ("Attic", on9b["friendlyname"][0]);
  EXPECT_EQ(60, on9b["tele_period"]);
}

TEST(SettingsCommands, BacklogsStayWithinTasmotasLimitsAndSemicolonsStayAlone) {
  // The issue's limits: Backlog chunks of at most 30 commands and about 320 characters.
  std::vector<std::string> many;
  for (int i = 0; i < 75; ++i) many.push_back("TelePeriod " + std::to_string(10 + i));
  many.push_back("FriendlyName2 a; Backlog Reset 1");
  many.push_back("Rule1 " + std::string(400, 'x'));
  auto out = fleet::backup::pack_backlog(many);
  std::size_t commands = 0;
  for (auto& o : out) {
    if (o.command == "Backlog") {
      auto n = static_cast<std::size_t>(std::count(o.payload.begin(), o.payload.end(), ';')) + 1;
      EXPECT_LE(n, 30u);
      EXPECT_LE(o.payload.size(), 320u);
      EXPECT_EQ(std::string::npos, o.payload.find("Reset")) << o.payload;
      commands += n;
    } else {
      commands += 1;
    }
  }
  EXPECT_EQ(many.size(), commands);  // nothing lost, nothing split
  EXPECT_EQ("FriendlyName2", out[out.size() - 2].command);
  EXPECT_EQ("a; Backlog Reset 1", out[out.size() - 2].payload);
  EXPECT_EQ("Rule1", out.back().command);
}

TEST(SettingsCommands, GroupsAreOrderedSettingsThenHardwareThenMqttWithTopicLast) {
  auto f = SettingsLayouts::builtin().decode(read_ok(load("sample-15.0.1.dmp"))).fields;
  auto groups = fleet::backup::settings_commands(f);
  ASSERT_EQ(3u, groups.size());
  EXPECT_EQ("settings", groups[0].name);
  EXPECT_FALSE(groups[0].restarts);
  EXPECT_EQ("hardware", groups[1].name);
  EXPECT_TRUE(groups[1].restarts);
  EXPECT_EQ("mqtt", groups[2].name);
  EXPECT_EQ("Topic kitchen_plug", groups[2].commands.back());
  auto has = [&](std::size_t g, const std::string& c) {
    return std::find(groups[g].commands.begin(), groups[g].commands.end(), c) != groups[g].commands.end();
  };
  EXPECT_TRUE(has(0, "FriendlyName1 Kitchen Plug"));
  EXPECT_TRUE(has(0, "OtaUrl http://fw.example.lan/tasmota.bin.gz"));
  EXPECT_TRUE(has(0, "Rule1 ON Power1#State=1 DO Publish stat/kitchen_plug/ON 1 ENDON"));
  // decode-config's own command output for this vector (sample-15.0.1.cmnd.txt) has the same Timer1.
  // After the hardware: CmndTimer keeps an Output only below the relays present (xdrv_09_timers.ino).
  EXPECT_TRUE(has(2, R"(Timer1 {"Enable":1,"Mode":0,"Time":"07:00","Window":0,"Days":"1111111","Repeat":1,"Output":1,"Action":1})"));
  EXPECT_TRUE(has(1, R"(Template {"NAME":"Sonoff Basic","GPIO":[32,1,1,1,1,0,0,0,224,320,1,0,0,0],"FLAG":0,"BASE":1})"));
  EXPECT_TRUE(has(1, "GPIO0 32"));
  EXPECT_TRUE(has(2, "MqttHost broker.example.lan"));
  EXPECT_TRUE(has(2, "SSId1 ExampleSSID"));
  // Secrets only on request.
  for (auto& g : groups)
    for (auto& c : g.commands) {
      EXPECT_EQ(std::string::npos, c.find("example-mqtt-pw")) << c;
      EXPECT_EQ(std::string::npos, c.find("example-wifi-pw")) << c;
    }
  auto secret = fleet::backup::settings_commands(f, {true});
  EXPECT_NE(secret[2].commands.end(), std::find(secret[2].commands.begin(), secret[2].commands.end(), "MqttPassword example-mqtt-pw"));
  EXPECT_NE(secret[2].commands.end(), std::find(secret[2].commands.begin(), secret[2].commands.end(), "Password1 example-wifi-pw"));
}

namespace {
// The sample file with another platform byte (and version), sealed again.
std::vector<std::uint8_t> with_platform(const std::string& name, std::uint8_t platform, std::optional<Version> version = {}) {
  auto f = read_ok(load(name));
  f.settings[0xF36] = platform;
  if (version)
    for (int i = 0; i < 4; ++i) f.settings[8 + i] = static_cast<std::uint8_t>(version_id(*version) >> (8 * i));
  f.seal();
  return f.bytes();
}
}  // namespace

TEST(Dmp, AnUnknownPlatformByteIsRefusedWithTheReason) {
  // tasmota-facts.md ("The .dmp format"): 0 ESP8266 … 7 ESP32-P4, 8 ESP32-C5; nothing above.
  auto r = read_dmp(with_platform("sample-15.0.1-esp32.dmp", 9));
  EXPECT_FALSE(r.file);
  EXPECT_NE(std::string::npos, r.error.find("unknown platform byte 9 at 0xF36")) << r.error;
  EXPECT_FALSE(read_dmp(with_platform("sample-15.0.1-esp32.dmp", 0xFF)).file);
  // ESP32-C5 is Tasmota's, without a layout of its own in decode-config's tables: read as ESP32, saying so.
  auto c5 = read_dmp(with_platform("sample-15.0.1-esp32.dmp", 8));
  ASSERT_TRUE(c5.file) << c5.error;
  auto d = SettingsLayouts::builtin().decode(*c5.file);
  EXPECT_EQ("ESP32-C5", d.platform);
  ASSERT_EQ(1u, d.notes.size());
  EXPECT_NE(std::string::npos, d.notes[0].find("read with the ESP32 layout")) << d.notes[0];
}

TEST(Dmp, AnOldEsp8266FileWithAPlatformByteIsRefusedAsTasmotasRestoreRefusesIt) {
  // tasmota-facts.md ("Configuration backup and restore"): the ESP8266 restore refuses a file whose byte
  // at 0xF36 is not 0, whatever its version; 8.1 files have no platform field, so only that byte tells.
  auto old = read_dmp(with_platform("sample-8.5.1.dmp", 1, Version{8, 1, 0, 0}));
  ASSERT_TRUE(old.file) << old.error;
  EXPECT_FALSE(old.file->platform());
  auto why = check_restorable(*old.file, Version{9, 1, 0, 0}, Chip::ESP8266);
  ASSERT_EQ(1u, why.size());
  EXPECT_NE(std::string::npos, why[0].find("refuses a file whose byte at 0xF36 is not 0 (it is 1)")) << why[0];
  auto clean = read_dmp(with_platform("sample-8.5.1.dmp", 0, Version{8, 1, 0, 0}));
  EXPECT_TRUE(check_restorable(*clean.file, Version{9, 1, 0, 0}, Chip::ESP8266).empty());
}

TEST(Dmp, AFileNewerThanTheNewestLayoutIsReadWithANoteSayingWhichLayoutReadIt) {
  auto newer = read_dmp(with_platform("sample-15.0.1.dmp", 0, Version{16, 0, 0, 0}));
  ASSERT_TRUE(newer.file) << newer.error;
  auto& layouts = SettingsLayouts::builtin();
  auto d = layouts.decode(*newer.file);
  EXPECT_EQ(layouts.newest_layout(), d.layout);
  ASSERT_EQ(1u, d.notes.size());
  EXPECT_NE(std::string::npos, d.notes[0].find("Tasmota 16.0.0 is newer than the newest layout known here: read with the " + d.layout + " layout"))
      << d.notes[0];
  EXPECT_EQ("Kitchen Plug", d.fields["friendlyname"][0]);  // the fields it has are still read
  EXPECT_TRUE(layouts.decode(read_ok(load("sample-15.0.1.dmp"))).notes.empty());
}

TEST(Dmp, FieldsDecodeConfigNeverShowsAreStillMigrated) {
  // scripting_compressed (decode-config: a field without a read converter, never shown) lives in the
  // settings like any other: an upgrade's migration keeps it.
  auto& layouts = SettingsLayouts::builtin();
  auto f = blank_settings(Version{14, 2, 0, 0}, 0);
  ASSERT_EQ("", layouts.set(f, "scripting_compressed", 1));
  f.seal();
  auto d = layouts.decode(f);
  EXPECT_FALSE(d.fields.contains("scripting_compressed"));  // as decode-config shows the file
  EXPECT_EQ(1, d.hidden["scripting_compressed"]);
  auto migrated = migrate_settings(f, Version{15, 0, 1, 0}, Migration::Firmware);
  EXPECT_EQ(1, layouts.decode(migrated).hidden["scripting_compressed"]);
}
