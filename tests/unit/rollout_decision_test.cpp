// The rollout decision (orchestrator/rollout_decision.h) as named cases: what a rollout does next from
// what is known now. hawkBit's order (rollout executor: error condition, then success condition, then
// starts) and its threshold semantics (ThresholdRolloutGroupErrorCondition: errors / group total > threshold).
#include <gtest/gtest.h>

#include "orchestrator/rollout_decision.h"

using namespace fleet::orchestrator;

namespace {

RolloutView view(std::vector<std::pair<int, std::string>> devices, int groups, int current = 0) {
  RolloutView v;
  v.status = "running";
  v.groups = groups;
  v.current_group = current;
  v.now_ms = 1'000'000;
  int i = 0;
  for (auto& [g, status] : devices) {
    DeviceView d;
    d.mac = "AA:00:00:00:00:" + std::to_string(10 + i++);
    d.group = g;
    d.status = status;
    d.online = true;
    v.devices.push_back(d);
  }
  return v;
}

template <typename T>
std::vector<T> only(const std::vector<RolloutEffect>& effects) {
  std::vector<T> out;
  for (auto& e : effects)
    if (auto* x = std::get_if<T>(&e)) out.push_back(*x);
  return out;
}

}  // namespace

TEST(RolloutDecision, TheCanaryRunsAloneUntilItEnds) {
  auto v = view({{0, "scheduled"}, {1, "scheduled"}, {1, "scheduled"}}, 2);
  auto e = decide(v);
  auto starts = only<effect::Start>(e);
  ASSERT_EQ(1u, starts.size());
  EXPECT_EQ(v.devices[0].mac, starts[0].mac);
  v.devices[0].status = "running";
  EXPECT_TRUE(only<effect::Start>(decide(v)).empty()) << "nothing of wave 1 starts while the canary runs";
  EXPECT_TRUE(only<effect::Advance>(decide(v)).empty());
  v.devices[0].status = "finished";
  e = decide(v);
  ASSERT_EQ(1u, only<effect::Advance>(e).size());
  EXPECT_EQ(1, only<effect::Advance>(e)[0].group);
  EXPECT_EQ(2u, only<effect::Start>(e).size()) << "the next group starts in the same decision";
}

TEST(RolloutDecision, AFailedCanaryPausesWhateverTheErrorThreshold) {
  auto v = view({{0, "error"}, {1, "scheduled"}}, 2);
  auto e = decide(v);
  ASSERT_EQ(1u, only<effect::Pause>(e).size());
  EXPECT_NE(std::string::npos, only<effect::Pause>(e)[0].reason.find("1 of 1 device failed"));
  EXPECT_TRUE(only<effect::Start>(e).empty());
}

TEST(RolloutDecision, MaxParallelCountsEveryJobInFlight) {
  auto v = view({{0, "scheduled"}, {0, "scheduled"}, {0, "scheduled"}, {0, "scheduled"}, {0, "scheduled"}}, 1);
  v.spec.canary = Amount{false, 0};
  v.spec.max_parallel = 3;
  EXPECT_EQ(3u, only<effect::Start>(decide(v)).size());
  v.running_fleetwide = 2;  // another rollout's jobs count too
  EXPECT_EQ(1u, only<effect::Start>(decide(v)).size());
  v.running_fleetwide = 3;
  EXPECT_EQ(0u, only<effect::Start>(decide(v)).size());
}

TEST(RolloutDecision, MaxPerMinuteLimitsStarts) {
  auto v = view({{0, "scheduled"}, {0, "scheduled"}, {0, "scheduled"}}, 1);
  v.spec.max_per_minute = 2;
  v.starts_last_minute = 1;
  EXPECT_EQ(1u, only<effect::Start>(decide(v)).size());
}

TEST(RolloutDecision, TheErrorThresholdOfAWavePausesTheRollout) {
  // Wave of 10, threshold 10 %: one failure is not more than 10 %, two are.
  std::vector<std::pair<int, std::string>> d{{0, "finished"}};
  for (int i = 0; i < 10; ++i) d.push_back({1, i == 0 ? "error" : "running"});
  auto v = view(d, 2, 1);
  v.spec.error_threshold = Amount{true, 10};
  EXPECT_TRUE(only<effect::Pause>(decide(v)).empty());
  v.devices[2].status = "error";
  EXPECT_EQ(1u, only<effect::Pause>(decide(v)).size());
}

TEST(RolloutDecision, AnOfflineDeviceWaitsThenIsSkipped) {
  auto v = view({{0, "scheduled"}}, 1);
  v.spec.canary = Amount{false, 0};
  v.spec.offline_timeout_s = 60;
  v.devices[0].online = false;
  auto e = decide(v);
  ASSERT_EQ(1u, only<effect::Wait>(e).size());
  EXPECT_TRUE(only<effect::Start>(e).empty());
  v.devices[0].waiting_since_ms = v.now_ms;
  v.now_ms += 30'000;
  EXPECT_TRUE(decide(v).empty()) << "still within its time";
  v.now_ms += 31'000;
  auto skips = only<effect::Skip>(decide(v));
  ASSERT_EQ(1u, skips.size());
  EXPECT_NE(std::string::npos, skips[0].reason.find("offline for more than 60 s"));
}

TEST(RolloutDecision, OutsideTheWindowNothingStartsAndNoClockRuns) {
  auto v = view({{0, "scheduled"}}, 1);
  v.spec.canary = Amount{false, 0};
  v.spec.window = *TimeWindow::parse("01:00-05:00");
  v.local_minute = 12 * 60;
  EXPECT_TRUE(decide(v).empty());
  v.local_minute = 2 * 60;
  EXPECT_EQ(1u, only<effect::Start>(decide(v)).size());
}

TEST(RolloutDecision, PausedStartsNothingAndStoppedEndsWhenNothingRuns) {
  auto v = view({{0, "running"}, {0, "scheduled"}}, 1);
  v.status = "paused";
  EXPECT_TRUE(decide(v).empty());
  v.status = "stopped";
  EXPECT_TRUE(only<effect::Stopped>(decide(v)).empty()) << "a device is still in flight";
  v.devices[0].status = "cancelled";
  EXPECT_EQ(1u, only<effect::Stopped>(decide(v)).size());
}

TEST(RolloutDecision, EveryGroupEndedFinishes) {
  auto v = view({{0, "finished"}, {1, "skipped"}, {1, "error"}}, 2, 1);
  v.spec.canary = Amount{false, 1};
  auto e = decide(v);
  EXPECT_EQ(1u, only<effect::Finish>(e).size());
}

TEST(RolloutDecision, APreflightRefusalFailsTheDeviceAtOnceWithItsReason) {
  auto v = view({{0, "scheduled"}}, 1);
  v.devices[0].not_ready = "preflight: Wi-Fi RSSI 20 % is below --min-rssi 40 %";
  auto e = decide(v);
  auto fails = only<effect::Fail>(e);
  ASSERT_EQ(1u, fails.size());
  EXPECT_EQ(v.devices[0].not_ready, fails[0].reason);
  EXPECT_TRUE(only<effect::Start>(e).empty());
}

TEST(RolloutDecision, AReadyRolloutBecomesRunning) {
  auto v = view({{0, "scheduled"}}, 1);
  v.status = "ready";
  EXPECT_EQ(1u, only<effect::Run>(decide(v)).size());
}

TEST(RolloutDecision, AResumeGoesPastTheFailuresItAcknowledgedAndJudgesOnlyNewOnes) {
  std::vector<std::pair<int, std::string>> d{{0, "finished"}, {1, "error"}, {1, "error"}, {1, "scheduled"}, {1, "scheduled"}};
  auto v = view(d, 2, 1);
  v.spec.error_threshold = Amount{false, 1};
  ASSERT_EQ(1u, only<effect::Pause>(decide(v)).size());
  v.acknowledged_errors = 2;
  auto e = decide(v);
  EXPECT_TRUE(only<effect::Pause>(e).empty());
  EXPECT_EQ(2u, only<effect::Start>(e).size());
  v.devices[3].status = "error";
  v.devices[4].status = "error";
  EXPECT_EQ(1u, only<effect::Pause>(decide(v)).size()) << "two new failures are over the threshold of 1 again";
}

TEST(RolloutDecision, APoweredDeviceWaitsForItsRelayToGoOffThenForTheEndOfTheWindow) {
  auto v = view({{0, "scheduled"}}, 1);
  v.spec.canary = Amount{false, 0};
  v.spec.skip_powered = true;
  v.spec.window = *TimeWindow::parse("01:00-05:00");
  v.local_minute = 120;
  v.devices[0].powered_on = true;
  auto waits = only<effect::Wait>(decide(v));
  ASSERT_EQ(1u, waits.size());
  EXPECT_NE(std::string::npos, waits[0].why.find("its relay is on"));
  v.devices[0].waiting_since_ms = v.now_ms;
  v.devices[0].powered_on = false;
  EXPECT_EQ(1u, only<effect::Start>(decide(v)).size()) << "off now: it starts";
  v.devices[0].powered_on = true;
  v.local_minute = 6 * 60;  // the window is over
  auto skips = only<effect::Skip>(decide(v));
  ASSERT_EQ(1u, skips.size());
  EXPECT_NE(std::string::npos, skips[0].reason.find("until the maintenance window ended"));
}
