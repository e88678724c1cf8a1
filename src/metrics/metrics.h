#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley {

/// The Content-Type of MetricsRegistry::Render() output (Prometheus text format 0.0.4).
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// A monotonically increasing count. Any thread may update or read it without locking; reads
/// are relaxed, so they order nothing else.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down (connections open, queue depth). Lock-free like Counter.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted into fixed buckets, rendered as cumulative `le` buckets with _sum
/// and _count. Observe() is lock-free and may be called from any thread.
class Histogram {
 public:
  /// `bounds` are the buckets' inclusive upper limits: finite and strictly increasing (a
  /// trailing +Inf is allowed and dropped; the +Inf bucket always exists). Anything else is
  /// a programming error and aborts.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  /// Counts `value` into the first bucket whose bound is >= value. NaN is ignored, since it
  /// would make _sum NaN for the life of the process.
  void Observe(double value);

  const std::vector<double>& Bounds() const { return bounds_; }
  /// Per-bucket (not cumulative) counts; the last entry is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  /// Observations so far; consistent with BucketCounts() only when no Observe() races.
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 entries
  std::atomic<double> sum_{0.0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

/// The process's metrics and their Prometheus text rendering.
///
/// Registration takes a lock and is meant for start-up; registering the same name and labels
/// again returns the same object. The returned references stay valid for the registry's
/// lifetime, and updating them is lock-free from any thread. Names must match
/// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (no leading "__", no "le"
/// on histograms, no duplicates). Reusing a name with another type, help text or bucket
/// layout, or breaking the naming rules, is a programming error and aborts.
class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  ~MetricsRegistry();

  Counter& AddCounter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& AddGauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bucket_bounds, Labels labels = {});

  /// The text exposition: per metric name (sorted) one # HELP and one # TYPE line, then its
  /// series in registration order. Labels are rendered sorted by name. Values are read
  /// without stopping writers, so a histogram's _sum may lag its buckets by in-flight
  /// observations; its _count always equals its +Inf bucket. Any thread may call this.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family;

  Series& FindOrAdd(const std::string& name, const std::string& help, Type type, Labels labels,
                    const std::vector<double>* bounds);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;  // guarded by mutex_
};

/// Bucket bounds in seconds for request and message latencies: 0.5 ms to 10 s, in
/// 1-2.5-5 steps.
std::vector<double> LatencyBuckets();

}  // namespace parley
