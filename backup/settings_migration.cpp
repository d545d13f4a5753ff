#include "backup/settings_migration.h"

#include <set>

#include "backup/gpio_numbering.h"

namespace fleet::backup {
namespace {

const std::set<std::string> kHeader = {"version", "cfg_size", "cfg_crc", "cfg_crc32", "config_version", "cfg_timestamp", "save_flag"};
// What survives when ESP8266 firmware from 9.1 finds settings from before 8.0 (tasmota-facts.md).
const std::set<std::string> kWifiMqtt = {"sta_ssid", "sta_pwd", "mqtt_host", "mqtt_port", "mqtt_user", "mqtt_pwd", "mqtt_topic"};

void copy_leaves(const nlohmann::ordered_json& value, const std::string& path, DmpFile& to, const SettingsLayouts& layouts,
                 bool renumber_gpio) {
  if (value.is_object()) {
    for (auto& [k, v] : value.items()) copy_leaves(v, path + "/" + k, to, layouts, renumber_gpio);
    return;
  }
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) copy_leaves(value[i], path + "/" + std::to_string(i), to, layouts, renumber_gpio);
    return;
  }
  if (value.is_null()) return;
  if (renumber_gpio && value.is_number_integer() && (path.rfind("my_gp/", 0) == 0 || path.rfind("user_template/gpio/", 0) == 0)) {
    auto legacy = value.get<std::int64_t>();
    std::uint16_t now = gpio_from_legacy(static_cast<std::uint16_t>(legacy));
    // Template JSON spells User as 1 (decode-config shows it so); keep that spelling in the template.
    if (now == kGpioUser && path.rfind("user_template/", 0) == 0) now = 1;
    layouts.set(to, path, now);
    return;
  }
  layouts.set(to, path, value);  // a field the new layout no longer has is dropped, as the firmware does
}

}  // namespace

DmpFile blank_settings(const planner::Version& version, std::uint8_t platform, const SettingsLayouts& layouts) {
  DmpFile f;
  auto id = version_id(version);
  auto size = settings_size_for(id).value_or(0x1000);
  f.settings.assign(size, 0);
  f.settings[0] = 0xC1;  // cfg_holder as in the vectors (0x4AC1); any value the firmware accepts as its own
  f.settings[1] = 0x4A;
  f.settings[2] = static_cast<std::uint8_t>(size);
  f.settings[3] = static_cast<std::uint8_t>(size >> 8);
  for (int i = 0; i < 4; ++i) f.settings[8 + i] = static_cast<std::uint8_t>(id >> (8 * i));
  if (id >= 0x08020004 && size > 0xF36) f.settings[0xF36] = platform;
  (void)layouts;
  f.seal();
  return f;
}

bool crosses_gpio_renumbering(const planner::Version& from, const planner::Version& to, std::uint8_t platform) {
  planner::Version v91{9, 1, 0, 0};
  return platform == 0 && from < v91 && to >= v91;
}

DmpFile migrate_settings(const DmpFile& from, const planner::Version& to_version, Migration kind, const SettingsLayouts& layouts) {
  std::uint8_t platform = from.platform().value_or(0);
  DmpFile to = blank_settings(to_version, platform, layouts);
  auto shared = layouts.decoded(from);
  const auto& decoded = *shared;
  bool old_esp8266 = kind == Migration::Firmware && platform == 0 && from.version() < planner::Version{8, 0, 0, 0} &&
                     to_version >= planner::Version{9, 1, 0, 0};
  bool renumber = crosses_gpio_renumbering(from.version(), to_version, platform);
  // Fields stored alike in both layouts are copied byte for byte (nearly all of them: fast); the rest,
  // and the GPIOs that 9.1 renumbers, are written value by value.
  std::vector<std::string> names;
  for (const auto* part : {&decoded.fields, &decoded.hidden})
    for (auto& [name, value] : part->items()) {
      if (kHeader.count(name)) continue;
      if (old_esp8266 && !kWifiMqtt.count(name)) continue;
      if (renumber && (name == "my_gp" || name.rfind("user_template", 0) == 0)) continue;
      names.push_back(name);
    }
  auto left = layouts.copy_stored(from, to, names);
  std::set<std::string> by_value(left.begin(), left.end());
  for (const auto* part : {&decoded.fields, &decoded.hidden})
    for (auto& [name, value] : part->items()) {
      if (kHeader.count(name)) continue;
      if (old_esp8266 && !kWifiMqtt.count(name)) continue;
      bool gpio = renumber && (name == "my_gp" || name.rfind("user_template", 0) == 0);
      if (gpio || by_value.count(name)) copy_leaves(value, name, to, layouts, renumber);
    }
  // Before 8.2.0.3 the template name lived in the template itself; the settings delta moves it to the
  // text pool (SET_TEMPLATE_NAME), where later firmware reads it.
  if (!old_esp8266 && !decoded.fields.contains("templatename")) {
    const char* t = decoded.fields.contains("user_template_esp32") ? "user_template_esp32" : "user_template";
    if (decoded.fields.contains(t) && decoded.fields[t].contains("name") && decoded.fields[t]["name"].is_string())
      layouts.set(to, "templatename", decoded.fields[t]["name"].get<std::string>());
  }
  to.seal();
  return to;
}

}  // namespace fleet::backup
