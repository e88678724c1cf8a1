#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"

namespace parley {

/// Runs tasks one at a time, in the order they were posted, on one thread of its own: the
/// state those tasks touch needs no lock. A task may also be posted to run at a time on a
/// Clock (a timer). Timers let the presence service wait out grace periods; tests run them
/// with ManualTaskRunner and a FakeClock, without sleeping.
///
/// Thread-safety: Post and PostAt may be called from any thread.
class TaskRunner {
 public:
  using Task = std::function<void()>;
  virtual ~TaskRunner() = default;

  /// Runs `task` after every task posted before it. After Stop() it is dropped.
  virtual void Post(Task task) = 0;
  /// Runs `task` once the clock reads `due_ms` or later. Timers due at the same time run in
  /// the order they were posted. There is no cancel: a task that finds itself stale returns.
  virtual void PostAt(int64_t due_ms, Task task) = 0;
  /// Runs every task already posted (not the timers still waiting), then stops: later posts
  /// are dropped. Returns when no task runs any more. Idempotent; not from a task.
  virtual void Stop() = 0;
  /// Tasks posted and not yet started (timers not counted). Any thread; a snapshot.
  virtual size_t Pending() const = 0;
};

/// The server's TaskRunner: a thread that sleeps on a condition variable until the next task
/// or timer is due. Ready tasks are taken in batches; timers that fell due join the batch in
/// due order, so a busy queue cannot starve them.
class ThreadTaskRunner final : public TaskRunner {
 public:
  explicit ThreadTaskRunner(const Clock& clock);
  ~ThreadTaskRunner() override;  // Stop()
  ThreadTaskRunner(const ThreadTaskRunner&) = delete;
  ThreadTaskRunner& operator=(const ThreadTaskRunner&) = delete;

  void Post(Task task) override;
  void PostAt(int64_t due_ms, Task task) override;
  void Stop() override;
  size_t Pending() const override;

 private:
  void Loop();

  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> ready_;               // GUARDED_BY(mu_)
  std::multimap<int64_t, Task> timers_;  // GUARDED_BY(mu_); by due time, FIFO
  bool stopping_ = false;                // GUARDED_BY(mu_)
  std::thread thread_;
};

/// A TaskRunner for tests and benchmarks: nothing runs until the test says so, on the
/// test's thread, at the time of a FakeClock.
///
///   ManualTaskRunner runner(clock);
///   service.OnUserConnected("u_a");  // posts
///   runner.RunReady();               // runs it
///   runner.Advance(5000);            // the clock moves 5 s; timers due on the way run
class ManualTaskRunner final : public TaskRunner {
 public:
  explicit ManualTaskRunner(FakeClock& clock) : clock_(clock) {}

  void Post(Task task) override {
    std::lock_guard lock(mu_);
    if (!stopped_) ready_.push_back(std::move(task));
  }
  void PostAt(int64_t due_ms, Task task) override {
    std::lock_guard lock(mu_);
    if (!stopped_) timers_.emplace(due_ms, std::move(task));
  }
  void Stop() override {
    RunReady(/*timers=*/false);
    std::lock_guard lock(mu_);
    stopped_ = true;
    timers_.clear();
  }
  size_t Pending() const override {
    std::lock_guard lock(mu_);
    return ready_.size();
  }

  /// Runs ready tasks, and timers due by now, until there are none; returns how many ran.
  size_t RunReady(bool timers = true) {
    size_t ran = 0;
    while (Task task = Take(timers)) {
      task();
      ++ran;
    }
    return ran;
  }
  /// Moves the clock forward by `ms`, stopping at each timer due on the way to run it (and
  /// whatever it posts) at its own time.
  void Advance(int64_t ms) {
    const int64_t end = clock_.NowMs() + ms;
    RunReady();
    while (true) {
      int64_t next = 0;
      {
        std::lock_guard lock(mu_);
        if (timers_.empty() || timers_.begin()->first > end) break;
        next = timers_.begin()->first;
      }
      if (next > clock_.NowMs()) clock_.Set(next);
      RunReady();
    }
    clock_.Set(end);
    RunReady();
  }
  size_t PendingTimers() const {
    std::lock_guard lock(mu_);
    return timers_.size();
  }

 private:
  Task Take(bool timers) {
    std::lock_guard lock(mu_);
    if (!ready_.empty()) {
      Task task = std::move(ready_.front());
      ready_.pop_front();
      return task;
    }
    if (timers && !timers_.empty() && timers_.begin()->first <= clock_.NowMs()) {
      Task task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      return task;
    }
    return nullptr;
  }

  FakeClock& clock_;
  mutable std::mutex mu_;
  std::deque<Task> ready_;
  std::multimap<int64_t, Task> timers_;
  bool stopped_ = false;
};

}  // namespace parley
