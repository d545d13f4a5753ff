#pragma once
// serve --backup-every: which devices are due for a scheduled backup now. Pure: the daemon hands it
// the devices and when each was last checked, and starts the backups it names.
// - A device checked at t is due at t + period (a failed check: again after a tenth of the period).
// - A device never checked is due at a phase of its own within the first period after the start (its
//   MAC hashed), so a fleet's first round is spread over the period instead of starting all at once.
// - Due but offline, or held by another job: it waits, and goes as soon as it is back and free.
// - At most `parallel` scheduled backups run at once.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::orchestrator {

struct ScheduledDevice {
  std::string mac;
  bool online = false;
  bool busy = false;                     // another job (an upgrade, a backup) holds it
  std::optional<std::int64_t> last_ms;   // its last check (stored or unchanged)
  bool last_failed = false;
};

struct BackupSchedule {
  std::int64_t period_ms = 0;
  std::int64_t started_ms = 0;  // when the schedule began (the daemon's start)
  std::size_t parallel = 2;
};

// When this device is due.
std::int64_t due_ms(const BackupSchedule& s, const ScheduledDevice& d);
// The devices to start now, most overdue first, at most parallel - running of them.
std::vector<std::string> due_now(const BackupSchedule& s, const std::vector<ScheduledDevice>& devices, std::size_t running, std::int64_t now_ms);

// "24h", "30m", "90s", "7d", or plain seconds; nullopt when not a positive duration.
std::optional<double> parse_duration_s(const std::string& text);

}  // namespace fleet::orchestrator
