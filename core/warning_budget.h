#pragma once
// One budget for the warnings about senders the fleet does not know, or that send what no Tasmota
// sends: a noisy broker (2,000 random topics under tele/+/STATE with binary payloads) cannot flood the
// log. At most `per_window` such lines a window, fleet-wide; the rest are counted, and once a window
// has passed the count comes out as one summary line.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace fleet::core {

class WarningBudget {
 public:
  WarningBudget(int per_window, std::int64_t window_ms) : per_window_(per_window), window_ms_(window_ms) {}

  // Whether this warning may be written now; false: it is counted for the summary.
  bool allow(std::int64_t now_ms) {
    roll(now_ms);
    if (used_ < per_window_) {
      ++used_;
      return true;
    }
    ++suppressed_;
    return false;
  }

  // The summary of what was held back, once the window it was held back in is over; then nothing until
  // more is held back.
  std::optional<std::string> summary(std::int64_t now_ms, std::string_view what) {
    if (suppressed_ == 0 || now_ms - window_start_ms_ < window_ms_) return std::nullopt;
    auto line = fmt::format("{} more {} in the last {} s not logged (at most {} a window)", suppressed_, what,
                            (now_ms - window_start_ms_ + 999) / 1000, per_window_);
    total_suppressed_ += suppressed_;
    suppressed_ = 0;
    used_ = 0;
    window_start_ms_ = now_ms;
    return line;
  }

  std::int64_t suppressed() const { return total_suppressed_ + suppressed_; }

 private:
  void roll(std::int64_t now_ms) {
    if (window_start_ms_ < 0) window_start_ms_ = now_ms;
    // A window with nothing held back simply ends; one with a count waits for summary() to report it.
    if (suppressed_ == 0 && now_ms - window_start_ms_ >= window_ms_) {
      window_start_ms_ = now_ms;
      used_ = 0;
    }
  }

  int per_window_;
  std::int64_t window_ms_;
  std::int64_t window_start_ms_ = -1;
  int used_ = 0;
  std::int64_t suppressed_ = 0;
  std::int64_t total_suppressed_ = 0;
};

}  // namespace fleet::core
