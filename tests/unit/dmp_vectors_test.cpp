// Every field of every layout, against decode-config: the vectors in tests/data/dmp/ are settings files
// with every field filled with seeded random values, for a spread of Tasmota versions (6.7.1 to
// 15.0.1) on ESP8266 and every ESP32 variant, each with decode-config v15.0.1.3's decoding beside it
// (tools/make_dmp_vectors.py wrote both; decode-config is an independent implementation of the format).
// No vector of 15.0.1.2 or later: decode-config 15.0.1.3's table for those lists only the fields the
// ESP32-P4 moved, without config_version, so it shows 32 fields of such a file, as if it were no ESP32-P4
// (tools/extract_dmp_layouts.py reads that table as an update of the one before).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "backup/dmp_file.h"
#include "backup/settings_commands.h"
#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"
#include "tests/unit/decode_config_compare.h"

using namespace fleet::backup;
using nlohmann::json;

namespace {

std::string data_path(const std::string& name) { return std::string(FLEET_TEST_DATA) + "/dmp/" + name; }

std::vector<std::uint8_t> load_bytes(const std::string& name) {
  std::ifstream in(data_path(name), std::ios::binary);
  if (!in) ADD_FAILURE() << "missing test vector " << data_path(name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// name, the layout decode-config read it with (its header's template version), the values compared (all of them)
struct Vector {
  const char* name;
  const char* layout;
  int values;
};

// decode-config reads a float field through its integer bit reader and shows it cut to an integer
// (ms5837_pressure_offset, Tasmota's float: 1013.25 shows as 1013); the decoder keeps the float.
bool decode_config_truncated(const std::string& diff) { return diff.find(".ms5837_pressure_offset: ") != std::string::npos; }

class DmpVectors : public ::testing::TestWithParam<Vector> {};

TEST_P(DmpVectors, EveryFieldDecodesAsDecodeConfigDecodesIt) {
  auto v = GetParam();
  auto read = read_dmp(load_bytes(std::string(v.name) + ".dmp"));
  ASSERT_TRUE(read.file) << read.error;
  auto decoded = SettingsLayouts::builtin().decode(*read.file);
  std::ifstream in(data_path(std::string(v.name) + ".json"));
  auto theirs = json::parse(in);
  EXPECT_EQ(v.layout, decoded.layout);
  EXPECT_EQ(theirs["header"]["template"]["version"]["name"].get<std::string>(), decoded.layout);
  std::vector<std::string> diffs;
  int values = 0;
  fleet::testing::compare(decoded.fields, theirs, "", diffs, values);
  std::erase_if(diffs, [&](const std::string& d) {
    return decode_config_truncated(d);
  });
  for (std::size_t i = 0; i < diffs.size() && i < 40; ++i) ADD_FAILURE() << v.name << diffs[i];
  EXPECT_EQ(0u, diffs.size()) << v.name << ": " << diffs.size() << " differences of " << values << " values";
  EXPECT_EQ(v.values, values) << "values compared";
  for (auto& n : decoded.notes) ADD_FAILURE() << v.name << ": " << n;
}

// Without the fields that describe the file (sizes, checksums, save counter), which a blank file has its own of.
nlohmann::ordered_json device_fields(nlohmann::ordered_json f) {
  for (auto* h : {"cfg_crc", "cfg_crc32", "cfg_holder", "cfg_size", "cfg_timestamp", "save_flag", "version", "config_version"}) f.erase(h);
  return f;
}

// The names of the fields whose values differ.
std::vector<std::string> differing(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b) {
  std::vector<std::string> out;
  for (auto& [k, v] : a.items())
    if (!b.contains(k) || b[k] != v) out.push_back(k);
  for (auto& [k, v] : b.items())
    if (!a.contains(k)) out.push_back(k);
  return out;
}

// decode, then write every value into a blank file of the same version and chip: the same settings.
TEST_P(DmpVectors, EveryDecodedValueEncodesBackIntoABlankFile) {
  auto v = GetParam();
  auto read = read_dmp(load_bytes(std::string(v.name) + ".dmp"));
  ASSERT_TRUE(read.file) << read.error;
  auto& layouts = SettingsLayouts::builtin();
  auto original = layouts.decode(*read.file);
  auto blank = blank_settings(read.file->version(), read.file->platform().value_or(0));
  auto errors = layouts.encode(blank, original.fields);
  for (auto& e : errors) ADD_FAILURE() << v.name << ": " << e;
  blank.seal();
  auto again = read_dmp(blank.bytes());
  ASSERT_TRUE(again.file) << again.error;
  EXPECT_EQ(std::vector<std::string>{}, differing(device_fields(original.fields), device_fields(layouts.decode(*again.file).fields))) << v.name;
}

// decode-config's JSON backup of the file, written into a blank file: decodes as decode-config decoded it.
TEST_P(DmpVectors, DecodeConfigsJsonEncodesIntoTheSameSettings) {
  auto v = GetParam();
  auto read = read_dmp(load_bytes(std::string(v.name) + ".dmp"));
  ASSERT_TRUE(read.file) << read.error;
  std::ifstream in(data_path(std::string(v.name) + ".json"));
  auto theirs = nlohmann::ordered_json::parse(in);
  auto& layouts = SettingsLayouts::builtin();
  auto blank = blank_settings(read.file->version(), read.file->platform().value_or(0));
  auto errors = layouts.encode(blank, theirs);
  for (auto& e : errors) ADD_FAILURE() << v.name << ": " << e;
  blank.seal();
  auto diff = differing(device_fields(layouts.decode(*read.file).fields), device_fields(layouts.decode(blank).fields));
  std::erase_if(diff, [](auto& d) { return decode_config_truncated("." + d + ": "); });  // its JSON holds the integer
  EXPECT_EQ(std::vector<std::string>{}, diff) << v.name;
}

// A migration copies the stored bytes of the fields both layouts store alike (SettingsLayouts::copy_stored,
// for speed): the same settings as writing every decoded value into a blank file of the new version.
TEST_P(DmpVectors, MigratingByStoredBytesGivesWhatWritingEveryValueGives) {
  auto v = GetParam();
  auto read = read_dmp(load_bytes(std::string(v.name) + ".dmp"));
  ASSERT_TRUE(read.file) << read.error;
  auto& layouts = SettingsLayouts::builtin();
  auto platform = read.file->platform().value_or(0);
  auto original = layouts.decode(*read.file);
  int targets = 0;
  for (auto to : {"8.5.1", "9.1.0", "12.5.0", "14.2.0", "15.0.1"}) {
    auto version = *fleet::planner::Version::parse(to);
    if (version < read.file->version()) continue;
    ++targets;
    auto migrated = layouts.decode(migrate_settings(*read.file, version, Migration::Translate));
    auto by_value = blank_settings(version, platform);
    layouts.encode(by_value, original.fields);  // fields the new layout lacks are refused: dropped, as migration drops them
    layouts.encode(by_value, original.hidden);
    by_value.seal();
    auto expected = layouts.decode(by_value);
    auto diff = differing(device_fields(expected.fields), device_fields(migrated.fields));
    auto hidden = differing(expected.hidden, migrated.hidden);
    diff.insert(diff.end(), hidden.begin(), hidden.end());
    // Renumbered on purpose (dmp_test); decode-config's my_gp_esp32 names my_gp's bytes on ESP8266 from 10.1.0.6.
    if (crosses_gpio_renumbering(read.file->version(), version, platform))
      std::erase_if(diff, [](auto& d) { return d == "my_gp" || d == "my_gp_esp32" || d == "user_template" || d == "templatename"; });
    if (!original.fields.contains("templatename"))  // moved out of the template by the migration (SET_TEMPLATE_NAME)
      std::erase(diff, "templatename");
    EXPECT_EQ(std::vector<std::string>{}, diff) << v.name << " -> " << to;
  }
  EXPECT_GT(targets, 0);
}

TEST_P(DmpVectors, OneFieldDecodedAloneIsWhatTheWholeDecodeShowsThere) {
  auto v = GetParam();
  auto read = read_dmp(load_bytes(std::string(v.name) + ".dmp"));
  ASSERT_TRUE(read.file) << read.error;
  auto& layouts = SettingsLayouts::builtin();
  auto whole = layouts.decode(*read.file).fields;
  std::size_t paths = 0;
  // Every field, and every element or member one level below it (where the walk meets indexes of
  // texts, strides of arrays and members of groups).
  for (auto& [name, value] : whole.items()) {
    auto alone = layouts.decode_field(*read.file, name);
    ASSERT_TRUE(alone) << v.name << ": " << name;
    EXPECT_EQ(value, *alone) << v.name << ": " << name;
    ++paths;
    if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto path = fmt::format("{}/{}", name, i);
        auto one = layouts.decode_field(*read.file, path);
        ASSERT_TRUE(one) << v.name << ": " << path;
        EXPECT_EQ(value[i], *one) << v.name << ": " << path;
        ++paths;
      }
      EXPECT_FALSE(layouts.decode_field(*read.file, fmt::format("{}/{}", name, value.size()))) << v.name << ": " << name << " past its end";
    } else if (value.is_object()) {
      for (auto& [member, m] : value.items()) {
        auto path = name + "/" + member;
        auto one = layouts.decode_field(*read.file, path);
        ASSERT_TRUE(one) << v.name << ": " << path;
        EXPECT_EQ(m, *one) << v.name << ": " << path;
        ++paths;
      }
    }
  }
  EXPECT_GT(paths, 500u) << v.name;
  EXPECT_FALSE(layouts.decode_field(*read.file, "no_such_field"));
  EXPECT_FALSE(layouts.decode_field(*read.file, "scripting_used"));  // hidden: decode never shows it
}

// The rules of 512 bytes or more decode-config wrote (tools/make_dmp_vectors.py): compressed, decoded back to
// the text, and written again byte for byte as decode-config wrote them (Tasmota's SetRule: a rule of
// MAX_RULE_SIZE bytes or more is stored as 0, (length + 7) / 8, the Unishox bytes, NUL).
// A job reads its backup and its device's file several times: a file decoded again is the decode already
// made, shared; a file that differs by one byte is decoded anew.
TEST(DmpDecode, AFileDecodedAgainIsSharedAndAChangedOneDecodedAnew) {
  auto read = read_dmp(load_bytes("random-9.1.0.dmp"));
  ASSERT_TRUE(read.file) << read.error;
  auto& layouts = SettingsLayouts::builtin();
  auto first = layouts.decoded(*read.file);
  auto again = layouts.decoded(*read.file);
  EXPECT_EQ(first.get(), again.get());
  auto changed = *read.file;
  ASSERT_TRUE(layouts.set(changed, "mqtt_topic", "changed").empty());
  auto other = layouts.decoded(changed);
  EXPECT_NE(first.get(), other.get());
  EXPECT_EQ("changed", other->fields["mqtt_topic"]);
  EXPECT_NE("changed", first->fields["mqtt_topic"]);
  EXPECT_EQ(layouts.decode(*read.file).fields, first->fields) << "decode() is a copy of the same";
}

TEST(DmpRules, LongRulesAreStoredCompressedAsTheFirmwareAndDecodeConfigStoreThem) {
  for (auto name : {"rule-compressed-15.0.1", "rule-compressed-10.1.0"}) {
    auto read = read_dmp(load_bytes(std::string(name) + ".dmp"));
    ASSERT_TRUE(read.file) << read.error;
    auto& layouts = SettingsLayouts::builtin();
    auto rules = layouts.decode(*read.file).fields["rules"];
    ASSERT_EQ(3u, rules.size());
    EXPECT_EQ(594u, rules[0].get<std::string>().size()) << name;
    EXPECT_EQ(520u, rules[2].get<std::string>().size()) << name;
    EXPECT_EQ("ON Switch1#State DO Power1 TOGGLE ENDON", rules[1]) << name;
    auto copy = *read.file;
    for (int i : {0, 2}) {
      ASSERT_EQ("", layouts.set(copy, fmt::format("rules/{}", i), "")) << name;
      ASSERT_EQ("", layouts.set(copy, fmt::format("rules/{}", i), rules[i])) << name;
    }
    copy.seal();
    // The checksums aside: decode-config writes a 16-bit sum at 0x00E that is not the sum of the bytes it
    // wrote, beside a right CRC-32 (only
    // the CRC-32 counts from 6.6.0.10 on); seal() writes both anew.
    std::vector<std::size_t> differ;
    for (std::size_t i = 0; i < copy.settings.size(); ++i)
      if (copy.settings[i] != read.file->settings[i] && i != 14 && i != 15 && i < copy.settings.size() - 4) differ.push_back(i);
    EXPECT_TRUE(copy.checksum_ok());
    EXPECT_EQ(std::vector<std::size_t>{}, differ) << name << ": the same bytes as decode-config wrote";
  }
}

// Invalid UTF-8, control and format characters in every text field (tools/make_dmp_vectors.py's HOSTILE):
// dropped as decode-config drops them (the comparison above), so every output format takes the result.
TEST(DmpText, HostileBytesInEveryTextFieldLeaveTextEveryFormatTakes) {
  for (auto name : {"hostile-text-15.0.1", "hostile-text-8.5.1", "hostile-text-14.2.0-esp32c3"}) {
    auto read = read_dmp(load_bytes(std::string(name) + ".dmp"));
    ASSERT_TRUE(read.file) << read.error;
    auto decoded = SettingsLayouts::builtin().decode(*read.file);
    std::string dumped;
    EXPECT_NO_THROW(dumped = decoded.fields.dump()) << name;
    EXPECT_NO_THROW(nlohmann::json::parse(dumped)) << name;
    std::size_t commands = 0;
    EXPECT_NO_THROW(for (auto& g : settings_commands(decoded.fields, {true})) commands += g.commands.size()) << name;
    EXPECT_GT(commands, 10u) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, DmpVectors,
    ::testing::Values(Vector{"random-6.7.1", "6.6.0.21", 1018}, Vector{"random-7.2.0", "7.1.2.6", 1016}, Vector{"random-8.1.0", "8.1.0", 1097},
                      Vector{"random-8.5.1", "8.5.1", 1258}, Vector{"random-9.1.0", "9.1.0", 1272}, Vector{"random-9.5.0", "9.4.0.6", 1328},
                      Vector{"random-10.1.0", "10.0.0.4", 1380}, Vector{"random-11.1.0", "11.0.0.7", 1464},
                      Vector{"random-12.5.0", "12.4.0.2", 1496}, Vector{"random-13.4.0", "13.3.0.5", 1527},
                      Vector{"random-14.2.0", "14.1.0.3", 1529}, Vector{"random-15.0.1", "14.6.0.1", 1559},
                      Vector{"random-9.5.0-esp32", "9.4.0.6", 1442}, Vector{"random-12.5.0-esp32", "12.4.0.2", 1609},
                      Vector{"random-14.2.0-esp32s3", "14.1.0.3", 1648}, Vector{"random-14.2.0-esp32s2", "14.1.0.3", 1649},
                      Vector{"random-14.2.0-esp32c3", "14.1.0.3", 1610}, Vector{"random-15.0.1-esp32c2", "14.6.0.1", 1696},
                      Vector{"random-15.0.1-esp32c6", "14.6.0.1", 1716}, Vector{"random-15.0.1-esp32p4", "14.6.0.1", 1652},
                      Vector{"random-15.0.1-esp32", "14.6.0.1", 1652},
                      Vector{"rule-compressed-15.0.1", "14.6.0.1", 1559}, Vector{"rule-compressed-10.1.0", "10.0.0.4", 1380},
                      Vector{"hostile-text-15.0.1", "14.6.0.1", 1559}, Vector{"hostile-text-8.5.1", "8.5.1", 1258},
                      Vector{"hostile-text-14.2.0-esp32c3", "14.1.0.3", 1610}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
