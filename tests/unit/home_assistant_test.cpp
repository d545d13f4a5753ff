// How the daemon's Home Assistant side paces and repeats what it publishes (orchestrator/home_assistant.h):
// a large fleet is announced over several ticks, each device's config and state once, a state again only
// when what it shows changed, and everything again after a reconnect or Home Assistant's restart.
// Real SQLite file for the rollouts; the transport and the inventory's store are fakes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "fakes.h"
#include "orchestrator/home_assistant.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_rollout_store.h"

using namespace fleet;
using orchestrator::HomeAssistant;

namespace {

constexpr std::size_t kDevices = 4500;  // more than two ticks' budget

struct World {
  std::string path = (std::filesystem::temp_directory_path() / ("home-assistant-" + std::to_string(::getpid()) + ".db")).string();
  store::Database db{(std::filesystem::remove(path), path)};
  int level = store::migrate(db);
  store::SqliteRolloutStore rollouts{db};
  fleet::testing::FakeClock clock;
  fleet::testing::FakeTransport transport;
  fleet::testing::FakeStore inv_store;
  std::optional<inventory::Inventory> inv;
  std::map<std::string, int> percent;  // jobs in flight, by MAC
  std::optional<HomeAssistant> ha;
  std::int64_t now = 1'000'000;

  World() {
    for (std::size_t i = 0; i < kDevices; ++i) {
      inventory::DeviceRecord d;
      d.mac = fmt::format("5C:CF:7F:{:02X}:{:02X}:{:02X}", (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF);
      d.topic = fmt::format("plug{}", i);
      d.version = i % 2 ? "9.1.0" : "12.5.0";
      d.build = "tasmota";
      d.chip = "ESP8266";
      inv_store.initial.push_back(d);
    }
    inv.emplace(mqtt::TopicScheme(), transport, inv_store, clock);
    inv->load();
    orchestrator::HomeAssistantPorts ports{*inv, rollouts, transport, nullptr, [this](const std::string& mac) -> std::optional<int> {
                                             auto it = percent.find(mac);
                                             return it == percent.end() ? std::nullopt : std::optional<int>(it->second);
                                           },
                                           nullptr};
    ha.emplace(ports, orchestrator::HaNames{}, planner::Catalog::builtin());
  }
  ~World() { std::filesystem::remove(path); }

  // One tick a second later; everything it sent.
  std::vector<std::pair<std::string, std::string>> tick_all() {
    transport.sent.clear();
    now += 1000;
    ha->tick(now);
    return transport.sent;
  }
  // … of which what went to devices' config and state topics.
  std::vector<std::pair<std::string, std::string>> tick() {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& m : tick_all())
      if (is_device_config(m.first) || is_device_state(m.first)) out.push_back(m);
    return out;
  }
  static bool is_device_config(const std::string& topic) { return topic.find("/update/tasmota_fleet/") != std::string::npos; }
  static bool is_device_state(const std::string& topic) { return topic.find("/v1/devices/") != std::string::npos; }
  static bool is_config(const std::string& topic) { return topic.size() > 7 && topic.substr(topic.size() - 7) == "/config"; }
};

}  // namespace

TEST(HomeAssistant, ALargeFleetIsAnnouncedOverSeveralTicksEachDeviceOnce) {
  World w;
  std::map<std::string, int> configs, states;
  int ticks = 0;
  for (; ticks < 10; ++ticks) {
    auto sent = w.tick();
    if (sent.empty()) break;
    EXPECT_LE(sent.size(), HomeAssistant::kMessagesPerTick) << "tick " << ticks;
    for (auto& [topic, payload] : sent) ++(World::is_config(topic) ? configs : states)[topic];
  }
  // 9,000 messages at 2,000 a tick: five ticks, then a tick with nothing left to send.
  EXPECT_EQ((2 * kDevices + HomeAssistant::kMessagesPerTick - 1) / HomeAssistant::kMessagesPerTick, static_cast<std::size_t>(ticks));
  EXPECT_EQ(kDevices, configs.size());
  EXPECT_EQ(kDevices, states.size());
  for (auto& [topic, n] : configs) EXPECT_EQ(1, n) << topic;
  for (auto& [topic, n] : states) EXPECT_EQ(1, n) << topic;
  EXPECT_TRUE(w.tick().empty());
}

TEST(HomeAssistant, AStateIsSentAgainOnlyWhenWhatItShowsChanged) {
  World w;
  while (!w.tick().empty()) {
  }
  const auto& one = w.inv_store.initial[7];
  w.percent[one.mac] = 40;
  auto sent = w.tick();
  ASSERT_EQ(1u, sent.size());
  EXPECT_FALSE(World::is_config(sent[0].first));
  auto state = nlohmann::json::parse(sent[0].second);
  EXPECT_TRUE(state["in_progress"].get<bool>());
  EXPECT_EQ(40, state["update_percentage"]);
  EXPECT_TRUE(w.tick().empty());  // unchanged: nothing
  w.percent.erase(one.mac);
  sent = w.tick();
  ASSERT_EQ(1u, sent.size());
  EXPECT_FALSE(nlohmann::json::parse(sent[0].second)["in_progress"].get<bool>());
}

TEST(HomeAssistant, AReconnectOrHomeAssistantsRestartSendsEverythingAgain) {
  World w;
  while (!w.tick().empty()) {
  }
  for (int round = 0; round < 2; ++round) {
    if (round == 0) w.ha->on_connected();
    else EXPECT_TRUE(w.ha->on_message("homeassistant/status", "online"));
    std::size_t configs = 0, states = 0, fleet_configs = 0;
    for (int ticks = 0; ticks < 10; ++ticks) {
      auto sent = w.tick_all();
      if (sent.empty()) break;
      for (auto& [topic, payload] : sent) {
        if (World::is_device_config(topic)) ++configs;
        else if (World::is_device_state(topic)) ++states;
        else if (World::is_config(topic)) ++fleet_configs;
      }
    }
    EXPECT_EQ(kDevices, configs) << "round " << round;
    EXPECT_EQ(kDevices, states) << "round " << round;
    EXPECT_GT(fleet_configs, 0u) << "round " << round;  // the fleet device's sensor and buttons too
  }
}
