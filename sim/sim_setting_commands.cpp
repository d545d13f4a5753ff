// The rest of the setting commands a configuration replay sends (backup/settings_commands.h): topics,
// MQTT and Wi-Fi credentials, web server, and plain values kept only in the settings file (PowerOnState,
// Latitude, Timer<n>, GPIO<n> …). Each answers {"<Command><index>": value} like Tasmota; the ones that
// change how the device connects restart it, as on a device (FullTopic, Prefix, MqttHost/Port/User/
// Password/Client, Hostname, SSId/Password).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/settings_layouts.h"
#include "planner/chip.h"
#include "sim/sim_device.h"
#include "sim/sim_settings.h"

namespace fleet::sim {
namespace {

using ojson = nlohmann::ordered_json;

// "\"" clears a text setting; "1" restores a default (here: empty, the simulator's default marker).
std::string text_arg(std::string_view arg) {
  if (arg == "\"") return "";
  return std::string(arg);
}

}  // namespace

bool SimDevice::setting_command(const std::string& cmd, int index, std::string_view arg, Reaction& out) {
  auto& st = spec_.settings;
  auto name = index > 0 ? fmt::format("{}{}", cmd, index) : cmd;
  auto pretty = [&](const char* nice) { return index > 0 ? fmt::format("{}{}", nice, index) : std::string(nice); };
  // Text settings the simulator models, with whether a change restarts the device.
  struct Text {
    const char* cmd;
    const char* nice;
    std::string* value;
    bool restarts;
    bool secret;
  };
  std::string* prefix = index >= 1 && index <= 3 ? &st.prefixes[static_cast<std::size_t>(index - 1)] : nullptr;
  const Text texts[] = {{"FULLTOPIC", "FullTopic", &st.full_topic, true, false},
                        {"PREFIX", "Prefix", prefix, true, false},
                        {"GROUPTOPIC", "GroupTopic", &st.group_topic, false, false},
                        {"HOSTNAME", "Hostname", &st.hostname, true, false},
                        {"MQTTHOST", "MqttHost", &st.mqtt_host, true, false},
                        {"MQTTUSER", "MqttUser", &st.mqtt_user, true, false},
                        {"MQTTPASSWORD", "MqttPassword", &st.mqtt_password, true, true},
                        {"MQTTCLIENT", "MqttClient", &st.mqtt_client, true, false},
                        {"WEBPASSWORD", "WebPassword", &st.web_password, false, true},
                        {"SSID", "SSId", index <= 1 ? &st.ssid1 : nullptr, true, false}};
  for (const auto& t : texts) {
    if (cmd != t.cmd || !t.value) continue;
    if (!arg.empty()) {
      std::string v = arg == "1" && cmd != "PREFIX" ? std::string() : text_arg(arg);
      if (cmd == "FULLTOPIC" && v.empty()) v = "%prefix%/%topic%/";
      if (cmd == "PREFIX" && (v.empty() || arg == "1")) v = std::array<const char*, 3>{"cmnd", "stat", "tele"}[static_cast<std::size_t>(index - 1)];
      if (v != *t.value) {
        *t.value = v;
        if (t.restarts) out.restart = true;
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
  // Values kept only in the settings file: written straight into it.
  struct Stored {
    const char* cmd;
    const char* nice;
    std::string path;
    enum Kind { Int, Float, Text } kind;
  };
  bool esp32 = planner::is_esp32_family(planner::parse_chip(spec_.chip));
  const Stored stored[] = {{"POWERONSTATE", "PowerOnState", "poweronstate", Stored::Int},
                           {"LEDSTATE", "LedState", "ledstate", Stored::Int},
                           {"SAVEDATA", "SaveData", "save_data", Stored::Int},
                           {"TIMEZONE", "Timezone", "timezone", Stored::Int},
                           {"LATITUDE", "Latitude", "latitude", Stored::Float},
                           {"LONGITUDE", "Longitude", "longitude", Stored::Float},
                           {"LOGHOST", "LogHost", "syslog_host", Stored::Text},
                           {"SSID", "SSId", index == 2 ? "sta_ssid/1" : "", Stored::Text},
                           {"PASSWORD", "Password", index >= 1 && index <= 2 ? fmt::format("sta_pwd/{}", index - 1) : "", Stored::Text},
                           {"GPIO", "GPIO", fmt::format("my_gp/{}", index), Stored::Int}};
  for (const auto& s : stored) {
    if (cmd != s.cmd || s.path.empty()) continue;
    if (arg.empty()) {
      reply(out, name, ojson{{pretty(s.nice), nullptr}}.dump());
      return true;
    }
    nlohmann::json value;
    try {
      if (s.kind == Stored::Int) value = std::stoll(std::string(arg));
      else if (s.kind == Stored::Float) value = std::stod(std::string(arg));
      else value = text_arg(arg);
    } catch (...) {
      reply(out, name, R"({"Command":"Error"})");
      return true;
    }
    auto file = settings_file(spec_, version_, stored_);
    std::string why = "no such field";
    if (cmd == "GPIO") {  // ESP32 variants keep the GPIOs under my_gp_esp32, my_gp_esp32c3, …
      for (auto& n : backup::field_variants("my_gp")) {
        if (esp32 && n == "my_gp") continue;
        if (!esp32 && n != "my_gp") continue;
        if ((why = backup::SettingsLayouts::builtin().set(file, fmt::format("{}/{}", n, index), value)).empty()) break;
      }
    } else {
      why = backup::SettingsLayouts::builtin().set(file, s.path, value);
    }
    if (!why.empty()) {
      reply(out, name, R"({"Command":"Error"})");
      return true;
    }
    file.seal();
    stored_ = std::move(file);
    if (cmd == "GPIO") out.restart = true;
    reply(out, name, ojson{{pretty(s.nice), value}}.dump());
    return true;
  }
  if (cmd == "TIMER" && index >= 1 && index <= 16) {
    auto j = ojson::parse(arg, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      reply(out, name, R"({"Command":"Error"})");
      return true;
    }
    auto file = settings_file(spec_, version_, stored_);
    auto& layouts = backup::SettingsLayouts::builtin();
    auto base = fmt::format("timer/{}/", index - 1);
    auto time = j.value("Time", std::string("00:00"));
    bool negative = !time.empty() && time[0] == '-';
    int minutes = 0;
    try {
      auto t = negative ? time.substr(1) : time;
      minutes = std::stoi(t.substr(0, t.find(':'))) * 60 + std::stoi(t.substr(t.find(':') + 1));
    } catch (...) {
    }
    if (negative) minutes += 12 * 60;
    int days = 0;
    auto d = j.value("Days", std::string("0000000"));
    for (std::size_t i = 0; i < d.size() && i < 7; ++i)
      if (d[i] != '0' && d[i] != '-') days |= 1 << i;
    layouts.set(file, base + "arm", j.value("Enable", 0));
    layouts.set(file, base + "mode", j.value("Mode", 0));
    layouts.set(file, base + "time", minutes);
    layouts.set(file, base + "window", j.value("Window", 0));
    layouts.set(file, base + "days", days);
    layouts.set(file, base + "repeat", j.value("Repeat", 0));
    layouts.set(file, base + "device", std::max(0, j.value("Output", 1) - 1));
    layouts.set(file, base + "power", j.value("Action", 0));
    file.seal();
    stored_ = std::move(file);
    reply(out, name, ojson{{name == "TIMER" ? "Timer" : fmt::format("Timer{}", index), j}}.dump());
    return true;
  }
  return false;
}

}  // namespace fleet::sim
