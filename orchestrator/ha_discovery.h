#pragma once
// Home Assistant's MQTT discovery for the fleet (pure): each Tasmota device gets an `update` entity,
// "Firmware (staged upgrade)", attached to the device Home Assistant's Tasmota integration already made
// (matched by its MAC in the device block's `connections`), whose Install runs the staged upgrade; a
// "Tasmota fleet" device shows the current rollout (a sensor) with Pause, Resume and Abort buttons.
// Facts from home-assistant/core are cited in tests/unit/ha_discovery_test.cpp.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inventory/device_record.h"
#include "planner/upgrade_plan.h"

namespace fleet::orchestrator {

struct HaNames {
  std::string prefix = "homeassistant";  // the discovery prefix
  std::string api_base = "tasmota-fleet";  // our topics: <api_base>/v1/…
  std::string status_topic = "homeassistant/status";  // Home Assistant's birth message (its own setting)
};

struct HaMessage {
  std::string topic;
  std::string payload;  // retained; empty clears a config
};

std::string ha_object_id(const std::string& mac);  // "5ccf7f000500": the MAC's hex digits, lower case
std::string ha_update_state_topic(const HaNames& n, const std::string& mac);
std::string ha_install_topic(const HaNames& n, const std::string& mac);
std::string ha_current_rollout_topic(const HaNames& n);
std::string ha_rollout_command_topic(const HaNames& n);  // payloads: pause, resume, abort
std::string ha_birth_topic(const HaNames& n);

// The update entity of one device: its discovery config.
HaMessage ha_update_config(const HaNames& n, const inventory::DeviceRecord& device);
// The "Tasmota fleet" device: the rollout sensor and its three buttons.
std::vector<HaMessage> ha_fleet_configs(const HaNames& n);

// The update entity's state: installed version, the latest the catalog offers for the device's build,
// the staged path in the release summary (at most 255 characters), whether a job runs and how far.
struct HaUpdateFacts {
  std::string installed;                // "" when the inventory does not know it yet
  const planner::UpgradePlan* plan = nullptr;  // to the catalog's latest, keeping the build (none: unknown)
  bool in_progress = false;
  std::optional<int> percent;           // 0-100 while a job runs
};
nlohmann::json ha_update_state(const HaUpdateFacts& facts);
std::string ha_release_summary(const planner::UpgradePlan& plan);

}  // namespace fleet::orchestrator
