// The pure rollout model: amounts, waves, --where filters, maintenance windows, the spec's JSON (strict,
// and safe against hostile input), device selection, group sizes and hawkBit's group conditions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <nlohmann/json.hpp>

#include "orchestrator/rollout_spec.h"

using namespace fleet::orchestrator;
using fleet::inventory::DeviceRecord;
using nlohmann::json;

namespace {

Amount share(double v) { return Amount{true, v}; }
Amount count(double v) { return Amount{false, v}; }

std::string error_of(std::string_view amount) {
  auto a = Amount::parse(amount);
  return a ? "(accepted)" : a.error();
}

DeviceRecord device(std::string mac, std::optional<std::string> topic, std::optional<std::string> hostname = {},
                    std::optional<std::string> version = {}) {
  DeviceRecord d;
  d.mac = std::move(mac);
  d.topic = std::move(topic);
  d.hostname = std::move(hostname);
  d.version = std::move(version);
  return d;
}

DeviceRecord with_version(std::optional<std::string> version) { return device("5C:CF:7F:00:00:09", "x", {}, std::move(version)); }

bool matches(std::string_view filter, const DeviceRecord& d) {
  auto f = DeviceFilter::parse(filter);
  EXPECT_TRUE(f) << filter << ": " << (f ? "" : f.error());
  return f && f->matches(d);
}

std::string filter_error(std::string_view filter) {
  auto f = DeviceFilter::parse(filter);
  return f ? "(accepted)" : f.error();
}

std::string spec_error(const json& j) {
  auto s = RolloutSpec::from_json(j);
  return s ? "(accepted)" : s.error();
}

}  // namespace

// --- Amounts and waves ---------------------------------------------------------------------------

TEST(RolloutAmount, ParsesCountsAndShares) {
  struct Case {
    const char* text;
    Amount want;
    const char* str;
  } cases[] = {{"0", count(0), "0"},         {"3", count(3), "3"},         {" 7 ", count(7), "7"},
               {"1000000", count(1e6), "1000000"}, {"10%", share(10), "10%"}, {"2.5%", share(2.5), "2.5%"},
               {"0%", share(0), "0%"},       {"100%", share(100), "100%"}, {"100.0%", share(100), "100%"},
               {"007", count(7), "7"}};
  for (const auto& c : cases) {
    auto a = Amount::parse(c.text);
    ASSERT_TRUE(a) << c.text << ": " << a.error();
    EXPECT_EQ(c.want, *a) << c.text;
    EXPECT_EQ(c.str, a->str()) << c.text;
    EXPECT_EQ(*a, *Amount::parse(a->str())) << c.text;
  }
}

TEST(RolloutAmount, RefusesBadAmountsSayingWhy) {
  EXPECT_EQ("'120%' is more than 100%", error_of("120%"));
  EXPECT_EQ("'100.01%' is more than 100%", error_of("100.01%"));
  EXPECT_EQ("'-5' is negative", error_of("-5"));
  EXPECT_EQ("'-0.5%' is negative", error_of("-0.5%"));
  EXPECT_EQ("'2.5' is not a whole number (a share needs '%')", error_of("2.5"));
  EXPECT_EQ("'abc' is not a count like '3' or a share like '10%'", error_of("abc"));
  EXPECT_EQ("'1000001' is more than 1000000", error_of("1000001"));
  EXPECT_EQ("empty: give a count like '3' or a share like '10%'", error_of("  "));
  EXPECT_EQ("'33.3333%' has more than 3 decimals", error_of("33.3333%"));
  auto third = Amount::parse("33.333%");
  ASSERT_TRUE(third) << third.error();
  EXPECT_EQ("33.333%", third->str());
  EXPECT_EQ("0.001%", Amount::parse("0.001%")->str());  // not "1e-03%"
  for (const std::string& bad : std::vector<std::string>{"", "%", "%%", "5%%", "10 %", "+5", "1e3", "0x10", "inf", "NaN", "nan%", "1,5", ".5%",
                                                         "5.%", "1.2.3%", "99999999999999999999999999999999999999", "1" + std::string(400, '0') + "%"})
    EXPECT_FALSE(Amount::parse(bad)) << bad;
}

TEST(RolloutAmount, OfRoundsSharesUpAndNeverExceedsTheWhole) {
  EXPECT_EQ(1u, share(10).of(7));    // 0.7
  EXPECT_EQ(3u, share(30).of(7));    // 2.1
  EXPECT_EQ(4u, share(50).of(7));    // 3.5
  EXPECT_EQ(3u, share(10).of(30));   // exactly 3, not 4
  EXPECT_EQ(7u, share(7).of(100));   // exactly 7 (7 * 100 / 100 in floating point)
  EXPECT_EQ(25u, share(2.5).of(1000));
  EXPECT_EQ(1u, share(0.1).of(1000));
  EXPECT_EQ(1u, share(0.1).of(1));
  EXPECT_EQ(1u, share(33.3).of(3));  // 0.999
  EXPECT_EQ(33u, share(8.8).of(375));  // exactly 33, though 375 * 8.8 / 100 is 33.00000000000001 in floating point
  EXPECT_EQ(0u, share(0).of(10));
  EXPECT_EQ(0u, share(50).of(0));
  EXPECT_EQ(20u, share(100).of(20));
  EXPECT_EQ(3u, count(5).of(3));
  EXPECT_EQ(5u, count(5).of(30));
  EXPECT_EQ(0u, count(0).of(30));
  // Built by hand, not parsed: still no undefined cast.
  EXPECT_EQ(0u, count(-1).of(30));
  EXPECT_EQ(30u, count(1e300).of(30));
  EXPECT_EQ(0u, share(std::nan("")).of(30));
  EXPECT_EQ(30u, share(1e300).of(30));
}

TEST(RolloutWaves, ParsesSharesAndCounts) {
  auto w = parse_waves("10%,50%,100%");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ((std::vector<Amount>{share(10), share(50), share(100)}), *w);
  w = parse_waves("5,20,100%");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ((std::vector<Amount>{count(5), count(20), share(100)}), *w);
  w = parse_waves(" 10% , 100% ");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ((std::vector<Amount>{share(10), share(100)}), *w);
  w = parse_waves("50,10%");  // counts and shares mixed: their order depends on the fleet's size
  ASSERT_TRUE(w) << w.error();
  EXPECT_TRUE(parse_waves("10%,10%,100%"));  // equal is fine: an empty group, dropped
}

TEST(RolloutWaves, RefusesBadWavesNamingThem) {
  EXPECT_EQ("waves: '120%' is more than 100%", parse_waves("10%,120%").error());
  EXPECT_EQ("waves: '10%' after '50%': waves are cumulative and must not decrease", parse_waves("50%,10%,100%").error());
  EXPECT_EQ("waves: '5' after '20': waves are cumulative and must not decrease", parse_waves("20,5").error());
  EXPECT_EQ("waves: an empty wave in '10%,,100%'", parse_waves("10%,,100%").error());
  EXPECT_EQ("waves: an empty wave in '10%,'", parse_waves("10%,").error());
  EXPECT_EQ("waves: empty: give shares like '10%,50%,100%'", parse_waves("").error());
  EXPECT_EQ("waves: 'x' is not a count like '3' or a share like '10%'", parse_waves("10%,x").error());
  std::string many;
  for (int i = 0; i < 101; ++i) many += (i ? "," : "") + std::string("100%");
  EXPECT_EQ("waves: more than 100 waves", parse_waves(many).error());
}

// --- Filters -------------------------------------------------------------------------------------

TEST(RolloutFilter, Parses) {
  auto f = DeviceFilter::parse("version<9.1");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ("version", f->field);
  EXPECT_EQ("<", f->op);
  EXPECT_EQ("9.1", f->value);
  EXPECT_EQ("version<9.1", f->str());
  f = DeviceFilter::parse(" Version >= 8.5.1 ");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ("version>=8.5.1", f->str());
  f = DeviceFilter::parse("module=Sonoff Basic");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ("Sonoff Basic", f->value);
  for (const char* good : {"build=tasmota", "chip=esp32c3", "build!=tasmota-lite", "version=9.1.0.2", "version!=5.12.0a", "version>15.0.1"})
    EXPECT_TRUE(DeviceFilter::parse(good)) << good;
}

TEST(RolloutFilter, RefusesBadFiltersSayingWhy) {
  EXPECT_EQ("unknown field 'colour' in 'colour=red' (version, build, chip, module)", filter_error("colour=red"));
  EXPECT_EQ("unknown operator '<<' in 'version<<9.1' (<, <=, =, !=, >=, >)", filter_error("version<<9.1"));
  EXPECT_EQ("unknown operator '==' in 'build==tasmota' (<, <=, =, !=, >=, >)", filter_error("build==tasmota"));
  EXPECT_EQ("'9.x' in 'version<9.x' is not a version", filter_error("version<9.x"));
  EXPECT_EQ("'build<tasmota': build compares only with = or !=", filter_error("build<tasmota"));
  EXPECT_EQ("unknown chip 'banana' in 'chip=banana'", filter_error("chip=banana"));
  EXPECT_EQ("'version' has no operator (<, <=, =, !=, >=, >)", filter_error("version"));
  EXPECT_EQ("'version<' has no value", filter_error("version<"));
  EXPECT_EQ("'=5' names no field (version, build, chip, module)", filter_error("=5"));
  EXPECT_EQ("empty filter: give one like 'version<9.1'", filter_error(""));
  EXPECT_EQ("'256.0.0' in 'version>256.0.0' is not a version", filter_error("version>256.0.0"));
}

TEST(RolloutFilter, ComparesVersionsAsVersions) {
  auto v5 = with_version("5.14.0"), v8 = with_version("8.5.1"), v9 = with_version("9.1.0"), v15 = with_version("15.0.1");
  auto unknown = with_version(std::nullopt);
  EXPECT_TRUE(matches("version<9.1", v5));
  EXPECT_TRUE(matches("version<9.1", v8));
  EXPECT_FALSE(matches("version<9.1", v9));
  EXPECT_FALSE(matches("version<9.1", v15));  // 15 > 9: not compared as text
  EXPECT_FALSE(matches("version<9.1", unknown));
  EXPECT_FALSE(matches("version>=8.5.1", v5));
  EXPECT_TRUE(matches("version>=8.5.1", v8));
  EXPECT_TRUE(matches("version>=8.5.1", v9));
  EXPECT_TRUE(matches("version>=8.5.1", v15));
  EXPECT_FALSE(matches("version>=8.5.1", unknown));
  EXPECT_TRUE(matches("version=9.1", v9));
  EXPECT_FALSE(matches("version=9.1", v8));
  EXPECT_TRUE(matches("version!=9.1", v8));
  EXPECT_FALSE(matches("version!=9.1", v9));
  EXPECT_FALSE(matches("version!=9.1", unknown));  // nothing known: neither = nor !=
  EXPECT_TRUE(matches("version>9.1", v15));
  EXPECT_TRUE(matches("version<=8.5.1", v8));
  EXPECT_FALSE(matches("version<=8.5.1", v9));
  EXPECT_TRUE(matches("version<9.1", with_version("5.14")));
  EXPECT_FALSE(matches("version<9.1", with_version("garbage")));
  EXPECT_FALSE(matches("version=9.1", with_version("9.1.0.2")));  // a development build after 9.1.0
  EXPECT_TRUE(matches("version>9.1", with_version("9.1.0.2")));
  // No parsed version, but the firmware string says it.
  auto fw = with_version(std::nullopt);
  fw.firmware = "8.5.1(tasmota)";
  EXPECT_TRUE(matches("version<9.1", fw));
}

TEST(RolloutFilter, ComparesBuildsChipsAndModulesAsText) {
  DeviceRecord d = with_version("9.1.0");
  d.build = "tasmota";
  d.chip = "ESP32-C3";
  d.module = "Sonoff Basic";
  EXPECT_TRUE(matches("build=tasmota", d));
  EXPECT_TRUE(matches("build=TASMOTA", d));
  EXPECT_FALSE(matches("build!=tasmota", d));
  EXPECT_TRUE(matches("build!=tasmota-lite", d));
  EXPECT_TRUE(matches("chip=esp32c3", d));
  EXPECT_TRUE(matches("chip=ESP32-C3", d));
  EXPECT_FALSE(matches("chip=esp32", d));
  EXPECT_TRUE(matches("chip!=esp8266", d));
  EXPECT_TRUE(matches("module=sonoff basic", d));
  EXPECT_FALSE(matches("module=Sonoff Basic R2", d));
  // Tasmota reports "lite" for the image tasmota-lite.
  d.build = "lite";
  EXPECT_TRUE(matches("build=tasmota-lite", d));
  EXPECT_TRUE(matches("build=lite", d));
  EXPECT_FALSE(matches("build!=tasmota-lite", d));
  // Unknown fields match nothing.
  DeviceRecord blank = with_version("9.1.0");
  for (const char* f : {"build=tasmota", "build!=tasmota", "chip=esp32", "chip!=esp32", "module=x", "module!=x"})
    EXPECT_FALSE(matches(f, blank)) << f;
  blank.chip = "something odd";
  EXPECT_FALSE(matches("chip!=esp32", blank));
}

// --- Windows -------------------------------------------------------------------------------------

TEST(RolloutWindow, ContainsItsMinutesEndExclusive) {
  auto w = TimeWindow::parse("01:00-05:00");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(60, w->start_minute);
  EXPECT_EQ(300, w->end_minute);
  EXPECT_EQ("01:00-05:00", w->str());
  EXPECT_FALSE(w->contains(59));
  EXPECT_TRUE(w->contains(60));
  EXPECT_TRUE(w->contains(299));
  EXPECT_FALSE(w->contains(300));
  EXPECT_FALSE(w->contains(23 * 60));
  EXPECT_TRUE(w->contains(1440 + 120));  // minutes past a day wrap
  EXPECT_EQ("01:30-02:00", TimeWindow::parse("1:30-2:00")->str());
  auto late = TimeWindow::parse("23:00-24:00");
  ASSERT_TRUE(late) << late.error();
  EXPECT_TRUE(late->contains(23 * 60 + 59));
  EXPECT_FALSE(late->contains(0));
}

TEST(RolloutWindow, WrapsAroundMidnight) {
  auto w = TimeWindow::parse("22:00-02:00");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ("22:00-02:00", w->str());
  EXPECT_FALSE(w->contains(21 * 60 + 59));
  EXPECT_TRUE(w->contains(22 * 60));
  EXPECT_TRUE(w->contains(23 * 60 + 59));
  EXPECT_TRUE(w->contains(0));
  EXPECT_TRUE(w->contains(60 + 59));
  EXPECT_FALSE(w->contains(120));
  EXPECT_FALSE(w->contains(12 * 60));
  EXPECT_TRUE(w->contains(-60));  // 23:00 the day before
}

TEST(RolloutWindow, RefusesBadWindowsSayingWhy) {
  EXPECT_EQ("'25:00' in '25:00-02:00' is not a time of day (00:00..23:59)", TimeWindow::parse("25:00-02:00").error());
  EXPECT_EQ("'02:60' in '01:00-02:60' is not a time of day (00:00..24:00)", TimeWindow::parse("01:00-02:60").error());
  EXPECT_EQ("'01:00-01:00' starts where it ends", TimeWindow::parse("01:00-01:00").error());
  EXPECT_EQ("'night' is not a window like '01:00-05:00'", TimeWindow::parse("night").error());
  for (const char* bad : {"", "-", "24:00-02:00", "0100-0500", "1-5", "01:0-05:00", "001:00-05:00", "01:00-05:00-06:00", "-01:00-05:00",
                          "01:00 - 05:00pm", "a1:00-05:00"})
    EXPECT_FALSE(TimeWindow::parse(bad)) << bad;
}

// --- Groups --------------------------------------------------------------------------------------

TEST(RolloutGroups, SplitsCumulativeWaves) {
  auto waves = *parse_waves("10%,50%,100%");
  using V = std::vector<std::size_t>;
  EXPECT_EQ((V{}), group_sizes(0, count(1), waves));
  EXPECT_EQ((V{1}), group_sizes(1, count(1), waves));
  EXPECT_EQ((V{1}), group_sizes(1, count(0), waves));
  EXPECT_EQ((V{1}), group_sizes(1, share(10), waves));
  EXPECT_EQ((V{1, 1}), group_sizes(2, count(1), waves));
  EXPECT_EQ((V{1, 1}), group_sizes(2, count(0), waves));  // 10% of 2 → 1, then the rest
  EXPECT_EQ((V{2}), group_sizes(2, count(3), waves));     // the canary is everything
  EXPECT_EQ((V{1, 3, 3}), group_sizes(7, count(1), waves));
  EXPECT_EQ((V{1, 3, 3}), group_sizes(7, count(0), waves));
  EXPECT_EQ((V{3, 1, 3}), group_sizes(7, count(3), waves));
  EXPECT_EQ((V{1, 3, 3}), group_sizes(7, share(10), waves));
  EXPECT_EQ((V{1, 1, 8, 10}), group_sizes(20, count(1), waves));  // the example of the spec
  EXPECT_EQ((V{2, 8, 10}), group_sizes(20, count(0), waves));
  EXPECT_EQ((V{3, 7, 10}), group_sizes(20, count(3), waves));
  EXPECT_EQ((V{2, 8, 10}), group_sizes(20, share(10), waves));
  EXPECT_EQ((V{1, 2, 9, 12}), group_sizes(24, count(1), waves));
  EXPECT_EQ((V{3, 9, 12}), group_sizes(24, count(0), waves));
  EXPECT_EQ((V{3, 9, 12}), group_sizes(24, count(3), waves));
  EXPECT_EQ((V{3, 9, 12}), group_sizes(24, share(10), waves));
  EXPECT_EQ((V{1, 99, 400, 500}), group_sizes(1000, count(1), waves));
  EXPECT_EQ((V{100, 400, 500}), group_sizes(1000, count(0), waves));
  EXPECT_EQ((V{3, 97, 400, 500}), group_sizes(1000, count(3), waves));
  EXPECT_EQ((V{100, 400, 500}), group_sizes(1000, share(10), waves));
}

TEST(RolloutGroups, CountsLastWaveAndNoWaves) {
  using V = std::vector<std::size_t>;
  EXPECT_EQ((V{1, 4, 15, 4}), group_sizes(24, count(1), *parse_waves("5,20,100%")));
  EXPECT_EQ((V{3, 22, 975}), group_sizes(1000, count(3), *parse_waves("2.5%,100%")));
  EXPECT_EQ((V{2, 18}), group_sizes(20, count(0), *parse_waves("10%,50%")));  // the last wave takes the rest
  EXPECT_EQ((V{1, 19}), group_sizes(20, count(1), {}));
  EXPECT_EQ((V{20}), group_sizes(20, count(0), {}));
  EXPECT_EQ((V{1, 19}), group_sizes(20, count(1), {share(0)}));
  EXPECT_EQ((V{5, 15}), group_sizes(20, count(0), {count(5), count(3), share(100)}));  // a wave behind the others adds nothing
}

TEST(RolloutGroups, SizesAlwaysSumToNWithoutEmptyGroups) {
  std::vector<std::vector<Amount>> wave_sets = {*parse_waves("10%,50%,100%"), *parse_waves("5,20,100%"), *parse_waves("1%,2%,3%"),
                                                *parse_waves("100%"), *parse_waves("0%,0%"), {}};
  for (std::size_t n : {0, 1, 2, 3, 7, 20, 24, 99, 1000, 12345})
    for (const Amount& canary : {count(0), count(1), count(3), share(10), share(100), count(1'000'000)})
      for (const auto& waves : wave_sets) {
        auto sizes = group_sizes(n, canary, waves);
        EXPECT_EQ(n, std::accumulate(sizes.begin(), sizes.end(), std::size_t{0})) << n << " " << canary.str();
        for (auto s : sizes) EXPECT_GT(s, 0u);
        if (canary.of(n) > 0) {
          ASSERT_FALSE(sizes.empty());
          EXPECT_EQ(canary.of(n), sizes.front());
        }
        EXPECT_LE(sizes.size(), waves.size() + 1 + (waves.empty() ? 1 : 0));
      }
}

// --- Conditions ----------------------------------------------------------------------------------

// hawkBit, hawkbit-repository-jpa/.../rollout/condition/ThresholdRolloutGroupErrorCondition.java: the error
// condition holds when errors / the group's total actions is strictly more than threshold / 100, and never for
// a group without actions. ThresholdRolloutGroupSuccessCondition.java: the success condition holds when
// finished / total >= threshold / 100, and always for an empty group.
TEST(RolloutConditions, ErrorThresholdIsStrictlyMoreThanAShareOfTheWholeGroup) {
  RolloutSpec spec;
  spec.error_threshold = share(10);
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .finished = 9, .error = 1}));  // 10% is not more than 10%
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 10, .finished = 8, .error = 2}));
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 20, .error = 2}));
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 20, .error = 3}));
  // 10% of 15 is 1.5: the 2nd error crosses it (a threshold rounded up to 2 first would not).
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 15, .error = 1}));
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 15, .error = 2}));
  // Divided by the group's total, not by the devices executed so far: 1 of 2 executed is 1 of 10.
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .scheduled = 8, .finished = 1, .error = 1}));
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 0}));
  spec.error_threshold = share(0);
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 1000, .scheduled = 999, .error = 1}));
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 1000, .scheduled = 1000}));
  spec.error_threshold = share(2.5);
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 40, .error = 1}));  // exactly 2.5%
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 40, .error = 2}));
  spec.error_threshold = share(18.4);  // 18.4% of 375 is exactly 69, though 18.4 * 375 is 6899.999999999999 in floating point
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 375, .error = 69}));
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 375, .error = 70}));
  spec.error_threshold = share(100);
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 3, .error = 3}));  // can never be more than all
  spec.error_threshold.reset();
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 3, .error = 3}));
}

TEST(RolloutConditions, ErrorThresholdAsACountAndTheMinimumExecuted) {
  RolloutSpec spec;
  spec.error_threshold = count(2);
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .error = 2}));
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 10, .error = 3}));
  spec.error_threshold = count(0);
  spec.error_min_executed = 3;
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .running = 2, .error = 1}));
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .finished = 1, .error = 1}));
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 10, .finished = 2, .error = 1}));
  // Skipped and cancelled devices were not executed.
  EXPECT_FALSE(error_condition_crossed(spec, {.total = 10, .error = 1, .skipped = 3, .cancelled = 3}));
  spec.error_min_executed = 0;
  EXPECT_TRUE(error_condition_crossed(spec, {.total = 10, .error = 1}));
}

TEST(RolloutConditions, SuccessWhenEnoughOfTheGroupEnded) {
  RolloutSpec spec;  // 100%
  EXPECT_FALSE(success_condition_met(spec, {.total = 10, .running = 1, .finished = 9}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .finished = 9, .skipped = 1}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .finished = 5, .error = 5}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .finished = 7, .error = 1, .skipped = 1, .cancelled = 1}));
  EXPECT_FALSE(success_condition_met(spec, {.total = 10, .scheduled = 10}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 0}));  // hawkBit: an empty group is done
  spec.success_threshold = share(80);
  EXPECT_FALSE(success_condition_met(spec, {.total = 10, .running = 3, .finished = 7}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .running = 2, .finished = 8}));  // >=: exactly 80% is enough
  spec.success_threshold = share(75);
  EXPECT_FALSE(success_condition_met(spec, {.total = 10, .running = 3, .finished = 7}));  // 7.5 needed
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .running = 2, .finished = 8}));
  spec.success_threshold = count(3);
  EXPECT_FALSE(success_condition_met(spec, {.total = 10, .running = 8, .finished = 2}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .running = 7, .finished = 3}));
  EXPECT_TRUE(success_condition_met(spec, {.total = 2, .finished = 2}));  // a count above the group: all of it
  spec.success_threshold = share(0);
  EXPECT_TRUE(success_condition_met(spec, {.total = 10, .scheduled = 10}));
}

// --- Selection -----------------------------------------------------------------------------------

class RolloutSelect : public ::testing::Test {
 protected:
  RolloutSelect() {
    inventory = {device("5C:CF:7F:00:00:01", "kitchen", "kitchen-0001", "9.1.0"),
                 device("5C:CF:7F:00:00:02", "plug", "desk-0002", "8.5.1"),
                 device("5C:CF:7F:00:00:03", "garage", "plug", "5.14.0"),  // its hostname is the other's topic
                 device("5C:CF:7F:00:00:04", "attic", "attic-0004", "15.0.1"),
                 device("5C:CF:7F:00:00:05", std::nullopt, std::nullopt, std::nullopt)};
  }
  std::vector<std::string> topics(const RolloutSpec& spec) {
    auto r = select_devices(inventory, spec);
    EXPECT_TRUE(r) << r.error();
    std::vector<std::string> out;
    if (r)
      for (const auto& d : *r) out.push_back(d.topic.value_or(d.mac));
    return out;
  }
  std::vector<DeviceRecord> inventory;
};

TEST_F(RolloutSelect, ByMacTopicAndHostnameInTheOrderNamed) {
  RolloutSpec spec;
  spec.devices = {"5ccf7f000004", "kitchen", "DESK-0002", "5c:cf:7f:00:00:05"};
  EXPECT_EQ((std::vector<std::string>{"attic", "kitchen", "plug", "5C:CF:7F:00:00:05"}), topics(spec));
  spec.devices = {"kitchen", "5C-CF-7F-00-00-01", "kitchen-0001"};  // one device named three ways
  EXPECT_EQ((std::vector<std::string>{"kitchen"}), topics(spec));
}

TEST_F(RolloutSelect, UnknownAndAmbiguousNamesAreErrors) {
  RolloutSpec spec;
  spec.devices = {"porch"};
  EXPECT_EQ("unknown device 'porch'", select_devices(inventory, spec).error());
  spec.devices = {"plug"};
  EXPECT_EQ("'plug' is ambiguous: 2 devices (5C:CF:7F:00:00:02, 5C:CF:7F:00:00:03)", select_devices(inventory, spec).error());
  spec.devices = {"kitchen", "porch", "plug", "KITCHEN"};  // topics are exact, as MQTT's
  EXPECT_EQ("unknown device 'porch'; 'plug' is ambiguous: 2 devices (5C:CF:7F:00:00:02, 5C:CF:7F:00:00:03); unknown device 'KITCHEN'",
            select_devices(inventory, spec).error());
}

TEST_F(RolloutSelect, AllAndFiltersByTopicThenMac) {
  RolloutSpec spec;
  spec.all = true;
  EXPECT_EQ((std::vector<std::string>{"5C:CF:7F:00:00:05", "attic", "garage", "kitchen", "plug"}), topics(spec));
  spec.where = {*DeviceFilter::parse("version<9.1")};
  EXPECT_EQ((std::vector<std::string>{"garage", "plug"}), topics(spec));
  spec.all = false;  // where alone starts from the whole inventory
  EXPECT_EQ((std::vector<std::string>{"garage", "plug"}), topics(spec));
  spec.where.push_back(*DeviceFilter::parse("version>=8.0"));
  EXPECT_EQ((std::vector<std::string>{"plug"}), topics(spec));
  spec.where = {*DeviceFilter::parse("version<10.0")};
  spec.devices = {"attic", "kitchen", "garage"};  // filters apply after names
  EXPECT_EQ((std::vector<std::string>{"kitchen", "garage"}), topics(spec));
  RolloutSpec nothing;
  EXPECT_TRUE(topics(nothing).empty());
}

// --- JSON ----------------------------------------------------------------------------------------

TEST(RolloutSpecJson, WritesEveryField) {
  RolloutSpec spec;
  spec.all = true;
  json j = spec.to_json();
  EXPECT_EQ(22u, j.size());
  EXPECT_EQ("latest", j["target"]);
  EXPECT_EQ(120, j["restart_timeout_s"]);  // Upgrade job defaults; a spec stored before them reads them too
  EXPECT_EQ(600, j["upgrade_timeout_s"]);
  EXPECT_EQ("1", j["canary"]);
  EXPECT_EQ(json::array({"100%"}), j["waves"]);
  EXPECT_EQ("100%", j["success_threshold"]);
  EXPECT_TRUE(j["error_threshold"].is_null());
  EXPECT_TRUE(j["window"].is_null());
  EXPECT_TRUE(j["min_rssi"].is_null());
  EXPECT_TRUE(j["access"].is_null());
  EXPECT_EQ(20, j["max_parallel"]);
  EXPECT_EQ(600, j["offline_timeout_s"]);
  auto back = RolloutSpec::from_json(j);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(spec, *back);
}

TEST(RolloutSpecJson, RoundTripsEveryField) {
  RolloutSpec spec;
  spec.name = "spring upgrade";
  spec.target = "14.2.0";
  spec.target_build = "tasmota-sensors";
  spec.devices = {"kitchen", "5ccf7f000004"};
  spec.where = {*DeviceFilter::parse("version<9.1"), *DeviceFilter::parse("module=Sonoff Basic"), *DeviceFilter::parse("build!=tasmota-lite")};
  spec.canary = share(2.5);
  spec.waves = {count(5), share(50), share(100)};
  spec.max_parallel = 3;
  spec.max_per_minute = 1.5;
  spec.error_threshold = share(10);
  spec.error_min_executed = 4;
  spec.success_threshold = share(90);
  spec.offline_timeout_s = 1800;
  spec.health_window_s = 120;
  spec.restart_timeout_s = 45;
  spec.upgrade_timeout_s = 900;
  spec.mode = "in-place";
  spec.window = *TimeWindow::parse("22:00-02:00");
  spec.skip_powered = true;
  spec.min_rssi = 40;
  spec.access = {{"web_password", "s3cret"}, {"web_port", 8080}};
  json j = spec.to_json();
  EXPECT_EQ("2.5%", j["canary"]);
  EXPECT_EQ(json::array({"5", "50%", "100%"}), j["waves"]);
  EXPECT_EQ("22:00-02:00", j["window"]);
  EXPECT_EQ(json::array({"version<9.1", "module=Sonoff Basic", "build!=tasmota-lite"}), j["where"]);
  auto back = RolloutSpec::from_json(j);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(spec, *back);
  EXPECT_EQ(j, back->to_json());
  // Through text, as the store keeps it.
  auto again = RolloutSpec::from_json(json::parse(j.dump()));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(spec, *again);
}

TEST(RolloutSpecJson, AcceptsWhatAnApiClientSends) {
  auto s = RolloutSpec::from_json(json::parse(R"({"devices": "all", "target": "9.1.0", "canary": 3, "waves": "10%,100%",
                                                  "error_threshold": "5%", "where": ["chip=esp32c3"], "max_per_minute": 6})"));
  ASSERT_TRUE(s) << s.error();
  EXPECT_TRUE(s->all);
  EXPECT_TRUE(s->devices.empty());
  EXPECT_EQ(count(3), s->canary);
  EXPECT_EQ((std::vector<Amount>{share(10), share(100)}), s->waves);
  EXPECT_EQ(share(5), s->error_threshold);
  EXPECT_EQ(6.0, s->max_per_minute);
  EXPECT_EQ(20, s->max_parallel);  // missing keys keep their defaults
  s = RolloutSpec::from_json(json::parse(R"({"devices": [" kitchen ", "AA:BB:CC:DD:EE:FF"], "waves": [5, "50%", "100%"],
                                             "error_threshold": 2, "success_threshold": 8, "window": null, "min_rssi": null})"));
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ((std::vector<std::string>{"kitchen", "AA:BB:CC:DD:EE:FF"}), s->devices);
  EXPECT_EQ((std::vector<Amount>{count(5), share(50), share(100)}), s->waves);
  EXPECT_EQ(count(2), s->error_threshold);
  EXPECT_EQ(count(8), s->success_threshold);
  s = RolloutSpec::from_json(json::parse(R"({"where": ["version<9.1"], "all": true, "devices": []})"));
  ASSERT_TRUE(s) << s.error();
}

TEST(RolloutSpecJson, RefusesUnknownKeysAndWrongTypesNamingTheField) {
  EXPECT_EQ("unknown key 'colour'", spec_error({{"all", true}, {"colour", "red"}}));
  EXPECT_EQ("max_parallel: must be a whole number, not a string", spec_error({{"all", true}, {"max_parallel", "20"}}));
  EXPECT_EQ("target: must be a string, not an array", spec_error({{"all", true}, {"target", json::array({"9.1.0"})}}));
  EXPECT_EQ("target: '9.x' is not a version or 'latest'", spec_error({{"all", true}, {"target", "9.x"}}));
  EXPECT_EQ("all: must be true or false, not a string", spec_error({{"all", "yes"}}));
  EXPECT_EQ("max_parallel: must be at least 1", spec_error({{"all", true}, {"max_parallel", 0}}));
  EXPECT_EQ("max_parallel: must be at least 1", spec_error({{"all", true}, {"max_parallel", -3}}));
  EXPECT_EQ("max_parallel: must be a whole number, not 2.5", spec_error({{"all", true}, {"max_parallel", 2.5}}));
  EXPECT_EQ("waves[1]: '120%' is more than 100%", spec_error({{"all", true}, {"waves", json::array({"10%", "120%"})}}));
  EXPECT_EQ("waves: '120%' is more than 100%", spec_error({{"all", true}, {"waves", "10%,120%"}}));
  EXPECT_EQ("waves: '10%' after '50%': waves are cumulative and must not decrease", spec_error({{"all", true}, {"waves", json::array({"50%", "10%"})}}));
  EXPECT_EQ("waves: empty: give shares like '10%,50%,100%'", spec_error({{"all", true}, {"waves", json::array()}}));
  EXPECT_EQ("where[1]: unknown field 'colour' in 'colour=red' (version, build, chip, module)",
            spec_error({{"where", json::array({"version<9.1", "colour=red"})}}));
  EXPECT_EQ("where: must be an array of filters like \"version<9.1\", not a string", spec_error({{"where", "version<9.1"}}));
  EXPECT_EQ("window: '25:00' in '25:00-02:00' is not a time of day (00:00..23:59)", spec_error({{"all", true}, {"window", "25:00-02:00"}}));
  EXPECT_EQ("mode: 'fast' is not clean or in-place", spec_error({{"all", true}, {"mode", "fast"}}));
  EXPECT_EQ("min_rssi: must be at most 100", spec_error({{"all", true}, {"min_rssi", 101}}));
  EXPECT_EQ("access: must be an object or null, not a string", spec_error({{"all", true}, {"access", "s3cret"}}));
  EXPECT_EQ("target_build: 'tasmota sensors' is not a build name like 'tasmota-sensors'",
            spec_error({{"all", true}, {"target_build", "tasmota sensors"}}));
  EXPECT_EQ("canary: must be at least 0", spec_error({{"all", true}, {"canary", -1}}));
  EXPECT_EQ("canary: must be a count or a share like '10%', not true/false", spec_error({{"all", true}, {"canary", true}}));
  EXPECT_EQ("a rollout spec must be a JSON object, not an array", spec_error(json::array({1, 2})));
  // Every bad field is named, not just the first.
  EXPECT_EQ("max_parallel: must be at least 1; mode: 'fast' is not clean or in-place",
            spec_error({{"all", true}, {"max_parallel", 0}, {"mode", "fast"}}));
}

TEST(RolloutSpecJson, NeedsOneSelection) {
  EXPECT_EQ("no devices selected: give all, devices or where", spec_error(json::object()));
  EXPECT_EQ("no devices selected: give all, devices or where", spec_error({{"all", false}, {"devices", json::array()}}));
  EXPECT_EQ("devices: give all or devices, not both", spec_error({{"all", true}, {"devices", json::array({"kitchen"})}}));
  EXPECT_EQ("devices: \"all\" contradicts all: false", spec_error({{"all", false}, {"devices", "all"}}));
  EXPECT_EQ("devices: must be \"all\" or an array of MACs, topics or hostnames, not 'some'", spec_error({{"devices", "some"}}));
  EXPECT_EQ("devices[1]: must be a MAC, topic or hostname, not a number", spec_error({{"devices", json::array({"kitchen", 5})}}));
  EXPECT_EQ("devices[0]: empty name", spec_error({{"devices", json::array({"  "})}}));
}

TEST(RolloutSpecJson, HostileInputGetsAClearErrorAndNeverAThrow) {
  // Deeply nested arrays and objects where a value is expected (parsed, not built: a json copy recurses).
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  std::string deep_object;
  for (int i = 0; i < 100'000; ++i) deep_object += R"({"a":)";
  deep_object += "1" + std::string(100'000, '}');
  auto with = [](const std::string& key, const std::string& value, bool all = true) {
    return json::parse("{" + std::string(all ? R"("all": true, )" : "") + "\"" + key + "\": " + value + "}");
  };
  EXPECT_EQ("waves[0]: must be a count or a share like '10%', not an array", spec_error(with("waves", deep)));
  EXPECT_EQ("devices[0]: must be a MAC, topic or hostname, not an array", spec_error(with("devices", deep, false)));
  EXPECT_EQ("where[0]: must be a filter like \"version<9.1\", not an array", spec_error(with("where", deep, false)));
  EXPECT_EQ("access: must be an object or null, not an array", spec_error(with("access", deep)));
  EXPECT_EQ("access: nested deeper than 8 levels", spec_error(with("access", deep_object)));
  EXPECT_EQ("max_parallel: must be a whole number, not an object", spec_error(with("max_parallel", deep_object)));
  EXPECT_EQ("a rollout spec must be a JSON object, not an array", spec_error(json::parse(deep)));
  EXPECT_EQ("unknown key 'a'; no devices selected: give all, devices or where", spec_error(json::parse(deep_object)));
  auto shallow = RolloutSpec::from_json(with("access", R"({"web": {"user": "admin", "password": "x"}})"));
  ASSERT_TRUE(shallow) << shallow.error();
  EXPECT_EQ("admin", shallow->access["web"]["user"]);
  // Huge numbers.
  EXPECT_EQ("max_parallel: must be a whole number, not 1e+300", spec_error({{"all", true}, {"max_parallel", 1e300}}));
  EXPECT_EQ("max_parallel: must be at most 10000",
            spec_error(json::parse(R"({"all": true, "max_parallel": 18446744073709551615})")));
  EXPECT_EQ("max_parallel: must be a whole number, not 1e+23",
            spec_error(json::parse(R"({"all": true, "max_parallel": 99999999999999999999999})")));
  EXPECT_EQ("offline_timeout_s: must be at least 0", spec_error(json::parse(R"({"all": true, "offline_timeout_s": -9223372036854775808})")));
  EXPECT_EQ("offline_timeout_s: must be at most 604800", spec_error({{"all", true}, {"offline_timeout_s", 604801}}));
  EXPECT_EQ("restart_timeout_s: must be at least 1", spec_error({{"all", true}, {"restart_timeout_s", 0}}));
  EXPECT_EQ("upgrade_timeout_s: must be at most 86400", spec_error({{"all", true}, {"upgrade_timeout_s", 86401}}));
  EXPECT_EQ("canary: must be at most 1000000", spec_error(json::parse(R"({"all": true, "canary": 18446744073709551615})")));
  EXPECT_EQ("error_min_executed: must be at least 0", spec_error({{"all", true}, {"error_min_executed", -1}}));
  EXPECT_EQ("max_per_minute: must be between 0 (no limit) and 60000", spec_error({{"all", true}, {"max_per_minute", 1e300}}));
  EXPECT_EQ("max_per_minute: must be between 0 (no limit) and 60000", spec_error({{"all", true}, {"max_per_minute", -1}}));
  // Not from a parser (JSON has neither), but a caller may build them.
  EXPECT_EQ("max_per_minute: must be between 0 (no limit) and 60000",
            spec_error({{"all", true}, {"max_per_minute", std::numeric_limits<double>::quiet_NaN()}}));
  EXPECT_EQ("max_per_minute: must be between 0 (no limit) and 60000",
            spec_error({{"all", true}, {"max_per_minute", std::numeric_limits<double>::infinity()}}));
  // NaN-like strings.
  EXPECT_EQ("max_per_minute: must be a number, not a string", spec_error({{"all", true}, {"max_per_minute", "NaN"}}));
  EXPECT_EQ("canary: 'NaN' is not a count like '3' or a share like '10%'", spec_error({{"all", true}, {"canary", "NaN"}}));
  EXPECT_EQ("error_threshold: 'inf%' is not a count like '3' or a share like '10%'", spec_error({{"all", true}, {"error_threshold", "inf%"}}));
  EXPECT_EQ("success_threshold: '1e2%' is not a count like '3' or a share like '10%'", spec_error({{"all", true}, {"success_threshold", "1e2%"}}));
  EXPECT_EQ("error_threshold: '-0%' is negative", spec_error({{"all", true}, {"error_threshold", "-0%"}}));
  // Long texts are cut short in errors; many errors are counted, not all listed.
  std::string long_key(1'000'000, 'k');
  auto e = spec_error({{"all", true}, {long_key, 1}});
  EXPECT_EQ("unknown key '" + std::string(40, 'k') + "…'", e);
  EXPECT_EQ("name: longer than 200 characters", spec_error({{"all", true}, {"name", std::string(201, 'n')}}));
  json many = {{"all", true}};
  for (int i = 0; i < 50; ++i) many["k" + std::to_string(100 + i)] = i;
  e = spec_error(many);
  EXPECT_TRUE(e.starts_with("unknown key 'k100'; unknown key 'k101'")) << e;
  EXPECT_TRUE(e.ends_with("; and 40 more")) << e;
}

TEST(RolloutSpecJson, NoValueInAnyFieldThrows) {
  const char* keys[] = {"name", "target", "target_build", "all", "devices", "where", "canary", "waves", "max_parallel", "max_per_minute",
                        "error_threshold", "error_min_executed", "success_threshold", "offline_timeout_s", "health_window_s", "restart_timeout_s",
                        "upgrade_timeout_s", "mode", "window", "skip_powered", "min_rssi", "access"};
  std::vector<json> values = {nullptr, true, false, 0, -1, 1, 1e300, -1e300, std::numeric_limits<double>::quiet_NaN(),
                              json::parse("18446744073709551615"), json::parse("-9223372036854775808"), "", "NaN", "all", "10%",
                              "-", "1e999", json::array(), json::object(), json::parse("[[[[[]]]]]"), json::parse(R"([null, 1, "x"])"),
                              json::parse(R"({"a": {"b": []}})"), std::string(5000, '%')};
  for (const char* key : keys)
    for (const auto& v : values) {
      for (const json& base : {json::object(), json{{"all", true}}, json{{"devices", json::array({"x"})}}}) {
        json j = base;
        j[key] = v;
        EXPECT_NO_THROW({
          auto r = RolloutSpec::from_json(j);
          if (r) {
            (void)r->to_json();
          } else {
            EXPECT_FALSE(r.error().empty());
            EXPECT_LT(r.error().size(), 2000u) << key;
          }
        }) << key << " = " << v.dump().substr(0, 80);
      }
    }
}
