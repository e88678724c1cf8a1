#include "hub/connection_hub.h"

#include <functional>

namespace parley {

ConnectionHub::Shard& ConnectionHub::ShardFor(std::string_view user_id) {
  return shards_[std::hash<std::string_view>{}(user_id) % kShards];
}

const ConnectionHub::Shard& ConnectionHub::ShardFor(std::string_view user_id) const {
  return shards_[std::hash<std::string_view>{}(user_id) % kShards];
}

void ConnectionHub::Add(const std::shared_ptr<Connection>& connection) {
  (void)TryAdd(connection, Caps{});
}

ConnectionHub::AddResult ConnectionHub::TryAdd(const std::shared_ptr<Connection>& connection,
                                               Caps caps) {
  Shard& shard = ShardFor(connection->user_id());
  bool first = false;
  {
    std::lock_guard lock(shard.mu);
    auto& list = shard.users[connection->user_id()];
    first = list.empty();
    if (caps.per_user != 0 || caps.per_device != 0) {
      // Connections that died without being removed yet do not count against the caps.
      size_t of_user = 0;
      size_t of_device = 0;
      for (const auto& weak : list) {
        auto live = weak.lock();
        if (!live) continue;
        ++of_user;
        if (live->device_id() == connection->device_id()) ++of_device;
      }
      const bool user_full = caps.per_user != 0 && of_user >= caps.per_user;
      const bool device_full = caps.per_device != 0 && of_device >= caps.per_device;
      if (user_full || device_full) {
        if (list.empty()) shard.users.erase(connection->user_id());
        return user_full ? AddResult::kTooManyForUser : AddResult::kTooManyForDevice;
      }
    }
    list.push_back(connection);
  }
  ConnectionObserver* observer = observer_.load();
  if (first && observer != nullptr) observer->OnUserConnected(connection->user_id());
  return AddResult::kAdded;
}

void ConnectionHub::Remove(const Connection& connection) {
  Shard& shard = ShardFor(connection.user_id());
  bool found = false;
  bool last = false;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.users.find(connection.user_id());
    if (it == shard.users.end()) return;
    auto& list = it->second;
    // Drop this connection and any that already died without being removed.
    std::erase_if(list, [&](const std::weak_ptr<Connection>& weak) {
      auto strong = weak.lock();
      const bool self = strong.get() == &connection;
      found = found || self;
      return !strong || self;
    });
    // The user's entry exists exactly while they have connections here, so its erasure is
    // the 1 -> 0 that pairs with the 0 -> 1 of its creation.
    if (list.empty()) {
      shard.users.erase(it);
      last = true;
    }
  }
  ConnectionObserver* observer = observer_.load();
  if (observer == nullptr) return;
  if (found) observer->OnConnectionRemoved(connection);
  if (last) observer->OnUserDisconnected(connection.user_id());
}

template <class Visit>
bool ConnectionHub::ForEachLive(std::string_view user_id, Visit&& visit) const {
  const Shard& shard = ShardFor(user_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end()) return true;
  for (const auto& weak : it->second) {
    auto strong = weak.lock();
    if (strong && !visit(std::move(strong))) return false;
  }
  return true;
}

std::vector<std::shared_ptr<Connection>> ConnectionHub::Snapshot(std::string_view user_id) const {
  std::vector<std::shared_ptr<Connection>> out;
  ForEachLive(user_id, [&](std::shared_ptr<Connection> connection) {
    out.push_back(std::move(connection));
    return true;
  });
  return out;
}

size_t ConnectionHub::SendToUser(std::string_view user_id, const Frame& frame,
                                 const Connection* except) {
  // Delivered under the shard's lock: Deliver only queues (Connection's contract), and a
  // fan-out to a group calls this once per member, where a copied list per call was a heap
  // allocation per recipient.
  size_t delivered = 0;
  ForEachLive(user_id, [&](const std::shared_ptr<Connection>& connection) {
    if (connection.get() != except) {
      connection->Deliver(frame);
      ++delivered;
    }
    return true;
  });
  return delivered;
}

void ConnectionHub::CloseDevice(std::string_view user_id, std::string_view device_id, int code,
                                const std::string& reason) {
  for (const auto& connection : Snapshot(user_id)) {
    if (connection->device_id() == device_id) connection->Close(code, reason);
  }
}

void ConnectionHub::CloseAll(int code, const std::string& reason) {
  std::vector<std::shared_ptr<Connection>> all;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [user, list] : shard.users) {
      for (const auto& weak : list) {
        if (auto strong = weak.lock()) all.push_back(std::move(strong));
      }
    }
  }
  for (const auto& connection : all) connection->Close(code, reason);
}

size_t ConnectionHub::ConnectionCount() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [user, list] : shard.users) n += list.size();
  }
  return n;
}

size_t ConnectionHub::ConnectionsOfUser(std::string_view user_id) const {
  return Snapshot(user_id).size();
}

bool ConnectionHub::IsConnected(std::string_view user_id) const {
  // Stopped by the first live connection.
  return !ForEachLive(user_id, [](const std::shared_ptr<Connection>&) { return false; });
}

}  // namespace parley
