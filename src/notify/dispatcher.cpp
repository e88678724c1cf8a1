#include "notify/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace parley {
namespace {

constexpr int64_t kGaugeRefreshMs = 1'000;
constexpr int64_t kErrorPauseMs = 1'000;  // after a storage error, before trying again

}  // namespace

int64_t BackoffMs(int attempt, int64_t base_ms, int64_t max_ms, std::mt19937_64& rng) {
  int64_t cap = std::max<int64_t>(base_ms, 0);
  // Doubling stops at max_ms, so the shift can never overflow.
  for (int i = 1; i < attempt && cap < max_ms; ++i) cap *= 2;
  cap = std::min(cap, max_ms);
  if (cap <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, cap)(rng);
}

Dispatcher::Dispatcher(JobQueue& queue, const Clock& clock, MetricsRegistry& metrics,
                       DispatcherOptions options)
    : queue_(queue),
      clock_(clock),
      options_(options),
      queued_(metrics.AddGauge("parley_notify_jobs", "Notification jobs in the durable queue",
                               {{"state", "queued"}})),
      in_flight_(metrics.AddGauge("parley_notify_jobs", "Notification jobs in the durable queue",
                                  {{"state", "in_flight"}})),
      dead_gauge_(metrics.AddGauge("parley_notify_jobs", "Notification jobs in the durable queue",
                                   {{"state", "dead"}})),
      sent_(metrics.AddCounter("parley_notify_sent_total", "Notifications delivered")),
      skipped_(metrics.AddCounter("parley_notify_skipped_total",
                                  "Notification jobs dropped at delivery time: already read, "
                                  "no longer a member, or unsubscribed")),
      retried_(metrics.AddCounter("parley_notify_retried_total",
                                  "Notification deliveries that failed and were rescheduled")),
      dead_(metrics.AddCounter("parley_notify_dead_total",
                               "Notification jobs moved to the dead-letter table")),
      attempt_seconds_(metrics.AddHistogram("parley_notify_attempt_seconds",
                                            "Time of one delivery attempt", LatencyBuckets())),
      rng_(std::random_device{}()) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Register(const std::string& kind, Deliverer deliverer) {
  deliverers_[kind] = std::move(deliverer);
}

void Dispatcher::Start() {
  RefreshGauges();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void Dispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  wake_.notify_all();
  RefreshGauges();
}

void Dispatcher::RefreshGauges() {
  last_refresh_ms_ = clock_.NowMs();
  Result<JobCounts> counts = queue_.Counts();
  if (!counts.ok()) {
    spdlog::warn("notify: cannot count jobs: {}", counts.error().message);
    return;
  }
  queued_.Set(counts->queued);
  in_flight_.Set(counts->in_flight);
  dead_gauge_.Set(counts->dead);
}

int Dispatcher::RunOnce(int max) {
  Result<std::vector<Job>> jobs = queue_.Claim(clock_.NowMs(), options_.visibility_timeout_ms, max);
  if (!jobs.ok()) {
    spdlog::warn("notify: cannot claim jobs: {}", jobs.error().message);
    return -1;
  }
  for (const Job& job : *jobs) {
    Delivery delivery;
    auto it = deliverers_.find(job.kind);
    const auto start = std::chrono::steady_clock::now();
    if (it == deliverers_.end()) {
      delivery = {DeliveryOutcome::kFailed, "no channel for job kind '" + job.kind + "'"};
    } else {
      // A deliverer must not throw; if one does anyway, the job is retried, not lost.
      try {
        delivery = it->second(job);
      } catch (const std::exception& e) {
        delivery = {DeliveryOutcome::kRetry, std::string("exception: ") + e.what()};
      }
    }
    attempt_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    Finish(job, delivery);
  }
  if (clock_.NowMs() - last_refresh_ms_ >= kGaugeRefreshMs) RefreshGauges();
  return static_cast<int>(jobs->size());
}

void Dispatcher::Finish(const Job& job, const Delivery& delivery) {
  const int64_t now = clock_.NowMs();
  Status status;
  switch (delivery.outcome) {
    case DeliveryOutcome::kDelivered:
      status = queue_.Complete(job.id, job.lease);
      sent_.Inc();
      break;
    case DeliveryOutcome::kSkipped:
      status = queue_.Complete(job.id, job.lease);
      skipped_.Inc();
      break;
    case DeliveryOutcome::kRetry:
      if (job.attempts < options_.max_attempts) {
        int64_t backoff = 0;
        {
          std::lock_guard lock(mu_);
          backoff = BackoffMs(job.attempts, options_.retry_base_ms, options_.retry_max_ms, rng_);
        }
        status = queue_.Retry(job.id, job.lease, now + backoff, delivery.detail);
        retried_.Inc();
        spdlog::debug("notify: job {} ({}) attempt {} failed, retry in {} ms: {}", job.id, job.kind,
                      job.attempts, backoff, delivery.detail);
        break;
      }
      [[fallthrough]];
    case DeliveryOutcome::kFailed:
      status = queue_.DeadLetter(job.id, job.lease, now, delivery.detail);
      dead_.Inc();
      spdlog::warn("notify: job {} ({}) dead after {} attempts: {}", job.id, job.kind, job.attempts,
                   delivery.detail);
      break;
  }
  // Lost lease: the job ran past its visibility timeout and another worker has it now; what
  // this one did is void, and the other one's result counts.
  if (!status.ok()) spdlog::warn("notify: job {}: {}", job.id, status.error().message);
}

void Dispatcher::WorkerLoop() {
  while (!stopping_) {
    uint64_t seen = 0;
    {
      std::lock_guard lock(mu_);
      seen = generation_;
    }
    const int done = RunOnce(1);
    if (done > 0) continue;
    int64_t wait_ms = options_.idle_wait_ms;
    if (done < 0) {
      wait_ms = kErrorPauseMs;
    } else {
      RefreshGauges();
      Result<std::optional<int64_t>> next = queue_.NextRunAt();
      if (!next.ok()) {
        wait_ms = kErrorPauseMs;
      } else if (next->has_value()) {
        wait_ms = std::clamp<int64_t>(**next - clock_.NowMs(), 0, options_.idle_wait_ms);
      }
    }
    if (wait_ms == 0) continue;
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_.load() || generation_ != seen; });
  }
}

}  // namespace parley
