// The scheduled backups' decision: a first round spread over the period by each device's MAC, then
// every period after the last check (a failed one again after a tenth), due devices waiting while
// offline or held, at most `parallel` at once, the most overdue first.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <set>

#include "orchestrator/backup_schedule.h"

using namespace fleet::orchestrator;

TEST(BackupSchedule, TheFirstRoundIsSpreadOverThePeriod) {
  BackupSchedule s{60'000, 1'000'000, 1000};
  std::vector<ScheduledDevice> fleet;
  for (int i = 0; i < 600; ++i) fleet.push_back({fmt::format("5C:CF:7F:00:{:02X}:{:02X}", i / 256, i % 256), true, false, std::nullopt, false});
  std::set<std::int64_t> tenths;
  for (auto& d : fleet) {
    auto at = due_ms(s, d);
    ASSERT_GE(at, s.started_ms);
    ASSERT_LT(at, s.started_ms + s.period_ms);
    tenths.insert((at - s.started_ms) / 6'000);
  }
  EXPECT_EQ(10u, tenths.size());  // every tenth of the period has devices: not all at once
  EXPECT_LT(due_now(s, fleet, 0, s.started_ms + 6'000).size(), 150u);
  EXPECT_EQ(600u, due_now(s, fleet, 0, s.started_ms + s.period_ms).size());
}

TEST(BackupSchedule, DueAPeriodAfterTheLastCheckAndWaitingWhileOfflineOrHeld) {
  BackupSchedule s{3'600'000, 0, 2};
  ScheduledDevice checked{"A", true, false, 10'000, false};
  EXPECT_EQ(3'610'000, due_ms(s, checked));
  ScheduledDevice failed{"B", true, false, 10'000, true};
  EXPECT_EQ(370'000, due_ms(s, failed));  // a tenth of the period
  std::vector<ScheduledDevice> fleet{{"off", false, false, 0, false}, {"held", true, true, 0, false}, {"late", true, false, 0, false},
                                     {"later", true, false, 1'000, false}, {"latest", true, false, 2'000, false}};
  EXPECT_EQ((std::vector<std::string>{"late", "later"}), due_now(s, fleet, 0, 4'000'000));  // most overdue first, two at once
  EXPECT_EQ((std::vector<std::string>{"late"}), due_now(s, fleet, 1, 4'000'000));
  EXPECT_TRUE(due_now(s, fleet, 2, 4'000'000).empty());
  EXPECT_TRUE(due_now(s, fleet, 0, 3'000'000).empty());
  fleet[0].online = true;  // back online: it goes (its turn came as long ago as late's; ties by MAC)
  EXPECT_EQ((std::vector<std::string>{"late", "off"}), due_now(s, fleet, 0, 4'000'000));
}

TEST(BackupSchedule, Durations) {
  EXPECT_EQ(86400.0, parse_duration_s("24h"));
  EXPECT_EQ(1800.0, parse_duration_s("30m"));
  EXPECT_EQ(90.0, parse_duration_s("90s"));
  EXPECT_EQ(604800.0, parse_duration_s("7d"));
  EXPECT_EQ(2.5, parse_duration_s("2.5"));
  for (auto bad : {"", "h", "0h", "-1h", "24x", "1h30m", "nanh", "infs"}) EXPECT_FALSE(parse_duration_s(bad)) << bad;
}
