// Every payload shape the inventory reads. Sources: tasmota-facts.md (Topics, Status, OTA);
// docs JSON-Status-Responses.md (the 5.12 "Basic Response"); public device logs for INFO captures
// (5.12.0i and 7.0.0.3 bare, 9.5.0 and 13.4.0.1 wrapped); support_command.ino CmndStatusResponse
// (Status 0 as one STATUS0 message joining every part).
#include <gtest/gtest.h>

#include <string>

#include "inventory/payloads.h"

using namespace fleet::inventory;

namespace {
ParseResult parse(MessageKind k, const std::string& p) { return parse_payload(k, p); }
}  // namespace

TEST(Classify, MapsTopicSuffixes) {
  EXPECT_EQ(MessageKind::Lwt, classify(true, "LWT"));
  EXPECT_EQ(MessageKind::Info1, classify(true, "INFO1"));
  EXPECT_EQ(MessageKind::State, classify(true, "STATE"));
  EXPECT_EQ(MessageKind::Ignored, classify(true, "SENSOR"));
  EXPECT_EQ(MessageKind::Status, classify(false, "STATUS"));
  EXPECT_EQ(MessageKind::Status, classify(false, "STATUS0"));
  EXPECT_EQ(MessageKind::Status, classify(false, "STATUS11"));
  EXPECT_EQ(MessageKind::Result, classify(false, "STATUSX"));
  EXPECT_EQ(MessageKind::Result, classify(false, "RESULT"));
  EXPECT_EQ(MessageKind::Result, classify(false, "OTAURL"));  // SetOption4 per-command reply
}

TEST(Lwt, OnlineOfflineOnly) {
  EXPECT_EQ(true, parse(MessageKind::Lwt, "Online").facts.online);
  EXPECT_EQ(false, parse(MessageKind::Lwt, "Offline").facts.online);
  EXPECT_FALSE(parse(MessageKind::Lwt, "online!").ok());
}

TEST(Info, BareObjectOnOldFirmware) {
  auto r = parse(MessageKind::Info1,
                 R"J({"Module":"Generic","Version":"7.0.0.3(tasmota)","FallbackTopic":"cmnd/DVES_15568C_fb/","GroupTopic":"cmnd/sonoffs/"})J");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ("Generic", r.facts.module);
  EXPECT_EQ("7.0.0.3", r.facts.version);
  EXPECT_EQ("tasmota", r.facts.build);
  EXPECT_EQ("cmnd/sonoffs/", r.facts.group_topic);
  EXPECT_EQ("DVES_15568C", r.facts.mqtt_client);  // from FallbackTopic cmnd/<MqttClient>_fb/
  auto old = parse(MessageKind::Info1, R"J({"Module":"Sonoff Basic","Version":"5.12.0i","FallbackTopic":"DVES_7D2828","GroupTopic":"sonoffs"})J");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ("5.12.0.9", old.facts.version);
  EXPECT_EQ("DVES_7D2828", old.facts.mqtt_client);  // before 6.4.1 INFO1 names the bare MqttClient
  EXPECT_EQ("", old.facts.build);
  auto i2 = parse(MessageKind::Info2, R"J({"WebServerMode":"Admin","Hostname":"wemos2","IPAddress":"192.168.2.191"})J");
  EXPECT_EQ("wemos2", i2.facts.hostname);
  EXPECT_EQ("192.168.2.191", i2.facts.ip);
  auto i3 = parse(MessageKind::Info3, R"J({"RestartReason":"Software/System restart"})J");
  EXPECT_EQ("Software/System restart", i3.facts.restart_reason);
  EXPECT_FALSE(i3.facts.boot_count);
}

TEST(Info, WrappedObjectOnNewerFirmware) {
  auto r = parse(MessageKind::Info1,
                 R"J({"Info1":{"Module":"Generic","Version":"9.5.0(tasmota)","FallbackTopic":"cmnd/DVES_4AA248_fb/","GroupTopic":"cmnd/tasmotas/"}})J");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ("9.5.0", r.facts.version);
  EXPECT_EQ("9.5.0(tasmota)", r.facts.firmware);
  auto i2 = parse(MessageKind::Info2, R"J({"Info2":{"WebServerMode":"Admin","Hostname":"badkamer-0584","IPAddress":"192.168.0.138"}})J");
  EXPECT_EQ("badkamer-0584", i2.facts.hostname);
  EXPECT_EQ("Admin", i2.facts.web_server_mode);
  auto i3 = parse(MessageKind::Info3, R"J({"Info3":{"RestartReason":"Software reset CPU","BootCount":2}})J");
  EXPECT_EQ(2, i3.facts.boot_count);
  auto esp32 = parse(MessageKind::Info1, R"J({"Info1":{"Module":"ESP32C6","Version":"13.4.0.1(arduino30)","FallbackTopic":"cmnd/DVES_41A9EC_fb/","GroupTopic":"cmnd/tasmotas/"}})J");
  EXPECT_EQ("13.4.0.1", esp32.facts.version);
  EXPECT_EQ("arduino30", esp32.facts.build);
}

TEST(State, NewerAndOlderShapes) {
  auto r = parse(MessageKind::State,
                 R"J({"Time":"2024-09-16T09:20:07","Uptime":"2T03:04:05","UptimeSec":183845,"Heap":25,"Wifi":{"AP":1,"SSId":"x","BSSId":"98:9B:CB:16:FB:C5","Channel":13,"Mode":"11n","RSSI":90,"Signal":-55,"LinkCount":11,"Downtime":"0T00:18:43"}})J");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(183845, r.facts.uptime_s);
  EXPECT_EQ(90, r.facts.rssi);
  EXPECT_EQ(-55, r.facts.signal_dbm);
  // 5.12 docs: "Uptime": "1 02:33:26", no UptimeSec, no Signal.
  auto old = parse(MessageKind::State, R"J({"Time":"2018.02.15 01:00:50","Uptime":"1 02:33:26","Vcc":3.504,"POWER":"OFF","Wifi":{"AP":1,"SSId":"X","RSSI":100,"APMac":"34:31:C4:00:00:00"}})J");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(86400 + 2 * 3600 + 33 * 60 + 26, old.facts.uptime_s);
  EXPECT_EQ(100, old.facts.rssi);
  EXPECT_FALSE(old.facts.signal_dbm);
}

TEST(Status, DocsBasicResponseOf512) {
  // JSON-Status-Responses.md "Basic Response" (5.12.0a), all parts in one object.
  auto r = parse(MessageKind::Status, R"J({
    "Status": {"Module": 1, "FriendlyName": "XXX", "Topic": "sonoff", "ButtonTopic": "0", "Power": 0},
    "StatusPRM": {"Baudrate": 115200, "GroupTopic": "sonoffs", "OtaUrl": "http://ota/x.bin", "Uptime": "1 02:33:26", "BootCount": 32, "SaveCount": 72},
    "StatusFWR": {"Version": "5.12.0a", "BuildDateTime": "2018.02.11 16:15:40", "Boot": 31, "Core": "2_4_0", "SDK": "2.1.0(deb1901)"},
    "StatusMEM": {"ProgramSize": 457, "Free": 544, "Heap": 23, "ProgramFlashSize": 1024, "FlashSize": 1024, "FlashMode": 3},
    "StatusNET": {"Hostname": "XXX", "IPAddress": "192.168.178.10", "Mac": "2C:3A:E8:12:34:56", "Webserver": 2},
    "StatusSTS": {"Uptime": "1 02:33:26", "Wifi": {"AP": 1, "SSId": "XXX", "RSSI": 100}}})J");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.dropped.empty()) << r.dropped.front();
  const auto& f = r.facts;
  EXPECT_TRUE(f.status_reply);
  EXPECT_EQ(1, f.module_id);
  EXPECT_EQ("XXX", f.friendly_name);
  EXPECT_EQ("sonoff", f.topic);
  EXPECT_EQ("http://ota/x.bin", f.ota_url);
  EXPECT_EQ(32, f.boot_count);
  EXPECT_EQ("5.12.0.1", f.version);
  EXPECT_EQ("ESP8266", f.chip);  // no Hardware field: not a tasmota32 build, so ESP8266
  EXPECT_EQ(457, f.program_kb);
  EXPECT_EQ(544, f.free_kb);
  EXPECT_EQ(1024, f.flash_kb);
  EXPECT_EQ("2C:3A:E8:12:34:56", f.mac);
  EXPECT_EQ("192.168.178.10", f.ip);
  EXPECT_EQ(95606, f.uptime_s);
}

TEST(Status, NewerCombinedStatus0) {
  auto r = parse(MessageKind::Status, R"J({"Status":{"Module":0,"DeviceName":"Plug","FriendlyName":["Plug","Lamp"],"Topic":"plug"},
    "StatusPRM":{"OtaUrl":"http://ota.tasmota.com/tasmota/release/tasmota.bin.gz","RestartReason":"Software/System restart","Uptime":"0T00:10:00","BootCount":7},
    "StatusFWR":{"Version":"14.2.0(release-tasmota32)","Core":"3_0_5","SDK":"5.1.4","Hardware":"ESP32-C3"},
    "StatusMEM":{"ProgramSize":1650,"Free":1230,"ProgramFlashSize":4096,"FlashSize":4096,"FlashMode":"DIO"},
    "StatusNET":{"Hostname":"plug-1234","IPAddress":"10.0.0.5","Mac":"a4:cf:12:34:56:78"},
    "StatusSTS":{"UptimeSec":600,"Wifi":{"RSSI":80,"Signal":-60}}})J");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ("Plug", r.facts.friendly_name);  // first of the array
  EXPECT_EQ("tasmota32", r.facts.build);
  EXPECT_EQ("ESP32-C3", r.facts.chip);
  EXPECT_EQ("A4:CF:12:34:56:78", r.facts.mac);
  EXPECT_EQ(600, r.facts.uptime_s);
}

TEST(Status, SinglePartsOfOlderFirmware) {
  auto net = parse(MessageKind::Status, R"J({"StatusNET":{"Hostname":"h","IPAddress":"1.2.3.4","Mac":"2C3AE8123456"}})J");
  ASSERT_TRUE(net.ok());
  EXPECT_EQ("2C:3A:E8:12:34:56", net.facts.mac);
  auto fwr = parse(MessageKind::Status, R"J({"StatusFWR":{"Version":"6.7.1(sonoff)","Core":"2_3_0"}})J");
  EXPECT_EQ("6.7.1", fwr.facts.version);
  EXPECT_EQ("sonoff", fwr.facts.build);
  EXPECT_EQ("ESP8266", fwr.facts.chip);
  EXPECT_FALSE(parse(MessageKind::Status, R"J({"Foo":1})J").ok());
}

TEST(Status, BadFieldsAreDroppedOneByOne) {
  auto r = parse(MessageKind::Status, R"J({"StatusFWR":{"Version":"garbage","Core":"2_7_4"},
    "StatusNET":{"Hostname":"ok-host","IPAddress":"not an ip","Mac":12345},
    "StatusMEM":{"Free":"lots","ProgramSize":-5,"FlashSize":4096}})J");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.facts.version);
  EXPECT_FALSE(r.facts.firmware);
  EXPECT_FALSE(r.facts.ip);
  EXPECT_FALSE(r.facts.mac);
  EXPECT_FALSE(r.facts.free_kb);
  EXPECT_FALSE(r.facts.program_kb);
  EXPECT_EQ("2_7_4", r.facts.core);
  EXPECT_EQ("ok-host", r.facts.hostname);
  EXPECT_EQ(4096, r.facts.flash_kb);
  EXPECT_EQ(5u, r.dropped.size());
}

TEST(Status, HostileStringsAreRefused) {
  std::string long_name(500, 'a');
  auto r = parse(MessageKind::Status, R"J({"StatusNET":{"Hostname":")J" + long_name + R"J(","Mac":"2C:3A:E8:12:34:56"}})J");
  EXPECT_FALSE(r.facts.hostname);
  EXPECT_EQ("2C:3A:E8:12:34:56", r.facts.mac);
  auto ctl = parse(MessageKind::Info2, R"J({"Hostname":"a\u0000b","IPAddress":"1.2.3.4"})J");
  EXPECT_FALSE(ctl.facts.hostname);
  EXPECT_EQ("1.2.3.4", ctl.facts.ip);
  auto huge_int = parse(MessageKind::Info3, R"J({"RestartReason":"x","BootCount":18446744073709551615})J");
  EXPECT_FALSE(huge_int.facts.boot_count);
}

TEST(Payload, NotJsonOrWrongShapeIsRefusedWhole) {
  EXPECT_EQ("not JSON", parse(MessageKind::State, "{\"Uptime\":").error);
  EXPECT_EQ("not a JSON object", parse(MessageKind::State, "[1,2]").error);
  EXPECT_FALSE(parse(MessageKind::Info1, "").ok());
  std::string deep(60000, '[');
  EXPECT_FALSE(parse(MessageKind::State, deep).ok());
  std::string deep_obj;
  for (int i = 0; i < 40; ++i) deep_obj += "{\"a\":";
  deep_obj += "1" + std::string(40, '}');
  EXPECT_NE(std::string::npos, parse(MessageKind::State, deep_obj).error.find("nested"));
  // Brackets inside strings do not count as nesting.
  EXPECT_TRUE(parse(MessageKind::Info2, R"J({"Hostname":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})J").ok());
}

TEST(Payload, BrokenUpgradeReplyIsNotAnError) {
  // tasmota-facts.md: 9.5.0 sent the Upgrade reply with the URL in extra quotes (invalid JSON).
  auto r = parse(MessageKind::Result, R"J({"Upgrade":"Version 9.5.0 from ""http://ota.tasmota.com/tasmota/release/tasmota.bin.gz"""})J");
  EXPECT_TRUE(r.ok());
  auto ota = parse(MessageKind::Result, R"J({"OtaUrl":"http://127.0.0.1:8080/tasmota.bin.gz"})J");
  EXPECT_EQ("http://127.0.0.1:8080/tasmota.bin.gz", ota.facts.ota_url);
}

TEST(Discovery, CompactKeys) {
  // tasmota-facts.md: retained tasmota/discovery/<MAC>/config with ip, dn, fn, hn, mac, md, sw, t, ft, tp.
  auto r = parse(MessageKind::Discovery, R"J({"ip":"192.168.1.20","dn":"Kitchen","fn":["Kitchen",null],"hn":"kitchen-1234",
    "mac":"A4CF12345678","md":"Sonoff Basic","ty":0,"sw":"12.5.0","t":"kitchen","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"]})J");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ("A4:CF:12:34:56:78", r.facts.mac);
  EXPECT_EQ("kitchen", r.facts.topic);
  EXPECT_EQ("12.5.0", r.facts.version);
  EXPECT_FALSE(r.facts.build);  // "sw" carries no build
  EXPECT_EQ("Kitchen", r.facts.friendly_name);
  EXPECT_EQ("cmnd,stat,tele", r.facts.prefixes);
  EXPECT_FALSE(parse(MessageKind::Discovery, R"J({"ip":"1.2.3.4"})J").ok());
}

TEST(Helpers, MacAndUptime) {
  EXPECT_EQ("2C:3A:E8:12:34:56", normalize_mac("2c-3a-e8-12-34-56"));
  EXPECT_EQ("", normalize_mac("2C:3A:E8:12:34"));
  EXPECT_EQ("", normalize_mac("ZZ:3A:E8:12:34:56"));
  EXPECT_EQ("", normalize_mac("000000000000"));
  EXPECT_EQ(0, parse_uptime("0T00:00:00"));
  EXPECT_EQ(3661, parse_uptime("01:01:01"));
  EXPECT_EQ(-1, parse_uptime("1T25:00:00"));
  EXPECT_EQ(-1, parse_uptime("x"));
}

// SetOption4 puts each reply on stat/<topic>/<COMMAND>: those count as results too (classify).
TEST(Payloads, TheRelayStateComesFromStateAndCommandReplies) {
  using fleet::inventory::MessageKind;
  using fleet::inventory::parse_payload;
  EXPECT_EQ("ON", parse_payload(MessageKind::State, R"({"Time":"x","POWER":"ON"})").facts.power);
  EXPECT_EQ("ON", parse_payload(MessageKind::State, R"({"POWER1":"OFF","POWER2":"ON"})").facts.power);
  EXPECT_EQ("OFF", parse_payload(MessageKind::Result, R"({"POWER":"OFF"})").facts.power);
  auto junk = parse_payload(MessageKind::State, R"({"POWER":7})");
  EXPECT_FALSE(junk.facts.power);
  EXPECT_FALSE(junk.dropped.empty());
}

// StatusMQT (Status 6, part of Status 0) names the device's MqttClient, so its fallback topic is known
// without waiting for a boot's INFO1 (Tasmota support_command.ino CmndStatus: "MqttClient").
TEST(Payloads, StatusMqtNamesTheMqttClient) {
  auto r = parse(MessageKind::Status, R"J({"StatusMQT":{"MqttHost":"broker","MqttPort":1883,"MqttClientMask":"DVES_%06X",
    "MqttClient":"DVES_4AA248","MqttUser":"DVES_USER","MqttCount":1}})J");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ("DVES_4AA248", r.facts.mqtt_client);
  EXPECT_TRUE(r.facts.status_reply);
}
