// What a loop turn sends waits for the turn's commit: "committed before a destructive command" for
// every MQTT command (HeldTransport) and device HTTP request (HeldHttp) of the turn; a failed commit
// sends nothing of it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/held_transport.h"
#include "fakes.h"
#include "orchestrator/job_runner.h"

using fleet::testing::FakeTransport;
using namespace std::chrono_literals;

TEST(HeldTransport, HoldsUntilReleasedThenSendsInOrderOrDropsOnAFailedCommit) {
  FakeTransport wire;
  fleet::core::HeldTransport held(wire);
  held.publish("a", "1");  // not holding: straight through
  EXPECT_EQ(1u, wire.sent.size());
  held.hold();
  held.publish("cmnd/x/Reset", "6");
  held.publish_retained("state", "s");
  EXPECT_EQ(1u, wire.sent.size());
  EXPECT_EQ(2u, held.held());
  held.release(true);
  ASSERT_EQ(3u, wire.sent.size());
  EXPECT_EQ("cmnd/x/Reset", wire.sent[1].first);
  EXPECT_EQ("state", wire.sent[2].first);
  held.hold();
  held.publish("cmnd/x/Upgrade", "1");
  held.release(false);  // the commit failed
  EXPECT_EQ(3u, wire.sent.size());
  EXPECT_EQ(0u, held.held());
}

TEST(HeldTransport, EachKindOfPublishIsReleasedAsTheKindItWas) {
  struct Kinds : FakeTransport {
    std::vector<std::string> kinds;
    void publish(const std::string& t, const std::string& p) override { kinds.push_back("plain"), FakeTransport::publish(t, p); }
    void publish_retained(const std::string& t, const std::string& p) override { kinds.push_back("kept"), FakeTransport::publish(t, p); }
    void publish_retained_uncached(const std::string& t, const std::string& p) override { kinds.push_back("uncached"), FakeTransport::publish(t, p); }
  } wire;
  fleet::core::HeldTransport held(wire);
  held.hold();
  held.publish_retained_uncached("ha/config", "c");
  held.publish("cmnd/x/Status", "0");
  held.publish_retained("state", "s");
  EXPECT_TRUE(wire.kinds.empty());
  held.release(true);
  EXPECT_EQ((std::vector<std::string>{"uncached", "plain", "kept"}), wire.kinds);
  held.publish_retained_uncached("ha/state", "x");  // not holding: straight through, as itself
  EXPECT_EQ("uncached", wire.kinds.back());
}

TEST(HeldHttp, ARequestMadeWhileHoldingStartsAtReleaseOrIsAnsweredNotSent) {
  std::atomic<int> fetched{0};
  fleet::orchestrator::HeldHttp http([&](const std::string& url, const fleet::firmware::HttpRequest&) {
    ++fetched;
    fleet::firmware::Download d;
    d.ok = true;
    d.http_status = 200;
    d.error = url;
    return d;
  });
  std::atomic<int> woken{0};
  http.on_answer = [&] { ++woken; };
  auto port = http.port();
  http.hold();
  auto f = port("http://127.0.0.1:1/u2", {});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(0, fetched.load());  // held: the upload has not started
  EXPECT_NE(std::future_status::ready, f.wait_for(0ms));
  http.release(true);
  ASSERT_EQ(std::future_status::ready, f.wait_for(5s));
  EXPECT_TRUE(f.get().ok);
  EXPECT_EQ(1, fetched.load());
  for (int i = 0; i < 100 && woken.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(1, woken.load());  // the loop is told at once
  http.hold();
  auto dropped = port("http://127.0.0.1:1/u2", {});
  http.release(false);
  ASSERT_EQ(std::future_status::ready, dropped.wait_for(1s));
  auto d = dropped.get();
  EXPECT_FALSE(d.ok);
  EXPECT_NE(std::string::npos, d.error.find("not sent"));
  EXPECT_EQ(1, fetched.load());
}
