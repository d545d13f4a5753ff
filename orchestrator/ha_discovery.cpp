#include "orchestrator/ha_discovery.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace fleet::orchestrator {
namespace {

using nlohmann::json;

std::string lower_mac(const std::string& mac) {
  std::string out = mac;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

json availability(const HaNames& n) {
  return {{"availability_topic", n.api_base + "/v1/status"}, {"payload_available", "online"}, {"payload_not_available", "offline"}};
}

json fleet_device() {
  return {{"identifiers", json::array({"tasmota_fleet"})}, {"name", "Tasmota fleet"}, {"manufacturer", "tasmota-fleet"},
          {"model", "staged firmware upgrades"}};
}

std::string config_topic(const HaNames& n, const char* component, const std::string& object_id) {
  return fmt::format("{}/{}/tasmota_fleet/{}/config", n.prefix, component, object_id);
}

}  // namespace

std::string ha_object_id(const std::string& mac) {
  std::string out;
  for (char c : mac)
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ha_update_state_topic(const HaNames& n, const std::string& mac) { return n.api_base + "/v1/devices/" + mac + "/update"; }
std::string ha_install_topic(const HaNames& n, const std::string& mac) { return n.api_base + "/v1/devices/" + mac + "/install"; }
std::string ha_current_rollout_topic(const HaNames& n) { return n.api_base + "/v1/rollouts/current"; }
std::string ha_rollout_command_topic(const HaNames& n) { return n.api_base + "/v1/rollouts/current/set"; }
std::string ha_birth_topic(const HaNames& n) { return n.status_topic; }

HaMessage ha_update_config(const HaNames& n, const inventory::DeviceRecord& d) {
  auto id = ha_object_id(d.mac);
  json c = {{"name", "Firmware (staged upgrade)"},
            {"unique_id", "tasmota_fleet_" + id + "_firmware"},
            {"device_class", "firmware"},
            {"entity_category", "config"},
            {"state_topic", ha_update_state_topic(n, d.mac)},
            {"command_topic", ha_install_topic(n, d.mac)},
            {"payload_install", "install"},
            // Only the MAC: the device registry attaches the entity to the device that already has it
            // (Home Assistant's Tasmota integration made it), without renaming that device.
            {"device", {{"connections", json::array({json::array({"mac", lower_mac(d.mac)})})}}},
            {"origin", {{"name", "tasmota-fleet"}}}};
  c.update(availability(n));
  return {config_topic(n, "update", id + "_firmware"), c.dump()};
}

std::vector<HaMessage> ha_fleet_configs(const HaNames& n) {
  std::vector<HaMessage> out;
  json sensor = {{"name", "Rollout"},
                 {"unique_id", "tasmota_fleet_rollout"},
                 {"state_topic", ha_current_rollout_topic(n)},
                 {"value_template", "{{ value_json.status }}"},
                 {"json_attributes_topic", ha_current_rollout_topic(n)},
                 {"icon", "mdi:progress-upload"},
                 {"device", fleet_device()},
                 {"origin", {{"name", "tasmota-fleet"}}}};
  sensor.update(availability(n));
  out.push_back({config_topic(n, "sensor", "rollout"), sensor.dump()});
  for (const char* action : {"pause", "resume", "abort"}) {
    std::string name = action;
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    json button = {{"name", name + " rollout"},
                   {"unique_id", std::string("tasmota_fleet_rollout_") + action},
                   {"command_topic", ha_rollout_command_topic(n)},
                   {"payload_press", action},
                   {"device", fleet_device()},
                   {"origin", {{"name", "tasmota-fleet"}}}};
    button.update(availability(n));
    out.push_back({config_topic(n, "button", std::string("rollout_") + action), button.dump()});
  }
  return out;
}

// At most `n` bytes, cut before a UTF-8 continuation byte (a device's topic can be any text).
static std::string cut_utf8(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string ha_release_summary(const planner::UpgradePlan& p) {
  if (!p.ok()) return cut_utf8(p.error, 255);
  if (p.hops.empty()) return fmt::format("Runs {} already.", p.target.str());
  std::string path = p.from.str();
  for (const auto& h : p.hops) path += " > " + h.version.str();
  auto text = fmt::format("{} hop{} ({}), each with a validated backup, Reset 6, the OTA upgrade, a health check and the restore of every setting.",
                          p.hops.size(), p.hops.size() == 1 ? "" : "s", path);
  if (text.size() > 255) text = cut_utf8(text, 252) + "...";
  return text;
}

json ha_update_state(const HaUpdateFacts& f) {
  // Home Assistant drops the whole state on a null string or an unknown key: keys without a value are
  // left out, and only update_percentage may be null.
  json s = {{"in_progress", f.in_progress}};
  s["update_percentage"] = f.in_progress && f.percent ? json(std::clamp(*f.percent, 0, 100)) : json(nullptr);
  if (!f.installed.empty()) s["installed_version"] = f.installed;
  if (f.plan && f.plan->ok()) {
    s["latest_version"] = f.plan->target.str();
    s["title"] = f.plan->target_build.empty() ? std::string("Tasmota firmware") : "Tasmota firmware (" + f.plan->target_build + ")";
    s["release_summary"] = ha_release_summary(*f.plan);
    s["release_url"] = "https://github.com/arendst/Tasmota/releases/tag/v" + f.plan->target.str();
  } else {
    // Nothing to offer (it cannot be planned): the latest is what it runs, so no Install is shown.
    if (!f.installed.empty()) s["latest_version"] = f.installed;
    if (f.plan) s["release_summary"] = ha_release_summary(*f.plan);
  }
  return s;
}

}  // namespace fleet::orchestrator
