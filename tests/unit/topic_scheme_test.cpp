// Topic layout (tasmota-facts.md, Topics; docs MQTT.md): FullTopic default "%prefix%/%topic%/",
// prefixes cmnd/stat/tele, users change both (e.g. "tasmota/%topic%/%prefix%/").
#include <gtest/gtest.h>

#include "mqtt/topic_scheme.h"

using fleet::mqtt::Prefix;
using fleet::mqtt::TopicScheme;

TEST(TopicScheme, ParsesTheDefaultLayout) {
  TopicScheme s;
  auto p = s.parse("tele/kitchen/LWT");
  ASSERT_TRUE(p);
  EXPECT_EQ(Prefix::Tele, p->prefix);
  EXPECT_EQ("kitchen", p->device_topic);
  EXPECT_EQ("LWT", p->suffix);
  auto r = s.parse("stat/tasmota_608461/RESULT");
  ASSERT_TRUE(r);
  EXPECT_EQ(Prefix::Stat, r->prefix);
  EXPECT_FALSE(s.parse("tele/kitchen"));
  EXPECT_FALSE(s.parse("tele/kitchen/LWT/extra"));
  EXPECT_FALSE(s.parse("other/kitchen/LWT"));
  EXPECT_FALSE(s.parse("tele//LWT"));
  EXPECT_EQ("cmnd/kitchen/STATUS", s.topic(Prefix::Command, "kitchen", "STATUS"));
}

TEST(TopicScheme, ParsesACustomFullTopicAndPrefixes) {
  TopicScheme s("tasmota/%topic%/%prefix%/", "c", "s", "t");
  auto p = s.parse("tasmota/plug1/t/STATE");
  ASSERT_TRUE(p);
  EXPECT_EQ(Prefix::Tele, p->prefix);
  EXPECT_EQ("plug1", p->device_topic);
  EXPECT_FALSE(s.parse("tele/plug1/STATE"));
  EXPECT_EQ("tasmota/plug1/c/STATUS", s.topic(Prefix::Command, "plug1", "STATUS"));
  auto f = s.inventory_filters();
  EXPECT_NE(std::find(f.begin(), f.end(), "tasmota/+/t/LWT"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "tasmota/+/s/+"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "tasmota/discovery/+/config"), f.end());
}

TEST(TopicScheme, AcceptsHostnameAsTheDeviceToken) {
  TopicScheme s("%prefix%/%hostname%/");
  auto p = s.parse("stat/tasmota-AB12/STATUS0");
  ASSERT_TRUE(p);
  EXPECT_EQ("tasmota-AB12", p->device_topic);
}

TEST(TopicScheme, RefusesPatternsItCannotRead) {
  EXPECT_THROW(TopicScheme("%topic%/"), std::invalid_argument);           // no prefix
  EXPECT_THROW(TopicScheme("%prefix%/"), std::invalid_argument);          // no device
  EXPECT_THROW(TopicScheme("%prefix%/+/"), std::invalid_argument);        // wildcard
  EXPECT_THROW(TopicScheme("%prefix%/%topic%/%topic%/"), std::invalid_argument);
  EXPECT_THROW(TopicScheme("%prefix%/%topic%/", "cm/nd"), std::invalid_argument);
  EXPECT_THROW(TopicScheme("%prefix%/%topic%/", "#"), std::invalid_argument);
}

TEST(TopicScheme, FindsTheMacInDiscoveryTopics) {
  EXPECT_EQ("A4CF12345678", fleet::mqtt::discovery_mac("tasmota/discovery/A4CF12345678/config"));
  EXPECT_FALSE(fleet::mqtt::discovery_mac("tasmota/discovery/A4CF12345678/sensors"));
  EXPECT_FALSE(fleet::mqtt::discovery_mac("tasmota/discovery//config"));
  EXPECT_FALSE(fleet::mqtt::discovery_mac("tasmota/discovery/a/b/config"));
}
