#include "orchestrator/home_assistant.h"

#include <fmt/format.h>

#include <cctype>

#include "core/log.h"
#include "inventory/payloads.h"
#include "orchestrator/device_plan.h"
#include "orchestrator/rollout_executor.h"

namespace fleet::orchestrator {

using nlohmann::json;

HomeAssistant::HomeAssistant(HomeAssistantPorts ports, HaNames names, planner::Catalog catalog, nlohmann::json install_spec)
    : p_(std::move(ports)), n_(std::move(names)), catalog_(std::move(catalog)), install_spec_(std::move(install_spec)) {}

std::vector<std::string> HomeAssistant::filters() const {
  // Our own update configs too: one left retained for a device forgotten while we were not running is
  // cleared when it comes back to us.
  return {ha_birth_topic(n_), n_.api_base + "/v1/devices/+/install", ha_rollout_command_topic(n_), n_.prefix + "/update/tasmota_fleet/+/config"};
}

void HomeAssistant::publish(const std::string& topic, const std::string& payload) {
  auto hash = std::hash<std::string>{}(payload);
  auto [it, fresh] = published_.try_emplace(topic, hash);
  if (!fresh && it->second == hash) return;
  it->second = hash;
  p_.transport.publish_retained_uncached(topic, payload);
}

std::shared_ptr<const planner::UpgradePlan> HomeAssistant::shared_plan(const std::string& key,
                                                                       const std::function<planner::UpgradePlan()>& make) {
  auto& slot = plans_[key];
  if (auto plan = slot.lock()) return plan;
  // Keys of plans no device uses any more go now and then, so a long run does not collect them.
  if (plans_.size() > 2 * kept_plans_ + 16) {
    std::erase_if(plans_, [](const auto& kv) { return kv.second.expired(); });
    kept_plans_ = plans_.size();
  }
  auto plan = std::make_shared<const planner::UpgradePlan>(make());
  plans_[key] = plan;
  return plan;
}

std::optional<std::int64_t> HomeAssistant::current_rollout() {
  // The oldest one still going (what the daemon drives first), else the newest one.
  auto going = p_.rollouts.unfinished();
  if (!going.empty()) return going.front();
  auto newest = p_.rollouts.list(1);
  if (!newest.empty()) return newest.front().id;
  return std::nullopt;
}

void HomeAssistant::send_everything_again() {
  published_.clear();
  for (auto& [mac, e] : entities_) e.configured = false;
  last_tick_ms_ = 0;
}

void HomeAssistant::on_connected() { send_everything_again(); }

void HomeAssistant::tick(std::int64_t now) {
  if (now - last_tick_ms_ < 1000) return;
  last_tick_ms_ = now;
  for (const auto& m : ha_fleet_configs(n_)) publish(m.topic, m.payload);
  planner::Planner planner(catalog_);
  const auto tick = ++ticks_;
  p_.inventory.for_each([&](const inventory::DeviceRecord& d) {
    auto& e = entities_[d.mac];
    e.seen = tick;
    std::string key;
    if (d.version) {
      key = fmt::format("{}|{}|{}|{}|{}", *d.version, d.build.value_or(""), d.chip.value_or(""), d.free_kb.value_or(-1),
                        d.program_kb.value_or(-1));
    }
    if (key != e.plan_key || (!key.empty() && !e.plan)) {
      e.plan_key = key;
      e.plan = key.empty() ? nullptr : shared_plan(key, [&] { return plan_device(planner, d, planner::PlanRequest{}); });
      e.stated = false;
    }
    auto percent = p_.job_percent ? p_.job_percent(d.mac) : std::nullopt;
    if (percent != e.percent) {
      e.percent = percent;
      e.stated = false;
    }
    if ((!e.configured || !e.stated) && !e.queued) {
      e.queued = true;
      pending_.push_back(d.mac);
    }
  });
  // A device gone from the inventory (forgotten): its entity goes from Home Assistant too (an empty
  // retained config removes it) and its state is cleared.
  for (auto it = entities_.begin(); it != entities_.end();) {
    if (it->second.seen == tick) {
      ++it;
      continue;
    }
    inventory::DeviceRecord gone;
    gone.mac = it->first;
    p_.transport.publish_retained_uncached(ha_update_config(n_, gone).topic, "");
    p_.transport.publish_retained_uncached(ha_update_state_topic(n_, it->first), "");
    it = entities_.erase(it);
  }
  // What changed, oldest first, within the tick's budget; the rest goes on the next ticks.
  std::size_t sent = 0;
  while (!pending_.empty() && sent < kMessagesPerTick) {
    auto mac = std::move(pending_.front());
    pending_.pop_front();
    auto it = entities_.find(mac);
    const auto* d = p_.inventory.find(mac);
    if (it == entities_.end() || !d) continue;  // gone meanwhile (cleared above)
    auto& e = it->second;
    e.queued = false;
    // A config depends on the MAC only: sent when the device is new to us or Home Assistant restarted.
    if (!e.configured) {
      auto config = ha_update_config(n_, *d);
      p_.transport.publish_retained_uncached(config.topic, config.payload);
      e.configured = true;
      e.stated = false;
      ++sent;
    }
    if (e.stated) continue;
    HaUpdateFacts f;
    f.installed = d->version.value_or("");
    f.plan = e.plan.get();
    f.percent = e.percent;
    f.in_progress = f.percent.has_value();
    // (replace: a topic or an error text of outside bytes is never a reason to throw here)
    p_.transport.publish_retained_uncached(ha_update_state_topic(n_, mac), ha_update_state(f).dump(-1, ' ', false, json::error_handler_t::replace));
    e.stated = true;
    ++sent;
  }
  try {
    if (auto id = current_rollout()) {
      if (auto r = p_.rollouts.get(*id)) {
        auto j = rollout_state_json(p_.rollouts, *r, p_.current_rows ? p_.current_rows(*r) : nullptr);
        publish(ha_current_rollout_topic(n_), j.dump(-1, ' ', false, json::error_handler_t::replace));
      }
    }
  } catch (const std::exception& e) {
    log::warn("home assistant: the current rollout not published: {}", e.what());
  }
}

void HomeAssistant::install(const std::string& mac) {
  if (!p_.control) return;
  json request = install_spec_.is_object() ? install_spec_ : json::object();
  request.update(json{{"command", "device.upgrade"}, {"device", mac}, {"to", "latest"}});
  auto r = p_.control(request);
  if (r) log::info("home assistant: Install on {}: rollout #{}", mac, r->value("id", 0));
  else log::warn("home assistant: Install on {} refused: {}", mac, r.error());
}

bool HomeAssistant::on_message(std::string_view topic, std::string_view payload) {
  if (topic == ha_birth_topic(n_)) {
    // Home Assistant (re)started: it forgets what it discovered, so everything is sent again.
    if (payload == "online") send_everything_again();
    return true;
  }
  if (topic == ha_rollout_command_topic(n_)) {
    static const std::map<std::string_view, const char*> commands = {{"pause", "rollout.pause"}, {"resume", "rollout.resume"}, {"abort", "rollout.abort"}};
    auto c = commands.find(payload);
    auto id = current_rollout();
    if (c == commands.end() || !id || !p_.control) {
      log::warn("home assistant: rollout button '{}' ignored ({})", std::string(payload.substr(0, 40)),
                c == commands.end() ? "not pause, resume or abort" : "no rollout");
      return true;
    }
    auto r = p_.control(json{{"command", c->second}, {"id", *id}});
    if (!r) log::warn("home assistant: {} of rollout #{} refused: {}", c->second, *id, r.error());
    last_tick_ms_ = 0;  // its new state at once
    return true;
  }
  const std::string configs = n_.prefix + "/update/tasmota_fleet/";
  if (topic.substr(0, configs.size()) == configs && topic.size() > configs.size() + 7 && topic.substr(topic.size() - 7) == "/config") {
    if (payload.empty()) return true;
    std::string id(topic.substr(configs.size(), topic.size() - configs.size() - 7));
    // Only an id of the shape we make ("<12 hex digits>_firmware") is ours to clear, with its state
    // topic derived from it, never one named by the payload.
    bool ours = id.size() == 21 && id.substr(12) == "_firmware" && id.find_first_not_of("0123456789abcdef") == 12;
    std::string mac = ours ? inventory::normalize_mac(id.substr(0, 12)) : std::string();
    if (!mac.empty() && !p_.inventory.find(mac)) {
      p_.transport.publish_retained_uncached(std::string(topic), "");
      p_.transport.publish_retained_uncached(ha_update_state_topic(n_, mac), "");
      log::info("home assistant: {} is of no device in the inventory: cleared", std::string(topic));
    }
    return true;
  }
  const std::string prefix = n_.api_base + "/v1/devices/";
  if (topic.size() > prefix.size() + 8 && topic.substr(0, prefix.size()) == prefix && topic.substr(topic.size() - 8) == "/install") {
    std::string mac(topic.substr(prefix.size(), topic.size() - prefix.size() - 8));
    if (payload != "install") {
      log::warn("home assistant: {}: payload '{}' is not install: ignored", std::string(topic), std::string(payload.substr(0, 40)));
      return true;
    }
    if (!p_.inventory.find(mac)) {
      log::warn("home assistant: Install for {}, which is not in the inventory: ignored", mac);
      return true;
    }
    install(mac);
    return true;
  }
  return false;
}

}  // namespace fleet::orchestrator
