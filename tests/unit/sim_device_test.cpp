// The simulator speaks each version's shapes (sim/firmware_traits.h cites the boundaries), and what it
// says is what the inventory parser reads: a round trip over every version of the default mix.
#include "sim/sim_device.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "inventory/payloads.h"
#include "sim/fleet.h"

using namespace fleet::sim;
using nlohmann::json;

namespace {
DeviceSpec spec(const std::string& version, const std::string& build = "tasmota") {
  DeviceSpec s;
  s.version = version;
  s.build = build;
  s.mac = "5C:CF:7F:12:34:56";
  s.ip = "127.0.0.5";
  s.settings.topic = "plug";
  return s;
}
constexpr std::int64_t kNow = 1'790'000'000'000;
}  // namespace

TEST(SimDevice, BootAnnouncementsFollowTheVersion) {
  SimDevice old(spec("8.5.1"), kNow);
  auto o = old.on_connected(kNow);
  ASSERT_EQ(4u, o.size());
  EXPECT_EQ("tele/plug/LWT", o[0].topic);
  EXPECT_EQ("Online", o[0].payload);
  EXPECT_TRUE(o[0].retain);
  EXPECT_EQ("tele/plug/INFO1", o[1].topic);
  EXPECT_TRUE(json::parse(o[1].payload).contains("Version"));  // bare
  SimDevice newer(spec("9.5.0"), kNow);
  auto n = newer.on_connected(kNow);
  EXPECT_EQ("9.5.0(tasmota)", json::parse(n[1].payload)["Info1"]["Version"]);
  EXPECT_FALSE(json::parse(n[3].payload)["Info3"].contains("BootCount"));
  SimDevice latest(spec("15.0.1"), kNow);
  EXPECT_TRUE(json::parse(latest.on_connected(kNow)[3].payload)["Info3"].contains("BootCount"));
  EXPECT_EQ("15.0.1(release-tasmota)", latest.firmware_string());
  // Reconnecting after a broker loss repeats only the LWT.
  EXPECT_EQ(1u, latest.on_connected(kNow).size());
}

TEST(SimDevice, Status0CombinedOrOnePartPerMessage) {
  SimDevice newer(spec("9.1.0"), kNow);
  auto r = newer.handle("cmnd/plug/STATUS", "0", kNow);
  ASSERT_EQ(1u, r.publish.size());
  EXPECT_EQ("stat/plug/STATUS0", r.publish[0].topic);
  auto all = json::parse(r.publish[0].payload);
  for (const char* k : {"Status", "StatusPRM", "StatusFWR", "StatusMEM", "StatusNET", "StatusSTS"}) EXPECT_TRUE(all.contains(k)) << k;
  SimDevice old(spec("7.2.0"), kNow);
  auto parts = old.handle("cmnd/plug/Status", "0", kNow);
  ASSERT_EQ(10u, parts.publish.size());
  EXPECT_EQ("stat/plug/STATUS", parts.publish[0].topic);
  EXPECT_EQ("stat/plug/STATUS5", parts.publish[5].topic);
  EXPECT_EQ("stat/plug/STATUS11", parts.publish[9].topic);
  auto one = old.handle("cmnd/plug/STATUS", "4", kNow);
  ASSERT_EQ(1u, one.publish.size());
  EXPECT_EQ("stat/plug/STATUS4", one.publish[0].topic);
  EXPECT_EQ(380, json::parse(one.publish[0].payload)["StatusMEM"]["Free"]);
}

TEST(SimDevice, SetOption4MovesRepliesToPerCommandTopics) {
  SimDevice d(spec("15.0.1"), kNow);
  EXPECT_EQ("stat/plug/RESULT", d.handle("cmnd/plug/OtaUrl", "", kNow).publish[0].topic);
  d.handle("cmnd/plug/SetOption4", "1", kNow);
  auto r = d.handle("cmnd/plug/OtaUrl", "http://127.0.0.1:1/x.bin", kNow);
  EXPECT_EQ("stat/plug/OTAURL", r.publish[0].topic);
  EXPECT_EQ("http://127.0.0.1:1/x.bin", json::parse(r.publish[0].payload)["OtaUrl"]);
}

// Tasmota: a command on cmnd/<MqttClient>_fb/ is answered on stat/<MqttClient>_fb/ (GetTopic_P while
// fallback_topic_flag is set, with the literal "stat"), a Backlog's commands run later from the backlog
// and answer on the Topic; "_fb" from 6.4.1 (#1528), the subscription only with %topic% in FullTopic.
TEST(SimDevice, TheFallbackTopicReachesTheDeviceAndIsAnsweredThere) {
  SimDevice d(spec("15.0.1"), kNow);
  auto filters = d.command_filters();
  EXPECT_NE(filters.end(), std::find(filters.begin(), filters.end(), "cmnd/DVES_123456_fb/+"));
  EXPECT_EQ("stat/DVES_123456_fb/RESULT", d.handle("cmnd/DVES_123456_fb/OtaUrl", "", kNow).publish[0].topic);
  EXPECT_EQ("stat/plug/RESULT", d.handle("cmnd/plug/OtaUrl", "", kNow).publish[0].topic);
  auto backlog = d.handle("cmnd/DVES_123456_fb/Backlog", "FriendlyName1 Kitchen", kNow);
  ASSERT_EQ(1u, backlog.publish.size());
  EXPECT_EQ("stat/plug/RESULT", backlog.publish[0].topic);
  SimDevice old(spec("6.4.0", "sonoff"), kNow);
  auto old_filters = old.command_filters();
  EXPECT_NE(old_filters.end(), std::find(old_filters.begin(), old_filters.end(), "cmnd/DVES_123456/+"));
  auto custom = spec("15.0.1");
  custom.settings.full_topic = "tasmota/%hostname%/%prefix%/";
  SimDevice no_topic(custom, kNow);
  for (auto& f : no_topic.command_filters()) EXPECT_EQ(std::string::npos, f.find("_fb")) << f;
}

TEST(SimDevice, BacklogRunsEachCommandInOrder) {
  SimDevice d(spec("15.0.1"), kNow);
  auto r = d.handle("cmnd/plug/Backlog", "FriendlyName1 Kitchen; TelePeriod 60 ;Rule1 on Power1#State do Publish x 1 endon", kNow);
  ASSERT_EQ(3u, r.publish.size());
  EXPECT_EQ("Kitchen", json::parse(r.publish[0].payload)["FriendlyName1"]);
  EXPECT_EQ(60, json::parse(r.publish[1].payload)["TelePeriod"]);
  EXPECT_EQ("on Power1#State do Publish x 1 endon", json::parse(r.publish[2].payload)["Rule1"]["Rules"]);
  EXPECT_EQ(60, d.spec().settings.tele_period);
  auto unknown = d.handle("cmnd/plug/Frobnicate", "1", kNow);
  EXPECT_EQ(R"J({"Command":"Unknown"})J", unknown.publish[0].payload);
}

TEST(SimDevice, TopicChangeAndRestartRestart) {
  SimDevice d(spec("15.0.1"), kNow);
  auto r = d.handle("cmnd/plug/Topic", "kitchen", kNow);
  EXPECT_TRUE(r.restart_when_idle);  // CmndTopic sets restart_flag: the restart waits for the commands to stop
  EXPECT_EQ("tele/kitchen/LWT", d.lwt_topic());
  EXPECT_TRUE(d.handle("cmnd/kitchen/Restart", "1", kNow).restart);
  EXPECT_FALSE(d.handle("cmnd/kitchen/Restart", "", kNow).restart);
  auto boots = d.spec().boot_count;
  d.reboot(kNow + 5000);
  EXPECT_EQ(boots + 1, d.spec().boot_count);
  EXPECT_EQ(4u, d.on_connected(kNow + 5000).size());  // INFO1–3 again after a boot
}

TEST(SimDevice, Reset6KeepsWifiAndMqttOnly) {
  // tasmota-facts.md, Reset: keeps SSIDs/passwords, MQTT host, port, user, password and topic.
  auto s = spec("15.0.1");
  s.settings.full_topic = "tasmota/%topic%/%prefix%/";
  s.settings.friendly_names[0] = "Kitchen";
  s.settings.set_option4 = true;
  s.settings.tele_period = 60;
  s.settings.mqtt_host = "127.0.0.1";
  s.settings.mqtt_port = 18830;
  s.settings.mqtt_user = "fleet";
  SimDevice d(s, kNow);
  auto r = d.handle("tasmota/plug/cmnd/Reset", "6", kNow);
  EXPECT_TRUE(r.restart);
  EXPECT_EQ("tasmota/plug/stat/RESET", r.publish[0].topic);  // answered before the reset takes effect
  const auto& st = d.spec().settings;
  EXPECT_EQ("plug", st.topic);
  EXPECT_EQ(18830, st.mqtt_port);
  EXPECT_EQ("fleet", st.mqtt_user);
  EXPECT_EQ("%prefix%/%topic%/", st.full_topic);
  EXPECT_EQ("Tasmota", st.friendly_names[0]);
  EXPECT_FALSE(st.set_option4);
  EXPECT_EQ(300, st.tele_period);
  EXPECT_EQ("tele/plug/LWT", d.lwt_topic());
}

TEST(SimDevice, EveryVersionOfTheMixRoundTripsThroughTheInventoryParser) {
  auto fleet = generate_fleet(10, 7, {});
  for (const auto& s : fleet) {
    SimDevice d(s, kNow);
    auto r = d.handle("cmnd/" + s.settings.topic + "/STATUS", "0", kNow);
    fleet::inventory::DeviceFacts merged;
    for (const auto& o : r.publish) {
      auto p = fleet::inventory::parse_payload(fleet::inventory::MessageKind::Status, o.payload);
      ASSERT_TRUE(p.ok()) << s.version << " " << o.topic << ": " << p.error;
      EXPECT_TRUE(p.dropped.empty()) << s.version << ": " << p.dropped.front();
      fleet::inventory::merge_facts(merged, p.facts);
    }
    EXPECT_EQ(s.mac, merged.mac) << s.version;
    EXPECT_EQ(fleet::planner::Version::parse(s.version)->str(), merged.version);
    if (d.traits().build_in_version) {
      EXPECT_EQ(s.build, merged.build) << s.version;
    }
    EXPECT_EQ(s.chip, merged.chip) << s.version;
    EXPECT_EQ(s.free_kb, merged.free_kb);
    EXPECT_EQ(s.ip, merged.ip);
    auto state = fleet::inventory::parse_payload(fleet::inventory::MessageKind::State, d.state(kNow + 90'000).payload);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(90, state.facts.uptime_s) << s.version;
    auto boot = d.on_connected(kNow);
    auto info1 = fleet::inventory::parse_payload(fleet::inventory::MessageKind::Info1, boot[1].payload);
    EXPECT_EQ(merged.version, info1.facts.version) << s.version;
  }
}

TEST(Fleet, FileIsValidatedWithReadableErrors) {
  auto ok = parse_fleet(R"J({"defaults":{"version":"9.1.0"},"devices":[{"topic":"a"},{"topic":"b","version":"15.0.1","chip":"ESP32-C3","settings":{"friendly_name":"B","set_option4":true,"rules":["on x do y endon"]}}]})J");
  ASSERT_EQ(2u, ok.size());
  EXPECT_EQ("9.1.0", ok[0].version);
  EXPECT_EQ("tasmota", ok[0].build);
  EXPECT_EQ("tasmota32", ok[1].build);
  EXPECT_TRUE(ok[1].settings.set_option4);
  EXPECT_EQ("on x do y endon", ok[1].settings.rules[0]);
  EXPECT_NE(ok[0].mac, ok[1].mac);
  auto err = [](const std::string& text) {
    try {
      parse_fleet(text);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ("device #1: 'nine' is not a Tasmota version", err(R"J({"devices":[{"version":"nine"}]})J"));
  EXPECT_EQ("device #2: duplicate topic a (\"copied_topic\": true if meant)", err(R"J({"devices":[{"topic":"a"},{"topic":"a"}]})J"));
  EXPECT_EQ(2u, parse_fleet(R"J({"devices":[{"topic":"a"},{"topic":"a","copied_topic":true}]})J").size());
  EXPECT_EQ("device #1: field 'free_kb' has the wrong type", err(R"J({"devices":[{"free_kb":"many"}]})J"));
  EXPECT_EQ("fleet file needs a \"devices\" array", err(R"J({})J"));
}

TEST(Fleet, GeneratedFleetsHaveUniqueIdentities) {
  auto f = generate_fleet(10000, 3, {});
  std::set<std::string> macs, topics;
  for (const auto& s : f) {
    macs.insert(s.mac);
    topics.insert(s.settings.topic);
  }
  EXPECT_EQ(10000u, macs.size());
  EXPECT_EQ(10000u, topics.size());
}
