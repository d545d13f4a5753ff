#include "sim/faults.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace fleet::sim {
namespace {

// Sets one fault by name; a bare flag ("never_returns") is true, a number or text goes where it belongs.
std::string set_fault(Faults& f, const std::string& kind, const nlohmann::json& v) {
  auto flag = [&](bool& b) -> std::string {
    if (v.is_null()) b = true;
    else if (v.is_boolean()) b = v.get<bool>();
    else return kind + " takes true or false";
    return {};
  };
  auto number = [&](int& n, int lo, int hi) -> std::string {
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      return kind + " takes a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    n = v.get<int>();
    return {};
  };
  if (kind == "never_returns") return flag(f.never_returns);
  if (kind == "keeps_old_version") return flag(f.keeps_old_version);
  if (kind == "stuck_minimal") return flag(f.stuck_minimal);
  if (kind == "safeboot") return flag(f.safeboot);
  if (kind == "boot_loop") return v.is_null() ? (f.boot_loop = 3, std::string()) : number(f.boot_loop, 0, 100);
  if (kind == "drop_commands") return number(f.drop_commands, 0, 1000000);
  if (kind == "restart_ms") return number(f.restart_ms, 0, 3600000);
  if (kind == "offline_at_command") return number(f.offline_at_command, 1, 1000000);
  if (kind == "offline_ms") return number(f.offline_ms, 0, 3600000);
  if (kind == "rssi") return number(f.rssi, 0, 100);
  if (kind == "offline_on") {
    if (!v.is_string() || v.get<std::string>().empty()) return "offline_on takes a command name";
    f.offline_on = v.get<std::string>();
    return {};
  }
  if (kind == "download_fails") {
    // Tasmota's stalled download on ESP8266 (Updater ERROR[6]; docs/simulator.md)
    if (v.is_null() || (v.is_boolean() && v.get<bool>())) f.download_fails = "Update error: ERROR[6]: Stream Read Timeout";
    else if (v.is_string() && !v.get<std::string>().empty()) f.download_fails = v.get<std::string>();
    else if (!v.is_boolean()) return "download_fails takes true or Tasmota's error text";
    return {};
  }
  return "unknown fault '" + kind +
         "' (never_returns, keeps_old_version, boot_loop, download_fails, stuck_minimal, safeboot, drop_commands, restart_ms, "
         "offline_at_command, offline_on, offline_ms, rssi)";
}

}  // namespace

void apply_faults(const nlohmann::json& j, Faults& f, const std::string& who) {
  if (!j.is_object()) throw std::runtime_error(who + ": faults must be an object");
  for (auto& [k, v] : j.items())
    if (auto why = set_fault(f, k, v); !why.empty()) throw std::runtime_error(who + ": faults: " + why);
}

std::optional<std::string> parse_fault_flag(std::string_view text, Faults& f, std::string& error) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    error = "--fault takes TOPIC:KIND[=VALUE] (TOPIC * for every device)";
    return std::nullopt;
  }
  std::string topic(text.substr(0, colon));
  std::string kind(text.substr(colon + 1));
  nlohmann::json value;
  if (auto eq = kind.find('='); eq != std::string::npos) {
    std::string raw = kind.substr(eq + 1);
    kind.resize(eq);
    value = nlohmann::json::parse(raw, nullptr, false);
    if (value.is_discarded() || value.is_object() || value.is_array()) value = raw;  // a bare text
  }
  if (auto why = set_fault(f, kind, value); !why.empty()) {
    error = "--fault " + std::string(text) + ": " + why;
    return std::nullopt;
  }
  return topic;
}

}  // namespace fleet::sim
