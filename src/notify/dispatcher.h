#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "notify/job_queue.h"

namespace parley {

/// What delivering a job came to.
enum class DeliveryOutcome {
  kDelivered,  // done: completed and counted as sent
  kSkipped,    // nothing to send any more (read on another device, unsubscribed): completed
  kRetry,      // a transient failure (5xx, timeout): retried with backoff, dead after N attempts
  kFailed,     // a permanent failure (the receiver refused it): dead-lettered at once
};

struct Delivery {
  DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
  std::string detail;  // why, for retries and dead letters
};

/// Delivers one job of a kind. Runs on a dispatcher worker thread; may block (HTTP).
using Deliverer = std::function<Delivery(const Job& job)>;

struct DispatcherOptions {
  int workers = 2;
  int max_attempts = 8;                    // the attempt that fails with this count goes dead
  int64_t retry_base_ms = 1'000;           // backoff before the 2nd attempt is up to this
  int64_t retry_max_ms = 300'000;          // backoff cap
  int64_t visibility_timeout_ms = 60'000;  // must exceed a delivery's longest run (HTTP timeout)
  int64_t idle_wait_ms = 60'000;           // longest sleep without a wake-up (safety net only)
};

/// "Full jitter" exponential backoff: uniform in [0, min(max_ms, base_ms * 2^(attempt-1))].
/// `attempt` is the number of attempts made so far (>= 1).
int64_t BackoffMs(int attempt, int64_t base_ms, int64_t max_ms, std::mt19937_64& rng);

/// Runs the job queue: worker threads claim due jobs, hand each to the Deliverer registered for
/// its kind, and complete, retry (exponential backoff with full jitter) or dead-letter it.
///
/// Workers sleep on a condition variable until the earliest run_at in the queue (a retry
/// coming due, an expired lease) or until Wake() says new jobs are there: no polling. Leases
/// left by a process that died (kill -9) expire and are claimed again, so a crash between
/// enqueue and delivery loses no job (delivery is at least once).
///
/// Metrics: parley_notify_jobs{state=queued|in_flight|dead} (refreshed from the queue when a
/// worker goes idle, at least once a second under load, and on Wake), and the counters
/// parley_notify_{sent,skipped,retried,dead}_total.
///
/// Thread-safety: Register before Start; Wake, RunOnce, RefreshGauges from any thread.
class Dispatcher {
 public:
  Dispatcher(JobQueue& queue, const Clock& clock, MetricsRegistry& metrics,
             DispatcherOptions options);
  /// Stops and joins the workers; a delivery in progress finishes or is abandoned by its
  /// channel (its lease then expires and a later run delivers it).
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void Register(const std::string& kind, Deliverer deliverer);
  void Start();
  void Stop();
  /// New jobs were enqueued: sleeping workers look again.
  void Wake();
  /// Claims up to `max` due jobs and delivers them on the calling thread; returns how many.
  /// What the workers run; tests call it directly with a FakeClock.
  int RunOnce(int max);
  void RefreshGauges();

  /// Set when Stop() begins: channels abandon transfers in progress.
  const std::atomic<bool>& stopping() const { return stopping_; }

 private:
  void WorkerLoop();
  void Finish(const Job& job, const Delivery& delivery);

  JobQueue& queue_;
  const Clock& clock_;
  const DispatcherOptions options_;
  std::map<std::string, Deliverer> deliverers_;  // fixed after Start

  Gauge& queued_;
  Gauge& in_flight_;
  Gauge& dead_gauge_;
  Counter& sent_;
  Counter& skipped_;
  Counter& retried_;
  Counter& dead_;
  Histogram& attempt_seconds_;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> last_refresh_ms_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  uint64_t generation_ = 0;  // GUARDED_BY(mu_): bumped by Wake
  std::mt19937_64 rng_;      // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace parley
