// Upgrade plans, one case per rule, each citing the sentence of the upgrade guide
// (../shared/reference/tasmota-upgrading-guide.md) or the fact (tasmota-facts.md) it checks; then
// properties over every version of the catalog.
#include "planner/upgrade_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace fleet::planner;

namespace {

DeviceState device(const std::string& version, const std::string& build = "tasmota", Chip chip = Chip::ESP8266) {
  DeviceState d;
  d.name = "dev";
  d.version = *Version::parse(version);
  d.build = build;
  d.chip = chip;
  return d;
}

UpgradePlan plan(const DeviceState& d, const std::string& to = "", const std::string& build = "") {
  PlanRequest r;
  if (!to.empty()) r.target = *Version::parse(to);
  r.target_build = build;
  return Planner(Catalog::builtin()).plan(d, r);
}

std::vector<std::string> versions(const UpgradePlan& p) {
  std::vector<std::string> v;
  for (const auto& h : p.hops) v.push_back(h.version.str());
  return v;
}

bool has_step(const Hop& h, Step s) { return std::find(h.steps.begin(), h.steps.end(), s) != h.steps.end(); }

}  // namespace

// Guide: "v1.0.11 -> v3.9.22 -> v4.2.0 -> v5.14.0 -> v6.7.1 -> v7.2.0 -> v8.5.1 -> v9.1 -> Current release" and
// "you must take each individual step between the device firmware version and the latest available".
struct PathCase {
  const char* from;
  const char* build;
  const char* to;
  std::vector<std::string> hops;
};
class CheckpointPath : public ::testing::TestWithParam<PathCase> {};
TEST_P(CheckpointPath, EntersAtTheFirstCheckpointAboveAndTakesEveryStep) {
  const auto& c = GetParam();
  auto p = plan(device(c.from, c.build), c.to);
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(c.hops, versions(p));
}
INSTANTIATE_TEST_SUITE_P(
    Guide, CheckpointPath,
    ::testing::Values(PathCase{"1.0.11", "", "15.6.0", {"3.9.22", "4.2.0", "5.14.0", "6.7.1", "7.2.0", "8.5.1", "9.1.0", "15.6.0"}},
                      PathCase{"5.14.0", "", "15.6.0", {"6.7.1", "7.2.0", "8.5.1", "9.1.0", "15.6.0"}},
                      PathCase{"6.2.1", "sonoff", "15.6.0", {"6.7.1", "7.2.0", "8.5.1", "9.1.0", "15.6.0"}},
                      PathCase{"8.2.0", "tasmota", "12.5.0", {"8.5.1", "9.1.0", "12.5.0"}},
                      PathCase{"8.5.1", "tasmota", "9.1.0", {"9.1.0"}},
                      PathCase{"9.1.0", "tasmota", "15.6.0", {"15.6.0"}},
                      PathCase{"9.1.0.2", "tasmota", "9.2.0", {"9.2.0"}},
                      PathCase{"6.7.1", "sonoff", "8.5.1", {"7.2.0", "8.5.1"}}));

TEST(Planner, LatestIsTheNewestCatalogRelease) {
  auto p = plan(device("9.1.0"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Catalog::builtin().latest(), p.target);
  EXPECT_EQ(p.target.str(), p.hops.back().version.str());
}

TEST(Planner, IntermediateHopsUseTheGuidesBuilds) {
  // Guide links: v3.9.22/v4.2.0 firmware.bin, v5.14.0 sonoff-classic.bin, v6.7.1 sonoff.bin, 7.2.0/8.5.1
  // tasmota-lite.bin, 9.1 tasmota-lite.bin.gz; "Linked -lite.bin binaries will do the job".
  auto p = plan(device("1.0.11", ""), "15.6.0");
  ASSERT_TRUE(p.ok()) << p.error;
  std::vector<std::string> builds;
  for (const auto& h : p.hops) builds.push_back(h.build);
  EXPECT_EQ((std::vector<std::string>{"firmware", "firmware", "sonoff-classic", "sonoff", "tasmota-lite", "tasmota-lite",
                                      "tasmota-lite", "tasmota"}),
            builds);
  EXPECT_EQ("https://github.com/arendst/Tasmota/releases/download/v3.9.22/firmware.bin", p.hops[0].url);
  EXPECT_EQ("http://ota.tasmota.com/tasmota/release-9.1.0/tasmota-lite.bin.gz", p.hops[6].url);
}

TEST(Planner, GzOnlyWhenTheRunningVersionIsAtLeast82) {
  // Guide: "Gzipped binaries can be used only once you've upgraded to atleast Tasmota 8.2".
  auto p = plan(device("8.1.0"), "9.1.0");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(2u, p.hops.size());
  EXPECT_TRUE(p.hops[0].url.ends_with("/release-8.5.1/tasmota-lite.bin")) << p.hops[0].url;  // run by 8.1.0
  EXPECT_TRUE(p.hops[1].url.ends_with("/release-9.1.0/tasmota.bin.gz")) << p.hops[1].url;    // run by 8.5.1
  auto q = plan(device("8.2.0"), "8.5.1");
  EXPECT_TRUE(q.hops[0].url.ends_with(".bin.gz"));
}

TEST(Planner, MinimalIntermediateWhenAnUncompressedImageDoesNotFit) {
  // Guide: "If your binary build is larger than the available free flash program space, Tasmota will need to
  // first install the minimal version ... rename tasmota-minimal.bin to yourbinary-minimal.bin".
  auto tight = device("6.7.1", "sonoff");
  tight.free_kb = 400;
  tight.program_kb = 500;
  auto p = plan(tight, "7.2.0");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ("http://ota.tasmota.com/tasmota/release-7.2.0/tasmota-minimal.bin", p.hops[0].minimal_url);
  EXPECT_NE(std::string::npos, p.hops[0].reasons.back().find("tasmota-minimal.bin beside tasmota.bin"));
  auto roomy = device("6.7.1", "sonoff");
  roomy.free_kb = 700;
  EXPECT_EQ("", plan(roomy, "7.2.0").hops[0].minimal_url);
  // A .gz image never needs it.
  EXPECT_EQ("", plan(device("9.1.0"), "15.0.1").hops[0].minimal_url);
}

TEST(Planner, NeverAMinimalTargetAndMinimalRunsItsOwnFullBuildFirst) {
  // Guide: "Do not install only tasmota-minimal.bin but upgrade to full, working firmware"; release notes:
  // never minimal -> minimal, OTA to a full build of the same release first.
  auto refused = plan(device("9.1.0"), "15.0.1", "tasmota-minimal");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(std::string::npos, refused.error.find("never a target"));
  auto p = plan(device("9.1.0", "minimal"), "15.0.1");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(2u, p.hops.size());
  EXPECT_EQ("9.1.0", p.hops[0].version.str());
  EXPECT_EQ("tasmota", p.hops[0].build);
  EXPECT_EQ("15.0.1", p.hops[1].version.str());
}

TEST(Planner, OldFirmwareMinimalDerivationForbidsDashesOutsideTheFileName) {
  // tasmota-facts.md: older releases cut at the last '-' of the whole URL, so a dash in the path breaks the
  // minimal step on them: that is why the release notes give release_5.14.0/ and release_6.7.1/.
  EXPECT_EQ("http://h/x/release-6.7.1/sonoff-minimal.bin", minimal_url("http://h/x/release-6.7.1/sonoff.bin", false));
  EXPECT_EQ("http://h/x/release-minimal.bin", minimal_url("http://h/x/release-6.7.1/sonoff.bin", true));
  EXPECT_EQ("http://h/tasmota-minimal.bin", minimal_url("http://h/tasmota-sensors.bin", false));
  EXPECT_EQ("http://h/mybuild-minimal.bin", minimal_url("http://h/mybuild.bin", false));
  auto p = plan(device("4.2.0", "firmware"), "5.14.0");
  ASSERT_TRUE(p.ok()) << p.error;  // the catalog's underscore folder works
  Catalog mirror = Catalog::builtin();
  mirror.set_ota_base("http://ota-mirror.lan");
  auto broken = Planner(mirror).plan(device("4.2.0", "firmware"), PlanRequest{*Version::parse("5.14.0"), ""});
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(std::string::npos, broken.error.find("breaks the minimal step"));
  // Firmware from 6.0 cuts the file name only: the same mirror is fine for it.
  EXPECT_TRUE(Planner(mirror).plan(device("6.7.1", "sonoff"), PlanRequest{*Version::parse("7.2.0"), ""}).ok());
}

struct RefusalCase {
  const char* from;
  const char* to;
  const char* says;
};
class Downgrade : public ::testing::TestWithParam<RefusalCase> {};
TEST_P(Downgrade, RefusedWithTheReason) {
  auto p = plan(device(GetParam().from), GetParam().to);
  EXPECT_FALSE(p.ok());
  EXPECT_TRUE(p.hops.empty());
  EXPECT_NE(std::string::npos, p.error.find(GetParam().says)) << p.error;
}
INSTANTIATE_TEST_SUITE_P(
    Guide, Downgrade,
    // Guide: "Tasmota v9.1 introduced a major change in GPIO mapping. Downgrading is not recommended" and
    // "Starting with release v8.1.0 ... fallback is only allowed and possible to v7.2.0".
    ::testing::Values(RefusalCase{"9.1.0", "8.5.1", "GPIO mapping"}, RefusalCase{"15.0.1", "7.2.0", "GPIO mapping"},
                      RefusalCase{"8.5.1", "6.7.1", "only allowed and possible to v7.2.0"},
                      RefusalCase{"9.0.0", "5.14.0", "only allowed and possible to v7.2.0"}));

TEST(Planner, TheAllowedFallbackTo720) {
  auto p = plan(device("8.5.1"), "7.2.0");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ((std::vector<std::string>{"7.2.0"}), versions(p));
  EXPECT_NE(std::string::npos, p.hops[0].reasons[0].find("allowed fallback"));
}

TEST(Planner, Broken6606DevelopmentVersionsResetTwice) {
  // Guide: "versions between 6.6.0.7 and 6.6.0.11 ... Perform a Reset 6 before upgrading the firmware and, for
  // safe measure, after the upgrade completes."
  auto p = plan(device("6.6.0.9", "sonoff"), "6.7.1");
  ASSERT_TRUE(p.ok()) << p.error;
  const auto& s = p.hops[0].steps;
  EXPECT_EQ(2, std::count(s.begin(), s.end(), Step::Reset6));
  EXPECT_EQ(Step::Backup, s.front());
  EXPECT_EQ(Step::VerifySettings, s.back());
  EXPECT_TRUE(has_step(p.hops[0], Step::Restore));
  auto normal = plan(device("6.6.0.12", "sonoff"), "6.7.1");
  EXPECT_EQ(1, std::count(normal.hops[0].steps.begin(), normal.hops[0].steps.end(), Step::Reset6));
}

TEST(Planner, CarefulStepsAroundEveryHop) {
  // DEVELOPERS.md/guide: backup -> Reset 6 -> OtaUrl -> Upgrade -> wait and check -> restore. Reset 6 exists from
  // 6.4.1.18 (tasmota-facts.md), so older firmware keeps its settings through the hop and is only verified.
  auto p = plan(device("9.1.0"), "15.0.1");
  EXPECT_EQ((std::vector<Step>{Step::Backup, Step::Reset6, Step::OtaUrl, Step::Upgrade, Step::AwaitRestart,
                               Step::VerifyVersion, Step::HealthCheck, Step::Restore, Step::VerifySettings}),
            p.hops[0].steps);
  auto old = plan(device("5.14.0", ""), "6.7.1");
  EXPECT_FALSE(has_step(old.hops[0], Step::Reset6));
  EXPECT_FALSE(has_step(old.hops[0], Step::Restore));
  EXPECT_TRUE(has_step(old.hops[0], Step::VerifySettings));
}

TEST(Planner, OriginalSonoffMqttOtaIsNotMigratable) {
  // Guide: "No migration is possible from original Sonoff-MQTT-OTA to Sonoff-MQTT-OTA-Arduino v1.0.11".
  auto p = plan(device("1.0.10", ""));
  EXPECT_FALSE(p.ok());
  EXPECT_NE(std::string::npos, p.error.find("not migratable over the air"));
}

TEST(Planner, SameVersionOtherBuildIsOneHopAndBuildsMapToTodaysNames) {
  auto p = plan(device("15.0.1"), "15.0.1", "sensors");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(1u, p.hops.size());
  EXPECT_EQ("tasmota-sensors", p.hops[0].build);
  EXPECT_FALSE(has_step(p.hops[0], Step::Reset6));  // same settings layout
  // Keeping the build: sonoff-sensors (6.x) becomes tasmota-sensors.
  auto q = plan(device("6.7.1", "sonoff-sensors"), "9.1.0");
  ASSERT_TRUE(q.ok()) << q.error;
  EXPECT_EQ("tasmota-sensors", q.target_build);
  EXPECT_EQ("tasmota-sensors", q.hops.back().build);
  auto same = plan(device("15.0.1"), "15.0.1");
  EXPECT_TRUE(same.ok());
  EXPECT_TRUE(same.hops.empty());
  EXPECT_NE(std::string::npos, same.notes[0].find("nothing to do"));
}

TEST(Planner, OldReleasesUseTheirOwnImageNames) {
  auto p = plan(device("5.14.0", ""), "6.7.1");
  EXPECT_EQ("http://ota.tasmota.com/tasmota/release_6.7.1/sonoff.bin", p.hops[0].url);
}

TEST(Planner, Esp32ImagesNoGzNoMinimal) {
  auto d = device("12.5.0", "tasmota32c3", Chip::ESP32C3);
  d.program_flash_kb = 2880;
  auto p = plan(d, "15.0.1");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ("http://ota.tasmota.com/tasmota32/release-15.0.1/tasmota32c3.bin", p.hops[0].url);
  EXPECT_EQ("", p.hops[0].minimal_url);
  // Through 9.1 (GPIO mapping) with the ESP32 image.
  auto old = device("8.5.1", "tasmota32", Chip::ESP32);
  auto q = plan(old, "11.0.0");
  ASSERT_TRUE(q.ok()) << q.error;
  EXPECT_EQ((std::vector<std::string>{"9.1.0", "11.0.0"}), versions(q));
  EXPECT_EQ("tasmota32", q.hops[0].build);
}

TEST(Planner, Esp32WithoutAReportedBuildRunsItsChipsDefaultImage) {
  // A hypothetical device given only a version and a chip (plan --from 9.1.0 --chip esp32c3).
  auto p = plan(device("9.1.0", "", Chip::ESP32C3), "12.5.0");
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ("tasmota32c3", p.from_build);
  EXPECT_EQ("tasmota32c3", p.target_build);
  EXPECT_EQ("http://ota.tasmota.com/tasmota32/release-12.5.0/tasmota32c3.bin", p.hops.back().url);
}

TEST(Planner, Esp32PreSafebootLayoutCannotReach13OverTheAir) {
  // docs Safeboot.md: the layout arrived with v12 (pre-12: two 1856 KB slots on 4 MB); release notes 13.0.0:
  // "ESP32 Safeboot partition is now enforced" (Partition Wizard or serial flash).
  auto d = device("11.1.0", "tasmota32", Chip::ESP32);
  auto p = plan(d, "13.0.0");
  EXPECT_FALSE(p.ok());
  EXPECT_NE(std::string::npos, p.error.find("Partition Wizard"));
  d.version = *Version::parse("12.5.0");
  d.program_flash_kb = 1856;  // upgraded to 12 but still on the old layout
  EXPECT_FALSE(plan(d, "14.0.0").ok());
  d.program_flash_kb = 2880;
  EXPECT_TRUE(plan(d, "14.0.0").ok());
  EXPECT_TRUE(plan(device("11.1.0", "tasmota32", Chip::ESP32), "12.5.0").ok());
}

TEST(Planner, ClearErrorsNamingTheDevice) {
  auto unknown_chip = device("9.1.0", "tasmota", Chip::Unknown);
  unknown_chip.name = "kitchen";
  EXPECT_NE(std::string::npos, plan(unknown_chip).error.find("kitchen: chip unknown"));
  auto wrong_image = device("14.2.0", "tasmota32", Chip::ESP8266);
  EXPECT_NE(std::string::npos, plan(wrong_image).error.find("another chip"));
  EXPECT_NE(std::string::npos, plan(device("14.2.0", "tasmota", Chip::ESP32C3)).error.find("another chip"));
  EXPECT_NE(std::string::npos, plan(device("9.1.0"), "15.0.1", "tasmota32").error.find("not for ESP8266"));
  EXPECT_NE(std::string::npos, plan(device("9.1.0", "frobnicator")).error.find("unknown build 'frobnicator'"));
  EXPECT_NE(std::string::npos, plan(device("99.0.0")).error.find("newer than the catalog's latest"));
  EXPECT_NE(std::string::npos, plan(device("9.1.0"), "9.9.9").error.find("not a release in the catalog"));
  EXPECT_NE(std::string::npos, plan(device("7.0.0", "tasmota32", Chip::ESP32)).error.find("no ESP32 release"));
}

TEST(Planner, OtaBaseAndLocalCatalog) {
  Catalog c = Catalog::builtin();
  c.merge(Catalog::parse(R"J({"releases": ["16.0.0"], "esp8266_builds": ["tasmota-mine"], "image_kb": {"tasmota-mine": 500}})J"));
  c.set_ota_base("http://127.0.0.1:8080/");
  EXPECT_EQ("16.0.0", c.latest().str());
  auto p = Planner(c).plan(device("9.1.0"), PlanRequest{std::nullopt, "tasmota-mine"});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ("http://127.0.0.1:8080/tasmota/release-16.0.0/tasmota-mine.bin.gz", p.hops[0].url);
  auto old = Planner(c).plan(device("3.9.22", "firmware"), PlanRequest{*Version::parse("4.2.0"), ""});
  EXPECT_EQ("http://127.0.0.1:8080/github/v4.2.0/firmware.bin", old.hops[0].url);  // GitHub files from the mirror too
  EXPECT_THROW(Catalog::parse(R"J({"releases": ["x.y"]})J"), CatalogError);
  EXPECT_THROW(Catalog::parse(R"J({"checkpoints": [{"version": "7.2.0", "build": "tasmota"}]})J"), CatalogError);
  EXPECT_THROW(Catalog::parse("[]"), CatalogError);
}

// Properties over every version the catalog knows, to every later release and back to every earlier one.
TEST(PlannerProperties, OverTheWholeCatalog) {
  const Catalog& cat = Catalog::builtin();
  std::vector<Version> all = cat.releases();
  for (const auto& cp : cat.checkpoints()) all.push_back(cp.version);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::set<Version> known(all.begin(), all.end());
  int planned = 0, refused = 0;
  for (const auto& from : all) {
    for (const auto& to : all) {
      if (!cat.has_release(to) && std::none_of(cat.checkpoints().begin(), cat.checkpoints().end(),
                                               [&](const auto& c) { return c.version == to && !c.entry_only; }))
        continue;
      DeviceState d = device(from.str(), from < Version{5, 0, 0, 0} ? "firmware" : from < Version{7, 0, 0, 0} ? "sonoff" : "tasmota");
      d.free_kb = 300;
      auto p = Planner(cat).plan(d, PlanRequest{to, ""});
      if (!p.ok()) {
        ++refused;
        EXPECT_TRUE(p.hops.empty());
        continue;
      }
      ++planned;
      if (from == to) {
        EXPECT_TRUE(p.hops.empty());
        continue;
      }
      ASSERT_FALSE(p.hops.empty()) << from.str() << " -> " << to.str();
      EXPECT_EQ(to, p.hops.back().version) << from.str() << " -> " << to.str();  // ends at the target
      Version at = from;
      for (const auto& h : p.hops) {
        EXPECT_TRUE(known.count(h.version)) << h.version.str();  // only catalog entries
        bool fallback = at >= Version{8, 1, 0, 0} && h.version == Version{7, 2, 0, 0} && to == h.version;
        if (h.version < at) {
          EXPECT_TRUE(fallback || (to < from && h.version == to)) << from.str() << " -> " << to.str();
        }
        if (h.version < at && at >= Version{8, 1, 0, 0} && h.version < Version{8, 1, 0, 0}) {
          EXPECT_TRUE(fallback);
        }
        bool gz_allowed = at >= Version{8, 2, 0, 0} && h.version >= Version{8, 2, 0, 0};
        EXPECT_EQ(gz_allowed, h.url.ends_with(".gz")) << at.str() << " -> " << h.version.str() << ": " << h.url;
        EXPECT_FALSE(h.build.ends_with("minimal")) << h.build;
        EXPECT_FALSE(h.steps.empty());
        EXPECT_EQ(Step::Backup, h.steps.front());
        at = h.version;
      }
      // Never skips a checkpoint on the way up.
      if (to > from)
        for (const auto& cp : cat.checkpoints())
          if (!cp.entry_only && cp.version > from && cp.version < to) {
            EXPECT_TRUE(std::any_of(p.hops.begin(), p.hops.end(), [&](const auto& h) { return h.version == cp.version; }))
                << from.str() << " -> " << to.str() << " skips " << cp.version.str();
          }
    }
  }
  EXPECT_GT(planned, 1000);
  EXPECT_GT(refused, 100);  // the downgrades across 8.1 and 9.1
}
