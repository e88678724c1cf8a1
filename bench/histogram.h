#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace parley::bench {

/// A log-linear latency histogram in the manner of HdrHistogram: values below 2^kSubBits are
/// counted exactly; above, each power of two is cut into 2^(kSubBits-1) equal buckets, so a
/// percentile read back is within 1/2^(kSubBits-1) (< 1.6%) of the true value. Values are
/// nanoseconds up to 2^kMaxBits (~18 minutes); larger ones land in the top bucket. `max` and
/// `min` are exact.
///
/// Not thread-safe: each thread records into its own histogram, and they are merged once the
/// threads have been told to stop (see Runner). Recording is a few instructions and never
/// allocates.
class Histogram {
 public:
  static constexpr int kSubBits = 7;   // 128 linear buckets below 128 ns; 64 per octave above
  static constexpr int kMaxBits = 40;  // 2^40 ns ~ 18 min
  static constexpr int kHalf = 1 << (kSubBits - 1);
  static constexpr int kBuckets = (1 << kSubBits) + (kMaxBits - kSubBits) * kHalf;

  void Record(int64_t value) {
    const uint64_t v = value < 0 ? 0 : static_cast<uint64_t>(value);
    ++counts_[Index(v)];
    ++count_;
    sum_ += static_cast<double>(v);
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }

  void Merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
  }

  void Reset() { *this = Histogram(); }

  uint64_t Count() const { return count_; }
  uint64_t Max() const { return count_ == 0 ? 0 : max_; }
  uint64_t Min() const { return count_ == 0 ? 0 : min_; }
  double Mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }

  /// The value at or below which `q` (0..1) of the recorded values lie: the upper edge of the
  /// bucket holding that rank, capped at the exact maximum. 0 when empty.
  uint64_t Quantile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<uint64_t>(std::llround(q * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return i == kBuckets - 1 ? max_ : std::min(UpperEdge(i), max_);
    }
    return max_;
  }

  static int Index(uint64_t v) {
    if (v < (uint64_t{1} << kSubBits)) return static_cast<int>(v);
    const int top = 63 - std::countl_zero(v);  // v in [2^top, 2^(top+1))
    if (top >= kMaxBits) return kBuckets - 1;
    const int shift = top - (kSubBits - 1);
    // (v >> shift) is in [kHalf, 2 * kHalf): kHalf buckets per octave.
    return (1 << kSubBits) + (top - kSubBits) * kHalf + static_cast<int>((v >> shift) - kHalf);
  }

  /// The largest value that maps to bucket `i`.
  static uint64_t UpperEdge(int i) {
    if (i < (1 << kSubBits)) return static_cast<uint64_t>(i);
    const int rel = i - (1 << kSubBits);
    const int top = kSubBits + rel / kHalf;
    const int shift = top - (kSubBits - 1);
    const uint64_t mantissa = static_cast<uint64_t>(kHalf) + static_cast<uint64_t>(rel % kHalf);
    return ((mantissa + 1) << shift) - 1;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
};

}  // namespace parley::bench
