// The control API's answers to malformed and hostile requests (orchestrator/control_api.h): each is
// refused with a clear error and changes nothing. Real SQLite file; the executor's other ports are fakes.
#include <gtest/gtest.h>

#include "tests/unit/rollout_world.h"

using namespace fleet;
using nlohmann::json;

namespace {

struct World : fleet::testing::RolloutWorld {
  World() : RolloutWorld((std::filesystem::temp_directory_path() / ("control-api-" + std::to_string(::getpid()) + ".db")).string()) {
    // A device the inventory knows, on 8.5.1.
    device("plug", "5C:CF:7F:00:00:01", "8.5.1(tasmota)", "ESP8266EX");
  }

  json ask(const std::string& payload) {
    auto r = api.handle("tasmota-fleet/v1/control", payload);
    EXPECT_TRUE(r.has_value());
    return r ? r->body : json();
  }
  std::size_t count() { return rollouts.list(100).size(); }
};

}  // namespace

TEST(ControlApi, MalformedRequestsAreAnsweredWithAnErrorAndChangeNothing) {
  World w;
  struct Case {
    std::string payload, error;
  } cases[] = {
      {"not json", "request: not JSON"},
      {"[1,2]", "request: must be a JSON object"},
      {R"({"request_id":"a"})", "command: missing"},
      {R"({"command":"rollout.explode"})", "command: unknown 'rollout.explode'"},
      {R"({"command":"rollout.pause"})", "id: missing"},
      {R"({"command":"rollout.pause","id":-3})", "id: must be a positive whole number"},
      {R"({"command":"rollout.pause","id":42})", "no rollout #42"},
      {R"({"command":"rollout.start","devices":"all","max_parallel":"many"})", "max_parallel"},
      {R"({"command":"rollout.start","devices":["nobody"]})", "unknown device 'nobody'"},
      {R"({"command":"rollout.start","devices":"all","to":"nine"})", "'nine' is not a version"},
      {R"({"command":"rollout.start","devices":"all","evil":1})", "evil"},
      {R"({"command":"rollout.list","reply_to":"tasmota-fleet/v1/rollouts/1"})", "reply_to: may not be one of"},
      {R"({"command":"rollout.list","reply_to":"a/+/b"})", "reply_to: must be a topic without wildcards"},
      {R"({"command":"rollout.list","request_id":7})", "request_id: must be a string"},
      {std::string(20, '[') + std::string(20, ']'), "request: nested too deeply"},
      {std::string(70'000, ' '), "request: larger than"},
  };
  for (auto& c : cases) {
    auto r = w.ask(c.payload);
    EXPECT_FALSE(r.value("ok", true)) << c.payload.substr(0, 80);
    EXPECT_NE(std::string::npos, r.value("error", "").find(c.error)) << c.payload.substr(0, 80) << " -> " << r.dump();
  }
  EXPECT_EQ(0u, w.count());
  EXPECT_FALSE(w.api.handle("tasmota-fleet/v1/other", "{}").has_value());
}

TEST(ControlApi, StartShowPauseResumeAbortThroughTheApi) {
  World w;
  auto r = w.ask(R"({"command":"rollout.start","request_id":"r1","devices":["plug"],"to":"9.1.0","canary":0})");
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ("r1", r["request_id"]);
  auto id = r["result"]["id"].get<int>();
  EXPECT_EQ("ready", r["result"]["status"]);
  EXPECT_EQ(1, r["result"]["devices_total"]);
  EXPECT_EQ(1u, w.count());
  auto shown = w.ask(R"({"command":"rollout.show","id":)" + std::to_string(id) + "}");
  EXPECT_EQ("5C:CF:7F:00:00:01", shown["result"]["devices"][0]["mac"]);
  EXPECT_EQ("paused", w.ask(R"({"command":"rollout.pause","id":)" + std::to_string(id) + "}")["result"]["status"]);
  auto again = w.ask(R"({"command":"rollout.pause","id":)" + std::to_string(id) + "}");
  EXPECT_NE(std::string::npos, again.value("error", "").find("only a running rollout can be paused"));
  EXPECT_EQ("running", w.ask(R"({"command":"rollout.resume","id":)" + std::to_string(id) + "}")["result"]["status"]);
  auto aborted = w.ask(R"({"command":"rollout.abort","id":)" + std::to_string(id) + "}");
  EXPECT_EQ("stopped", aborted["result"]["status"]);
  EXPECT_EQ("cancelled", aborted["result"]["devices"][0]["status"]);
  auto list = w.ask(R"({"command":"rollout.list"})");
  ASSERT_EQ(1u, list["result"].size());
  // A dry run stores nothing.
  auto dry = w.ask(R"({"command":"rollout.start","devices":"all","dry_run":true})");
  EXPECT_TRUE(dry["result"]["dry_run"].get<bool>()) << dry.dump();
  EXPECT_EQ(1u, w.count());
  // The state topic of the rollout was published retained.
  bool published = false;
  for (auto& [t, p] : w.transport.sent) published = published || t == "tasmota-fleet/v1/rollouts/" + std::to_string(id);
  EXPECT_TRUE(published);
}
