#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/connection.h"

namespace parley {

/// Hears about the hub's membership changes: presence (src/presence) is built on these.
///
/// Called on the thread that called ConnectionHub::Add/Remove, after the change and outside
/// the hub's locks, so a callback may call back into the hub. Callbacks must be quick and must
/// not block: hand the work off. For one user, OnUserConnected and OnUserDisconnected always
/// alternate in the hub, but when an Add and a Remove of the same user race on two threads,
/// their callbacks may run in either order: an observer that needs the truth reads
/// ConnectionHub::ConnectionsOfUser() when it handles the call.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  /// `user_id` has its first live connection on this node (0 -> 1).
  virtual void OnUserConnected(const std::string& user_id) = 0;
  /// The last connection of `user_id` on this node has left the hub (1 -> 0).
  virtual void OnUserDisconnected(const std::string& user_id) = 0;
  /// `connection` has left the hub (every Remove of a connection the hub held).
  virtual void OnConnectionRemoved(const Connection& connection) = 0;
};

/// Who is connected to this node: user -> their live connections. The gateway adds a
/// connection once it has authenticated and removes it when it ends; services deliver to
/// users through it.
///
/// Thread-safety: all methods may be called from any thread. The map is sharded by user id,
/// each shard under its own mutex. SendToUser calls Connection::Deliver under its shard's lock
/// (Deliver only queues and never calls back into the hub); Close and the observer are called
/// with no lock held.
class ConnectionHub {
 public:
  /// Bounds on one user's live connections on this node; 0 means no bound.
  struct Caps {
    size_t per_user = 0;
    size_t per_device = 0;
  };
  enum class AddResult { kAdded, kTooManyForUser, kTooManyForDevice };

  void Add(const std::shared_ptr<Connection>& connection);
  /// Adds `connection` unless its user or its device already holds `caps` live connections
  /// here; checked and added under one lock, so racing connects cannot pass the bound together.
  [[nodiscard]] AddResult TryAdd(const std::shared_ptr<Connection>& connection, Caps caps);
  void Remove(const Connection& connection);

  /// Sets the one observer (nullptr: none). Not owned. Set it before the first Add, and clear
  /// it (or destroy the hub) only when no Add or Remove can run any more.
  void SetObserver(ConnectionObserver* observer) { observer_.store(observer); }

  /// Delivers `frame` to every connection of `user_id` except `except` (may be null).
  /// Returns how many connections it was handed to.
  size_t SendToUser(std::string_view user_id, const Frame& frame,
                    const Connection* except = nullptr);
  /// Closes every connection of that device (logout, revoked session).
  void CloseDevice(std::string_view user_id, std::string_view device_id, int code,
                   const std::string& reason);
  /// Closes every connection (shutdown).
  void CloseAll(int code, const std::string& reason);

  size_t ConnectionCount() const;
  size_t ConnectionsOfUser(std::string_view user_id) const;
  /// Whether `user_id` has a live connection here: ConnectionsOfUser() > 0 without copying the
  /// list (the notifier asks this for every member of every message).
  bool IsConnected(std::string_view user_id) const;

 private:
  static constexpr size_t kShards = 32;
  // Lets find() take a string_view without building a std::string per lookup.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  struct Shard {
    mutable std::mutex mu;
    // user id -> that user's connections; weak so that a dying session is never kept alive.
    std::unordered_map<std::string, std::vector<std::weak_ptr<Connection>>, IdHash,
                       std::equal_to<>>
        users;  // GUARDED_BY(mu)
  };

  Shard& ShardFor(std::string_view user_id);
  const Shard& ShardFor(std::string_view user_id) const;
  std::vector<std::shared_ptr<Connection>> Snapshot(std::string_view user_id) const;
  /// Calls `visit(connection)` for each live connection of `user_id`, under its shard's lock,
  /// until it returns false. Returns false if a visit stopped it.
  template <class Visit>
  bool ForEachLive(std::string_view user_id, Visit&& visit) const;

  std::array<Shard, kShards> shards_;
  std::atomic<ConnectionObserver*> observer_{nullptr};
};

}  // namespace parley
