#pragma once
// Token bucket: `rate` tokens a second, at most `burst` saved up. Driven by the caller's clock so
// that it is exact in tests and never sleeps.
#include <algorithm>
#include <cstdint>

namespace fleet::inventory {

class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst), tokens_(burst) {}

  bool try_acquire(std::int64_t now_ms) {
    refill(now_ms);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  void refill(std::int64_t now_ms) {
    if (last_ms_ >= 0 && now_ms > last_ms_) tokens_ = std::min(burst_, tokens_ + (now_ms - last_ms_) * rate_ / 1000.0);
    if (now_ms > last_ms_) last_ms_ = now_ms;
  }
  double rate_, burst_, tokens_;
  std::int64_t last_ms_ = -1;
};

}  // namespace fleet::inventory
