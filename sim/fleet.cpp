#include "sim/fleet.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "planner/version.h"

namespace fleet::sim {
namespace {

using nlohmann::json;

// Tasmota's default image name per era: "sonoff" before 7.0, "tasmota" from 7.0 (tasmota32 on ESP32).
std::string default_build(const planner::Version& v, const std::string& chip) {
  if (chip.rfind("ESP32", 0) == 0) return "tasmota32";
  return v < planner::Version{7, 0, 0, 0} ? "sonoff" : "tasmota";
}

std::string mac_from(std::uint32_t seed, std::size_t i) {
  std::uint32_t x = seed * 2654435761u + static_cast<std::uint32_t>(i);
  return fmt::format("5C:CF:7F:{:02X}:{:02X}:{:02X}", (x >> 16) & 0xFF, (x >> 8) & 0xFF, x & 0xFF);
}

template <typename T>
void take(const json& j, const char* key, T& into, const std::string& who) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    into = it->get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(who + ": field '" + key + "' has the wrong type");
  }
}

void apply_settings(const json& s, DeviceSettings& st, const std::string& who) {
  if (!s.is_object()) throw std::runtime_error(who + ": settings must be an object");
  take(s, "topic", st.topic, who);
  take(s, "full_topic", st.full_topic, who);
  take(s, "group_topic", st.group_topic, who);
  take(s, "hostname", st.hostname, who);
  take(s, "module", st.module_id, who);
  take(s, "tele_period", st.tele_period, who);
  take(s, "set_option4", st.set_option4, who);
  take(s, "ota_url", st.ota_url, who);
  take(s, "timers", st.timers_enabled, who);
  take(s, "mqtt_user", st.mqtt_user, who);
  take(s, "mqtt_password", st.mqtt_password, who);
  take(s, "webserver", st.webserver, who);
  take(s, "web_password", st.web_password, who);
  if (st.webserver < 0 || st.webserver > 2) throw std::runtime_error(who + ": webserver must be 0, 1 or 2");
  if (s.contains("friendly_name")) take(s, "friendly_name", st.friendly_names[0], who);
  if (auto it = s.find("friendly_names"); it != s.end()) {
    if (!it->is_array() || it->size() > 4) throw std::runtime_error(who + ": friendly_names must be an array of up to 4 strings");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) throw std::runtime_error(who + ": friendly_names must be strings");
      st.friendly_names[i] = (*it)[i].get<std::string>();
    }
  }
  if (s.contains("template")) st.template_json = s["template"].dump();
  if (auto it = s.find("rules"); it != s.end()) {
    if (!it->is_array() || it->size() > 3) throw std::runtime_error(who + ": rules must be an array of up to 3 strings");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) throw std::runtime_error(who + ": rules must be strings");
      st.rules[i] = (*it)[i].get<std::string>();
    }
  }
  if (auto it = s.find("prefixes"); it != s.end()) {
    if (!it->is_array() || it->size() != 3) throw std::runtime_error(who + ": prefixes must be [cmnd, stat, tele]");
    for (size_t i = 0; i < 3; ++i) {
      if (!(*it)[i].is_string()) throw std::runtime_error(who + ": prefixes must be strings");
      st.prefixes[i] = (*it)[i].get<std::string>();
    }
  }
}

void apply_device(const json& d, DeviceSpec& spec, const std::string& who) {
  if (!d.is_object()) throw std::runtime_error(who + ": must be an object");
  take(d, "version", spec.version, who);
  take(d, "build", spec.build, who);
  take(d, "chip", spec.chip, who);
  take(d, "flash_kb", spec.flash_kb, who);
  take(d, "program_flash_kb", spec.program_flash_kb, who);
  take(d, "program_kb", spec.program_kb, who);
  take(d, "free_kb", spec.free_kb, who);
  take(d, "mac", spec.mac, who);
  take(d, "ip", spec.ip, who);
  take(d, "module_name", spec.module_name, who);
  take(d, "boot_count", spec.boot_count, who);
  take(d, "power", spec.power, who);
  take(d, "topic", spec.settings.topic, who);
  if (auto it = d.find("settings"); it != d.end()) apply_settings(*it, spec.settings, who);
  if (auto it = d.find("faults"); it != d.end()) apply_faults(*it, spec.faults, who);
}

}  // namespace

std::vector<DeviceSpec> parse_fleet(const std::string& text) {
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) throw std::runtime_error("fleet file is not a JSON object");
  auto devices = root.find("devices");
  if (devices == root.end() || !devices->is_array()) throw std::runtime_error("fleet file needs a \"devices\" array");
  std::vector<DeviceSpec> out;
  std::set<std::string> macs, topics;
  for (size_t i = 0; i < devices->size(); ++i) {
    std::string who = fmt::format("device #{}", i + 1);
    DeviceSpec spec;
    spec.build.clear();
    if (auto d = root.find("defaults"); d != root.end()) apply_device(*d, spec, "defaults");
    apply_device((*devices)[i], spec, who);
    auto v = planner::Version::parse(spec.version);
    if (!v) throw std::runtime_error(who + ": '" + spec.version + "' is not a Tasmota version");
    if (spec.build.empty()) spec.build = default_build(*v, spec.chip);
    if (spec.mac.empty()) spec.mac = mac_from(0xF1EE7, i);
    if (spec.settings.topic.empty()) spec.settings.topic = "tasmota_" + spec.mac.substr(9, 2) + spec.mac.substr(12, 2) + spec.mac.substr(15, 2);
    if (spec.ip.empty()) spec.ip = fmt::format("127.0.{}.{}", 1 + i / 250, 1 + i % 250);
    if (!macs.insert(spec.mac).second) throw std::runtime_error(who + ": duplicate mac " + spec.mac);
    // Two devices on one topic is usually a mistake in the file; "copied_topic": true makes it the case a
    // copied configuration produces (both obey cmnd/<topic>/, only their fallback topics tell them apart).
    bool copied = (*devices)[i].is_object() && (*devices)[i].value("copied_topic", false) == true;
    if (!topics.insert(spec.settings.topic).second && !copied)
      throw std::runtime_error(who + ": duplicate topic " + spec.settings.topic + " (\"copied_topic\": true if meant)");
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<DeviceSpec> load_fleet_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read fleet file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_fleet(ss.str());
}

std::vector<DeviceSpec> generate_fleet(std::size_t count, std::uint32_t seed, const std::vector<std::string>& versions_in) {
  static const std::vector<std::string> kMix = {"5.14.0", "6.7.1", "7.2.0", "8.5.1", "9.1.0", "9.5.0",
                                               "12.5.0:sensors", "14.2.0:tasmota32:ESP32", "15.0.1", "15.0.1:lite"};
  const auto& versions = versions_in.empty() ? kMix : versions_in;
  std::vector<DeviceSpec> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& entry = versions[i % versions.size()];
    std::vector<std::string> parts;
    std::stringstream ss(entry);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    DeviceSpec spec;
    spec.version = parts.at(0);
    auto v = planner::Version::parse(spec.version);
    if (!v) throw std::runtime_error("'" + spec.version + "' is not a Tasmota version");
    spec.chip = parts.size() > 2 ? parts[2] : "ESP8266";
    spec.build = parts.size() > 1 && !parts[1].empty() ? parts[1] : default_build(*v, spec.chip);
    spec.mac = mac_from(seed, i);
    std::string id = spec.mac.substr(9, 2) + spec.mac.substr(12, 2) + spec.mac.substr(15, 2);
    // Old firmware defaulted to topic "sonoff"; a fleet needs unique topics either way.
    spec.settings.topic = (*v < planner::Version{8, 0, 0, 0} ? "sonoff_" : "tasmota_") + id;
    spec.ip = fmt::format("127.{}.{}.{}", 1 + (i / 62500) % 250, 1 + (i / 250) % 250, 1 + i % 250);
    spec.settings.friendly_names[0] = fmt::format("Device {}", i + 1);
    if (spec.chip.rfind("ESP32", 0) == 0) {
      spec.flash_kb = 4096;
      spec.program_flash_kb = 2880;
      spec.program_kb = 1650;
      spec.free_kb = 1230;
    } else if (spec.build == "lite" || spec.build == "minimal") {
      spec.program_kb = spec.build == "lite" ? 520 : 360;
      spec.free_kb = 1024 - spec.program_kb - 4;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace fleet::sim
