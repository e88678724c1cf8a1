#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/connection.h"

namespace parley {

/// Who is connected to this node: user -> their live connections. The gateway adds a
/// connection once it has authenticated and removes it when it ends; services deliver to
/// users through it.
///
/// Thread-safety: all methods may be called from any thread. The map is sharded by user id,
/// each shard under its own mutex, and no lock is held while calling into a Connection.
class ConnectionHub {
 public:
  void Add(const std::shared_ptr<Connection>& connection);
  void Remove(const Connection& connection);

  /// Delivers `frame` to every connection of `user_id` except `except` (may be null).
  void SendToUser(std::string_view user_id, const Frame& frame, const Connection* except = nullptr);
  /// Closes every connection of that device (logout, revoked session).
  void CloseDevice(std::string_view user_id, std::string_view device_id, int code,
                   const std::string& reason);
  /// Closes every connection (shutdown).
  void CloseAll(int code, const std::string& reason);

  size_t ConnectionCount() const;
  size_t ConnectionsOfUser(std::string_view user_id) const;

 private:
  static constexpr size_t kShards = 32;
  struct Shard {
    mutable std::mutex mu;
    // user id -> that user's connections; weak so that a dying session is never kept alive.
    std::unordered_map<std::string, std::vector<std::weak_ptr<Connection>>> users;  // GUARDED_BY(mu)
  };

  Shard& ShardFor(std::string_view user_id);
  const Shard& ShardFor(std::string_view user_id) const;
  std::vector<std::shared_ptr<Connection>> Snapshot(std::string_view user_id) const;

  std::array<Shard, kShards> shards_;
};

}  // namespace parley
