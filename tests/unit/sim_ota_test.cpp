// The simulator's OTA, checked against the facts it plays (sim/sim_ota.cpp cites them): the Upgrade
// replies and error texts, the minimal retry and its URL, .gz only from 8.2, the chip check on ESP32,
// the brick of an ESP8266 given an ESP32 image, and the restart into the new version.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "firmware/synthetic_image.h"
#include "sim/sim_device.h"

using namespace fleet::sim;
using fleet::firmware::make_image;
using fleet::firmware::SyntheticImage;
using fleet::planner::Chip;
using nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1'790'000'000'000;

DeviceSpec spec(const std::string& version, const std::string& build, const std::string& chip = "ESP8266", int free_kb = 400,
                int program_kb = 600) {
  DeviceSpec s;
  s.version = version;
  s.build = build;
  s.chip = chip;
  s.free_kb = free_kb;
  s.program_kb = program_kb;
  s.mac = "5C:CF:7F:12:34:56";
  s.ip = "127.0.0.5";
  s.settings.topic = "plug";
  return s;
}

// Sends OtaUrl + Upgrade 1 and returns the URL the device asks the runner to fetch.
std::string upgrade(SimDevice& d, const std::string& url) {
  d.handle("cmnd/plug/OtaUrl", url, kNow);
  auto r = d.handle("cmnd/plug/Upgrade", "1", kNow);
  EXPECT_EQ("stat/plug/RESULT", r.publish.at(0).topic);
  // Real capture (tasmota-facts.md): {"Upgrade":"Version 15.0.1 from http://…"}: the running version.
  EXPECT_EQ("Version " + d.spec().version + " from " + url, json::parse(r.publish.at(0).payload)["Upgrade"]);
  EXPECT_TRUE(r.fetch);
  return r.fetch.value_or("");
}

OtaDownload ok(const std::string& url, std::vector<std::uint8_t> body) { return OtaDownload{url, 200, std::move(body)}; }

std::string upgrade_text(const Reaction& r) {
  EXPECT_EQ(1u, r.publish.size());
  if (r.publish.empty()) return "";
  EXPECT_EQ("stat/plug/UPGRADE", r.publish[0].topic);  // MqttPublishPrefixTopic_P(STAT, "UPGRADE")
  return json::parse(r.publish[0].payload)["Upgrade"];
}

}  // namespace

TEST(SimOta, SuccessfulUpgradeRestartsIntoTheNewVersion) {
  SimDevice d(spec("8.5.1", "tasmota"), kNow);
  std::string url = "http://127.0.0.1:8070/tasmota/release-9.1.0/tasmota.bin.gz";
  EXPECT_EQ(url, upgrade(d, url));
  auto img = make_image(SyntheticImage{Chip::ESP8266, "9.1.0", "tasmota", 300 * 1024, true});
  auto r = d.ota_downloaded(ok(url, img), kNow);
  EXPECT_EQ("Successful. Restarting", upgrade_text(r));
  EXPECT_TRUE(r.restart);
  EXPECT_EQ("8.5.1(tasmota)", d.firmware_string());  // still the old one until it restarts
  auto boots = d.spec().boot_count;
  d.reboot(kNow + 5000);
  EXPECT_EQ("9.1.0(tasmota)", d.firmware_string());
  EXPECT_EQ(boots + 1, d.spec().boot_count);
  EXPECT_EQ(300, d.spec().program_kb);
  EXPECT_EQ(1000 - 300, d.spec().free_kb);  // the program area stays, the image changed
  EXPECT_FALSE(d.take_boot_fetch());
}

TEST(SimOta, TooBigTakesTheMinimalStepThenTheFullImage) {
  SimDevice d(spec("8.5.1", "tasmota", "ESP8266", 300, 600), kNow);
  std::string url = "http://127.0.0.1:8070/tasmota/release-9.1.0/tasmota-sensors.bin";
  upgrade(d, url);
  auto full = make_image(SyntheticImage{Chip::ESP8266, "9.1.0", "tasmota-sensors", 500 * 1024});
  auto r = d.ota_downloaded(ok(url, full), kNow);
  // Not Enough space: no message yet, the device asks for the minimal image (file name cut at its last '-').
  EXPECT_TRUE(r.publish.empty());
  ASSERT_TRUE(r.fetch);
  EXPECT_EQ("http://127.0.0.1:8070/tasmota/release-9.1.0/tasmota-minimal.bin", *r.fetch);
  auto minimal = make_image(SyntheticImage{Chip::ESP8266, "9.1.0", "tasmota-minimal", 250 * 1024});
  auto m = d.ota_downloaded(ok(*r.fetch, minimal), kNow);
  EXPECT_EQ("Successful. Restarting", upgrade_text(m));
  d.reboot(kNow + 1000);
  EXPECT_EQ("9.1.0(minimal)", d.firmware_string());
  // The minimal build fetches the original URL by itself after boot.
  auto again = d.take_boot_fetch();
  ASSERT_TRUE(again);
  EXPECT_EQ(url, *again);
  auto f = d.ota_downloaded(ok(url, full), kNow);
  EXPECT_EQ("Successful. Restarting", upgrade_text(f));
  d.reboot(kNow + 2000);
  EXPECT_EQ("9.1.0(sensors)", d.firmware_string());
}

TEST(SimOta, OldFirmwareDerivesTheMinimalUrlFromTheWholeUrl) {
  SimDevice d(spec("5.14.0", "", "ESP8266", 300, 500), kNow);
  std::string url = "http://127.0.0.1:8070/tasmota/release_6.7.1/sonoff.bin";
  upgrade(d, url);
  auto r = d.ota_downloaded(ok(url, make_image(SyntheticImage{Chip::ESP8266, "6.7.1", "sonoff", 490 * 1024})), kNow);
  ASSERT_TRUE(r.fetch);
  EXPECT_EQ("http://127.0.0.1:8070/tasmota/release_6.7.1/sonoff-minimal.bin", *r.fetch);
}

TEST(SimOta, RefusalsUseTheCoresErrorTexts) {
  std::string url = "http://127.0.0.1:8070/x/tasmota.bin";
  {
    SimDevice d(spec("9.1.0", "tasmota"), kNow);
    upgrade(d, url);
    EXPECT_EQ("Failed File Not Found (404)", upgrade_text(d.ota_downloaded(OtaDownload{url, 404, {}}, kNow)));
    EXPECT_FALSE(d.ota_in_progress());
  }
  {
    SimDevice d(spec("9.1.0", "tasmota"), kNow);
    upgrade(d, url);
    EXPECT_EQ("Failed HTTP error: connection failed", upgrade_text(d.ota_downloaded(OtaDownload{url, 0, {}}, kNow)));
  }
  {
    SimDevice d(spec("9.1.0", "tasmota"), kNow);
    upgrade(d, url);
    std::vector<std::uint8_t> html{'<', 'h', 't', 'm', 'l', '>'};
    auto r = d.ota_downloaded(ok(url, html), kNow);
    EXPECT_EQ("Failed Verify Bin Header Failed", upgrade_text(r));
    EXPECT_FALSE(r.restart);
    EXPECT_EQ("9.1.0(tasmota)", d.firmware_string());
  }
  {
    // .gz from 8.2 only (guide): an 8.1 device cannot take one.
    SimDevice d(spec("8.1.0", "tasmota"), kNow);
    upgrade(d, url + ".gz");
    auto r = d.ota_downloaded(ok(url + ".gz", make_image(SyntheticImage{Chip::ESP8266, "8.5.1", "tasmota", 100000, true})), kNow);
    EXPECT_EQ("Failed Verify Bin Header Failed", upgrade_text(r));
  }
  {
    // The minimal image does not fit either: now the failure is reported.
    SimDevice d(spec("8.5.1", "tasmota", "ESP8266", 100, 600), kNow);
    upgrade(d, url);
    auto big = make_image(SyntheticImage{Chip::ESP8266, "9.1.0", "tasmota", 500 * 1024});
    auto r = d.ota_downloaded(ok(url, big), kNow);
    ASSERT_TRUE(r.fetch);
    auto m = d.ota_downloaded(ok(*r.fetch, make_image(SyntheticImage{Chip::ESP8266, "9.1.0", "tasmota-minimal", 300 * 1024})), kNow);
    EXPECT_EQ("Failed Not Enough space", upgrade_text(m));
  }
}

TEST(SimOta, Esp32RefusesAnImageForAnotherChip) {
  SimDevice d(spec("14.2.0", "tasmota32c3", "ESP32-C3", 1800, 1500), kNow);
  std::string url = "http://127.0.0.1:8070/tasmota32/release-15.0.1/tasmota32.bin";
  upgrade(d, url);
  auto r = d.ota_downloaded(ok(url, make_image(SyntheticImage{Chip::ESP32, "15.0.1", "tasmota32", 900 * 1024})), kNow);
  EXPECT_EQ("Failed Update error: Could Not Activate The Firmware", upgrade_text(r));
  EXPECT_FALSE(r.restart);
  EXPECT_FALSE(r.fetch);  // no minimal step on ESP32
  upgrade(d, url);
  auto good = d.ota_downloaded(ok(url, make_image(SyntheticImage{Chip::ESP32C3, "15.0.1", "tasmota32c3", 900 * 1024})), kNow);
  EXPECT_EQ("Successful. Restarting", upgrade_text(good));
  d.reboot(kNow + 1);
  EXPECT_EQ("15.0.1(release-tasmota32c3)", d.firmware_string());
}

TEST(SimOta, Esp8266GivenAnEsp32ImageIsBricked) {
  SimDevice d(spec("9.1.0", "tasmota", "ESP8266", 2000, 600), kNow);
  std::string url = "http://127.0.0.1:8070/tasmota32/release-15.0.1/tasmota32.bin";
  upgrade(d, url);
  auto r = d.ota_downloaded(ok(url, make_image(SyntheticImage{Chip::ESP32, "15.0.1", "tasmota32", 100 * 1024})), kNow);
  EXPECT_TRUE(r.bricked);
}
