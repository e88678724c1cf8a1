#include "presence/local/local_presence_store.h"

#include <algorithm>
#include <utility>

namespace parley {

LocalPresenceStore::LocalPresenceStore(LastSeenStore& last_seen) : last_seen_(last_seen) {}

void LocalPresenceStore::Touch(Entry& entry, int64_t ms) {
  entry.last_seen_ms = std::max(entry.last_seen_ms, ms);
  entry.dirty_ms = std::max(entry.dirty_ms, ms);
}

Result<int> LocalPresenceStore::SetConnectedHere(std::string_view user_id, bool connected,
                                                 int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(user_id));
  if (it == entries_.end()) {
    if (!connected) return 0;  // not known here, so not connected here: nothing changes
    it = entries_.emplace(std::string(user_id), Entry{}).first;
  }
  Entry& entry = it->second;
  if (entry.connected != connected) {
    entry.connected = connected;
    Touch(entry, now_ms);
  }
  return connected ? 1 : 0;
}

Status LocalPresenceStore::Publish(const PresenceInfo& info) {
  std::lock_guard lock(mu_);
  Entry& entry = entries_[info.user_id];
  entry.shown = info;
  entry.has_shown = true;
  Touch(entry, info.last_seen_ms);
  return Status::Ok();
}

Result<std::vector<PresenceInfo>> LocalPresenceStore::Get(
    const std::vector<std::string>& user_ids) {
  std::vector<PresenceInfo> out(user_ids.size());
  std::vector<std::string> unknown;
  std::vector<size_t> unknown_at;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < user_ids.size(); ++i) {
      auto it = entries_.find(user_ids[i]);
      if (it != entries_.end() && it->second.has_shown) {
        out[i] = it->second.shown;
        continue;
      }
      out[i].user_id = user_ids[i];
      if (it != entries_.end() && it->second.last_seen_ms > 0) {
        out[i].last_seen_ms = it->second.last_seen_ms;
        continue;
      }
      unknown.push_back(user_ids[i]);
      unknown_at.push_back(i);
    }
  }
  if (unknown.empty()) return out;
  Result<std::vector<int64_t>> stored = last_seen_.LoadLastSeen(unknown);
  if (!stored.ok()) return std::move(stored).error();
  for (size_t k = 0; k < unknown_at.size() && k < stored->size(); ++k) {
    PresenceInfo& info = out[unknown_at[k]];
    // A value recorded in memory while storage was being read is newer.
    info.last_seen_ms = std::max(info.last_seen_ms, (*stored)[k]);
  }
  return out;
}

Status LocalPresenceStore::Flush() {
  std::vector<std::pair<std::string, int64_t>> batch;
  {
    std::lock_guard lock(mu_);
    for (auto& [user_id, entry] : entries_) {
      if (entry.dirty_ms == 0) continue;
      batch.emplace_back(user_id, entry.dirty_ms);
      entry.dirty_ms = 0;
    }
  }
  if (batch.empty()) return Status::Ok();
  Status saved = last_seen_.SaveLastSeen(batch);
  std::lock_guard lock(mu_);
  for (const auto& [user_id, ms] : batch) {
    auto it = entries_.find(user_id);
    if (it == entries_.end()) continue;
    Entry& entry = it->second;
    if (!saved.ok()) {
      entry.dirty_ms = std::max(entry.dirty_ms, ms);  // try again next time
    } else if (Forgettable(entry)) {
      // Offline and on disk: Get reads it back from storage from now on.
      entries_.erase(it);
    }
  }
  return saved;
}

size_t LocalPresenceStore::EntriesForTest() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace parley
