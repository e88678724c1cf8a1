#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley {

/// A user's presence as others are told it: the announced, coalesced state (see
/// PresenceService), not the raw state of their sockets.
struct PresenceInfo {
  std::string user_id;
  bool online = false;
  bool away = false;  // set by the user; only while online
  std::string text;   // the user's status text, "" for none; only while online
  /// Online: when this state was announced. Offline: when the user's last connection went.
  /// 0: never seen. It only grows from one announcement of a user to the next, so a client
  /// that holds a newer (or equal) last_seen can drop an older state.
  int64_t last_seen_ms = 0;
};

/// Where presence lives between the nodes of a deployment and across restarts.
///
/// Embedded: LocalPresenceStore (src/presence/local): in memory, with last_seen persisted in
/// SQLite. A cluster implements the same interface on Redis: each node reports its own users
/// (SetConnectedHere), the store counts the nodes a user is connected on, and the announced
/// state is what any node answers queries from.
///
/// Thread-safety: every method may be called from any thread. Methods may block on I/O
/// (the SQLite or Redis round trip), so callers keep them off io threads.
class PresenceStore {
 public:
  virtual ~PresenceStore() = default;

  /// Records whether this node holds at least one live connection of `user_id` (its hub's
  /// count went 0 -> 1 or 1 -> 0) at `now_ms`, which is also recorded as the user's
  /// last_seen. Returns on how many nodes the user is connected after the change (the
  /// embedded store knows one node: 0 or 1). Reporting the same state twice changes nothing.
  virtual Result<int> SetConnectedHere(std::string_view user_id, bool connected,
                                       int64_t now_ms) = 0;

  /// Records the state that was just announced for `info.user_id`; later Get calls answer it.
  virtual Status Publish(const PresenceInfo& info) = 0;

  /// The announced state of each user, in the order asked. A user with no announced state
  /// (never connected since the process started) is offline with the persisted last_seen.
  virtual Result<std::vector<PresenceInfo>> Get(const std::vector<std::string>& user_ids) = 0;

  /// Makes the last_seen values recorded so far durable. Implementations may batch writes
  /// until this is called; the presence service calls it about once a second and at shutdown.
  virtual Status Flush() = 0;
};

}  // namespace parley
