#include "orchestrator/backup_schedule.h"

#include <algorithm>
#include <cmath>

namespace fleet::orchestrator {
namespace {

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::int64_t due_ms(const BackupSchedule& s, const ScheduledDevice& d) {
  if (d.last_ms) return *d.last_ms + (d.last_failed ? std::max<std::int64_t>(1, s.period_ms / 10) : s.period_ms);
  auto period = static_cast<std::uint64_t>(std::max<std::int64_t>(1, s.period_ms));
  return s.started_ms + static_cast<std::int64_t>(fnv1a(d.mac) % period);
}

std::vector<std::string> due_now(const BackupSchedule& s, const std::vector<ScheduledDevice>& devices, std::size_t running, std::int64_t now_ms) {
  if (s.period_ms <= 0 || running >= s.parallel) return {};
  std::vector<std::pair<std::int64_t, const ScheduledDevice*>> due;
  for (const auto& d : devices) {
    auto at = due_ms(s, d);
    if (at <= now_ms && d.online && !d.busy) due.emplace_back(at, &d);
  }
  std::sort(due.begin(), due.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second->mac < b.second->mac; });
  std::vector<std::string> out;
  for (auto& [at, d] : due) {
    if (out.size() + running >= s.parallel) break;
    out.push_back(d->mac);
  }
  return out;
}

std::optional<double> parse_duration_s(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double unit = 1;
  std::string number = text;
  switch (text.back()) {
    case 's': unit = 1; number.pop_back(); break;
    case 'm': unit = 60; number.pop_back(); break;
    case 'h': unit = 3600; number.pop_back(); break;
    case 'd': unit = 86400; number.pop_back(); break;
    default: break;
  }
  try {
    std::size_t used = 0;
    double v = std::stod(number, &used);
    if (used != number.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v * unit;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace fleet::orchestrator
