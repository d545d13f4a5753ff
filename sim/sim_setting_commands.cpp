// The setting commands a configuration replay sends whose settings DeviceSettings models (topics, MQTT
// and Wi-Fi credentials, the web server), and Timer<n> and GPIO<n>. Each answers {"<Command><index>":
// value} like Tasmota; the ones that change how the device connects restart it, as on a device
// (FullTopic, Prefix, MqttHost/Port/User/Password/Client, Hostname, SSId/Password). The rest is in
// sim_stored_commands.cpp.
//
// Text arguments as Tasmota's handlers read them (xdrv_02_9_mqtt.ino, support_command.ino): `"` (or
// 0) clears where the handler takes SC_CLEAR, `1` restores the firmware default where it takes
// SC_DEFAULT; FullTopic deletes '+', '#' and ' ', Prefix turns them into '_' (MakeValidMqtt). The
// simulator keeps an empty text for "the firmware's default" of Hostname, MqttClient and GroupTopic.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/settings_layouts.h"
#include "planner/chip.h"
#include "sim/sim_device.h"
#include "sim/sim_settings.h"
#include "sim/text.h"

namespace fleet::sim {
namespace {

using ojson = nlohmann::ordered_json;

// Tasmota's JSON parser matches keys case-insensitively.
const ojson* key(const ojson& o, std::string_view name) {
  for (auto it = o.begin(); it != o.end(); ++it)
    if (upper(it.key()) == upper(name)) return &it.value();
  return nullptr;
}

std::int64_t as_int(const ojson& v) {
  if (v.is_number()) return v.get<std::int64_t>();
  if (v.is_string()) return std::strtoll(v.get<std::string>().c_str(), nullptr, 0);
  if (v.is_boolean()) return v.get<bool>();
  return 0;
}

}  // namespace

bool SimDevice::setting_command(const std::string& cmd, int index, bool has_index, std::string_view arg, Reaction& out) {
  auto& st = spec_.settings;
  int idx = has_index ? index : 1;
  auto name = has_index ? fmt::format("{}{}", cmd, index) : cmd;
  auto pretty = [&](const char* nice) { return has_index ? fmt::format("{}{}", nice, index) : std::string(nice); };
  // Text settings the simulator models: the handler's clear (SC_CLEAR) and default (SC_DEFAULT).
  enum Clear { NoClear, Clears };
  struct Text {
    const char* cmd;
    const char* nice;
    std::string* value;
    Clear clear;
    const char* fallback;  // what `1` sets ("" = the simulator's default marker)
    bool secret;
  };
  std::string* prefix = idx >= 1 && idx <= 3 ? &st.prefixes[static_cast<std::size_t>(idx - 1)] : nullptr;
  static const char* kPrefix[] = {"cmnd", "stat", "tele"};  // SUB_PREFIX, PUB_PREFIX, PUB_PREFIX2
  const Text texts[] = {{"FULLTOPIC", "FullTopic", &st.full_topic, NoClear, "%prefix%/%topic%/", false},
                        {"PREFIX", "Prefix", prefix, NoClear, prefix ? kPrefix[idx - 1] : "", false},
                        {"HOSTNAME", "Hostname", &st.hostname, NoClear, "", false},
                        {"MQTTHOST", "MqttHost", &st.mqtt_host, Clears, "", false},
                        {"MQTTUSER", "MqttUser", &st.mqtt_user, Clears, "", false},
                        {"MQTTPASSWORD", "MqttPassword", &st.mqtt_password, Clears, "", true},
                        {"MQTTCLIENT", "MqttClient", &st.mqtt_client, NoClear, "", false},
                        {"WEBPASSWORD", "WebPassword", &st.web_password, Clears, "", true}};
  static const std::pair<const char*, const char*> kFields[] = {{"FULLTOPIC", "mqtt_fulltopic"}, {"PREFIX", "mqtt_prefix/#"}, {"HOSTNAME", "hostname"},
                                                                {"MQTTHOST", "mqtt_host"}, {"MQTTUSER", "mqtt_user"}, {"MQTTPASSWORD", "mqtt_pwd"},
                                                                {"MQTTCLIENT", "mqtt_client"}, {"WEBPASSWORD", "web_password"}, {"MQTTPORT", "mqtt_port"},
                                                                {"WEBSERVER", "webserver"}};
  for (auto [c, f] : kFields)
    if (cmd == c) {
      std::string path = f;
      if (auto hash = path.find('#'); hash != std::string::npos) path.replace(hash, 1, std::to_string(idx - 1));
      address(path);
    }
  for (const auto& t : texts) {
    if (cmd != t.cmd || !t.value) continue;
    if (!arg.empty() && !(via_group_ && (cmd == "HOSTNAME" || cmd == "MQTTCLIENT"))) {  // not from the group topic
      std::string v;
      if (arg == "1") v = t.fallback;
      else if (t.clear == Clears && (arg == "\"" || arg == "0")) v.clear();
      else if (cmd == "FULLTOPIC") v = valid_mqtt(arg, true);
      else if (cmd == "PREFIX") v = valid_mqtt(arg, false);
      else v = std::string(arg);
      if (cmd == "HOSTNAME" && v.find('%') != std::string::npos) v.clear();  // CmndHostname: WIFI_HOSTNAME
      if (v != *t.value) {
        *t.value = v;
        if (cmd != "WEBPASSWORD") out.restart = true;
      }
    }
    reply(out, name, ojson{{pretty(t.nice), t.secret ? std::string("****") : *t.value}}.dump());
    return true;
  }
  if (cmd == "MQTTPORT" || cmd == "WEBSERVER") {
    int& value = cmd == "MQTTPORT" ? st.mqtt_port : st.webserver;
    if (!arg.empty()) {
      try {
        int v = std::stoi(std::string(arg));
        // CmndMqttPort: 1..65535, 1 = MQTT_PORT (1883); WebServer 0..2.
        if (cmd == "MQTTPORT" && (v < 1 || v > 65535)) throw std::out_of_range("port");
        if (cmd == "MQTTPORT" && v == 1) v = 1883;
        if (cmd == "WEBSERVER" && (v < 0 || v > 2)) throw std::out_of_range("mode");
        if (v != value) {
          value = v;
          if (cmd == "MQTTPORT") out.restart = true;
        }
      } catch (...) {
        reply(out, name, R"({"Command":"Error"})");
        return true;
      }
    }
    reply(out, name, ojson{{cmd == "MQTTPORT" ? "MqttPort" : "WebServer", value}}.dump());
    return true;
  }
  auto& layouts = backup::SettingsLayouts::builtin();
  // CmndSsid<1|2>, CmndPassword<1|2>: `"` (or 0) clears, 1 the default; either selects that AP
  // (sta_active) and restarts. A password needs more than 4 characters, or a shortcut.
  if ((cmd == "SSID" || cmd == "PASSWORD") && idx >= 1 && idx <= 2 && !(cmd == "SSID" && !has_index)) {
    address(fmt::format("{}/{}", cmd == "SSID" ? "sta_ssid" : "sta_pwd", idx - 1));
    bool shortcut = arg == "\"" || arg == "0" || arg == "1";
    bool takes = cmd == "SSID" ? !arg.empty() : (arg.size() > 4 || shortcut);
    if (takes) {
      std::string v = (arg == "\"" || arg == "0" || arg == "1") ? std::string() : std::string(arg);
      auto file = settings_file(spec_, version_, stored_);
      if (cmd == "SSID" && idx == 1) st.ssid1 = v;
      else layouts.set(file, fmt::format("{}/{}", cmd == "SSID" ? "sta_ssid" : "sta_pwd", idx - 1), v);
      layouts.set(file, "sta_active", idx - 1);
      file.seal();
      stored_ = std::move(file);
      out.restart = true;
    }
    reply(out, name, ojson{{pretty(cmd == "SSID" ? "SSId" : "Password"), cmd == "SSID" ? std::string(arg) : std::string("****")}}.dump());
    return true;
  }
  // CmndGpio<x>: x below the chip's GPIO count; a function on another pin moves here (that pin becomes
  // none). The simulator takes any function number (it has no list of them) and every pin as free.
  if (cmd == "GPIO" && has_index) {
    bool esp32 = planner::is_esp32_family(planner::parse_chip(spec_.chip));
    auto file = settings_file(spec_, version_, stored_);
    std::string gp;
    ojson pins;  // the GPIO field of this layout, decoded alone
    for (auto& n : backup::field_variants("my_gp")) {
      if (esp32 && n == "my_gp") continue;
      if (!esp32 && n != "my_gp") continue;
      if (auto v = layouts.decode_field(file, n)) {
        gp = n;
        pins = std::move(*v);
      }
    }
    if (gp.empty() || index < 0 || static_cast<std::size_t>(index) >= pins.size()) return false;
    address(fmt::format("{}/{}", gp, index));
    long long v = 0;
    try {
      v = std::stoll(std::string(arg));
    } catch (...) {
      reply(out, name, ojson{{pretty("GPIO"), pins[static_cast<std::size_t>(index)]}}.dump());
      return true;
    }
    if (v >= 0 && v < 65536) {
      for (std::size_t i = 0; i < pins.size(); ++i)
        if (static_cast<int>(i) != index && pins[i].is_number() && pins[i].get<long long>() == v) layouts.set(file, fmt::format("{}/{}", gp, i), 0);
      if (layouts.set(file, fmt::format("{}/{}", gp, index), v).empty()) {
        file.seal();
        stored_ = std::move(file);
        out.restart = true;
      }
    }
    reply(out, name, ojson{{pretty("GPIO"), v}}.dump());
    return true;
  }
  // CmndTimer<x> (xdrv_09_timers.ino): "0" clears, "1".."16" copies that timer, else JSON with any of
  // Enable (Arm before 8.4.0), Mode (& 3), Time ("hh:mm", "-hh:mm" an offset before sunrise/sunset:
  // 12 hours added; hours at most 23, minutes 0..59), Window (& 15), Days ("SMTWTFS", '0' or '-' off),
  // Repeat, Output (the relay, kept only below the relays present, else 0) and Action (& 3; 3, the
  // rule, when there are no relays).
  if (cmd == "TIMER" && idx >= 1 && idx <= 16) {
    address(fmt::format("timer/{}", idx - 1));
    auto file = settings_file(spec_, version_, stored_);
    auto base = fmt::format("timer/{}/", idx - 1);
    if (!arg.empty() && arg.front() != '{') {
      long n = std::strtol(std::string(arg).c_str(), nullptr, 0);
      if (n == 0) {
        for (const char* k : {"arm", "mode", "time", "window", "days", "repeat", "device", "power"}) layouts.set(file, base + k, 0);
      } else if (n >= 1 && n <= 16) {
        auto t = layouts.decode_field(file, fmt::format("timer/{}", n - 1));
        if (t) for (auto& [k, v] : t->items()) layouts.set(file, base + k, v);
      }
    } else if (!arg.empty()) {
      auto j = ojson::parse(arg, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        reply(out, name, ojson{{name, "Invalid JSON"}}.dump());
        return true;
      }
      bool enable_key = version_ >= planner::Version{8, 4, 0, 0};  // "Arm" renamed "Enable" (CHANGELOG 8.4.0)
      if (auto* v = key(j, enable_key ? "Enable" : "Arm")) layouts.set(file, base + "arm", as_int(*v) != 0 ? 1 : 0);
      if (auto* v = key(j, "Mode")) layouts.set(file, base + "mode", as_int(*v) & 3);
      if (auto* v = key(j, "Time"); v && v->is_string()) {
        auto time = v->get<std::string>();
        bool negative = !time.empty() && time[0] == '-';
        auto t = negative ? time.substr(1) : time;
        int hours = std::atoi(t.c_str());
        if (negative) hours += 12;
        hours = std::min(hours, 23);
        int minutes = 0;
        if (auto colon = t.find(':'); colon != std::string::npos) minutes = std::clamp(std::atoi(t.c_str() + colon + 1), 0, 59);
        layouts.set(file, base + "time", hours * 60 + minutes);
      }
      if (auto* v = key(j, "Window")) layouts.set(file, base + "window", as_int(*v) & 0x0F);
      if (auto* v = key(j, "Days"); v && v->is_string()) {
        int days = 0;
        auto d = v->get<std::string>();
        for (std::size_t i = 0; i < d.size() && i < 7; ++i)
          if (d[i] != '0' && d[i] != '-') days |= 1 << i;
        layouts.set(file, base + "days", days);
      }
      if (auto* v = key(j, "Repeat")) layouts.set(file, base + "repeat", as_int(*v) != 0 ? 1 : 0);
      if (auto* v = key(j, "Output")) {
        auto device = (as_int(*v) - 1) & 0x0F;
        layouts.set(file, base + "device", device < spec_.relays ? device : 0);
      }
      if (auto* v = key(j, "Action")) layouts.set(file, base + "power", spec_.relays > 0 ? (as_int(*v) & 3) : 3);
    }
    file.seal();
    stored_ = std::move(file);
    reply(out, name, ojson{{fmt::format("Timer{}", idx), std::string(arg)}}.dump());
    return true;
  }
  return false;
}

}  // namespace fleet::sim
