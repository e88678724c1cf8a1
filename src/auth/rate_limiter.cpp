#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace parley {
namespace {

constexpr size_t kMaxShards = 16;
constexpr size_t kMinKeysPerShard = 64;
constexpr double kMsPerMinute = 60'000.0;
// Refill is computed in floating point; without this slack, waiting exactly the advertised
// retry time could leave a bucket at 0.9999999 tokens and refuse the retry.
constexpr double kEpsilon = 1e-9;
// Keeps the double -> int64 conversion defined for absurdly slow rates (a year).
constexpr double kMaxRetryMs = 365.0 * 24 * 3600 * 1000;

size_t ShardCount(size_t max_keys) {
  return max_keys >= kMaxShards * kMinKeysPerShard ? kMaxShards : 1;
}

}  // namespace

RateLimiter::RateLimiter(BucketParams params, const Clock& clock, size_t max_keys)
    : params_(params),
      clock_(clock),
      shard_count_(ShardCount(max_keys)),
      shard_capacity_(max_keys / shard_count_),
      shards_(std::make_unique<Shard[]>(shard_count_)) {
  // Written so that NaN fails too.
  if (!(params.per_minute > 0) || !(params.burst >= 1) || max_keys == 0) {
    throw std::invalid_argument("rate limit needs per_minute > 0, burst >= 1 and max_keys > 0");
  }
}

int64_t RateLimiter::Take(std::string_view key) { return TakeAbove(key, 0); }

int64_t RateLimiter::TakeAbove(std::string_view key, double reserve) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  // Read under the lock so that the calls on one bucket see non-decreasing times.
  const int64_t now_ms = clock_.NowMs();
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= shard_capacity_) Trim(shard, now_ms);
    it = shard.buckets.emplace(std::string(key), Bucket{params_.burst, now_ms}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now_ms);
  bucket.last_ms = now_ms;
  const double needed = 1.0 + std::max(0.0, reserve);
  if (bucket.tokens + kEpsilon >= needed) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1.0);
    return 0;
  }
  const double wait_ms = std::ceil((needed - bucket.tokens) * kMsPerMinute / params_.per_minute);
  return static_cast<int64_t>(std::clamp(wait_ms, 1.0, kMaxRetryMs));
}

void RateLimiter::Refund(std::string_view key) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) return;
  const int64_t now_ms = clock_.NowMs();
  it->second.tokens = std::min(params_.burst, Refilled(it->second, now_ms) + 1.0);
  it->second.last_ms = std::max(it->second.last_ms, now_ms);
}

bool RateLimiter::IsFull(std::string_view key) const {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  return it == shard.buckets.end() ||
         Refilled(it->second, clock_.NowMs()) + kEpsilon >= params_.burst;
}

void RateLimiter::Forget(std::string_view key) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (auto it = shard.buckets.find(key); it != shard.buckets.end()) shard.buckets.erase(it);
}

size_t RateLimiter::KeyCount() const {
  size_t count = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    count += shards_[i].buckets.size();
  }
  return count;
}

double RateLimiter::Refilled(const Bucket& bucket, int64_t now_ms) const {
  const int64_t elapsed_ms = std::max<int64_t>(0, now_ms - bucket.last_ms);
  return std::min(params_.burst, bucket.tokens + static_cast<double>(elapsed_ms) *
                                                     params_.per_minute / kMsPerMinute);
}

void RateLimiter::Trim(Shard& shard, int64_t now_ms) const {
  auto& buckets = shard.buckets;
  for (auto it = buckets.begin(); it != buckets.end();) {
    it = Refilled(it->second, now_ms) >= params_.burst ? buckets.erase(it) : std::next(it);
  }
  // Freeing at least 1/8 of the shard is what makes trimming O(1) amortized per new key.
  const size_t target = shard_capacity_ - std::max<size_t>(1, shard_capacity_ / 8);
  if (buckets.size() <= target) return;
  using Iter = decltype(buckets.begin());
  std::vector<Iter> by_age;
  by_age.reserve(buckets.size());
  for (auto it = buckets.begin(); it != buckets.end(); ++it) by_age.push_back(it);
  const size_t excess = buckets.size() - target;
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(excess),
                   by_age.end(),
                   [](Iter a, Iter b) { return a->second.last_ms < b->second.last_ms; });
  // Erasing one element leaves iterators to the others valid.
  for (size_t i = 0; i < excess; ++i) buckets.erase(by_age[i]);
}

}  // namespace parley
