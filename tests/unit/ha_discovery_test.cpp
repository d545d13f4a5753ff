// What Home Assistant accepts (the facts and their sources: tests/ha_schema.h), checked on every config
// and state ha_discovery.h builds.
#include "../ha_schema.h"

#include "orchestrator/ha_discovery.h"
#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

using namespace fleet::orchestrator;
using namespace ha_schema;
using nlohmann::json;

namespace {

void expect_valid_topic(const HaNames& n, const std::string& topic, const std::string& component) { ha_schema::expect_valid_topic(n.prefix, topic, component); }

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

  HaUpdateFacts idle{"6.7.1", &plan, false, std::nullopt};
  auto s = ha_update_state(idle);
  expect_valid_update_state(s);
  EXPECT_EQ("6.7.1", s["installed_version"]);
  EXPECT_EQ(plan.target.str(), s["latest_version"]);
  EXPECT_FALSE(s["in_progress"].get<bool>());
  EXPECT_TRUE(s["update_percentage"].is_null());
  auto summary = s["release_summary"].get<std::string>();
  EXPECT_EQ(0u, summary.find(std::to_string(plan.hops.size()) + " hops (6.7.1 > ")) << summary;
  EXPECT_NE(std::string::npos, summary.find(plan.hops.front().version.str())) << summary;

  HaUpdateFacts running{"6.7.1", &plan, true, 130};
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
  auto no = ha_update_state(HaUpdateFacts{"5.14.0", &refused, false, std::nullopt});
  expect_valid_update_state(no);
  EXPECT_EQ("5.14.0", no["latest_version"]);
}

TEST(HaDiscovery, ALongRefusalInAnotherScriptIsCutOnACharacterBoundary) {
  // A device's topic is any text a client published: the refusal naming it is cut to 255 bytes
  // without splitting a character, so the state still serializes (nlohmann throws on broken UTF-8).
  fleet::planner::UpgradePlan refused;
  std::string topic;
  for (int i = 0; i < 200; ++i) topic += "\xC3\xBC";  // "ü", two bytes each
  refused.error = topic + ": the chip is not known";
  auto summary = ha_release_summary(refused);
  EXPECT_LE(summary.size(), 255u);
  EXPECT_EQ(0u, summary.size() % 2);
  EXPECT_NO_THROW((void)ha_update_state(HaUpdateFacts{"9.1.0", &refused, false, std::nullopt}).dump());
}
