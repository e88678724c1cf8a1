#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "presence/presence_store.h"
#include "store/last_seen_store.h"

namespace parley {

/// The embedded PresenceStore: one node, live state in memory, last_seen persisted through a
/// LastSeenStore (SQLite) in batches.
///
/// Memory: an entry per user who is connected, announced online, or whose last_seen is not
/// yet flushed; Flush() forgets the rest, whose last_seen is then read back from storage.
///
/// Thread-safety: all methods may be called from any thread; one mutex guards the map and is
/// never held across storage I/O.
class LocalPresenceStore final : public PresenceStore {
 public:
  explicit LocalPresenceStore(LastSeenStore& last_seen);

  Result<int> SetConnectedHere(std::string_view user_id, bool connected, int64_t now_ms) override;
  Status Publish(const PresenceInfo& info) override;
  Result<std::vector<PresenceInfo>> Get(const std::vector<std::string>& user_ids) override;
  /// One LastSeenStore::SaveLastSeen with every value recorded since the last Flush. On
  /// failure they stay pending for the next one.
  Status Flush() override;

  /// Users held in memory (for tests and the benchmark).
  size_t EntriesForTest() const;

 private:
  struct Entry {
    bool connected = false;
    PresenceInfo shown;  // what was announced; offline with last_seen 0 if nothing yet
    bool has_shown = false;
    int64_t last_seen_ms = 0;  // newest recorded, flushed or not
    int64_t dirty_ms = 0;      // to write at the next Flush; 0: nothing pending
  };
  static void Touch(Entry& entry, int64_t ms);
  static bool Forgettable(const Entry& entry) {
    return !entry.connected && !entry.shown.online && entry.dirty_ms == 0;
  }

  LastSeenStore& last_seen_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
};

}  // namespace parley
