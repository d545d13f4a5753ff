#include "sim/sim_settings.h"

#include <iterator>
#include <list>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "backup/settings_layouts.h"
#include "backup/settings_migration.h"
#include "planner/chip.h"

namespace fleet::sim {
namespace {

using nlohmann::json;

bool is_esp32(const DeviceSpec& spec) { return planner::is_esp32_family(planner::parse_chip(spec.chip)); }

// The plain settings the simulator models, by their decode-config names: written to the file and read
// back from it through the same table.
struct TextSetting {
  const char* path;
  std::string DeviceSettings::*member;
};
constexpr TextSetting kTextSettings[] = {
    {"mqtt_host", &DeviceSettings::mqtt_host},       {"mqtt_user", &DeviceSettings::mqtt_user},
    {"mqtt_pwd", &DeviceSettings::mqtt_password},    {"mqtt_client", &DeviceSettings::mqtt_client},
    {"mqtt_topic", &DeviceSettings::topic},          {"mqtt_fulltopic", &DeviceSettings::full_topic},
    {"mqtt_grptopic", &DeviceSettings::group_topic}, {"hostname", &DeviceSettings::hostname},
    {"web_password", &DeviceSettings::web_password}, {"ota_url", &DeviceSettings::ota_url}};
struct IntSetting {
  const char* path;
  int DeviceSettings::*member;
};
constexpr IntSetting kIntSettings[] = {
    {"mqtt_port", &DeviceSettings::mqtt_port}, {"webserver", &DeviceSettings::webserver}, {"tele_period", &DeviceSettings::tele_period}};

}  // namespace

std::string default_ota_url(const DeviceSpec& spec) {
  return spec.chip.rfind("ESP32", 0) == 0 ? "http://ota.tasmota.com/tasmota32/release/tasmota32.bin"
                                          : "http://ota.tasmota.com/tasmota/release/tasmota.bin.gz";
}

std::uint8_t platform_of_spec(const DeviceSpec& spec) { return backup::platform_of(planner::parse_chip(spec.chip)).value_or(0); }

namespace {

// The files built last, with what each was built from. A device asked one command after another gets
// the same file every time (a restore replays ~20 commands, each reading its settings), and building
// one writes ~40 fields into it: a fifth of the simulator's CPU in bench/rollout before this.
struct Built {
  std::string chip;
  std::uint32_t boot_count;
  planner::Version version;
  DeviceSettings settings;
  std::optional<backup::DmpFile> stored;  // the one it was built on (of `version`), else none
  backup::DmpFile file;
};

bool same_file(const backup::DmpFile& a, const backup::DmpFile& b) {
  return a.settings == b.settings && a.header == b.header && a.trailer == b.trailer;
}

// Keyed by the device's topic (cheap to hash, nearly unique); the whole input is compared.
class BuiltFiles {
 public:
  static constexpr std::size_t kKept = 2048;  // ~10 KB each: more devices than a rollout has in flight
  const Built* find(const DeviceSpec& spec, const planner::Version& v, const backup::DmpFile* stored) {
    auto [lo, hi] = by_topic_.equal_range(spec.settings.topic);
    for (auto it = lo; it != hi; ++it) {
      auto& b = *it->second;
      if (b.version == v && b.boot_count == spec.boot_count && b.chip == spec.chip && b.stored.has_value() == (stored != nullptr) &&
          (!stored || same_file(*b.stored, *stored)) && b.settings == spec.settings) {
        order_.splice(order_.begin(), order_, it->second);
        return &b;
      }
    }
    return nullptr;
  }
  void keep(Built b) {
    auto topic = b.settings.topic;
    order_.push_front(std::move(b));
    by_topic_.emplace(std::move(topic), order_.begin());
    if (order_.size() <= kKept) return;
    auto last = std::prev(order_.end());
    auto [lo, hi] = by_topic_.equal_range(last->settings.topic);
    for (auto it = lo; it != hi; ++it)
      if (it->second == last) {
        by_topic_.erase(it);
        break;
      }
    order_.pop_back();
  }

 private:
  std::list<Built> order_;  // most recently used first
  std::unordered_multimap<std::string, std::list<Built>::iterator> by_topic_;
};

// `base`: the file it stored last, when of this version (else a blank one of the version).
backup::DmpFile build_settings_file(const DeviceSpec& spec, const planner::Version& version, const backup::DmpFile* base) {
  auto& layouts = backup::SettingsLayouts::builtin();
  backup::DmpFile f = base ? *base : backup::blank_settings(version, platform_of_spec(spec));
  auto& st = spec.settings;
  // Best effort per field: a field the layout of this version does not have is simply not written.
  auto set = [&](const std::string& path, const json& v) { (void)layouts.set(f, path, v); };
  set("bootcount", spec.boot_count & 0xFFFF);
  set("sta_ssid/0", st.ssid1);
  for (const auto& t : kTextSettings) set(t.path, st.*t.member);
  for (const auto& n : kIntSettings) set(n.path, st.*n.member);
  for (int i = 0; i < 3; ++i) set("mqtt_prefix/" + std::to_string(i), st.prefixes[static_cast<std::size_t>(i)]);
  for (int i = 0; i < 4; ++i) set("friendlyname/" + std::to_string(i), st.friendly_names[static_cast<std::size_t>(i)]);
  // ESP32 variants keep the module under a suffixed name (backup::field_variants): write whichever
  // this layout has.
  for (auto& n : backup::field_variants("module")) set(n, (st.module_id - 1) & 0xFF);
  for (int i = 0; i < 3; ++i) set("rules/" + std::to_string(i), st.rules[static_cast<std::size_t>(i)]);
  set("flag/mqtt_response", st.set_option4 ? 1 : 0);
  set("flag3/timers_enable", st.timers_enabled ? 1 : 0);
  if (!st.template_json.empty()) {
    auto t = json::parse(st.template_json, nullptr, false);
    if (t.is_object()) {
      std::string base = is_esp32(spec) ? "user_template_esp32" : "user_template";
      auto member = [&](const std::string& m, const std::string& rest, const json& v) {
        for (auto& n : backup::field_variants(m))
          if (layouts.set(f, base + "/" + n + rest, v).empty()) return;
      };
      if (t.contains("NAME") && t["NAME"].is_string()) {
        // Tasmota keeps a copy in the template's own 15-byte name on every save (UpdateBackwardCompatibility).
        set("templatename", t["NAME"]);
        set(base + "/name", t["NAME"].get<std::string>().substr(0, 14));
      }
      if (t.contains("GPIO") && t["GPIO"].is_array())
        for (std::size_t i = 0; i < t["GPIO"].size(); ++i)
          if (t["GPIO"][i].is_number_integer()) member("gpio", "/" + std::to_string(i), t["GPIO"][i]);
      if (t.contains("FLAG") && t["FLAG"].is_number_integer()) {
        member("flag", "", t["FLAG"]);
        set(base + "/flag/adc0", t["FLAG"]);
      }
      if (t.contains("BASE") && t["BASE"].is_number_integer()) member("base", "", t["BASE"]);
    }
  }
  f.seal();
  return f;
}

}  // namespace

backup::DmpFile settings_file(const DeviceSpec& spec, const planner::Version& version, const std::optional<backup::DmpFile>& stored) {
  thread_local BuiltFiles built;
  const backup::DmpFile* base = stored && stored->version() == version ? &*stored : nullptr;
  if (auto* b = built.find(spec, version, base)) return b->file;
  auto file = build_settings_file(spec, version, base);
  built.keep(Built{spec.chip, spec.boot_count, version, spec.settings, base ? std::optional<backup::DmpFile>(*base) : std::nullopt, file});
  return file;
}

void settings_from_file(const backup::DmpFile& file, DeviceSettings& st) {
  auto decoded = backup::SettingsLayouts::builtin().decoded(file);  // (read only: shared, not copied)
  const auto& d = decoded->fields;
  for (const auto& t : kTextSettings)
    if (d.contains(t.path) && d[t.path].is_string()) st.*t.member = d[t.path].get<std::string>();
  for (const auto& n : kIntSettings)
    if (d.contains(n.path) && d[n.path].is_number_integer()) st.*n.member = d[n.path].get<int>();
  if (d.contains("sta_ssid") && d["sta_ssid"].is_array() && !d["sta_ssid"].empty()) st.ssid1 = d["sta_ssid"][0].get<std::string>();
  if (d.contains("mqtt_prefix"))
    for (std::size_t i = 0; i < 3 && i < d["mqtt_prefix"].size(); ++i) st.prefixes[i] = d["mqtt_prefix"][i].get<std::string>();
  if (d.contains("friendlyname"))
    for (std::size_t i = 0; i < 4 && i < d["friendlyname"].size(); ++i) st.friendly_names[i] = d["friendlyname"][i].get<std::string>();
  if (auto* m = backup::find_variant(d, "module"); m && m->is_number_integer()) st.module_id = (m->get<int>() + 1) & 0xFF;
  if (d.contains("rules"))
    for (std::size_t i = 0; i < 3 && i < d["rules"].size(); ++i)
      st.rules[i] = d["rules"][i].is_string() ? d["rules"][i].get<std::string>() : std::string();
  if (d.contains("flag") && d["flag"].contains("mqtt_response")) st.set_option4 = d["flag"]["mqtt_response"].get<int>() != 0;
  if (d.contains("flag3") && d["flag3"].contains("timers_enable")) st.timers_enabled = d["flag3"]["timers_enable"].get<int>() != 0;
  st.template_json.clear();
  if (auto* tp = backup::find_variant(d, "user_template")) {
    auto& t = *tp;
    std::string name = d.contains("templatename") && d["templatename"].is_string() ? d["templatename"].get<std::string>()
                       : t.contains("name") && t["name"].is_string()             ? t["name"].get<std::string>()
                                                                                 : std::string();
    using oj = nlohmann::ordered_json;
    auto* g = backup::find_variant(t, "gpio");
    oj gpio = g ? *g : oj::array();
    bool any = !name.empty() || std::any_of(gpio.begin(), gpio.end(), [](const oj& g) { return g.is_number() && g.get<int>() != 0; });
    if (any) {
      auto* fl = backup::find_variant(t, "flag");
      oj flag = fl ? (fl->is_object() ? fl->value("adc0", oj(0)) : *fl) : oj(0);
      auto* b = backup::find_variant(t, "base");
      st.template_json = oj{{"NAME", name}, {"GPIO", gpio}, {"FLAG", flag}, {"BASE", b ? *b : oj(18)}}.dump();
    }
  }
}

}  // namespace fleet::sim
