#include "inventory/inventory.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fakes.h"
#include "mqtt/fallback_topic.h"
#include "core/log.h"

using namespace fleet::inventory;
using fleet::mqtt::TopicScheme;
using fleet::testing::FakeClock;
using fleet::testing::FakeStore;
using fleet::testing::FakeTransport;

namespace {

std::string status0(const std::string& topic, const std::string& mac, const std::string& version = "15.0.1(tasmota)") {
  return R"J({"Status":{"Module":0,"FriendlyName":["F"],"Topic":")J" + topic +
         R"J("},"StatusPRM":{"OtaUrl":"http://ota/x.bin.gz","RestartReason":"Power On","BootCount":3,"Uptime":"0T00:00:10"},
  "StatusFWR":{"Version":")J" + version + R"J(","Core":"2_7_8","SDK":"2.2.2","Hardware":"ESP8266EX"},
  "StatusMEM":{"ProgramSize":620,"Free":380,"ProgramFlashSize":1024,"FlashSize":4096},
  "StatusNET":{"Hostname":")J" + topic + R"J(-1","IPAddress":"127.0.0.9","Mac":")J" + mac + R"J("}})J";
}

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override { fleet::log::set_threshold(fleet::log::Level::Off); }
  Inventory make(InventoryOptions o = {}) { return Inventory(TopicScheme(), transport, store, clock, o); }
  // An inventory that starts from what an earlier run stored: the device "stored", AA:BB:CC:00:00:11.
  Inventory loaded(DeviceRecord r) {
    r.mac = "AA:BB:CC:00:00:11";
    r.topic = "stored";
    store.initial.push_back(r);
    auto inv = make();
    inv.load();
    return inv;
  }
  FakeClock clock;
  FakeTransport transport;
  FakeStore store;
};

}  // namespace

TEST_F(InventoryTest, NewDeviceOnlineIsAskedForStatus0AndRecordedByMac) {
  auto inv = make();
  inv.on_message("tele/kitchen/LWT", "Online", true);
  EXPECT_TRUE(inv.devices().empty());  // no identity yet
  inv.tick();
  ASSERT_EQ(1u, transport.sent.size());
  EXPECT_EQ("cmnd/kitchen/STATUS", transport.sent[0].first);
  EXPECT_EQ("0", transport.sent[0].second);
  inv.on_message("stat/kitchen/STATUS0", status0("kitchen", "AA:BB:CC:00:00:01"), false);
  const DeviceRecord* d = inv.find("AA:BB:CC:00:00:01");
  ASSERT_NE(nullptr, d);
  EXPECT_EQ("kitchen", d->topic);
  EXPECT_EQ("15.0.1", d->version);
  EXPECT_EQ("tasmota", d->build);
  EXPECT_EQ("ESP8266", d->chip);
  EXPECT_EQ(380, d->free_kb);
  EXPECT_EQ(4096, d->flash_kb);
  EXPECT_EQ("http://ota/x.bin.gz", d->ota_url);
  EXPECT_TRUE(d->online);  // from the LWT heard before the device was identified
  EXPECT_EQ(clock.t, d->status_at_ms);
  EXPECT_EQ(clock.t, d->last_seen_ms);
}

TEST_F(InventoryTest, StatusQueriesAreRateLimited) {
  InventoryOptions o;
  o.status_queries_per_s = 20;
  o.status_query_burst = 50;
  auto inv = make(o);
  for (int i = 0; i < 300; ++i) inv.on_message("tele/dev" + std::to_string(i) + "/LWT", "Online", true);
  inv.tick();
  EXPECT_EQ(50u, transport.sent.size());
  clock.advance(1000);
  inv.tick();
  EXPECT_EQ(70u, transport.sent.size());
  clock.advance(500);
  inv.tick();
  EXPECT_EQ(80u, transport.sent.size());
  EXPECT_EQ(220u, inv.queued_queries());
  // Each topic is asked once however often it says Online.
  inv.on_message("tele/dev0/LWT", "Online", true);
  clock.advance(100'000);
  for (int i = 0; i < 20; ++i) inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/dev0/STATUS"));
}

TEST_F(InventoryTest, TopicChangeKeepsOneRecord) {
  auto inv = make();
  inv.on_message("stat/old/STATUS0", status0("old", "AA:BB:CC:00:00:02"), false);
  inv.on_message("tele/new/LWT", "Online", false);
  inv.on_message("stat/new/STATUS0", status0("new", "AA:BB:CC:00:00:02"), false);
  ASSERT_EQ(1u, inv.devices().size());
  EXPECT_EQ("new", inv.find("AA:BB:CC:00:00:02")->topic);
  // The old topic's retained Offline no longer speaks for the device.
  inv.on_message("tele/old/LWT", "Offline", true);
  EXPECT_TRUE(inv.find("AA:BB:CC:00:00:02")->online);
  EXPECT_EQ(1u, inv.devices().size());
}

TEST_F(InventoryTest, BadDataNeverOverwritesGoodData) {
  auto inv = make();
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:03"), false);
  auto before = *inv.find("AA:BB:CC:00:00:03");
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:03", "not-a-version"), false);
  inv.on_message("tele/k/STATE", "{broken", false);
  inv.on_message("tele/k/STATE", R"J({"UptimeSec":"soon","Wifi":{"RSSI":500}})J", false);
  inv.on_message("tele/k/INFO2", R"J([1,2,3])J", false);
  const auto* after = inv.find("AA:BB:CC:00:00:03");
  EXPECT_EQ(before.version, after->version);
  EXPECT_EQ(before.firmware, after->firmware);
  EXPECT_EQ(before.uptime_s, after->uptime_s);
  EXPECT_EQ(before.hostname, after->hostname);
  EXPECT_EQ(4, after->bad_payloads);
  EXPECT_EQ(2u, inv.stats().rejected);
  EXPECT_EQ(3u, inv.stats().dropped_fields);
}

TEST_F(InventoryTest, OversizedAndUnknownAreCountedNotRead) {
  InventoryOptions o;
  o.max_payload_bytes = 1024;
  auto inv = make(o);
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:04"), false);
  std::string big = R"J({"Status":{"Topic":"x)J" + std::string(2000, 'x') + "\"}}";
  inv.on_message("stat/k/STATUS0", big, false);
  inv.on_message("garbage/topic", "x", false);
  inv.on_message("cmnd/k/POWER", "ON", false);
  EXPECT_EQ(1u, inv.stats().oversized);
  EXPECT_EQ(2u, inv.stats().unknown_topics);
  EXPECT_EQ("k", inv.find("AA:BB:CC:00:00:04")->topic);
  EXPECT_EQ(1, inv.find("AA:BB:CC:00:00:04")->bad_payloads);
}

TEST_F(InventoryTest, RetainedEchoesSayNothingAboutPresence) {
  auto inv = make();
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:05"), false);
  inv.on_message("tele/k/LWT", "Offline", false);
  auto seen = inv.find("AA:BB:CC:00:00:05")->last_seen_ms;
  clock.advance(5000);
  inv.on_message("stat/k/RESULT", R"J({"OtaUrl":"http://x/y.bin"})J", true);  // retained
  EXPECT_FALSE(inv.find("AA:BB:CC:00:00:05")->online);
  EXPECT_EQ(seen, inv.find("AA:BB:CC:00:00:05")->last_seen_ms);
  EXPECT_EQ("http://x/y.bin", inv.find("AA:BB:CC:00:00:05")->ota_url);
}

TEST_F(InventoryTest, ComingBackOnlineIsAskedAgain) {
  auto inv = make();
  inv.on_message("tele/k/LWT", "Online", true);
  inv.tick();
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:06"), false);
  inv.on_message("tele/k/STATE", R"J({"UptimeSec":5})J", false);
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/k/STATUS"));
  inv.on_message("tele/k/LWT", "Offline", false);
  EXPECT_FALSE(inv.find("AA:BB:CC:00:00:06")->online);
  clock.advance(10'000);
  inv.on_message("tele/k/LWT", "Online", false);
  inv.tick();
  EXPECT_EQ(2u, transport.count_to("cmnd/k/STATUS"));
}

TEST_F(InventoryTest, ReconnectReasksOnlineDevices) {
  auto inv = make();
  inv.on_message("stat/a/STATUS0", status0("a", "AA:BB:CC:00:00:07"), false);
  inv.on_message("stat/b/STATUS0", status0("b", "AA:BB:CC:00:00:08"), false);
  inv.on_message("tele/b/LWT", "Offline", false);
  inv.on_connected();
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/a/STATUS"));
  EXPECT_EQ(0u, transport.count_to("cmnd/b/STATUS"));
  // After the reconnect the retained Online of b arrives: b is asked too, a not twice.
  inv.on_message("tele/b/LWT", "Online", true);
  inv.on_message("tele/a/LWT", "Online", true);
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/b/STATUS"));
  EXPECT_EQ(1u, transport.count_to("cmnd/a/STATUS"));
}

TEST_F(InventoryTest, UnansweredQueriesAreRetriedThenGivenUp) {
  InventoryOptions o;
  o.status_retry_ms = 10'000;
  o.status_max_tries = 3;
  auto inv = make(o);
  inv.on_message("tele/mute/LWT", "Online", true);
  for (int i = 0; i < 100; ++i) {
    inv.tick();
    clock.advance(1000);
  }
  EXPECT_EQ(3u, transport.count_to("cmnd/mute/STATUS"));
}

TEST_F(InventoryTest, TheFirstRetryComesSoonTheNextOnesSlower) {
  // A query sent the moment the LWT says Online can arrive before the device subscribed.
  auto inv = make();  // defaults: first retry after 5 s, then every 30 s, three tries
  inv.on_message("tele/slow/LWT", "Online", false);
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/slow/STATUS"));
  clock.advance(4'000);
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/slow/STATUS"));
  clock.advance(1'500);
  inv.tick();
  inv.tick();
  EXPECT_EQ(2u, transport.count_to("cmnd/slow/STATUS"));
  clock.advance(10'000);
  inv.tick();
  EXPECT_EQ(2u, transport.count_to("cmnd/slow/STATUS"));
  clock.advance(21'000);
  inv.tick();
  inv.tick();
  EXPECT_EQ(3u, transport.count_to("cmnd/slow/STATUS"));
}

TEST_F(InventoryTest, WritesAreBatched) {
  InventoryOptions o;
  o.flush_interval_ms = 250;
  auto inv = make(o);
  for (int d = 0; d < 10; ++d)
    inv.on_message("stat/d" + std::to_string(d) + "/STATUS0", status0("d" + std::to_string(d), "AA:BB:CC:00:01:0" + std::to_string(d)), false);
  inv.tick();
  for (int i = 0; i < 1000; ++i) inv.on_message("tele/d" + std::to_string(i % 10) + "/STATE", R"J({"UptimeSec":)J" + std::to_string(i) + "}", false);
  inv.tick();
  EXPECT_TRUE(store.saves.empty());  // within the flush interval nothing is written
  clock.advance(300);
  inv.tick();
  ASSERT_EQ(1u, store.saves.size());
  EXPECT_EQ(10u, store.saves[0].size());  // one row per device, however many messages
  EXPECT_EQ(1010u, inv.stats().persisted_messages);
}

TEST_F(InventoryTest, StoreFailureKeepsChangesForTheNextFlush) {
  auto inv = make();
  inv.on_message("stat/k/STATUS0", status0("k", "AA:BB:CC:00:00:09"), false);
  store.fail_next = true;
  EXPECT_FALSE(inv.flush());
  EXPECT_EQ(1u, inv.dirty_count());
  EXPECT_TRUE(inv.flush());
  ASSERT_EQ(1u, store.saves.size());
  EXPECT_EQ("AA:BB:CC:00:00:09", store.saves[0][0].mac);
}

TEST_F(InventoryTest, OldFirmwareStatusPartsMergeWhenTheMacArrives) {
  auto inv = make();
  inv.on_message("tele/old/LWT", "Online", true);
  inv.on_message("stat/old/STATUS1", R"J({"StatusPRM":{"OtaUrl":"http://ota/old.bin","BootCount":9}})J", false);
  inv.on_message("stat/old/STATUS2", R"J({"StatusFWR":{"Version":"6.7.1(sonoff)","Core":"2_3_0"}})J", false);
  inv.on_message("stat/old/STATUS4", R"J({"StatusMEM":{"ProgramSize":500,"Free":500}})J", false);
  EXPECT_TRUE(inv.devices().empty());
  inv.on_message("stat/old/STATUS5", R"J({"StatusNET":{"Hostname":"old-1","IPAddress":"1.2.3.4","Mac":"AA:BB:CC:00:00:10"}})J", false);
  const auto* d = inv.find("AA:BB:CC:00:00:10");
  ASSERT_NE(nullptr, d);
  EXPECT_EQ("6.7.1", d->version);
  EXPECT_EQ("sonoff", d->build);
  EXPECT_EQ(9, d->boot_count);
  EXPECT_EQ(500, d->free_kb);
  EXPECT_EQ("old", d->topic);
  EXPECT_TRUE(d->online);
}

TEST_F(InventoryTest, DiscoveryIdentifiesButNeverDowngradesTheFirmware) {
  auto inv = make();
  inv.on_message("tasmota/discovery/A4CF12345678/config",
                 R"J({"ip":"1.2.3.4","hn":"k-1","mac":"A4CF12345678","md":"Generic","sw":"12.5.0","t":"k","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"]})J",
                 true);
  const auto* d = inv.find("A4:CF:12:34:56:78");
  ASSERT_NE(nullptr, d);
  EXPECT_EQ("12.5.0", d->version);
  EXPECT_EQ("k", d->topic);
  inv.on_message("stat/k/STATUS0", status0("k", "A4:CF:12:34:56:78", "12.5.0(release-sensors)"), false);
  inv.on_message("tasmota/discovery/A4CF12345678/config", R"J({"mac":"A4CF12345678","sw":"11.0.0","t":"k"})J", true);
  EXPECT_EQ("12.5.0", inv.find("A4:CF:12:34:56:78")->version);
  EXPECT_EQ("sensors", inv.find("A4:CF:12:34:56:78")->build);
  // A discovery message whose topic MAC and payload MAC differ is refused.
  inv.on_message("tasmota/discovery/A4CF12345679/config", R"J({"mac":"A4CF12345678","t":"evil"})J", true);
  EXPECT_EQ("k", inv.find("A4:CF:12:34:56:78")->topic);
}

TEST_F(InventoryTest, LoadsWhatEarlierRunsStored) {
  DeviceRecord r;
  r.version = "9.1.0";
  auto inv = loaded(r);
  inv.on_message("tele/stored/LWT", "Online", true);
  ASSERT_NE(nullptr, inv.find("AA:BB:CC:00:00:11"));
  EXPECT_TRUE(inv.find("AA:BB:CC:00:00:11")->online);
  inv.tick();
  EXPECT_EQ(1u, transport.count_to("cmnd/stored/STATUS"));
}

// The OTA server names the device of each download by its client address (find_by_ip), from an index
// kept as addresses are heard: at 10,000 devices a scan per download was 4% of the event loop.
TEST_F(InventoryTest, ADeviceIsFoundByTheAddressItWasLastHeardWith) {
  DeviceRecord stored;
  stored.ip = "127.0.0.20";
  auto inv = loaded(stored);
  ASSERT_NE(nullptr, inv.find_by_ip("127.0.0.20"));
  EXPECT_EQ("AA:BB:CC:00:00:11", inv.find_by_ip("127.0.0.20")->mac) << "from the store";
  auto net = [](const std::string& host, const std::string& ip, const std::string& mac) {
    return R"({"StatusNET":{"Hostname":")" + host + R"(","IPAddress":")" + ip + R"(","Mac":")" + mac + R"("}})";
  };
  inv.on_message("stat/a/STATUS5", net("a", "127.0.0.9", "AA:BB:CC:00:00:01"), false);
  inv.on_message("stat/b/STATUS5", net("b", "127.0.0.10", "AA:BB:CC:00:00:02"), false);
  ASSERT_NE(nullptr, inv.find_by_ip("127.0.0.9"));
  EXPECT_EQ("AA:BB:CC:00:00:01", inv.find_by_ip("127.0.0.9")->mac);
  EXPECT_EQ("AA:BB:CC:00:00:02", inv.find_by_ip("127.0.0.10")->mac);
  EXPECT_EQ(nullptr, inv.find_by_ip("127.0.0.1"));
  // a moves to .11: .9 is nobody's until b takes it.
  inv.on_message("stat/a/STATUS5", net("a", "127.0.0.11", "AA:BB:CC:00:00:01"), false);
  EXPECT_EQ(nullptr, inv.find_by_ip("127.0.0.9"));
  EXPECT_EQ("AA:BB:CC:00:00:01", inv.find_by_ip("127.0.0.11")->mac);
  inv.on_message("stat/b/STATUS5", net("b", "127.0.0.9", "AA:BB:CC:00:00:02"), false);
  EXPECT_EQ("AA:BB:CC:00:00:02", inv.find_by_ip("127.0.0.9")->mac);
  EXPECT_EQ(nullptr, inv.find_by_ip("127.0.0.10"));
  // A forgotten device is nobody's address.
  EXPECT_EQ(std::nullopt, inv.forget("AA:BB:CC:00:00:11"));
  EXPECT_EQ(nullptr, inv.find_by_ip("127.0.0.20"));
}

TEST_F(InventoryTest, ADeviceBackOnTheDefaultTopicsAfterReset6IsFoundAgainByItsMac) {
  // tasmota-facts.md, Reset 6: FullTopic and prefixes return to defaults; the topic is kept.
  Inventory inv(TopicScheme("tasmota/%topic%/%prefix%/"), transport, store, clock);
  auto extra = inv.follow_default_topics();
  EXPECT_NE(extra.end(), std::find(extra.begin(), extra.end(), "tele/+/LWT"));
  EXPECT_NE(extra.end(), std::find(extra.begin(), extra.end(), "stat/+/+"));
  inv.on_message("tasmota/kitchen/tele/LWT", "Online", false);
  inv.tick();
  EXPECT_EQ("tasmota/kitchen/cmnd/STATUS", transport.sent.back().first);
  inv.on_message("tasmota/kitchen/stat/STATUS0", status0("kitchen", "AA:BB:CC:00:00:07"), false);
  // Reset 6: Offline on the old topics, then Online on the default ones.
  inv.on_message("tasmota/kitchen/tele/LWT", "Offline", false);
  inv.on_message("tele/kitchen/LWT", "Online", false);
  inv.tick();
  EXPECT_EQ("cmnd/kitchen/STATUS", transport.sent.back().first);  // asked where it now listens
  inv.on_message("stat/kitchen/STATUS0", status0("kitchen", "AA:BB:CC:00:00:07", "15.0.1(tasmota)"), false);
  ASSERT_EQ(1u, inv.devices().size());  // the same device, by its MAC
  EXPECT_TRUE(inv.find("AA:BB:CC:00:00:07")->online);
  // With the default layout configured there is nothing extra to follow.
  Inventory plain(TopicScheme(), transport, store, clock);
  EXPECT_TRUE(plain.follow_default_topics().empty());
}

// Copied configurations are common, and a forged reply can do the same: a second MAC on the topic of a
// device that is online is a conflict, until one of them moves to another topic.
TEST_F(InventoryTest, TwoMacsOnOneTopicAreAConflictUntilOneMoves) {
  auto inv = make();
  inv.on_message("tele/plug/LWT", "Online", true);
  inv.on_message("stat/plug/STATUS0", status0("plug", "AA:BB:CC:00:00:01"), false);
  EXPECT_FALSE(inv.conflict_of("AA:BB:CC:00:00:01"));
  inv.on_message("stat/plug/STATUS5", R"({"StatusNET":{"Hostname":"x","IPAddress":"127.0.0.8","Mac":"AA:BB:CC:00:00:02"}})", false);
  auto c = inv.conflict_of("AA:BB:CC:00:00:01");
  ASSERT_TRUE(c);
  EXPECT_EQ("its topic 'plug' is also used by AA:BB:CC:00:00:02", *c);
  EXPECT_TRUE(inv.conflict_of("AA:BB:CC:00:00:02"));
  // The second one takes a topic of its own: no conflict any more.
  inv.on_message("stat/plug2/STATUS0", status0("plug2", "AA:BB:CC:00:00:02"), false);
  EXPECT_FALSE(inv.conflict_of("AA:BB:CC:00:00:01"));
  EXPECT_FALSE(inv.conflict_of("AA:BB:CC:00:00:02"));
}

TEST_F(InventoryTest, ADeviceThatWentOfflineLeavesItsTopicToTheNextWithoutAConflict) {
  auto inv = make();
  inv.on_message("tele/plug/LWT", "Online", true);
  inv.on_message("stat/plug/STATUS0", status0("plug", "AA:BB:CC:00:00:01"), false);
  inv.on_message("tele/plug/LWT", "Offline", true);
  inv.on_message("stat/plug/STATUS0", status0("plug", "AA:BB:CC:00:00:03"), false);
  EXPECT_FALSE(inv.conflict_of("AA:BB:CC:00:00:03"));
}

// The fallback topic is "<MqttClient>_fb" from 6.4.1 (Tasmota #1528, GetTopic_P), and a device subscribes
// to it only when its FullTopic contains %topic% (xdrv_02_mqtt.ino MqttConnected).
TEST(FallbackTopic, OnlyWhereTheDeviceListensOnOneThatReachesItAlone) {
  DeviceRecord d;
  d.mac = "AA:BB:CC:DD:EE:FF";
  d.version = "9.1.0";
  EXPECT_FALSE(fallback_topic_of(d));  // MqttClient not known yet
  d.mqtt_client = "DVES_DDEEFF";
  EXPECT_EQ("DVES_DDEEFF_fb", fallback_topic_of(d));
  d.version = "6.4.1";
  EXPECT_EQ("DVES_DDEEFF_fb", fallback_topic_of(d));
  d.version = "6.4.0";
  EXPECT_FALSE(fallback_topic_of(d));  // the bare MqttClient then: a name a Topic could have too
  d.version = "9.1.0";
  d.full_topic = "tasmota/%hostname%/%prefix%/";
  EXPECT_FALSE(fallback_topic_of(d));
  d.full_topic = "tasmota/%topic%/%prefix%/";
  EXPECT_EQ("DVES_DDEEFF_fb", fallback_topic_of(d));
  EXPECT_EQ("DVES_DDEEFF", fleet::mqtt::default_mqtt_client("aa:bb:cc:dd:ee:ff"));
}

TEST_F(InventoryTest, AReplyOnAFallbackTopicIsItsDevicesAndLeavesItsTopic) {
  auto inv = make();
  std::string with_client = status0("plug", "AA:BB:CC:00:00:01");
  with_client.insert(with_client.size() - 1, R"J(,"StatusMQT":{"MqttClient":"plug-client"})J");
  inv.on_message("tele/plug/LWT", "Online", true);
  inv.on_message("stat/plug/STATUS0", with_client, false);
  ASSERT_EQ("plug-client", inv.find("AA:BB:CC:00:00:01")->mqtt_client);
  clock.t += 1000;
  inv.on_message("stat/plug-client_fb/RESULT", R"({"OtaUrl":"http://127.0.0.1:8080/x.bin.gz"})", false);
  const DeviceRecord* d = inv.find("AA:BB:CC:00:00:01");
  EXPECT_EQ("plug", d->topic);
  EXPECT_EQ("http://127.0.0.1:8080/x.bin.gz", d->ota_url);
  EXPECT_EQ(clock.t, d->last_seen_ms);
  // After a Reset 6 it answers on its default MqttClient's fallback topic: still the same device, its
  // topic unchanged.
  inv.on_message("stat/DVES_000001_fb/STATUS5", R"({"StatusNET":{"Hostname":"plug-1","IPAddress":"127.0.0.10","Mac":"AA:BB:CC:00:00:01"}})", false);
  EXPECT_EQ("plug", inv.find("AA:BB:CC:00:00:01")->topic);
  EXPECT_EQ("127.0.0.10", inv.find("AA:BB:CC:00:00:01")->ip);
  // Another MAC in a reply on that fallback topic is not believed; an unknown fallback topic is ignored.
  inv.on_message("stat/plug-client_fb/STATUS5", R"({"StatusNET":{"Hostname":"evil","IPAddress":"127.0.0.99","Mac":"AA:BB:CC:00:00:99"}})", false);
  inv.on_message("stat/DVES_999999_fb/RESULT", R"({"OtaUrl":"http://evil/"})", false);
  EXPECT_EQ(1u, inv.devices().size());
  EXPECT_EQ("127.0.0.10", inv.find("AA:BB:CC:00:00:01")->ip);
}

// Tried as a new user would: 2,000 random topics under tele/+/STATE with binary payloads wrote 2,000
// warning lines. Now the warnings about unknown or bad senders share one budget fleet-wide (20 a minute)
// and the rest come out as a count once a minute; no raw byte of a topic reaches the log.
TEST_F(InventoryTest, HostileTrafficWarningsAreRateLimitedFleetWideWithASummaryCount) {
  fleet::log::set_threshold(fleet::log::Level::Warn);
  auto inv = make();
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 2000; ++i) {
    std::string topic = "tele/";
    for (int k = 0; k < 8; ++k) topic += static_cast<char>(0x20 + next() % 0xDF);  // printable, high and \x7F bytes
    topic.erase(std::remove(topic.begin() + 5, topic.end(), '/'), topic.end());
    topic += "/STATE";
    std::string payload;
    for (int k = 0; k < 40; ++k) payload += static_cast<char>(next() & 0xFF);
    inv.on_message(topic, payload, false);
    inv.on_message("rogue/" + std::to_string(i), payload, false);  // not under the FullTopic at all
  }
  inv.tick();
  clock.advance(61'000);
  inv.tick();
  auto out = ::testing::internal::GetCapturedStderr();
  fleet::log::set_threshold(fleet::log::Level::Off);
  auto lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_EQ(21, lines) << out.substr(0, 2000);  // 20 warnings and one summary
  // 2,000 unknown topics and 2,000 bad payloads, less the 20 written
  EXPECT_NE(std::string::npos, out.find("inventory: 3980 more warnings about unknown topics or bad payloads in the last 61 s not logged"))
      << out.substr(out.size() > 400 ? out.size() - 400 : 0);
  for (unsigned char c : out) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c <= 0x7E)) << "raw byte " << int(c) << " in the log";
  EXPECT_GE(inv.stats().unknown_topics, 2000u);
  // Quiet again: the next window's warnings are written as before.
  ::testing::internal::CaptureStderr();
  fleet::log::set_threshold(fleet::log::Level::Warn);
  clock.advance(61'000);
  inv.on_message("rogue/again", "x", false);
  inv.tick();
  out = ::testing::internal::GetCapturedStderr();
  fleet::log::set_threshold(fleet::log::Level::Off);
  EXPECT_NE(std::string::npos, out.find("ignoring topic 'rogue/again'")) << out;
}
