#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace parley {

/// A token bucket: `burst` requests at once, refilled continuously at `per_minute`.
/// Requires per_minute > 0 and burst >= 1.
struct BucketParams {
  double per_minute;
  double burst;
};

/// Token buckets keyed by string (a client IP, a username), e.g. to throttle logins.
///
/// Thread-safety: Take and KeyCount may be called from any thread concurrently. The table is
/// sharded by key hash, one mutex per shard, so unrelated keys rarely contend.
///
/// Memory: at most `max_keys` buckets. Keys should be short (an IP, a user id); their length
/// is not bounded here. When a new key arrives at a full shard, the shard is trimmed to 7/8
/// of its capacity:
///   1. buckets that have refilled to `burst` are dropped first: a new bucket starts full, so
///      forgetting them changes nothing;
///   2. if that is not enough, the least recently used buckets (oldest Take) are dropped.
///      Such a key starts again with a full bucket when it returns, so under a flood of
///      distinct keys the limiter errs towards allowing requests, never towards growing.
/// Trimming costs O(shard size) but frees at least 1/8 of the shard, so Take stays O(1)
/// amortized. Tables of fewer than 1024 keys use a single shard, so that the bound and the
/// eviction order are exact.
///
/// Time: buckets refill by `clock`. If it steps backwards, a bucket gains nothing for the step
/// and refills from the new time on, so a wall-clock step back never locks a key out.
class RateLimiter {
 public:
  /// Keeps a reference to `clock`, which must outlive the limiter. Start-up code: throws
  /// std::invalid_argument if per_minute <= 0, burst < 1 or max_keys == 0.
  RateLimiter(BucketParams params, const Clock& clock, size_t max_keys = 100'000);

  /// Takes one token from `key`'s bucket. Returns 0 when allowed; otherwise the number of
  /// milliseconds (>= 1) until a token will be available, and nothing is taken.
  [[nodiscard]] int64_t Take(std::string_view key);

  /// Like Take, but only takes a token if at least `1 + reserve` are available, so that
  /// `reserve` tokens stay for callers of plain Take. Returns the wait until that many are.
  [[nodiscard]] int64_t TakeAbove(std::string_view key, double reserve);

  /// Gives back one token taken from `key` (capped at `burst`), e.g. when what was charged
  /// turned out not to count (a login that succeeded). No-op for an unknown key.
  void Refund(std::string_view key);

  /// True when `key` has its full burst: nothing taken, or refilled since. A key that was
  /// never seen (or was forgotten) is full.
  [[nodiscard]] bool IsFull(std::string_view key) const;

  /// Drops `key`'s bucket: it starts again full.
  void Forget(std::string_view key);

  /// How many keys have a bucket right now. For tests and metrics.
  size_t KeyCount() const;

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;  // time of the last Take: the refill origin and the LRU order
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets;  // guarded by mu
  };

  double Refilled(const Bucket& bucket, int64_t now_ms) const;
  Shard& ShardFor(std::string_view key) const { return shards_[KeyHash{}(key) % shard_count_]; }
  // Called with shard.mu held and the shard at capacity.
  void Trim(Shard& shard, int64_t now_ms) const;

  const BucketParams params_;
  const Clock& clock_;
  const size_t shard_count_;
  const size_t shard_capacity_;
  const std::unique_ptr<Shard[]> shards_;
};

}  // namespace parley
