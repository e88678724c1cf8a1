#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace parley::net {

/// Lets a repeated log line through at most once per interval, so that an error an attacker
/// can trigger in a loop (accept failing with EMFILE, connections refused by a cap) costs one
/// line a second, not one per event. Thread-safe.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  LogThrottle() : LogThrottle(std::chrono::seconds(1)) {}
  explicit LogThrottle(std::chrono::milliseconds interval) : interval_(interval) {}

  /// When the line may be written now: how many were held back since the last one written
  /// (write it with that count). nullopt: drop this one (it is counted).
  std::optional<uint64_t> Allow(Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mu_);
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return std::nullopt;
    }
    written_ = true;
    last_ = now;
    const uint64_t held_back = suppressed_;
    suppressed_ = 0;
    return held_back;
  }

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  bool written_ = false;      // GUARDED_BY(mu_)
  Clock::time_point last_{};  // GUARDED_BY(mu_)
  uint64_t suppressed_ = 0;   // GUARDED_BY(mu_)
};

}  // namespace parley::net
