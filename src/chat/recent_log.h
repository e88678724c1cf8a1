#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/message_store.h"

namespace parley {

/// The newest entries of recently active conversations, in their current state, so that the
/// common history read ("what came after the seq I hold", right after a reconnect) is served
/// from memory instead of storage.
///
/// The sequencer is the only writer: it calls Append/Update after a batch is durable, so the
/// cache never holds anything that is not in the store. For each conversation it holds a
/// contiguous run of seqs ending at the newest one it has seen; a read is served only when
/// that run covers it completely, otherwise the caller reads the store.
///
/// Thread-safety: all methods may be called from any thread; the map is sharded, each shard
/// under its own mutex. Bounded: at most `per_conversation` entries per conversation and
/// `max_conversations` conversations (past that, a shard forgets its oldest conversation).
class RecentLog {
 public:
  RecentLog(size_t per_conversation, size_t max_conversations);

  /// Records a new entry. `seq` must follow the newest cached one; otherwise (a gap, e.g. the
  /// conversation was not cached before) the conversation's run restarts at this entry.
  void Append(const LogEntry& entry);
  /// Replaces the cached state of a message (after an edit, delete or reaction), if cached.
  void Update(const LogEntry& message);
  /// Drops everything (after a failed commit, when memory and storage may disagree).
  void Clear();

  /// Entries with seq > after_seq, ascending, at most `limit`; nullopt when the cache does not
  /// hold every entry from after_seq + 1 up to the newest.
  std::optional<LogPage> After(std::string_view conv_id, int64_t after_seq, int limit) const;

 private:
  static constexpr size_t kShards = 16;
  struct Run {
    std::deque<LogEntry> entries;  // contiguous seqs, ascending
    uint64_t last_used = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Run> runs;  // GUARDED_BY(mu)
    uint64_t clock = 0;                         // GUARDED_BY(mu)
  };

  Shard& ShardFor(std::string_view conv_id) const;

  size_t per_conversation_;
  size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace parley
