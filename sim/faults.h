#pragma once
// The faults a simulated device can be given (fleet file "faults", or `--fault TOPIC:KIND[=VALUE]`), each
// ending the way the real firmware's would (docs/simulator.md, "Faults"; the facts in sim/faults.cpp).
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace fleet::sim {

struct Faults {
  bool never_returns = false;      // after "Successful. Restarting" it never comes back (LWT Offline for good)
  bool keeps_old_version = false;  // "Successful. Restarting", a restart, and the old image again
  int boot_loop = 0;               // after an upgrade, this many crashes (restart reason Exception) a few seconds after boot
  std::string download_fails;      // every download ends {"Upgrade":"Failed <this>"} and the device runs on
  bool stuck_minimal = false;      // the minimal build of the minimal step never fetches the full image
  bool safeboot = false;           // ESP32 single-OTA layout: Upgrade 1 restarts into safeboot, which downloads
  int drop_commands = 0;           // the next N commands are lost (never answered)
  int restart_ms = -1;             // a restart (and a boot into safeboot) takes this long; -1: --restart-delay-ms
  int offline_at_command = 0;      // on receiving its Nth command the device drops off (no answer) …
  std::string offline_on;          // … or on the first command of this name (any case: "FileUpload") …
  int offline_ms = 0;              // … for this long, then reconnects without a restart
  int rssi = -1;                   // Wi-Fi quality 0-100 in STATE and Status 11 (Signal = RSSI / 2 - 100 dBm); -1: 76
};

// Reads a fleet file's "faults" object; throws std::runtime_error naming `who` and the field.
void apply_faults(const nlohmann::json& j, Faults& f, const std::string& who);
// One `--fault` value: "TOPIC:KIND[=VALUE]" (TOPIC "*" for every device). Returns the topic, or an
// error text in `error`.
std::optional<std::string> parse_fault_flag(std::string_view text, Faults& f, std::string& error);

}  // namespace fleet::sim
