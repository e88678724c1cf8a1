#include "presence/task_runner.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace parley {

ThreadTaskRunner::ThreadTaskRunner(const Clock& clock) : clock_(clock) {
  thread_ = std::thread([this] { Loop(); });
}

ThreadTaskRunner::~ThreadTaskRunner() { Stop(); }

void ThreadTaskRunner::Post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    ready_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadTaskRunner::PostAt(int64_t due_ms, Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    const bool earliest = timers_.empty() || due_ms < timers_.begin()->first;
    timers_.emplace(due_ms, std::move(task));
    if (!earliest) return;  // the loop already wakes up in time
  }
  wake_.notify_one();
}

size_t ThreadTaskRunner::Pending() const {
  std::lock_guard lock(mu_);
  return ready_.size();
}

void ThreadTaskRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ThreadTaskRunner::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    std::deque<Task> batch;
    batch.swap(ready_);
    if (!stopping_) {
      const int64_t now = clock_.NowMs();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        batch.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
    }
    if (!batch.empty()) {
      lock.unlock();
      for (Task& task : batch) task();
      batch.clear();  // captured state dies outside the lock too
      lock.lock();
      continue;
    }
    if (stopping_) {
      // Destroyed outside the lock: a task's captures may post from their destructors.
      std::multimap<int64_t, Task> dropped;
      dropped.swap(timers_);
      lock.unlock();
      return;
    }
    if (timers_.empty()) {
      wake_.wait(lock);
    } else {
      // The Clock is wall time; a jump only makes this wake up early or late once.
      const int64_t wait_ms = timers_.begin()->first - clock_.NowMs();
      wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)));
    }
  }
}

}  // namespace parley
