#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley::e2e {

/// Memory and CPU of a process from /proc, for tests that bound what an attack costs.
struct ProcessStats {
  int64_t rss_kb = 0;  // VmRSS: resident now
  int64_t hwm_kb = 0;  // VmHWM: the peak resident size since the process started
  double cpu_s = 0;    // user + system CPU time so far

  /// Reads /proc/PID/status and /proc/PID/stat; throws std::runtime_error if it cannot.
  static ProcessStats Of(pid_t pid);
};

/// Latency figures of a series of timed calls, in milliseconds.
struct LatencyStats {
  size_t count = 0;
  size_t failures = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};
void PrintTo(const LatencyStats& stats, std::ostream* os);
/// Figures of `latencies_ms` (unsorted) with `failures` failed calls among them.
LatencyStats Summarize(std::vector<double> latencies_ms, size_t failures);
std::ostream& operator<<(std::ostream& os, const LatencyStats& stats);

/// A bystander: a thread that calls `call` again and again, timing each call, until Stop() or
/// `max_calls`. `call` returns whether the call succeeded. For "an attack must not degrade
/// other users beyond a bound": the test runs the attack meanwhile and bounds the p99.
class Bystander {
 public:
  explicit Bystander(std::function<bool()> call, size_t max_calls = 100'000);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  /// Stops the thread (after its current call) and returns the figures.
  LatencyStats Stop();

  /// Times `calls` calls of `call` on this thread: the same bystander without an attack, the
  /// baseline that a loaded machine (CI runs tests side by side) already imposes.
  static LatencyStats Measure(const std::function<bool()>& call, size_t calls);

 private:
  std::function<bool()> call_;
  size_t max_calls_;
  std::atomic<bool> stop_{false};
  std::vector<double> latencies_ms_;
  size_t failures_ = 0;
  std::thread thread_;
};

/// Writes `chunk` to the socket `fd` again and again, as fast as it takes it, for at most
/// `limit` or `max_bytes`, without reading. Returns the bytes written; stops early (and
/// sets `error`) when a write fails, e.g. because the server closed the connection.
uint64_t Flood(int fd, std::string_view chunk, std::chrono::milliseconds limit, uint64_t max_bytes,
               std::string* error = nullptr);

}  // namespace parley::e2e
