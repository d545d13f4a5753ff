#pragma once
// The Home Assistant side of the daemon (serve; --ha-discovery off turns it off): publishes the
// discovery configs of ha_discovery.h (again whenever Home Assistant announces itself online), each
// device's update state and the current rollout, and turns an Install or a rollout button into the
// same control API request any client would send (device.upgrade to the latest, rollout.pause …).
#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/transport.h"
#include "inventory/inventory.h"
#include "orchestrator/ha_discovery.h"
#include "orchestrator/rollout_store.h"
#include "planner/catalog.h"

namespace fleet::orchestrator {

struct HomeAssistantPorts {
  const inventory::Inventory& inventory;
  RolloutStore& rollouts;
  core::Transport& transport;
  // The control API (ControlApi::run) and, for a device whose upgrade job runs here, how far it is.
  std::function<Result<nlohmann::json>(const nlohmann::json& request)> control;
  std::function<std::optional<int>(const std::string& mac)> job_percent;
  // The rollout's device rows as the process driving it keeps them, when current (RolloutExecutor::
  // current_rows): the current rollout's view then reads none of its rows. Unset or null: read.
  std::function<const std::vector<RolloutDeviceRow>*(const RolloutRow& r)> current_rows;
};

class HomeAssistant {
 public:
  // `install_spec`: what an Install's rollout gets besides its device and target (e.g. its health window).
  HomeAssistant(HomeAssistantPorts ports, HaNames names, planner::Catalog catalog, nlohmann::json install_spec = nlohmann::json::object());
  std::vector<std::string> filters() const;  // Home Assistant's birth, the Install and button topics
  // Every second: configs of devices new to it, states that changed, the current rollout.
  void tick(std::int64_t now_ms);
  // True when the message was for us (handled).
  bool on_message(std::string_view topic, std::string_view payload);
  // (Re)connected to the broker: everything is sent again (the transport keeps no copy of it, and a
  // broker restarted without persistence has forgotten it).
  void on_connected();

  // Device configs and states sent per tick at most: a fleet of 10,000 is announced over ~10 s instead
  // of 20,000 messages in one turn of the loop (queued in the client at once, they were ~40 MB of RSS).
  static constexpr std::size_t kMessagesPerTick = 2000;

 private:
  void publish(const std::string& topic, const std::string& payload);  // retained, when it changed
  void send_everything_again();
  void install(const std::string& mac);
  std::optional<std::int64_t> current_rollout();
  std::shared_ptr<const planner::UpgradePlan> shared_plan(const std::string& key, const std::function<planner::UpgradePlan()>& make);

  HomeAssistantPorts p_;
  HaNames n_;
  planner::Catalog catalog_;
  nlohmann::json install_spec_;
  // Topic -> a hash of the payload last sent, for the fleet's own topics (not the payload: 10,000
  // devices' configs and states held as text were 60 MB of the daemon's RSS in bench/ingest).
  std::unordered_map<std::string, std::size_t> published_;
  // What each device's entity was last published from. Its state is built again only when one of these
  // changed: building, printing and hashing 10,000 states every second cost the event loop ~10% of a core
  // during a 10,000-device rollout.
  struct Entity {
    std::string plan_key;  // version, build, chip, free space: what the plan depends on
    std::shared_ptr<const planner::UpgradePlan> plan;
    std::optional<int> percent;
    bool configured = false;  // its config sent (again after Home Assistant restarted)
    bool stated = false;      // its state sent for what is above
    bool queued = false;      // in pending_
    std::uint64_t seen = 0;   // the tick that last found it in the inventory
  };
  std::unordered_map<std::string, Entity> entities_;  // by MAC
  std::deque<std::string> pending_;  // MACs with a config or a state to send, oldest first
  // Devices alike share one plan (a fleet has a handful of versions and builds, not 10,000 of them).
  std::unordered_map<std::string, std::weak_ptr<const planner::UpgradePlan>> plans_;  // by plan key
  std::size_t kept_plans_ = 0;
  std::uint64_t ticks_ = 0;
  std::int64_t last_tick_ms_ = 0;
};

}  // namespace fleet::orchestrator
