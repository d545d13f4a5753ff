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

// Two online devices on one topic (a copied configuration): both views say so, and name each one's
// fallback topic, where device jobs send its commands instead.
TEST(DeviceTable, ATopicSharedByTwoOnlineDevicesIsShown) {
  DeviceRecord a, b, c;
  a.mac = "AA:BB:CC:DD:EE:01";
  b.mac = "AA:BB:CC:DD:EE:02";
  c.mac = "AA:BB:CC:DD:EE:03";
  for (auto* d : {&a, &b, &c}) {
    d->topic = "plug";
    d->version = "9.1.0";
    d->online = true;
  }
  a.mqtt_client = "DVES_DDEE01";
  c.online = false;  // gone: it shares nothing any more
  auto t = fleet::cli::render_table({a, b, c}, 1000);
  EXPECT_NE(std::string::npos, t.find("topic 'plug' is used by 2 devices (AA:BB:CC:DD:EE:01, AA:BB:CC:DD:EE:02)")) << t;
  auto j = nlohmann::json::parse(fleet::cli::render_json({a, b, c}));
  EXPECT_EQ(nlohmann::json::array({"AA:BB:CC:DD:EE:02"}), j[0]["topic_shared_with"]);
  EXPECT_EQ(nlohmann::json::array({"AA:BB:CC:DD:EE:01"}), j[1]["topic_shared_with"]);
  EXPECT_TRUE(j[2]["topic_shared_with"].empty());
  EXPECT_EQ("cmnd/DVES_DDEE01_fb/", j[0]["fallback_topic"]);
  EXPECT_TRUE(j[1]["fallback_topic"].is_null());  // its MqttClient is not known yet
}
