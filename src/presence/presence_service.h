#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "presence/contacts_cache.h"
#include "presence/presence_store.h"
#include "presence/task_runner.h"
#include "store/message_store.h"

namespace parley {

struct PresenceOptions {
  /// An offline is announced only once it has lasted this long, and a user's state is
  /// announced at most once per this period (later changes wait, and only the state at the
  /// end of the wait is announced). 0 announces every change at once.
  int64_t grace_ms = 5'000;
  /// Presence is pushed to the co-members of groups of at most this many members (direct
  /// conversations always); larger groups subscribe explicitly.
  int max_group_size = 100;
  /// At most this many users are considered per announced change (direct peers, then
  /// explicit subscribers, then small-group co-members); each gets one frame per device.
  size_t max_fanout = 1'000;
  /// Users one connection may subscribe to, and users one query may ask about.
  size_t max_subscriptions = 200;
  size_t max_text_bytes = 64;
  /// Contact lists kept for the next change of the same user (disconnect, away, a flap). Sized
  /// for the users whose state changes at about the same time, not for everyone online: a list
  /// of a member of a few 100-member groups is ~8 KB, more than the connection itself
  /// (docs/BENCHMARKS.md, W1). A miss costs one ListContacts read on the presence thread.
  size_t contacts_cache_users = 2'048;
  /// last_seen is written to storage in one batch at most this often (and at shutdown).
  int64_t flush_interval_ms = 1'000;
  /// Client requests (status, subscriptions) are refused `unavailable` while this many tasks
  /// wait for the presence thread. Connection changes are always queued: dropping one would
  /// leave a user's presence wrong, and the gateway's accept rate bounds them.
  size_t max_queue = 100'000;
};

/// Who is online, and who is told: the rules of presence on one node.
///
/// - A user is online while at least one of their connections is in the hub (a closed
///   socket, a dead TCP connection and a heartbeat timeout all end in ConnectionHub::Remove).
/// - Coalescing: an offline is announced only if the user is still offline `grace_ms` after
///   their last connection went, so a reconnect within the grace period sends nothing; and a
///   user's state is announced at most once per `grace_ms`. A device that flaps, or a client
///   that toggles `away`, costs its contacts at most one event per grace period.
/// - Visibility: an announcement goes to the user's contacts (direct peers and co-members of
///   groups of at most `max_group_size`) and to the connections that subscribed to the user,
///   at most `max_fanout` users per change. The frame is serialized once.
/// - Queries and subscriptions see only users who share a conversation (of any size) with
///   the asker, and the asker themselves.
///
/// Threads: every rule runs on the TaskRunner's one thread, which owns all the state below
/// without locks; public methods post to it and return at once, except Query (blocking, any
/// thread). That thread may block on storage (contacts on a cache miss, visibility checks,
/// the batched last_seen flush), never an io thread.
///
/// Registers itself as the hub's observer on construction. Construct it after the hub and
/// the stores and destroy it before them; call Shutdown() once no connection can come or go.
class PresenceService final : public ConnectionObserver {
 public:
  PresenceService(PresenceStore& store, MessageStore& messages, ConnectionHub& hub,
                  const Clock& clock, MetricsRegistry& metrics, std::unique_ptr<TaskRunner> runner,
                  PresenceOptions options);
  ~PresenceService() override;  // Shutdown()
  PresenceService(const PresenceService&) = delete;
  PresenceService& operator=(const PresenceService&) = delete;

  /// Leaves the hub, runs what is already posted, drops the pending announcements (the node
  /// is going away) and flushes last_seen. Idempotent; call from one thread.
  void Shutdown();

  // ConnectionObserver: any thread, non-blocking.
  void OnUserConnected(const std::string& user_id) override;
  void OnUserDisconnected(const std::string& user_id) override;
  void OnConnectionRemoved(const Connection& connection) override;

  /// Hears of every committed message-store batch (SqliteMessageStore::OnApplied): membership
  /// changes invalidate cached contacts. Any thread, non-blocking.
  void OnMessagesApplied(const std::vector<Mutation>& batch);

  /// Status text rules: at most max_text_bytes of UTF-8, and CheckVisibleText (no control,
  /// bidi or invisible characters).
  Status CheckText(std::string_view text) const;

  /// Sets `user_id`'s away flag and status text (any device of the user may). `done` runs on
  /// the presence thread once the change is applied; the announcement may come later.
  void SetStatus(std::string user_id, bool away, std::string text,
                 std::function<void(Status)> done);

  /// Replaces the subscriptions of `connection` with `users` (at most max_subscriptions; an
  /// empty list ends them). Users the connection's user may not see are left out. `done`
  /// runs on the presence thread with the current state of the users subscribed to, in the
  /// order asked; every change announced after that reaches the connection. The
  /// subscriptions end with the connection.
  using SubscribeDone = std::function<void(Result<std::vector<PresenceInfo>>)>;
  void Subscribe(std::shared_ptr<Connection> connection, std::vector<std::string> users,
                 SubscribeDone done);

  /// The presence of those of `users` that `viewer` may see, in the order asked, each once.
  /// At most max_subscriptions users. Blocking; any thread.
  Result<std::vector<PresenceInfo>> Query(const std::string& viewer,
                                          const std::vector<std::string>& users);

  const PresenceOptions& options() const { return options_; }

 private:
  /// One user's presence as this node sees it: the truth, what they asked for, and what was
  /// announced. Kept while the user is connected or an announcement is pending.
  struct UserState {
    bool here = false;          // this node holds a connection of theirs (as the hub said)
    bool online = false;        // connected on some node (the store's count)
    int64_t offline_since = 0;  // when `online` last became false
    bool away = false;          // as the user asked
    std::string text;
    bool shown_online = false;  // as last announced
    bool shown_away = false;
    std::string shown_text;
    int64_t last_announce_ms = 0;  // 0: never
    int64_t timer_ms = 0;          // due time of the earliest pending timer; 0: none
  };
  struct Subscription {
    std::weak_ptr<Connection> connection;
    std::string user_id;  // the connection's user, the viewer
    std::vector<std::string> users;
  };
  struct Metrics {
    explicit Metrics(MetricsRegistry& registry);
    Counter& changes;
    Counter& events;
    Histogram& recipients;
    Counter& capped;
    Counter& coalesced;
    Counter& contacts_hits;
    Counter& contacts_misses;
    Counter& errors;
    Gauge& online;
    Counter& revoked;
  };

  Status Admit() const;  // a client request may be queued

  // Presence-thread only.
  void Recheck(const std::string& user_id);
  void Evaluate(const std::string& user_id, UserState& state, int64_t now);
  void Announce(const std::string& user_id, UserState& state, int64_t now);
  void FanOut(const PresenceInfo& info);
  void Arm(const std::string& user_id, UserState& state, int64_t due);
  void OnTimer(const std::string& user_id, int64_t due);
  void ScheduleFlush(int64_t now);
  void Unsubscribe(const std::string& session_id);
  /// Ends the watch of `watched_user` by `session_id` (the whole subscription if it was the
  /// last user in it).
  void DropWatch(const std::string& session_id, const std::string& watched_user);
  /// `user_id` left or was removed from a conversation: every subscription to them, and every
  /// one of theirs, is kept only for users they still share a conversation with (issue 17 #7:
  /// a subscription outlived the removal that ended the shared conversation).
  void RecheckSubscriptions(const std::string& user_id);
  Result<std::vector<std::string>> Visible(const std::string& viewer,
                                           const std::vector<std::string>& users);
  void CountContactsCache();

  PresenceStore& store_;
  MessageStore& messages_;
  ConnectionHub& hub_;
  const Clock& clock_;
  Metrics metrics_;
  PresenceOptions options_;
  std::unique_ptr<TaskRunner> runner_;
  std::atomic<bool> shut_down_{false};

  // Owned by the presence thread.
  std::unordered_map<std::string, UserState> users_;
  ContactsCache contacts_;
  uint64_t counted_hits_ = 0;
  uint64_t counted_misses_ = 0;
  std::unordered_map<std::string, Subscription> subscriptions_;  // by session id
  // viewer user id -> their sessions in subscriptions_.
  std::unordered_map<std::string, std::unordered_set<std::string>> sessions_of_;
  // watched user -> session id -> connection.
  std::unordered_map<std::string, std::unordered_map<std::string, std::weak_ptr<Connection>>>
      watchers_;
  bool flush_armed_ = false;
};

}  // namespace parley
