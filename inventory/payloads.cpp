#include "inventory/payloads.h"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::inventory {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(ParseResult& r) : r_(r) {}

  void drop(std::string_view where, std::string_view key, std::string_view why) {
    r_.dropped.push_back(std::string(where) + "." + std::string(key) + ": " + std::string(why));
  }

  // Text fields: printable, bounded; anything else is refused rather than stored.
  Str text(const json& obj, std::string_view where, const char* key, size_t max_len = 128) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      drop(where, key, "not a string");
      return std::nullopt;
    }
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max_len) {
      drop(where, key, "too long");
      return std::nullopt;
    }
    for (unsigned char c : s) {
      if (c < 0x20 || c == 0x7f) {
        drop(where, key, "control character");
        return std::nullopt;
      }
    }
    return s;
  }

  Int integer(const json& obj, std::string_view where, const char* key, std::int64_t lo, std::int64_t hi) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() && !it->is_number_unsigned()) {
      drop(where, key, "not an integer");
      return std::nullopt;
    }
    auto v = it->get<std::int64_t>();
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) v = hi + 1;
    if (v < lo || v > hi) {
      drop(where, key, "out of range");
      return std::nullopt;
    }
    return v;
  }

  const json* object(const json& obj, std::string_view where, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return nullptr;
    if (!it->is_object()) {
      drop(where, key, "not an object");
      return nullptr;
    }
    return &*it;
  }

  // Version string → firmware, version, build; chip when the same part names the hardware.
  void version(const json& obj, std::string_view where, const char* key) {
    auto v = text(obj, where, key, 64);
    if (!v) return;
    auto fw = planner::FirmwareVersion::parse(*v);
    if (!fw) {
      drop(where, key, "not a Tasmota version");
      return;
    }
    r_.facts.firmware = *v;
    r_.facts.version = fw->version.str();
    r_.facts.build = fw->build;
  }

  void mac(const json& obj, std::string_view where, const char* key) {
    auto v = text(obj, where, key, 32);
    if (!v) return;
    auto m = normalize_mac(*v);
    if (m.empty()) {
      drop(where, key, "not a MAC address");
      return;
    }
    r_.facts.mac = m;
  }

  void ip(const json& obj, std::string_view where, const char* key) {
    auto v = text(obj, where, key, 45);
    if (!v) return;
    bool ok = !v->empty();
    for (char c : *v) ok = ok && (std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':');
    if (!ok) {
      drop(where, key, "not an IP address");
      return;
    }
    r_.facts.ip = v;
  }

  void uptime(const json& obj, std::string_view where) {
    if (auto secs = integer(obj, where, "UptimeSec", 0, 1LL << 40)) {
      r_.facts.uptime_s = secs;
      return;
    }
    auto it = obj.find("Uptime");
    if (it == obj.end()) return;
    if (it->is_number_integer()) {  // 5.x reported whole hours
      auto h = it->get<std::int64_t>();
      if (h >= 0 && h < (1LL << 30)) r_.facts.uptime_s = h * 3600;
      else drop(where, "Uptime", "out of range");
      return;
    }
    if (auto s = text(obj, where, "Uptime", 32)) {
      auto secs = parse_uptime(*s);
      if (secs < 0) drop(where, "Uptime", "not an uptime");
      else r_.facts.uptime_s = secs;
    }
  }

  void wifi(const json& obj, std::string_view where) {
    if (const json* w = object(obj, where, "Wifi")) {
      r_.facts.rssi = integer(*w, "Wifi", "RSSI", 0, 100);  // Tasmota's RSSI is a quality percentage
      r_.facts.signal_dbm = integer(*w, "Wifi", "Signal", -127, 0);
    }
  }

  // The relay: "POWER" (one relay) or "POWER1"… (several: on when any is on).
  void power(const json& obj, std::string_view where) {
    std::optional<bool> on;
    for (const char* key : {"POWER", "POWER1", "POWER2", "POWER3", "POWER4"}) {
      auto it = obj.find(key);
      if (it == obj.end()) continue;
      if (!it->is_string() || (*it != "ON" && *it != "OFF")) {
        drop(where, key, "not ON or OFF");
        continue;
      }
      on = on.value_or(false) || *it == "ON";
    }
    if (on) r_.facts.power = *on ? "ON" : "OFF";
  }

  void friendly_name(const json& obj, std::string_view where) {
    auto it = obj.find("FriendlyName");
    if (it == obj.end()) return;
    if (it->is_array()) {
      if (!it->empty()) {
        json first = json::object({{"FriendlyName", (*it)[0]}});
        r_.facts.friendly_name = text(first, where, "FriendlyName");
      }
      return;
    }
    r_.facts.friendly_name = text(obj, where, "FriendlyName");
  }

  ParseResult& r_;
};

void read_status_parts(Reader& rd, const json& j) {
  auto& f = rd.r_.facts;
  bool any = false;
  if (const json* s = rd.object(j, "", "Status")) {
    any = true;
    f.module_id = rd.integer(*s, "Status", "Module", 0, 65535);
    f.topic = rd.text(*s, "Status", "Topic", 64);
    rd.friendly_name(*s, "Status");
  }
  if (const json* s = rd.object(j, "", "StatusPRM")) {
    any = true;
    f.ota_url = rd.text(*s, "StatusPRM", "OtaUrl", 255);
    f.restart_reason = rd.text(*s, "StatusPRM", "RestartReason", 64);
    f.boot_count = rd.integer(*s, "StatusPRM", "BootCount", 0, 1LL << 32);
    f.group_topic = rd.text(*s, "StatusPRM", "GroupTopic", 64);
    rd.uptime(*s, "StatusPRM");
  }
  if (const json* s = rd.object(j, "", "StatusFWR")) {
    any = true;
    rd.version(*s, "StatusFWR", "Version");
    f.core = rd.text(*s, "StatusFWR", "Core", 32);
    f.sdk = rd.text(*s, "StatusFWR", "SDK", 64);
    f.hardware = rd.text(*s, "StatusFWR", "Hardware", 64);
    if (f.hardware) {
      auto chip = planner::parse_chip(*f.hardware);
      if (chip != planner::Chip::Unknown) f.chip = planner::to_string(chip);
    } else if (f.build) {
      // Firmware too old to name its hardware: ESP32 images carry "32" in their build name
      // (tasmota32, tasmota32-sensors…); every older image is ESP8266.
      f.chip = f.build->find("32") != std::string::npos ? "ESP32" : "ESP8266";
    }
  }
  if (const json* s = rd.object(j, "", "StatusMEM")) {
    any = true;
    f.program_kb = rd.integer(*s, "StatusMEM", "ProgramSize", 0, 1 << 20);
    f.free_kb = rd.integer(*s, "StatusMEM", "Free", 0, 1 << 20);
    f.program_flash_kb = rd.integer(*s, "StatusMEM", "ProgramFlashSize", 0, 1 << 20);
    f.flash_kb = rd.integer(*s, "StatusMEM", "FlashSize", 0, 1 << 20);
  }
  if (const json* s = rd.object(j, "", "StatusNET")) {
    any = true;
    f.hostname = rd.text(*s, "StatusNET", "Hostname", 64);
    rd.ip(*s, "StatusNET", "IPAddress");
    rd.mac(*s, "StatusNET", "Mac");
  }
  if (const json* s = rd.object(j, "", "StatusSTS")) {
    any = true;
    rd.uptime(*s, "StatusSTS");
    rd.wifi(*s, "StatusSTS");
  }
  if (const json* s = rd.object(j, "", "StatusMQT")) {
    any = true;
    f.mqtt_client = rd.text(*s, "StatusMQT", "MqttClient", 32);  // names the device's own fallback topic
  }
  // StatusLOG, StatusTIM, StatusSNS, StatusPTH carry nothing the upgrade needs.
  for (const char* k : {"StatusLOG", "StatusTIM", "StatusSNS", "StatusPTH"}) any = any || j.contains(k);
  if (!any) rd.r_.error = "no Status part in a STATUS reply";
  f.status_reply = any;
}

// INFO1's FallbackTopic ("cmnd/DVES_ABCDEF_fb/", or the bare client on old firmware) -> "DVES_ABCDEF".
std::string client_of_fallback(std::string t) {
  if (t.starts_with("cmnd/")) t.erase(0, 5);
  while (t.ends_with('/')) t.pop_back();
  if (t.ends_with("_fb")) t.resize(t.size() - 3);
  return t;
}

// {"Info1":{…}} on newer firmware, the bare object on older.
const json& unwrap(const json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_object()) ? *it : j;
}

}  // namespace

MessageKind classify(bool is_tele, std::string_view suffix) {
  if (is_tele) {
    if (suffix == "LWT") return MessageKind::Lwt;
    if (suffix == "INFO1") return MessageKind::Info1;
    if (suffix == "INFO2") return MessageKind::Info2;
    if (suffix == "INFO3") return MessageKind::Info3;
    if (suffix == "STATE") return MessageKind::State;
    return MessageKind::Ignored;
  }
  if (suffix.starts_with("STATUS")) {
    auto n = suffix.substr(6);
    bool digits = n.size() <= 2;
    for (char c : n) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) return MessageKind::Status;
  }
  return MessageKind::Result;
}

std::string normalize_mac(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':' || c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 12 || hex == "000000000000") return {};
  std::string out;
  for (size_t i = 0; i < 12; i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

std::int64_t parse_uptime(std::string_view s) {
  std::int64_t days = 0;
  auto sep = s.find_first_of("T ");
  auto num = [](std::string_view t, std::int64_t& out) {
    if (t.empty() || t.size() > 9) return false;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc{} && p == t.data() + t.size() && out >= 0;
  };
  if (sep != std::string_view::npos) {
    if (!num(s.substr(0, sep), days)) return -1;
    s.remove_prefix(sep + 1);
  }
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return -1;
  std::int64_t h, m, sec;
  if (!num(s.substr(0, 2), h) || !num(s.substr(3, 2), m) || !num(s.substr(6, 2), sec)) return -1;
  if (h > 23 || m > 59 || sec > 59) return -1;
  return days * 86400 + h * 3600 + m * 60 + sec;
}

ParseResult parse_payload(MessageKind kind, std::string_view payload) {
  ParseResult r;
  if (kind == MessageKind::Ignored) return r;
  if (kind == MessageKind::Lwt) {
    if (payload == "Online") r.facts.online = true;
    else if (payload == "Offline") r.facts.online = false;
    else r.error = "LWT is neither Online nor Offline";
    return r;
  }
  if (!core::nesting_within(payload, kMaxJsonDepth)) {
    r.error = "JSON nested deeper than " + std::to_string(kMaxJsonDepth);
    return r;
  }
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Some releases answer a few commands with broken quoting (9.5.0's Upgrade reply): not an
    // error worth counting for a command result, but nothing to read either.
    if (kind != MessageKind::Result) r.error = "not JSON";
    return r;
  }
  if (!j.is_object()) {
    r.error = "not a JSON object";
    return r;
  }
  Reader rd(r);
  auto& f = r.facts;
  switch (kind) {
    case MessageKind::Info1: {
      const json& o = unwrap(j, "Info1");
      f.module = rd.text(o, "Info1", "Module", 64);
      rd.version(o, "Info1", "Version");
      f.group_topic = rd.text(o, "Info1", "GroupTopic", 64);
      if (auto fb = rd.text(o, "Info1", "FallbackTopic", 64)) f.mqtt_client = client_of_fallback(*fb);
      break;
    }
    case MessageKind::Info2: {
      const json& o = unwrap(j, "Info2");
      f.web_server_mode = rd.text(o, "Info2", "WebServerMode", 16);
      f.hostname = rd.text(o, "Info2", "Hostname", 64);
      rd.ip(o, "Info2", "IPAddress");
      break;
    }
    case MessageKind::Info3: {
      const json& o = unwrap(j, "Info3");
      f.restart_reason = rd.text(o, "Info3", "RestartReason", 64);
      f.boot_count = rd.integer(o, "Info3", "BootCount", 0, 1LL << 32);
      break;
    }
    case MessageKind::State:
      rd.uptime(j, "STATE");
      rd.wifi(j, "STATE");
      rd.power(j, "STATE");
      break;
    case MessageKind::Status:
      read_status_parts(rd, j);
      break;
    case MessageKind::Result:
      // Command replies that change what the inventory holds.
      f.ota_url = rd.text(j, "RESULT", "OtaUrl", 255);
      rd.power(j, "RESULT");
      break;
    case MessageKind::Discovery: {
      rd.mac(j, "discovery", "mac");
      rd.ip(j, "discovery", "ip");
      f.hostname = rd.text(j, "discovery", "hn", 64);
      f.module = rd.text(j, "discovery", "md", 64);
      f.topic = rd.text(j, "discovery", "t", 64);
      f.full_topic = rd.text(j, "discovery", "ft", 128);
      // "sw" has no build: it only fills the version of a device not yet asked (see Inventory).
      if (auto sw = rd.text(j, "discovery", "sw", 32)) {
        if (auto v = planner::Version::parse(*sw)) f.version = v->str();
        else rd.drop("discovery", "sw", "not a Tasmota version");
      }
      if (auto it = j.find("fn"); it != j.end() && it->is_array() && !it->empty()) {
        json first = json::object({{"fn", (*it)[0]}});
        f.friendly_name = rd.text(first, "discovery", "fn");
      }
      if (auto it = j.find("tp"); it != j.end()) {
        // Each one a text field like any other: printable and bounded (a device's prefix is one short
        // topic level), and no ',' that would blur the joined form.
        auto prefix = [&](std::size_t i) {
          json one = json::object({{"tp", (*it)[i]}});
          auto p = rd.text(one, "discovery", "tp", 64);
          return p && !p->empty() && p->find(',') == std::string::npos ? p : std::nullopt;
        };
        Str cmnd, stat, tele;
        if (it->is_array() && it->size() == 3 && (cmnd = prefix(0)) && (stat = prefix(1)) && (tele = prefix(2)))
          f.prefixes = *cmnd + "," + *stat + "," + *tele;
        else rd.drop("discovery", "tp", "not three prefixes");
      }
      if (!f.mac) r.error = "discovery config without a valid mac";
      break;
    }
    case MessageKind::Lwt:
    case MessageKind::Ignored:
      break;
  }
  return r;
}

}  // namespace fleet::inventory
