// Every field of every layout, against decode-config: the vectors in tests/data/dmp/ are settings files
// with every field filled with seeded random values, for a spread of Tasmota versions (6.7.1 to
// 15.0.1) on ESP8266 and every ESP32 variant, each with decode-config v15.0.1.3's decoding beside it
// (tools/make_dmp_vectors.py wrote both; decode-config is an independent implementation of the format).
// No vector of 15.0.1.2 or later: decode-config 15.0.1.3's table for those lists only the fields the
// ESP32-P4 moved, without config_version, so it shows 32 fields of such a file, as if it were no ESP32-P4
// (tools/extract_dmp_layouts.py reads that table as an update of the one before).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"
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
                      Vector{"random-15.0.1-esp32", "14.6.0.1", 1652}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
