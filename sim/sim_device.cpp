#include "sim/sim_device.h"
#include "sim/sim_settings.h"
#include "sim/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace fleet::sim {
namespace {

using ojson = nlohmann::ordered_json;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string mac_hex(const std::string& mac) {
  std::string h;
  for (char c : mac)
    if (c != ':') h += c;
  return h;
}

// Splits "FriendlyName2" into ("FRIENDLYNAME", 2, true) as CommandHandler does (trailing digits are
// the index); no digits give index 0 and no index.
struct CommandName {
  std::string cmd;
  int index = 0;
  bool has_index = false;
};
CommandName split_index(std::string_view name) {
  size_t end = name.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(name[end - 1]))) --end;
  if (end == name.size() || end == 0 || name.size() - end > 4) return {upper(name), 0, false};
  return {upper(name.substr(0, end)), std::stoi(std::string(name.substr(end))), true};
}

std::optional<bool> on_off(std::string_view arg) {
  auto a = upper(trim(arg));
  if (a == "1" || a == "ON" || a == "TRUE") return true;
  if (a == "0" || a == "OFF" || a == "FALSE") return false;
  return std::nullopt;
}


}  // namespace

SimDevice::SimDevice(DeviceSpec spec, std::int64_t boot_ms) : spec_(std::move(spec)), boot_ms_(boot_ms) {
  auto v = planner::Version::parse(spec_.version);
  if (!v) throw std::invalid_argument("simulated device: '" + spec_.version + "' is not a Tasmota version");
  version_ = *v;
  traits_ = FirmwareTraits::of(version_);
  power_ = spec_.power;
  if (spec_.settings.topic.empty()) throw std::invalid_argument("simulated device needs a topic");
}

std::string SimDevice::firmware_string() const {
  if (safeboot_stage_) return version_.str() + "(" + (traits_.release_marker ? "release-" : "") + "safeboot)";
  if (!traits_.build_in_version) return version_.str();
  return version_.str() + "(" + (traits_.release_marker ? "release-" : "") + spec_.build + ")";
}

std::string SimDevice::client_id() const {
  if (!spec_.settings.mqtt_client.empty()) return spec_.settings.mqtt_client;
  auto h = mac_hex(spec_.mac);
  return "DVES_" + (h.size() >= 6 ? h.substr(h.size() - 6) : h);
}

std::string SimDevice::full(int prefix, std::string_view suffix) const {
  std::string t = spec_.settings.full_topic;
  auto replace = [&](std::string_view token, const std::string& value) {
    for (auto pos = t.find(token); pos != std::string::npos; pos = t.find(token, pos + value.size()))
      t.replace(pos, token.size(), value);
  };
  replace("%prefix%", spec_.settings.prefixes[prefix]);
  replace("%topic%", spec_.settings.topic);
  replace("%hostname%", hostname());
  auto h = mac_hex(spec_.mac);
  replace("%id%", h.size() >= 6 ? h.substr(h.size() - 6) : h);
  if (!t.ends_with('/')) t += '/';
  return t + std::string(suffix);
}

std::string SimDevice::fallback_prefix(const char* prefix) const {
  return std::string(prefix) + "/" + client_id() + (traits_.fallback_fb ? "_fb/" : "/");
}

std::string SimDevice::stat(std::string_view suffix) const {
  return via_fallback_ ? fallback_prefix("stat") + std::string(suffix) : full(1, suffix);
}

std::vector<std::string> SimDevice::command_filters() const {
  std::vector<std::string> f{full(0, "+")};
  // Tasmota subscribes to its fallback topic only when its FullTopic contains %topic% (MqttConnected).
  if (spec_.settings.full_topic.find("%topic%") != std::string::npos) f.push_back(fallback_prefix("cmnd") + "+");
  auto g = group_topic();
  // The group topic is "cmnd/tasmotas/" on newer firmware, a bare "sonoffs" on older.
  if (g.find('/') == std::string::npos) f.push_back(spec_.settings.prefixes[0] + "/" + g + "/+");
  else f.push_back(g + (g.ends_with('/') ? "+" : "/+"));
  return f;
}

std::string SimDevice::hostname() const {
  if (!spec_.settings.hostname.empty()) return spec_.settings.hostname;
  auto h = mac_hex(spec_.mac);
  return fmt::format("{}-{}", spec_.settings.topic, h.size() >= 4 ? h.substr(h.size() - 4) : h);
}

std::string SimDevice::group_topic() const {
  return spec_.settings.group_topic.empty() ? traits_.default_group_topic : spec_.settings.group_topic;
}

std::string SimDevice::ota_url() const {
  return spec_.settings.ota_url.empty() ? default_ota_url(spec_) : spec_.settings.ota_url;
}

std::string SimDevice::uptime_text(std::int64_t now_ms) const {
  auto s = uptime_s(now_ms);
  return fmt::format("{}{}{:02}:{:02}:{:02}", s / 86400, traits_.uptime_t_format ? "T" : " ", (s / 3600) % 24,
                     (s / 60) % 60, s % 60);
}

std::string SimDevice::time_text(std::int64_t now_ms) const {
  std::time_t t = now_ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, traits_.uptime_t_format ? "%Y-%m-%dT%H:%M:%S" : "%Y.%m.%d %H:%M:%S", &tm);
  return buf;
}

std::vector<Outgoing> SimDevice::on_connected(std::int64_t now_ms) {
  (void)now_ms;
  std::vector<Outgoing> out{{lwt_topic(), "Online", true}};
  if (announced_) return out;
  announced_ = true;
  ojson i1 = {{"Module", spec_.settings.module_id == 0 ? "Template" : spec_.module_name},
              {"Version", firmware_string()},
              {"FallbackTopic", traits_.fallback_fb ? fallback_prefix("cmnd") : client_id()},
              {"GroupTopic", group_topic()}};
  ojson i2 = {{"WebServerMode", "Admin"}, {"Hostname", hostname()}, {"IPAddress", spec_.ip}};
  ojson i3 = {{"RestartReason", spec_.restart_reason}};
  if (traits_.info3_boot_count) i3["BootCount"] = spec_.boot_count;
  auto wrap = [&](const char* key, ojson body) { return traits_.info_wrapped ? ojson{{key, std::move(body)}} : body; };
  out.push_back({full(2, "INFO1"), wrap("Info1", std::move(i1)).dump(), false});
  out.push_back({full(2, "INFO2"), wrap("Info2", std::move(i2)).dump(), false});
  out.push_back({full(2, "INFO3"), wrap("Info3", std::move(i3)).dump(), false});
  return out;
}

Outgoing SimDevice::state(std::int64_t now_ms) const {
  ojson s = {{"Time", time_text(now_ms)}, {"Uptime", uptime_text(now_ms)}};
  if (traits_.uptime_sec) s["UptimeSec"] = uptime_s(now_ms);
  s["Heap"] = 25;
  s["POWER"] = power_ ? "ON" : "OFF";
  // RSSI is Tasmota's quality 0-100 (2 x (dBm + 100)), Signal the dBm (support_wifi.ino WifiGetRssiAsQuality).
  int quality = spec_.faults.rssi >= 0 ? spec_.faults.rssi : 76;
  ojson wifi = {{"AP", 1}, {"SSId", spec_.settings.ssid1}, {"RSSI", quality}};
  if (traits_.uptime_sec) {
    wifi["Signal"] = quality / 2 - 100;
    wifi["LinkCount"] = 1;
  }
  s["Wifi"] = std::move(wifi);
  return {full(2, "STATE"), s.dump(), false};
}

void SimDevice::reboot(std::int64_t now_ms, std::string reason) {
  bool flashed = pending_.has_value();
  apply_pending();
  if (flashed) {
    safeboot_stage_ = false;
    if (spec_.build != "minimal") crashes_left_ = spec_.faults.boot_loop;
  }
  boot_ms_ = now_ms;
  ++spec_.boot_count;
  spec_.restart_reason = std::move(reason);
  announced_ = false;
}

void SimDevice::reply(Reaction& out, std::string_view command_upper, std::string payload) {
  // SetOption4 1: replies on stat/<topic>/<COMMAND> instead of stat/<topic>/RESULT.
  out.publish.push_back({stat(spec_.settings.set_option4 ? command_upper : "RESULT"), std::move(payload), false});
}

std::string SimDevice::status_part(int which, std::int64_t now_ms) const {
  const auto& st = spec_.settings;
  ojson j;
  switch (which) {
    case 0: {
      ojson s = {{"Module", st.module_id}, {"DeviceName", st.friendly_names[0]}};
      if (traits_.friendly_name_array) {
        ojson names = ojson::array();
        for (const auto& n : st.friendly_names)
          if (!n.empty()) names.push_back(n);
        s["FriendlyName"] = names;
      } else {
        s.erase("DeviceName");
        s["FriendlyName"] = st.friendly_names[0];
      }
      s["Topic"] = st.topic;
      s["ButtonTopic"] = "0";
      s["Power"] = 0;
      s["PowerOnState"] = 3;
      s["LedState"] = 1;
      s["SaveData"] = 1;
      s["SaveState"] = 1;
      j["Status"] = s;
      break;
    }
    case 1:
      j["StatusPRM"] = {{"Baudrate", 115200},   {"GroupTopic", group_topic()}, {"OtaUrl", ota_url()},
                        {"RestartReason", spec_.restart_reason}, {"Uptime", uptime_text(now_ms)},
                        {"Sleep", 50},          {"BootCount", spec_.boot_count}, {"SaveCount", 12}};
      break;
    case 2: {
      ojson f = {{"Version", firmware_string()}, {"BuildDateTime", "2026-08-19T11:30:18"}, {"Boot", 31},
                 {"Core", spec_.chip.rfind("ESP32", 0) == 0 ? "3_1_3" : "2_7_8"}, {"SDK", "2.2.2-dev(38a443e)"}};
      if (traits_.hardware_field) f["Hardware"] = spec_.chip == "ESP8266" ? "ESP8266EX" : spec_.chip;
      j["StatusFWR"] = f;
      break;
    }
    case 3:
      j["StatusLOG"] = {{"SerialLog", 2}, {"WebLog", 2}, {"SysLog", 0}, {"SSId", {st.ssid1, ""}},
                        {"TelePeriod", st.tele_period}, {"SetOption", {st.set_option4 ? "00008009" : "00008001"}}};
      break;
    case 4:
      j["StatusMEM"] = {{"ProgramSize", spec_.program_kb}, {"Free", spec_.free_kb},  {"Heap", 25},
                        {"ProgramFlashSize", spec_.program_flash_kb}, {"FlashSize", spec_.flash_kb},
                        {"FlashMode", traits_.hardware_field ? ojson("DOUT") : ojson(3)}};
      break;
    case 5:
      j["StatusNET"] = {{"Hostname", hostname()}, {"IPAddress", spec_.ip}, {"Gateway", "127.0.0.1"},
                        {"Subnetmask", "255.0.0.0"}, {"DNSServer1", "127.0.0.1"}, {"Mac", spec_.mac},
                        {"Webserver", 2}, {"WifiConfig", 4}};
      break;
    case 6:
      j["StatusMQT"] = {{"MqttHost", st.mqtt_host}, {"MqttPort", st.mqtt_port}, {"MqttClientMask", "DVES_%06X"},
                        {"MqttClient", client_id()}, {"MqttUser", st.mqtt_user}, {"MqttCount", 1},
                        {"MAX_PACKET_SIZE", 1200}, {"KEEPALIVE", 30}};
      break;
    case 7:
      j["StatusTIM"] = {{"UTC", time_text(now_ms)}, {"Local", time_text(now_ms)}, {"Timezone", "+00:00"}};
      break;
    case 10:
      j["StatusSNS"] = {{"Time", time_text(now_ms)}};
      break;
    case 11: {
      ojson s = ojson::parse(state(now_ms).payload);
      j["StatusSTS"] = s;
      break;
    }
    default:
      return {};
  }
  return j.dump();
}

void SimDevice::status(int which, std::int64_t now_ms, Reaction& out) {
  static constexpr int kAll[] = {0, 1, 2, 3, 4, 5, 6, 7, 10, 11};
  if (which != 0) {
    int part = which == 8 ? 10 : which;  // Status 8 is the old name of Status 10
    auto body = status_part(part, now_ms);
    if (body.empty()) {
      reply(out, "STATUS", R"({"Command":"Error"})");
      return;
    }
    out.publish.push_back({stat("STATUS" + std::to_string(which)), body, false});
    return;
  }
  if (traits_.status0_combined) {
    // One message: the parts' objects joined into one.
    ojson all = ojson::object();
    for (int p : kAll) {
      ojson part = ojson::parse(status_part(p, now_ms));
      for (auto& [k, v] : part.items()) all[k] = v;
    }
    out.publish.push_back({stat("STATUS0"), all.dump(), false});
    return;
  }
  for (int p : kAll)
    out.publish.push_back({stat(p == 0 ? std::string("STATUS") : "STATUS" + std::to_string(p)), status_part(p, now_ms), false});
}

void SimDevice::reset_settings(int level) {
  auto& st = spec_.settings;
  DeviceSettings defaults;
  DeviceSettings kept = defaults;
  // Reset 6 keeps Wi-Fi and MQTT host, port, user, password and topic (tasmota-facts.md, Reset).
  kept.ssid1 = st.ssid1;
  kept.mqtt_host = st.mqtt_host;
  kept.mqtt_port = st.mqtt_port;
  kept.mqtt_user = st.mqtt_user;
  kept.mqtt_password = st.mqtt_password;
  kept.topic = level == 6 ? st.topic : "tasmota_" + mac_hex(spec_.mac).substr(6);
  st = kept;
  stored_.reset();  // the whole settings area is erased: fields the simulator does not model go too
  transfer_.reset();
}

Reaction SimDevice::handle(std::string_view topic, std::string_view payload, std::int64_t now_ms) {
  Reaction out;
  auto slash = topic.rfind('/');
  std::string_view name = slash == std::string_view::npos ? topic : topic.substr(slash + 1);
  if (name.empty() || payload.size() > 4096) return out;  // Tasmota refuses over-long input silently
  via_fallback_ = topic.rfind(fallback_prefix("cmnd"), 0) == 0;
  via_group_ = !via_fallback_ && topic.rfind(full(0, ""), 0) != 0;  // came in on the group topic
  explicit_restart_ = false;
  command(name, trim(payload), now_ms, out, 0);
  via_fallback_ = false;
  // A setting that needs a restart (its handler sets restart_flag) restarts once the commands stop:
  // Tasmota counts restart_flag down once a second, and only while the backlog is empty
  // (support_tasmota.ino), so the commands that follow on its heels are still taken. Restart and
  // Reset restart at once (the simulator skips their short countdown).
  if (out.restart && !explicit_restart_) {
    out.restart = false;
    out.restart_when_idle = true;
  }
  return out;
}

void SimDevice::command(std::string_view name, std::string_view arg, std::int64_t now_ms, Reaction& out, int depth) {
  auto [cmd, index, has_index] = split_index(name);
  auto& st = spec_.settings;
  // The minimal and safeboot builds have only Upgrade, Upload, OtaUrl, SerialLog and Restart of the core's
  // commands (support_command.ino under FIRMWARE_MINIMAL), no Status or Backlog: the rest is unknown.
  if ((spec_.build == "minimal" || safeboot_stage_) && cmd != "UPGRADE" && cmd != "UPLOAD" && cmd != "OTAURL" && cmd != "SERIALLOG" &&
      cmd != "RESTART") {
    reply(out, "COMMAND", ojson{{"Command", "Unknown"}, {"Input", upper(std::string(name) + (arg.empty() ? "" : " ") + std::string(arg))}}.dump());
    return;
  }
  if (cmd == "BACKLOG" && depth == 0) {
    // Backlog runs each ";"-separated command in order, later and not as a command from the fallback
    // topic (ExecuteCommand): their replies go to the device's Topic.
    via_fallback_ = false;
    std::string_view rest = arg;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      std::string_view one = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      if (one.empty()) continue;
      auto sp = one.find_first_of(" \t");
      explicit_restart_ = false;
      command(one.substr(0, sp), sp == std::string_view::npos ? std::string_view{} : trim(one.substr(sp + 1)), now_ms,
              out, depth + 1);
    }
    // A Backlog that ends with Restart/Reset restarts now; settings that need a restart wait until
    // the backlog has drained (handle(), below: more Backlogs may follow on the heels of this one).
    return;
  }
  if (cmd == "STATUS") {
    int which = 0;
    if (arg.empty()) {
      // Bare "Status": the Status part only, on STATUS.
      out.publish.push_back({stat("STATUS"), status_part(0, now_ms), false});
      return;
    }
    try {
      which = std::stoi(std::string(arg));
    } catch (...) {
      which = -1;
    }
    if (which < 0 || which > 11) {
      reply(out, "STATUS", R"({"Command":"Error"})");
      return;
    }
    status(which, now_ms, out);
    return;
  }
  // CmndFriendlyname: `"` clears, 1 is FRIENDLY_NAME ("Tasmota", "Tasmota<x>"); 1..4 are modelled,
  // 5..8 (MAX_FRIENDLYNAMES 8 from 8.x) live in the settings file only.
  if ((cmd == "FRIENDLYNAME" || cmd == "FN") && index <= 4) {
    int i = std::max(index, 1);
    address(fmt::format("friendlyname/{}", i - 1));
    if (!arg.empty())
      st.friendly_names[i - 1] = arg == "\"" ? std::string() : arg == "1" ? (i == 1 ? "Tasmota" : fmt::format("Tasmota{}", i)) : std::string(arg);
    reply(out, "FRIENDLYNAME", ojson{{fmt::format("FriendlyName{}", i), st.friendly_names[i - 1]}}.dump());
    return;
  }
  if (cmd == "TOPIC" && index == 0) {
    address("mqtt_topic");
    // CmndTopic: 1 (or the MQTT client id) = MQTT_TOPIC, else the text with '+', '#' and ' ' as '_'
    // (MakeValidMqtt); not from the group topic.
    std::string v;
    for (char c : arg) v += (c == '+' || c == '#' || c == ' ') ? '_' : c;
    if (arg == "1" || v == client_id()) v = "tasmota_" + mac_hex(spec_.mac).substr(6);
    if (!arg.empty() && !via_group_ && v != st.topic) {
      st.topic = v;
      reply(out, "TOPIC", ojson{{"Topic", st.topic}}.dump());
      out.restart = true;  // Tasmota restarts to reconnect with the new topic
      return;
    }
    reply(out, "TOPIC", ojson{{"Topic", st.topic}}.dump());
    return;
  }
  if (cmd == "OTAURL") {
    address("ota_url");
    // The simulator keeps "" for the firmware's OTA_URL (DeviceSettings), whether set by `1` or spelt out.
    if (!arg.empty()) st.ota_url = arg == "1" || arg == default_ota_url(spec_) ? "" : std::string(arg);
    reply(out, "OTAURL", ojson{{"OtaUrl", ota_url()}}.dump());
    return;
  }
  if (cmd == "UPGRADE") {
    if (arg == "1") {
      reply(out, "UPGRADE", ojson{{"Upgrade", fmt::format("Version {} from {}", version_.str(), ota_url())}}.dump());
      if (spec_.faults.safeboot && !safeboot_stage_ && spec_.chip.rfind("ESP32", 0) == 0) {
        // A single-OTA layout (EspSingleOtaPartition): the image restarts into safeboot, which downloads
        // the OtaUrl itself and publishes the outcome (support_tasmota.ino; docs/simulator.md).
        safeboot_stage_ = true;
        boot_fetch_ = ota_url();
        explicit_restart_ = true;
        out.restart = true;
      } else if (!ota_active_) {
        start_ota(out, ota_url());
      }
    } else {
      reply(out, "UPGRADE", ojson{{"Upgrade", fmt::format("Version {} from {}", version_.str(), ota_url())}}.dump());
    }
    return;
  }
  if (cmd == "SETOPTION" && index == 4) {
    address("flag/mqtt_response");
    if (auto v = on_off(arg)) st.set_option4 = *v;
    reply(out, "SETOPTION4", ojson{{"SetOption4", st.set_option4 ? "ON" : "OFF"}}.dump());
    return;
  }
  if ((cmd == "POWER" && index <= 1)) {
    auto a = upper(trim(arg));
    if (a == "TOGGLE" || a == "2") power_ = !power_;
    else if (auto v = on_off(arg)) power_ = *v;
    reply(out, "POWER", ojson{{"POWER", power_ ? "ON" : "OFF"}}.dump());
    return;
  }
  if (cmd == "TELEPERIOD") {
    address("tele_period");
    if (!arg.empty()) {
      int v = 300;
      try {
        v = std::stoi(std::string(arg));
      } catch (...) {
        v = st.tele_period;
      }
      // CmndTeleperiod: 0..3600 (else unchanged), 1 = TELE_PERIOD (300), below 10 becomes 10.
      if (v >= 0 && v <= 3600) st.tele_period = v == 1 ? 300 : (v > 0 && v < 10) ? 10 : v;
    }
    reply(out, "TELEPERIOD", ojson{{"TelePeriod", st.tele_period}}.dump());
    return;
  }
  if (cmd == "TEMPLATE") {
    address("user_template");
    address("templatename");
    if (!arg.empty() && arg.front() == '{') {
      auto t = ojson::parse(arg, nullptr, false);
      if (!t.is_discarded() && t.is_object()) st.template_json = t.dump();
    }
    ojson t = st.template_json.empty() ? ojson{{"NAME", "Generic"}, {"GPIO", ojson::array()}, {"FLAG", 0}, {"BASE", 18}}
                                       : ojson::parse(st.template_json);
    reply(out, "TEMPLATE", t.dump());
    return;
  }
  if (cmd == "TIMERS") {
    address("flag3/timers_enable");
    if (auto v = on_off(arg)) st.timers_enabled = *v;
    if (upper(arg) == "2" || upper(arg) == "TOGGLE") st.timers_enabled = !st.timers_enabled;  // CmndTimers: 2 toggles
    reply(out, "TIMERS", ojson{{"Timers", st.timers_enabled ? "ON" : "OFF"}}.dump());
    return;
  }
  // These restart at once in the simulator: Restart, Reset, and a settings file uploaded in full.
  if (cmd == "RESTART" || cmd == "RESET" || cmd == "FILEUPLOAD") explicit_restart_ = true;
  if (cmd == "RESTART" && arg == "1") {
    reply(out, "RESTART", R"({"Restart":"Restarting"})");
    out.restart = true;
    return;
  }
  if (cmd == "RESET") {
    int level = 0;
    try {
      level = std::stoi(std::string(arg));
    } catch (...) {
    }
    if (level == 1 || level == 6 || level == 5) {
      // Answered on the topics in force before the reset takes effect.
      reply(out, "RESET", level == 1 ? R"({"Reset":"Reset and Restarting"})" : R"({"Reset":"Erase, Reset and Restarting"})");
      reset_settings(level == 5 ? 1 : level);
      out.restart = true;
      return;
    }
    reply(out, "RESET", R"({"Command":"Error"})");
    return;
  }
  if (setting_command(cmd, index, has_index, arg, out)) return;
  if (stored_command(cmd, index, has_index, arg, out)) return;
  if (cmd == "FILEDOWNLOAD" && has_mqtt_file()) return file_download(arg, via_group_, out);
  if (cmd == "FILEUPLOAD" && has_mqtt_file()) return file_upload(arg, via_group_, out);
  reply(out, "COMMAND", R"({"Command":"Unknown"})");
}

void SimDevice::crash(std::int64_t now_ms) {
  --crashes_left_;
  // ESP8266: the core's "Exception"; ESP32 reports the ROM's "Software reset CPU" for a crash too
  // (support_esp32.ino GetResetReason; the crash dump in INFO3 tells them apart).
  bool esp32 = spec_.chip.rfind("ESP32", 0) == 0;
  reboot(now_ms, esp32 ? "Software reset CPU" : "Exception");
}

}  // namespace fleet::sim
