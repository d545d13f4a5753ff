// What the fuzzers (tests/fuzz, docs/fuzzing.md) found, each fixed: the input that broke it, reduced,
// and what must hold for it now. Also built under the sanitizers as tests/fuzz/fuzz_regressions_test.
#include <gtest/gtest.h>

#include <string>

#include "backup/settings_file.h"
#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"
#include "core/utf8_prefix.h"
#include "inventory/payloads.h"
#include "orchestrator/rollout_spec.h"
#include "planner/catalog.h"
#include "tests/unit/rollout_world.h"

using namespace fleet;

// fuzz_payloads: Tasmota's discovery "tp" (the three prefixes) was taken as it came and joined, so a NUL,
// a control byte or 60 KB of text reached the record, the database and `devices --json`. Found input:
// tasmota/discovery/2C3AE8123456/config {…,"tp":["cmnd","stat","t\u0000ele"]}.
TEST(FuzzRegressions, DiscoveryPrefixesAreCheckedLikeEveryTextField) {
  auto parse = [](const std::string& tp) {
    return inventory::parse_payload(inventory::MessageKind::Discovery, R"({"mac":"2C3AE8123456","tp":)" + tp + "}");
  };
  EXPECT_EQ("cmnd,stat,tele", parse(R"(["cmnd","stat","tele"])").facts.prefixes);
  for (const std::string& bad : {std::string(R"(["cmnd","stat","t\u0000ele"])"),
                                 std::string(R"(["cmnd","stat","tele\u001b[2J"])"), std::string(R"(["cmnd","st,at","tele"])"),
                                 std::string(R"(["","stat","tele"])"), R"([")" + std::string(65, 'x') + R"(","stat","tele"])",
                                 std::string(R"(["cmnd","stat",7])"), std::string(R"(["cmnd","stat"])")}) {
    auto r = parse(bad);
    EXPECT_TRUE(r.ok()) << bad;  // one bad field: the rest of the message still counts
    EXPECT_EQ("2C:3A:E8:12:34:56", r.facts.mac) << bad;
    EXPECT_FALSE(r.facts.prefixes) << bad;
    EXPECT_FALSE(r.dropped.empty()) << bad;
  }
}

// Reading fuzz_catalog's target: a catalog file's wrong types escaped as nlohmann's type_error instead of
// CatalogError naming the key, and an image_kb above 2^31 was read modulo 2^32 (4294967297 as 1 KB).
// fuzz_catalog: a checkpoint listed twice made two hops to the same version (6.7.1 → 6.7.1).
TEST(FuzzRegressions, CatalogRefusesWrongTypesAndSizesWithItsOwnError) {
  for (const char* bad :
       {R"({"checkpoints":[{"version":"1.0.0","entry_only":"yes","dir":"x"}]})",
        R"({"eras":[{"before":"7.0.0","rename":{"tasmota-lite":1}}]})", R"({"image_kb":{"tasmota":4294967297}})",
        R"({"image_kb":{"tasmota":18446744073709551615}})", R"({"image_kb":{"tasmota":0}})",
        R"({"checkpoints":[{"version":"6.7.1","build":"sonoff","dir":"release_6.7.1"},)"
        R"({"version":"6.7.1","build":"sonoff","dir":"release_6.7.1"}]})"})
    EXPECT_THROW(planner::Catalog::parse(bad), planner::CatalogError) << bad;
  EXPECT_EQ(610, planner::Catalog::parse(R"({"image_kb":{"tasmota-mybuild":610}})").image_kb("tasmota-mybuild"));
  EXPECT_TRUE(
      planner::Catalog::parse(R"({"checkpoints":[{"version":"1.0.11","entry_only":true}]})").checkpoints().front().entry_only);
}

// fuzz_control: an unknown command of 63 ASCII bytes and an "é" was quoted cut at 64 bytes, half the "é"
// in the answer; its dump() threw (type_error 316) out of ControlApi::on_message and took the daemon's
// loop down: one message on the control topic stopped the daemon. The same cut in RolloutSpec's quoting
// of long values. Found input: {"command":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé"}.
TEST(FuzzRegressions, QuotedRequestTextIsCutBetweenCharacters) {
  EXPECT_EQ("ab", core::utf8_prefix("ab\xc3\xa9", 3));
  EXPECT_EQ("ab\xc3\xa9", core::utf8_prefix("ab\xc3\xa9", 4));
  EXPECT_EQ("a", core::utf8_prefix("a\xe2\x82\xac", 3));
  EXPECT_EQ("", core::utf8_prefix("\xf0\x9f\x98\x80", 2));
  EXPECT_EQ("abc", core::utf8_prefix("abc", 64));

  fleet::testing::RolloutWorld w;
  const std::string e_acute = "\xc3\xa9";
  struct Case {
    std::string request, quoted;
  } cases[] = {
      {R"({"command":")" + std::string(63, 'a') + e_acute + R"("})", "'" + std::string(63, 'a') + "'"},
      {R"({"command":"rollout.start","devices":"all","waves":")" + std::string(39, '1') + e_acute + R"("})",
       "'" + std::string(39, '1') + "…'"},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(w.api.on_message(w.transport, w.api.request_topic(), c.request)) << c.request;
    const std::string& published = w.transport.sent.back().second;
    EXPECT_EQ(std::string::npos, published.find("\xef\xbf\xbd")) << "a character cut in two: " << published;
    auto answer = nlohmann::json::parse(published);
    EXPECT_FALSE(answer["ok"].get<bool>());
    EXPECT_NE(std::string::npos, answer["error"].get<std::string>().find(c.quoted)) << published;
  }
}

// fuzz_dmp: a 14.2.0 ESP32 file's influxdb_org32 (text 120 of the pool) came back empty from `backup export
// --format json` then `backup import`. The texts both chips have say the ESP8266's pool of 99 texts; set()
// rebuilt the pool from that many, so writing mqtt_client after influxdb_org32 dropped every ESP32-only
// text (restores migrating the settings too). The pool is the platform's: 126 texts on an ESP32 here.
TEST(FuzzRegressions, WritingATextBothChipsHaveKeepsTheEsp32OnlyTexts) {
  auto& layouts = backup::SettingsLayouts::builtin();
  auto file = backup::blank_settings(*planner::Version::parse("14.2.0"), 1);  // ESP32
  ASSERT_EQ("", layouts.set(file, "influxdb_org32", "my-org"));
  ASSERT_EQ("", layouts.set(file, "webcanvas32", "canvas"));
  ASSERT_EQ("", layouts.set(file, "mqtt_client", "plug-%06X"));
  auto fields = layouts.decode(file).fields;
  EXPECT_EQ("my-org", fields["influxdb_org32"]);
  EXPECT_EQ("canvas", fields["webcanvas32"]);
  EXPECT_EQ("plug-%06X", fields["mqtt_client"]);
  // Copied by bytes into another ESP32 file (a restore migrating the settings), they stay too.
  auto to = backup::blank_settings(*planner::Version::parse("14.2.0"), 1);
  auto left = layouts.copy_stored(file, to, {"mqtt_client", "influxdb_org32", "webcanvas32"});
  for (auto& name : left) ASSERT_EQ("", layouts.set(to, name, fields[name]));
  auto copied = layouts.decode(to).fields;
  EXPECT_EQ("my-org", copied["influxdb_org32"]);
  EXPECT_EQ("canvas", copied["webcanvas32"]);
  EXPECT_EQ("plug-%06X", copied["mqtt_client"]);
}

// fuzz_dmp: a text pool holding more text than leaves room for every NUL (only in files Tasmota did not
// write; decode-config's random vectors are such files, DmpVectors encodes them back) reads as decode-config
// reads it. Writing it back, its empty texts at the end go without their NULs when room is short; a text
// that does not fit even so is refused, naming the field, and the file keeps what it had.
TEST(FuzzRegressions, ATextThatDoesNotFitThePoolIsRefusedAndTheFileKeepsWhatItHad) {
  auto& layouts = backup::SettingsLayouts::builtin();
  auto file = backup::blank_settings(*planner::Version::parse("14.2.0"), 1);
  ASSERT_EQ("", layouts.set(file, "influxdb_org32", "org"));
  // The longest devicename the pool takes: it reads back whole, with every other text.
  std::size_t lo = 1, hi = 699;
  while (lo < hi) {
    auto mid = (lo + hi + 1) / 2;
    auto probe = file;
    if (layouts.set(probe, "devicename", std::string(mid, 'y')).empty()) lo = mid;
    else hi = mid - 1;
  }
  ASSERT_GT(lo, 400u);
  ASSERT_EQ("", layouts.set(file, "devicename", std::string(lo, 'y')));
  auto fields = layouts.decode(file).fields;
  EXPECT_EQ(std::string(lo, 'y'), fields["devicename"]);
  EXPECT_EQ("org", fields["influxdb_org32"]);
  auto before = file.settings;
  auto why = layouts.set(file, "friendlyname/0", "z");
  EXPECT_NE(std::string::npos, why.find("friendlyname/0: the text pool would need")) << why;
  EXPECT_EQ(before, file.settings);
}

// fuzz_settings_json: a JSON backup's text holding a control character (U+007F in sta_pwd) was imported as
// given, and decoded without it (decode-config shows only printable text): the value did not read back.
// The import refuses it now, naming the field.
TEST(FuzzRegressions, ATextTheDecodeWouldNotShowIsRefusedByTheImport) {
  std::string json = R"({"version":"0x0e020000","config_version":4,"sta_pwd":["pass\u007fword",""],"hostname":"c3-%06X"})";
  auto r = backup::read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()));
  ASSERT_FALSE(r);
  EXPECT_NE(std::string::npos, r.error().find("sta_pwd/0: holds characters a settings file does not show")) << r.error();
  std::string tab = R"({"version":"0x0e020000","config_version":4,"state_text":["a\tb","ON","TOGGLE","HOLD"]})";  // tab is shown
  EXPECT_TRUE(backup::read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(tab.data()), tab.size())));
}

// fuzz_dmp: a file of a scripting build (its flag "scripting_used" on) decodes its rules' space as the
// script, as decode-config does, and never shows the flag: its JSON export imported again read the space
// as rules, and the script was gone. A script given turns the flag on.
TEST(FuzzRegressions, AScriptInAJsonBackupReadsBackAsTheScript) {
  std::string json = R"({"version":"0x0e020000","config_version":1,"script":">D\nx=1\n>B\n=>print hello"})";
  auto r = backup::read_settings_file(std::span(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()));
  ASSERT_TRUE(r) << r.error();
  auto fields = backup::SettingsLayouts::builtin().decode(r->file).fields;
  ASSERT_TRUE(fields.contains("script")) << fields.dump().substr(0, 300);
  EXPECT_EQ(">D\nx=1\n>B\n=>print hello", fields["script"]);
  EXPECT_FALSE(fields.contains("rule"));
}
