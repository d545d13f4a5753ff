#include "cli/device_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using fleet::inventory::DeviceRecord;

TEST(DeviceTable, ShowsEveryDeviceAndACount) {
  DeviceRecord a;
  a.mac = "AA:BB:CC:DD:EE:01";
  a.topic = "kitchen";
  a.version = "9.1.0";
  a.build = "tasmota";
  a.chip = "ESP8266";
  a.flash_kb = 4096;
  a.free_kb = 380;
  a.online = true;
  a.last_seen_ms = 1000;
  DeviceRecord b;
  b.mac = "AA:BB:CC:DD:EE:02";
  auto t = fleet::cli::render_table({a, b}, 61'000);
  EXPECT_NE(std::string::npos, t.find("kitchen"));
  EXPECT_NE(std::string::npos, t.find("4096K"));
  EXPECT_NE(std::string::npos, t.find("60s ago"));
  EXPECT_NE(std::string::npos, t.find("never"));
  EXPECT_NE(std::string::npos, t.find("2 devices, 1 online"));
}

TEST(DeviceTable, JsonCarriesEveryField) {
  DeviceRecord a;
  a.mac = "AA:BB:CC:DD:EE:01";
  a.free_kb = 380;
  auto j = nlohmann::json::parse(fleet::cli::render_json({a}));
  ASSERT_EQ(1u, j.size());
  EXPECT_EQ("AA:BB:CC:DD:EE:01", j[0]["mac"]);
  EXPECT_EQ(380, j[0]["free_kb"]);
  EXPECT_TRUE(j[0]["version"].is_null());
  EXPECT_TRUE(j[0].contains("ota_url"));
}

TEST(DeviceTable, Ago) {
  EXPECT_EQ("never", fleet::cli::ago(0, 5));
  EXPECT_EQ("5m ago", fleet::cli::ago(1, 300'001));
  EXPECT_EQ("3h ago", fleet::cli::ago(1, 3 * 3600'000 + 1));
  EXPECT_EQ("2d ago", fleet::cli::ago(1, 2 * 86400'000 + 1));
}
