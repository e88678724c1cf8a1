#pragma once

// Per-user bounds of the chat service that are not rate limits: the daily storage quota of the
// send path and the concurrency cap of search.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "store/message_store.h"

namespace parley {

/// How much one user may store per UTC day: log entries (messages, edits, reactions) and the
/// bytes of their text. 0 means no limit.
struct QuotaParams {
  int64_t max_entries_per_day = 0;
  int64_t max_bytes_per_day = 0;
};

/// Daily usage counters per user, kept in memory and seeded from the store at start
/// (MessageStore::UsageOfDay), so that a restart does not hand out a fresh quota.
///
/// Thread-safety: none; the chat sequencer thread owns it. Memory: one entry per user who
/// wrote today; the table is emptied when the day changes.
class SendQuota {
 public:
  explicit SendQuota(QuotaParams params) : params_(params) {}

  /// Replaces the counters with `usage` of `day` (ms / 86'400'000).
  void Load(int64_t day, const std::vector<DailyUsage>& usage);

  /// Counts one body of `bytes` for `user_id` at `now_ms`. When it would go past a limit,
  /// nothing is counted and the answer is kRateLimited, retry_after_ms until the next UTC
  /// midnight, with a message that names the limit.
  Status Take(const std::string& user_id, size_t bytes, int64_t now_ms);

  /// Users with a counter today. For tests.
  size_t users() const { return used_.size(); }

 private:
  struct Used {
    int64_t entries = 0;
    int64_t bytes = 0;
  };
  void Roll(int64_t day);

  const QuotaParams params_;
  int64_t day_ = -1;
  std::unordered_map<std::string, Used> used_;
};

/// At most `max_total` searches at once in the whole server and one per user, so that
/// searches cannot occupy every thread of the blocking pool that sync and auth also use.
///
/// Thread-safety: every method may be called from any thread.
class SearchGate {
 public:
  SearchGate(size_t max_total, size_t max_per_user);

  /// A place for one running search; releases it on destruction.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(SearchGate* gate, std::string user_id) : gate_(gate), user_id_(std::move(user_id)) {}
    ~Ticket();
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    SearchGate* gate_ = nullptr;
    std::string user_id_;
  };

  /// kRateLimited (retry_after_ms = `retry_after_ms`) when the user already has
  /// max_per_user searches running; kUnavailable when max_total are running.
  Result<Ticket> Enter(const std::string& user_id, int64_t retry_after_ms);

  size_t active() const;

 private:
  void Leave(const std::string& user_id);

  const size_t max_total_;
  const size_t max_per_user_;
  mutable std::mutex mu_;
  size_t active_ = 0;                                 // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> per_user_;  // GUARDED_BY(mu_)
};

}  // namespace parley
