// The job runner's clock: time goes to the jobs whose own next time has come (not to every job in flight
// on every turn); while the broker is away jobs are handed no time (no wait runs out for a reply that
// cannot reach us) and, when the session is back, hear how long it was gone, on a clock that left the
// outage out.
#include <gtest/gtest.h>

#include "orchestrator/job_runner.h"
#include "tests/unit/fakes.h"

using namespace fleet;

namespace {

// Records what the runner hands it; asks nothing.
struct RecordingJob : orchestrator::DeviceJob {
  RecordingJob() : DeviceJob("5C:CF:7F:00:00:01", "127.0.0.9", {}) {}
  std::vector<std::int64_t> times;
  std::vector<std::pair<std::int64_t, std::int64_t>> backs;  // (now, outage)
  std::string device_topic() const override { return "plug"; }
  std::vector<backup::DeviceAction> start(std::int64_t now) override {
    times.push_back(now);
    return {};
  }
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix, std::string_view, std::string_view, std::int64_t) override { return {}; }
  std::vector<backup::DeviceAction> on_http(const firmware::Download&, std::int64_t) override { return {}; }
  std::vector<backup::DeviceAction> on_time(std::int64_t now) override {
    times.push_back(now);
    return {};
  }
  std::vector<backup::DeviceAction> on_broker_back(std::int64_t now, std::int64_t outage) override {
    backs.emplace_back(now, outage);
    return {};
  }
  bool finished() const override { return false; }
};

// Names its next time (wake); a reply moves it to 200 ms after the reply.
struct TimedJob : RecordingJob {
  std::optional<std::int64_t> wake;
  std::optional<std::int64_t> wake_at_ms() const override { return wake; }
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix, std::string_view, std::string_view, std::int64_t now) override {
    wake = now + 200;
    return {};
  }
  std::vector<backup::DeviceAction> on_time(std::int64_t now) override {
    times.push_back(now);
    if (wake && now >= *wake) wake.reset();  // its wait ran out: nothing timed until the next reply
    return {};
  }
};

// Ends at the first reply it gets.
struct EndsOnReplyJob : RecordingJob {
  int replies = 0;
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix, std::string_view, std::string_view, std::int64_t) override {
    ++replies;
    return {};
  }
  bool finished() const override { return replies > 0; }
};

}  // namespace

TEST(JobRunner, AJobThatEndsIsRetiredAndFreesItsDeviceAndTopicForTheNext) {
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeClock clock;
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 10}};
  auto first = std::make_shared<EndsOnReplyJob>(), second = std::make_shared<EndsOnReplyJob>();
  runner.add(first);
  runner.add(second);  // the same device: waits for the first
  runner.set_online(true);
  runner.tick();
  EXPECT_EQ(1u, first->times.size());
  EXPECT_TRUE(second->times.empty());
  runner.on_message("stat/plug/RESULT", "{}");
  runner.tick();  // the first is over: retired, and the second starts in its place
  auto done = runner.take_done();
  ASSERT_EQ(1u, done.size());
  EXPECT_EQ(first.get(), done[0].get());
  EXPECT_EQ(1u, second->times.size());
  runner.on_message("stat/plug/RESULT", "{}");  // the topic is the second's now
  EXPECT_EQ(1, first->replies);
  EXPECT_EQ(1, second->replies);
  runner.tick();
  EXPECT_EQ(1u, runner.take_done().size());
  EXPECT_TRUE(runner.idle());
}

TEST(JobRunner, TimeGoesToAJobWhenItsOwnTimeComesAndAtLeastOnceASecond) {
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeClock clock;
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 10}};
  auto timed = std::make_shared<TimedJob>();
  auto t0 = clock.t;
  timed->wake = t0 + 2500;
  runner.add(timed);
  runner.set_online(true);
  runner.tick();  // started
  ASSERT_EQ(1u, timed->times.size());
  // 3 s in steps of 100 ms, 30 turns: the job is asked at the second mark and at its own time.
  for (int i = 0; i < 30; ++i) {
    clock.advance(100);
    runner.tick();
  }
  EXPECT_EQ((std::vector<std::int64_t>{t0, t0 + 1000, t0 + 2000, t0 + 2500}), timed->times);
  // A reply names an earlier time: that one counts, not the second mark.
  timed->times.clear();
  runner.on_message("stat/plug/RESULT", "{}");
  auto replied = clock.t;
  for (int i = 0; i < 5; ++i) {
    clock.advance(100);
    runner.tick();
  }
  EXPECT_EQ((std::vector<std::int64_t>{replied + 200}), timed->times);
}

TEST(JobRunner, AJobWithNothingTimedIsAskedOnceASecondAllTheSame) {
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeClock clock;
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 10}};
  auto job = std::make_shared<TimedJob>();  // wake: nullopt
  auto t0 = clock.t;
  runner.add(job);
  runner.set_online(true);
  runner.tick();
  for (int i = 0; i < 25; ++i) {
    clock.advance(100);
    runner.tick();
  }
  EXPECT_EQ((std::vector<std::int64_t>{t0, t0 + 1000, t0 + 2000}), job->times);
}

TEST(JobRunner, AJobThatNamesNoTimeOfItsOwnIsAskedEveryFewMilliseconds) {
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeClock clock;
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 10}};
  auto job = std::make_shared<RecordingJob>();  // the default: every turn, at most once per 10 ms
  runner.add(job);
  runner.set_online(true);
  runner.tick();
  for (int i = 0; i < 100; ++i) {
    clock.advance(5);
    runner.tick();
  }
  EXPECT_EQ(51u, job->times.size());  // the start, then every 10 ms of 500
}

TEST(JobRunner, TheJobsClockStandsStillWhileTheBrokerIsAwayAndTheyHearHowLongItWas) {
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeClock clock;
  orchestrator::JobRunner runner{transport, clock, orchestrator::JobRunnerOptions{mqtt::TopicScheme(), 10}};
  auto job = std::make_shared<RecordingJob>();
  runner.add(job);
  runner.tick();
  EXPECT_TRUE(job->times.empty()) << "no job starts before the session is up";
  runner.set_online(true);  // the first connection: no outage
  runner.tick();
  ASSERT_EQ(1u, job->times.size());
  auto t0 = clock.t;
  EXPECT_EQ(t0, job->times[0]);
  EXPECT_TRUE(job->backs.empty());
  clock.advance(1000);
  runner.tick();
  ASSERT_EQ(2u, job->times.size());
  EXPECT_EQ(t0 + 1000, job->times[1]);

  runner.set_online(false);  // lost: 30 s without the broker
  for (int i = 0; i < 30; ++i) {
    clock.advance(1000);
    runner.tick();
  }
  EXPECT_EQ(2u, job->times.size()) << "no time handed out while the broker is away";
  runner.set_online(false);  // connected again, subscriptions not acknowledged yet: still away
  clock.advance(500);
  runner.set_online(true);
  ASSERT_EQ(1u, job->backs.size());
  EXPECT_EQ(30'500, job->backs[0].second);
  EXPECT_EQ(t0 + 1000, job->backs[0].first) << "the job's clock left the outage out";
  clock.advance(1000);
  runner.tick();
  ASSERT_EQ(3u, job->times.size());
  EXPECT_EQ(t0 + 2000, job->times[2]);
}
