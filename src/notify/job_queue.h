#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley {

/// A job as a worker holds it after Claim(): its content plus the lease that proves the worker
/// still owns it.
struct Job {
  int64_t id = 0;
  std::string kind;     // what delivers it, e.g. "webhook", "webpush"
  std::string payload;  // opaque to the queue (JSON by convention)
  int attempts = 0;     // including the current one: 1 on the first claim
  int64_t created_ms = 0;
  int64_t lease = 0;  // the claim's token; Complete/Retry/DeadLetter must present it
};

struct NewJob {
  std::string kind;
  std::string payload;
  int64_t run_at_ms = 0;  // not claimable before this time
};

struct JobCounts {
  int64_t queued = 0;     // waiting for their run_at (not leased)
  int64_t in_flight = 0;  // leased by a worker (possibly a dead one, until the lease expires)
  int64_t dead = 0;       // in the dead-letter table
};

/// A durable queue of jobs with visibility timeouts ("leases"), for the notification
/// dispatcher. The embedded implementation is SQLite (notify/sqlite); a Redis one will serve a
/// cluster through the same interface.
///
/// Semantics (at-least-once):
/// - Enqueue is durable when it returns (per the store's durability setting).
/// - Claim leases up to `max` jobs that are due (run_at <= now) to the caller for
///   `visibility_timeout_ms`; each claim counts an attempt. A job whose lease expires without
///   Complete/Retry/DeadLetter (the worker died, e.g. kill -9) becomes claimable again: that is
///   how a crash loses nothing. Due jobs come out oldest run_at first.
/// - Complete removes the job; Retry makes it claimable again at `next_run_at_ms`; DeadLetter
///   moves it to the dead-letter table. All three take the lease from the claim and fail with
///   kConflict when the lease was lost (expired and claimed by another worker), so a late
///   worker can never undo a newer claim.
///
/// Thread-safety: every method may be called from any thread concurrently; two concurrent
/// claims never lease the same job. Methods block on storage I/O.
class JobQueue {
 public:
  virtual ~JobQueue() = default;

  /// Adds every job in one transaction (one fsync); returns their ids in order.
  virtual Result<std::vector<int64_t>> Enqueue(const std::vector<NewJob>& jobs) = 0;
  virtual Result<std::vector<Job>> Claim(int64_t now_ms, int64_t visibility_timeout_ms,
                                         int max) = 0;
  virtual Status Complete(int64_t id, int64_t lease) = 0;
  virtual Status Retry(int64_t id, int64_t lease, int64_t next_run_at_ms,
                       std::string_view error) = 0;
  virtual Status DeadLetter(int64_t id, int64_t lease, int64_t now_ms, std::string_view error) = 0;

  /// When the next job becomes claimable: the earliest run_at of waiting jobs and lease expiry
  /// of leased ones; nullopt when the queue is empty. Workers sleep until then.
  virtual Result<std::optional<int64_t>> NextRunAt() = 0;
  virtual Result<JobCounts> Counts() = 0;
};

}  // namespace parley
