#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace parley::net {

/// A token bucket for one connection's frames. Touched only on the session's thread, so it
/// needs no lock (unlike the shared, keyed RateLimiter).
class FrameBudget {
 public:
  using Clock = std::chrono::steady_clock;

  FrameBudget(double per_min, double burst)
      : per_ms_(per_min / 60'000.0), burst_(burst), tokens_(burst) {}

  /// 0 when the frame may pass, else the ms until it would.
  int64_t Take(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      const double elapsed = std::chrono::duration<double, std::milli>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * per_ms_);
    }
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return 0;
    }
    return std::max<int64_t>(1, static_cast<int64_t>((1.0 - tokens_) / per_ms_));
  }

 private:
  double per_ms_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace parley::net
