#pragma once
// The Home Assistant side of the daemon (serve; --ha-discovery off turns it off): publishes the
// discovery configs of ha_discovery.h (again whenever Home Assistant announces itself online), each
// device's update state and the current rollout, and turns an Install or a rollout button into the
// same control API request any client would send (device.upgrade to the latest, rollout.pause …).
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <optional>
#include <set>
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

 private:
  void publish(const std::string& topic, const std::string& payload);  // retained, when it changed
  void install(const std::string& mac);
  std::optional<std::int64_t> current_rollout();

  HomeAssistantPorts p_;
  HaNames n_;
  planner::Catalog catalog_;
  nlohmann::json install_spec_;
  // Topic -> a hash of the payload last sent (not the payload: 10,000 devices' configs and states held
  // as text were 60 MB of the daemon's RSS in bench/ingest).
  std::unordered_map<std::string, std::size_t> published_;
  struct Planned {
    std::string key;  // version, build, chip, free space: what the plan depends on
    planner::UpgradePlan plan;
  };
  std::map<std::string, Planned> plans_;  // by MAC
  std::set<std::string> announced_;       // the MACs whose update entity was published
  bool resend_configs_ = true;            // at the start, and when Home Assistant announces itself
  std::int64_t last_tick_ms_ = 0;
};

}  // namespace fleet::orchestrator
