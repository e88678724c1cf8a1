#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chat/chat_service.h"
#include "common/clock.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "notify/job_queue.h"
#include "notify/notify_store.h"
#include "store/account_store.h"

namespace parley {

struct NotifierOptions {
  int64_t window_ms = 30'000;    // per (user, conversation): at most one notification per window
  size_t max_pending = 10'000;   // messages waiting for the notifier thread; past it, dropped
  size_t max_windows = 100'000;  // coalescing windows remembered; past it, expired ones go
  size_t max_mentions = 20;      // distinct @names looked up per message
  bool webhook = false;          // a server-wide webhook is configured: make webhook jobs
  bool webpush = false;          // Web Push is on: make a job per push subscription
};

/// Decides who gets notified of a new message and enqueues the jobs (the rules of issue #4):
/// - only members other than the sender with no live connection on this node;
/// - not in a conversation they muted, unless the message mentions them (`@username`) and
///   they allow mentions to break through mutes (the default);
/// - at most one notification per (user, conversation) per window: the first message of a
///   quiet conversation notifies at once; later ones inside the window are folded into one
///   job at the window's end. The unread count is computed when the job is delivered, and a
///   job whose message has been read by then (on another device) sends nothing.
///
/// Threads: OnCommitted runs on the chat sequencer: it copies the message into a bounded
/// queue and returns (when full the message is dropped and counted: a lost notification,
/// never a stalled sequencer). One notifier thread applies the rules, which read the notify
/// store and enqueue into the durable queue, then calls `on_enqueued` (the dispatcher's Wake).
/// The coalescing windows live in memory only: after a restart a conversation may notify once
/// more than the window allows.
class Notifier {
 public:
  Notifier(JobQueue& queue, NotifyStore& store, AccountStore& accounts, ConnectionHub& hub,
           const Clock& clock, MetricsRegistry& metrics, NotifierOptions options,
           std::function<void()> on_enqueued);
  /// Handles what is queued, then stops the thread.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Start();
  /// The ChatService::OnMessageCommitted listener. Never blocks on I/O.
  void OnCommitted(const ChatService::CommittedMessage& committed);
  /// Applies the rules to one message on the calling thread. What the notifier thread runs;
  /// tests call it directly.
  void Handle(const ChatService::CommittedMessage& committed);

 private:
  struct Window {
    int64_t end_ms = 0;       // the next notification may run from here on
    int64_t last_run_ms = 0;  // run_at of the last job scheduled
  };

  /// When to notify `user` about a new message in `conv` at `now`, or nullopt when a job
  /// already scheduled covers it. Notifier thread only.
  std::optional<int64_t> Coalesce(const std::string& user, const std::string& conv, int64_t now);
  std::unordered_set<std::string> Mentioned(const std::string& body);
  void Loop();

  JobQueue& queue_;
  NotifyStore& store_;
  AccountStore& accounts_;
  ConnectionHub& hub_;
  const Clock& clock_;
  const NotifierOptions options_;
  std::function<void()> on_enqueued_;

  Counter& enqueued_;
  Counter& dropped_;
  Counter& muted_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<ChatService::CommittedMessage> pending_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                              // GUARDED_BY(mu_)

  std::unordered_map<std::string, Window> windows_;  // notifier thread only
  std::thread thread_;
};

/// The distinct usernames mentioned in `body`: "@name" where name is 3-32 of [a-z0-9_.-]
/// (case-insensitive, lower-cased here), not preceded by a name character (so e-mail
/// addresses are not mentions); trailing dots are punctuation. At most `max`.
std::vector<std::string> ParseMentions(std::string_view body, size_t max);

}  // namespace parley
