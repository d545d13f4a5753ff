// Version strings as Tasmota reports them (tasmota-facts.md, Status: "5.14.0", "6.7.1(sonoff)",
// "8.5.1(tasmota)", "9.1.0(tasmota)", "12.5.0(release-sensors)", "14.2.0(release-tasmota32)",
// development "9.1.0.2(tasmota)", minimal builds "(minimal)").
#include <gtest/gtest.h>

#include "planner/chip.h"
#include "planner/version.h"

using fleet::planner::Chip;
using fleet::planner::FirmwareVersion;
using fleet::planner::Version;

TEST(Version, ParsesReleaseAndDevelopment) {
  auto v = Version::parse("6.7.1");
  ASSERT_TRUE(v);
  EXPECT_EQ((Version{6, 7, 1, 0}), *v);
  EXPECT_TRUE(v->is_release());
  auto d = Version::parse("9.1.0.2");
  ASSERT_TRUE(d);
  EXPECT_EQ((Version{9, 1, 0, 2}), *d);
  EXPECT_FALSE(d->is_release());
  EXPECT_EQ("9.1.0.2", d->str());
  EXPECT_EQ((Version{9, 1, 0, 0}), *Version::parse("9.1"));  // the guide writes "v9.1"
  EXPECT_EQ((Version{9, 1, 0, 0}), *Version::parse("v9.1"));
}

TEST(Version, OldLetterSuffixIsADevelopmentBuild) {
  // JSON-Status-Responses.md shows "Version": "5.12.0a"; captures show "5.12.0i".
  EXPECT_EQ((Version{5, 12, 0, 1}), *Version::parse("5.12.0a"));
  EXPECT_EQ((Version{5, 12, 0, 9}), *Version::parse("5.12.0i"));
  EXPECT_LT(*Version::parse("5.12.0"), *Version::parse("5.12.0a"));
}

TEST(Version, RejectsWhatIsNotAVersion) {
  for (const char* bad : {"", "abc", "9", "9.1.", "256.0.0", "1.2.3.4.5", "9.1.0x1", "9..1", "-1.0.0", "9.1.0 (x)"})
    EXPECT_FALSE(Version::parse(bad)) << bad;
}

TEST(Version, OrdersAlongTheCheckpointPath) {
  const char* path[] = {"1.0.11", "3.9.22", "4.2.0", "5.14.0", "6.7.1", "7.2.0", "8.5.1", "9.1.0", "9.1.0.2", "9.2.0", "15.0.1"};
  for (size_t i = 1; i < std::size(path); ++i) EXPECT_LT(*Version::parse(path[i - 1]), *Version::parse(path[i])) << path[i];
}

TEST(FirmwareVersion, SplitsVersionAndBuild) {
  auto a = FirmwareVersion::parse("9.1.0(tasmota)");
  ASSERT_TRUE(a);
  EXPECT_EQ("9.1.0", a->version.str());
  EXPECT_EQ("tasmota", a->build);
  auto b = FirmwareVersion::parse("12.5.0(release-sensors)");
  ASSERT_TRUE(b);
  EXPECT_EQ("sensors", b->build);
  EXPECT_EQ("release-sensors", b->raw_build);
  EXPECT_EQ("tasmota32", FirmwareVersion::parse("14.2.0(release-tasmota32)")->build);
  // Self-compiled: git hash before the image name (capture: "8.1.0.2(1e06976-tasmota)").
  EXPECT_EQ("tasmota", FirmwareVersion::parse("8.1.0.2(1e06976-tasmota)")->build);
  EXPECT_EQ("sonoff", FirmwareVersion::parse("6.7.1(sonoff)")->build);
  auto old = FirmwareVersion::parse("5.14.0");
  ASSERT_TRUE(old);
  EXPECT_EQ("", old->build);
  EXPECT_EQ("5.14.0", old->str());
  EXPECT_TRUE(FirmwareVersion::parse("9.1.0(minimal)")->is_minimal());
  EXPECT_FALSE(FirmwareVersion::parse("9.1.0(tasmota)")->is_minimal());
}

TEST(FirmwareVersion, RejectsMalformed) {
  for (const char* bad : {"9.1.0(tasmota", "9.1.0()", "9.1.0(tas mota)", "9.1.0(a\"b)", "(tasmota)", "x(tasmota)"})
    EXPECT_FALSE(FirmwareVersion::parse(bad)) << bad;
}

TEST(Chip, ReadsHardwareStrings) {
  EXPECT_EQ(Chip::ESP8266, fleet::planner::parse_chip("ESP8266EX"));
  EXPECT_EQ(Chip::ESP8285, fleet::planner::parse_chip("ESP8285H16"));
  EXPECT_EQ(Chip::ESP32, fleet::planner::parse_chip("ESP32-D0WD-V3"));
  EXPECT_EQ(Chip::ESP32S3, fleet::planner::parse_chip("ESP32-S3"));
  EXPECT_EQ(Chip::ESP32C3, fleet::planner::parse_chip("ESP32-C3"));
  EXPECT_EQ(Chip::ESP32C6, fleet::planner::parse_chip("esp32c6"));
  EXPECT_EQ(Chip::Unknown, fleet::planner::parse_chip("RP2040"));
  EXPECT_TRUE(fleet::planner::is_esp8266_family(Chip::ESP8285));
  EXPECT_TRUE(fleet::planner::is_esp32_family(Chip::ESP32C3));
  EXPECT_FALSE(fleet::planner::is_esp32_family(Chip::Unknown));
  EXPECT_EQ("ESP32-S3", fleet::planner::to_string(Chip::ESP32S3));
}
