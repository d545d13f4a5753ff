#include "backup/settings_commands.h"

#include "backup/settings_layouts.h"

#include <fmt/format.h>

namespace fleet::backup {
namespace {

using ojson = nlohmann::ordered_json;

const ojson* field(const ojson& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() || it->is_null() ? nullptr : &*it;
}

// Tasmota clears a text setting with a lone double quote.
std::string text_value(const std::string& s) { return s.empty() ? "\"" : s; }

void add_text(std::vector<std::string>& out, const ojson& f, const char* name, const std::string& command) {
  if (auto* v = field(f, name); v && v->is_string()) out.push_back(command + " " + text_value(v->get<std::string>()));
}

// Settings where an empty value means "the firmware's default": Tasmota restores the default with 1.
void add_text_or_default(std::vector<std::string>& out, const ojson& f, const char* name, const std::string& command) {
  if (auto* v = field(f, name); v && v->is_string()) out.push_back(command + " " + (v->get<std::string>().empty() ? "1" : v->get<std::string>()));
}

void add_number(std::vector<std::string>& out, const ojson& f, const char* name, const std::string& command) {
  if (auto* v = field(f, name); v && v->is_number()) out.push_back(fmt::format("{} {}", command, v->dump()));
}

std::string timer_json(const ojson& t) {
  int mode = t.value("mode", 0);
  int time = t.value("time", 0);
  std::string sign;
  if (mode > 0 && time > 12 * 60) {  // sunrise/sunset: minutes past 12:00 are a negative offset
    sign = "-";
    time -= 12 * 60;
  }
  int days = t.value("days", 0);
  std::string d;
  for (int i = 0; i < 7; ++i) d += (days >> i) & 1 ? '1' : '0';  // Sunday first
  return ojson{{"Enable", t.value("arm", 0)},
               {"Mode", mode},
               {"Time", fmt::format("{}{:02}:{:02}", sign, time / 60, time % 60)},
               {"Window", t.value("window", 0)},
               {"Days", d},
               {"Repeat", t.value("repeat", 0)},
               {"Output", t.value("device", 0) + 1},
               {"Action", t.value("power", 0)}}
      .dump();
}

}  // namespace

std::vector<CommandGroup> settings_commands(const ojson& f, const CommandOptions& o) {
  CommandGroup settings{"settings", false, {}};
  auto& s = settings.commands;
  if (auto* names = field(f, "friendlyname"); names && names->is_array())
    for (std::size_t i = 0; i < names->size(); ++i)
      if ((*names)[i].is_string() && (i == 0 || !(*names)[i].get<std::string>().empty()))
        s.push_back(fmt::format("FriendlyName{} {}", i + 1, text_value((*names)[i].get<std::string>())));
  add_number(s, f, "tele_period", "TelePeriod");
  add_number(s, f, "poweronstate", "PowerOnState");
  add_number(s, f, "ledstate", "LedState");
  add_number(s, f, "save_data", "SaveData");
  add_number(s, f, "timezone", "Timezone");
  add_number(s, f, "latitude", "Latitude");
  add_number(s, f, "longitude", "Longitude");
  add_text_or_default(s, f, "ota_url", "OtaUrl");
  add_text(s, f, "syslog_host", "LogHost");
  add_number(s, f, "webserver", "WebServer");
  if (o.with_secrets) add_text(s, f, "web_password", "WebPassword");
  if (auto* flag = field(f, "flag"); flag && flag->contains("mqtt_response")) s.push_back(fmt::format("SetOption4 {}", (*flag)["mqtt_response"].dump()));
  if (auto* rules = field(f, "rules"); rules && rules->is_array()) {
    for (std::size_t i = 0; i < rules->size(); ++i) {
      if (!(*rules)[i].is_string()) continue;  // compressed: not decoded, cannot be replayed
      auto text = (*rules)[i].get<std::string>();
      s.push_back(fmt::format("Rule{} {}", i + 1, text_value(text)));
      auto bit = [&](const char* name) {
        auto* g = field(f, name);
        auto key = fmt::format("rule{}", i + 1);
        return g && g->contains(key) ? (*g)[key].get<int>() : 0;
      };
      if (!text.empty()) {
        s.push_back(fmt::format("Rule{} {}", i + 1, bit("rule_enabled") ? 1 : 0));
        s.push_back(fmt::format("Rule{} {}", i + 1, bit("rule_once") ? 5 : 4));
      }
    }
  }
  if (auto* timers = field(f, "timer"); timers && timers->is_array())
    for (std::size_t i = 0; i < timers->size(); ++i)
      if ((*timers)[i].is_object() && ((*timers)[i].value("arm", 0) || (*timers)[i].value("time", 0) || (*timers)[i].value("days", 0)))
        s.push_back(fmt::format("Timer{} {}", i + 1, timer_json((*timers)[i])));
  if (auto* f3 = field(f, "flag3"); f3 && f3->contains("timers_enable")) s.push_back(fmt::format("Timers {}", (*f3)["timers_enable"].get<int>()));

  CommandGroup hardware{"hardware", true, {}};
  auto& h = hardware.commands;
  // ESP32 variants keep some of these under suffixed names (field_variants).
  if (auto* t = find_variant(f, "user_template"); t && t->is_object()) {
    std::string name;
    if (auto* tn = field(f, "templatename"); tn && tn->is_string()) name = tn->get<std::string>();
    else if (t->contains("name") && (*t)["name"].is_string()) name = (*t)["name"].get<std::string>();
    auto* g = find_variant(*t, "gpio");
    ojson gpio = g ? *g : ojson::array();
    auto* fl = find_variant(*t, "flag");
    ojson flag = fl ? (fl->is_object() ? fl->value("adc0", ojson(0)) : *fl) : ojson(0);
    auto* b = find_variant(*t, "base");
    bool any = !name.empty();
    for (auto& x : gpio) any = any || (x.is_number() && x.get<int>() != 0);
    if (any) h.push_back("Template " + ojson{{"NAME", name}, {"GPIO", gpio}, {"FLAG", flag}, {"BASE", b ? *b : ojson(18)}}.dump());
  }
  // Tasmota shows the stored module index + 1 (ModuleNr); 255, the user template, as 0.
  if (auto* m = find_variant(f, "module"); m && m->is_number_integer()) h.push_back(fmt::format("Module {}", (m->get<int>() + 1) & 0xFF));
  // ESP8266 files also list decode-config's my_gp_esp32 alias of my_gp: the plain name wins there.
  auto* gp = f.contains("my_gp") ? field(f, "my_gp") : find_variant(f, "my_gp");
  if (gp && gp->is_array())
    for (std::size_t i = 0; i < gp->size(); ++i)
      if ((*gp)[i].is_number_integer() && (*gp)[i].get<int>() != 0) h.push_back(fmt::format("GPIO{} {}", i, (*gp)[i].get<int>()));

  CommandGroup mqtt{"mqtt", true, {}};
  auto& m = mqtt.commands;
  add_text_or_default(m, f, "mqtt_grptopic", "GroupTopic");
  add_text_or_default(m, f, "mqtt_fulltopic", "FullTopic");
  if (auto* p = field(f, "mqtt_prefix"); p && p->is_array())
    for (std::size_t i = 0; i < p->size() && i < 3; ++i)
      if ((*p)[i].is_string() && !(*p)[i].get<std::string>().empty()) m.push_back(fmt::format("Prefix{} {}", i + 1, (*p)[i].get<std::string>()));
  add_text(m, f, "mqtt_host", "MqttHost");
  add_number(m, f, "mqtt_port", "MqttPort");
  add_text(m, f, "mqtt_user", "MqttUser");
  if (o.with_secrets) add_text(m, f, "mqtt_pwd", "MqttPassword");
  add_text_or_default(m, f, "mqtt_client", "MqttClient");
  add_text_or_default(m, f, "hostname", "Hostname");
  if (auto* ssid = field(f, "sta_ssid"); ssid && ssid->is_array())
    for (std::size_t i = 0; i < ssid->size() && i < 2; ++i)
      if ((*ssid)[i].is_string() && !(*ssid)[i].get<std::string>().empty()) {
        m.push_back(fmt::format("SSId{} {}", i + 1, (*ssid)[i].get<std::string>()));
        if (o.with_secrets)
          if (auto* pw = field(f, "sta_pwd"); pw && pw->is_array() && i < pw->size() && (*pw)[i].is_string())
            m.push_back(fmt::format("Password{} {}", i + 1, text_value((*pw)[i].get<std::string>())));
      }
  add_text(m, f, "mqtt_topic", "Topic");  // last: the device answers on the new topic from here on
  std::vector<CommandGroup> out;
  for (auto* g : {&settings, &hardware, &mqtt})
    if (!g->commands.empty()) out.push_back(std::move(*g));
  return out;
}

std::vector<OutgoingCommand> pack_backlog(const std::vector<std::string>& commands, std::size_t max_commands, std::size_t max_chars) {
  std::vector<OutgoingCommand> out;
  std::vector<std::string> batch;
  std::size_t chars = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    if (batch.size() == 1) {
      auto sp = batch[0].find(' ');
      out.push_back({batch[0].substr(0, sp), sp == std::string::npos ? "" : batch[0].substr(sp + 1)});
    } else {
      std::string payload;
      for (auto& c : batch) payload += (payload.empty() ? "" : "; ") + c;
      out.push_back({"Backlog", payload});
    }
    batch.clear();
    chars = 0;
  };
  for (const auto& c : commands) {
    bool alone = c.find(';') != std::string::npos || c.find('\n') != std::string::npos || c.size() > max_chars;
    if (alone) {
      flush();
      auto sp = c.find(' ');
      out.push_back({c.substr(0, sp), sp == std::string::npos ? "" : c.substr(sp + 1)});
      continue;
    }
    if (batch.size() >= max_commands || chars + c.size() + 2 > max_chars) flush();
    batch.push_back(c);
    chars += c.size() + 2;
  }
  flush();
  return out;
}

}  // namespace fleet::backup
