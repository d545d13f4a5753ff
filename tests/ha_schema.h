#pragma once
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
// Shared by the unit tests of the configs and states we build and the integration tests, which check
// what the broker actually holds.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace ha_schema {

using nlohmann::json;

inline const std::set<std::string> kUpdateStateKeys = {"installed_version", "latest_version", "title", "release_summary",
                                                      "release_url", "entity_picture", "in_progress", "update_percentage"};

// The discovery topic: <prefix>/<component>/[<node_id>/]<object_id>/config.
inline void expect_valid_topic(const std::string& prefix, const std::string& topic, const std::string& component) {
  static const std::regex matcher(R"(^([^/]+)/(\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(topic, m, matcher)) << topic;
  EXPECT_EQ(prefix, m[1]);
  EXPECT_EQ(component, m[2]);
}

inline void expect_common(const json& c) {
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

// A config by its component: update (state and command topics, payload_install, device_class firmware),
// sensor (state topic, not config), button (command topic).
inline void expect_valid_config(const std::string& prefix, const std::string& topic, const json& c) {
  ASSERT_TRUE(c.is_object()) << topic;
  expect_common(c);
  if (topic.find("/update/") != std::string::npos) {
    expect_valid_topic(prefix, topic, "update");
    EXPECT_TRUE(c["state_topic"].is_string());
    EXPECT_TRUE(c["command_topic"].is_string());
    EXPECT_TRUE(c["payload_install"].is_string());
    EXPECT_EQ("firmware", c["device_class"]);
  } else if (topic.find("/sensor/") != std::string::npos) {
    expect_valid_topic(prefix, topic, "sensor");
    EXPECT_TRUE(c["state_topic"].is_string());
    EXPECT_NE("config", c.value("entity_category", "")) << "a sensor may not be config";
  } else {
    expect_valid_topic(prefix, topic, "button");
    EXPECT_TRUE(c["command_topic"].is_string());
  }
}

inline void expect_valid_update_state(const json& s) {
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

}  // namespace ha_schema
