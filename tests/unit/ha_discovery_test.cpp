// What Home Assistant accepts, checked on every config and state we publish. Facts from
// home-assistant/core (read, not copied):
// - homeassistant/components/mqtt/discovery.py TOPIC_MATCHER: <prefix>/<component>/[<node_id>/]<object_id>/config,
//   node_id and object_id [a-zA-Z0-9_-]+; const.py DEFAULT_PREFIX "homeassistant", DEFAULT_BIRTH homeassistant/status "online".
// - mqtt/config.py MQTT_RO_SCHEMA: state_topic required (update, sensor); mqtt/button.py: command_topic required.
// - mqtt/update.py: INSTALL offered only with command_topic, and async_install publishes payload_install
//   (no default: required with command_topic; openHAB's Update.java needs both too); device_class only
//   "firmware" (components/update UpdateDeviceClass).
// - mqtt/update.py MQTT_JSON_UPDATE_SCHEMA (a closed schema: an unknown key drops the whole state):
//   installed_version, latest_version, title, release_summary strings (null rejected: cv.string),
//   release_url, entity_picture http(s) URLs, in_progress boolean, update_percentage 0-100 or null.
// - components/update/__init__.py state_attributes truncates release_summary to 255 characters.
// - entity_category "config" or "diagnostic" (EntityCategory); a sensor may not be "config" (core PR #107199).
// - device block: identifiers and/or connections ([type, value] pairs of strings), at least one; a
//   connection ["mac", …] matches the Tasmota integration's device (tasmota/update.py registers by MAC).
// - availability_topic with payload_available/payload_not_available (defaults "online"/"offline").
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "orchestrator/ha_discovery.h"
#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

using namespace fleet::orchestrator;
using nlohmann::json;

namespace {

const std::set<std::string> kUpdateStateKeys = {"installed_version", "latest_version", "title", "release_summary",
                                               "release_url", "entity_picture", "in_progress", "update_percentage"};

void expect_valid_topic(const HaNames& n, const std::string& topic, const std::string& component) {
  static const std::regex matcher(R"(^([^/]+)/(\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(topic, m, matcher)) << topic;
  EXPECT_EQ(n.prefix, m[1]);
  EXPECT_EQ(component, m[2]);
}

void expect_common(const json& c) {
  EXPECT_TRUE(c["unique_id"].is_string() && !c["unique_id"].get<std::string>().empty());
  EXPECT_TRUE(c["name"].is_string());
  EXPECT_EQ("online", c.value("payload_available", "online"));
  EXPECT_EQ("offline", c.value("payload_not_available", "offline"));
  EXPECT_TRUE(c["availability_topic"].is_string());
  if (c.contains("entity_category")) EXPECT_TRUE(c["entity_category"] == "config" || c["entity_category"] == "diagnostic");
  const auto& d = c["device"];
  ASSERT_TRUE(d.is_object());
  EXPECT_TRUE(d.contains("identifiers") || d.contains("connections"));
  if (d.contains("connections"))
    for (auto& pair : d["connections"]) {
      ASSERT_TRUE(pair.is_array());
      ASSERT_EQ(2u, pair.size());
      EXPECT_TRUE(pair[0].is_string() && pair[1].is_string());
    }
}

void expect_valid_update_state(const json& s) {
  ASSERT_TRUE(s.is_object());
  for (auto& [k, v] : s.items()) {
    EXPECT_TRUE(kUpdateStateKeys.count(k)) << "unknown key " << k << " would drop the whole state";
    if (k == "in_progress") EXPECT_TRUE(v.is_boolean()) << k;
    else if (k == "update_percentage") EXPECT_TRUE(v.is_null() || (v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 100)) << v;
    else if (k == "release_url" || k == "entity_picture") EXPECT_EQ(0u, v.get<std::string>().rfind("https://", 0)) << v;
    else EXPECT_TRUE(v.is_string()) << k << " " << v;  // null would be refused
  }
  if (s.contains("release_summary")) EXPECT_LE(s["release_summary"].get<std::string>().size(), 255u);
}

fleet::inventory::DeviceRecord device(const std::string& mac, const char* version) {
  fleet::inventory::DeviceRecord d;
  d.mac = mac;
  d.topic = "kitchen";
  if (version) d.version = version;
  d.build = "tasmota";
  d.chip = "ESP8266";
  return d;
}

}  // namespace

TEST(HaDiscovery, TheUpdateConfigAttachesToTheDeviceByMacAndCanInstall) {
  HaNames n;
  auto m = ha_update_config(n, device("5C:CF:7F:00:05:0A", "9.1.0"));
  expect_valid_topic(n, m.topic, "update");
  EXPECT_EQ("homeassistant/update/tasmota_fleet/5ccf7f00050a_firmware/config", m.topic);
  auto c = json::parse(m.payload);
  expect_common(c);
  EXPECT_EQ("firmware", c["device_class"]);
  EXPECT_EQ("config", c["entity_category"]);
  EXPECT_EQ("Firmware (staged upgrade)", c["name"]);  // beside the Tasmota integration's own "Firmware"
  EXPECT_TRUE(c["state_topic"].is_string());
  EXPECT_TRUE(c["command_topic"].is_string());
  EXPECT_TRUE(c["payload_install"].is_string());
  EXPECT_EQ(json::parse(R"([["mac", "5c:cf:7f:00:05:0a"]])"), c["device"]["connections"]);
  EXPECT_FALSE(c["device"].contains("name")) << "a name would rename the Tasmota integration's device";
  EXPECT_EQ("tasmota-fleet/v1/devices/5C:CF:7F:00:05:0A/install", c["command_topic"]);
  EXPECT_EQ("tasmota-fleet/v1/status", c["availability_topic"]);
  HaNames other{"ha", "fleet"};
  EXPECT_EQ("ha/update/tasmota_fleet/5ccf7f00050a_firmware/config", ha_update_config(other, device("5C:CF:7F:00:05:0A", "9.1.0")).topic);
}

TEST(HaDiscovery, TheFleetDeviceHasARolloutSensorAndThreeButtons) {
  HaNames n;
  auto configs = ha_fleet_configs(n);
  ASSERT_EQ(4u, configs.size());
  std::set<std::string> presses;
  for (auto& m : configs) {
    auto c = json::parse(m.payload);
    expect_common(c);
    EXPECT_EQ(json::array({"tasmota_fleet"}), c["device"]["identifiers"]);
    if (m.topic.find("/sensor/") != std::string::npos) {
      expect_valid_topic(n, m.topic, "sensor");
      EXPECT_TRUE(c["state_topic"].is_string());
      EXPECT_FALSE(c.contains("entity_category")) << "a sensor may not be config";
      EXPECT_EQ(c["state_topic"], c["json_attributes_topic"]);
    } else {
      expect_valid_topic(n, m.topic, "button");
      EXPECT_TRUE(c["command_topic"].is_string());
      presses.insert(c["payload_press"].get<std::string>());
    }
  }
  EXPECT_EQ((std::set<std::string>{"pause", "resume", "abort"}), presses);
}

TEST(HaDiscovery, StatesHoldOnlyWhatHomeAssistantAccepts) {
  fleet::planner::Catalog catalog = fleet::planner::Catalog::builtin();
  fleet::planner::Planner planner(catalog);
  fleet::planner::DeviceState old;
  old.name = "kitchen";
  old.version = *fleet::planner::Version::parse("6.7.1");
  old.build = "tasmota";
  auto plan = planner.plan(old, {});
  ASSERT_TRUE(plan.ok()) << plan.error;
  ASSERT_GT(plan.hops.size(), 2u);

  HaUpdateFacts idle{"6.7.1", plan, false, std::nullopt};
  auto s = ha_update_state(idle);
  expect_valid_update_state(s);
  EXPECT_EQ("6.7.1", s["installed_version"]);
  EXPECT_EQ(plan.target.str(), s["latest_version"]);
  EXPECT_FALSE(s["in_progress"].get<bool>());
  EXPECT_TRUE(s["update_percentage"].is_null());
  auto summary = s["release_summary"].get<std::string>();
  EXPECT_EQ(0u, summary.find(std::to_string(plan.hops.size()) + " hops (6.7.1 > ")) << summary;
  EXPECT_NE(std::string::npos, summary.find(plan.hops.front().version.str())) << summary;

  HaUpdateFacts running{"6.7.1", plan, true, 130};
  auto r = ha_update_state(running);
  expect_valid_update_state(r);
  EXPECT_EQ(100, r["update_percentage"]);  // clamped

  // Not yet known (no version): no null strings, nothing to install.
  auto unknown = ha_update_state(HaUpdateFacts{});
  expect_valid_update_state(unknown);
  EXPECT_FALSE(unknown.contains("installed_version"));
  EXPECT_FALSE(unknown.contains("latest_version"));

  // A plan refused (with its reason) offers no newer version.
  fleet::planner::UpgradePlan refused;
  refused.error = std::string(400, 'x');
  auto no = ha_update_state(HaUpdateFacts{"5.14.0", refused, false, std::nullopt});
  expect_valid_update_state(no);
  EXPECT_EQ("5.14.0", no["latest_version"]);
}
