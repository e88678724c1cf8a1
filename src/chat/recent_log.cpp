#include "chat/recent_log.h"

#include <algorithm>
#include <functional>

namespace parley {

RecentLog::RecentLog(size_t per_conversation, size_t max_conversations)
    : per_conversation_(std::max<size_t>(1, per_conversation)),
      max_per_shard_(std::max<size_t>(1, max_conversations / kShards)) {}

RecentLog::Shard& RecentLog::ShardFor(std::string_view conv_id) const {
  return shards_[std::hash<std::string_view>{}(conv_id) % kShards];
}

void RecentLog::Append(const LogEntry& entry) {
  Shard& shard = ShardFor(entry.conv_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.runs.find(entry.conv_id);
  if (it == shard.runs.end()) {
    if (shard.runs.size() >= max_per_shard_) {
      auto oldest = std::min_element(
          shard.runs.begin(), shard.runs.end(),
          [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
      shard.runs.erase(oldest);
    }
    it = shard.runs.emplace(entry.conv_id, Run{}).first;
  }
  Run& run = it->second;
  if (!run.entries.empty() && run.entries.back().seq + 1 != entry.seq) run.entries.clear();
  run.entries.push_back(entry);
  if (run.entries.size() > per_conversation_) run.entries.pop_front();
  run.last_used = ++shard.clock;
}

void RecentLog::Update(const LogEntry& message) {
  Shard& shard = ShardFor(message.conv_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.runs.find(message.conv_id);
  if (it == shard.runs.end() || it->second.entries.empty()) return;
  auto& entries = it->second.entries;
  const int64_t first = entries.front().seq;
  if (message.seq < first || message.seq > entries.back().seq) return;
  entries[static_cast<size_t>(message.seq - first)] = message;
  if (message.deleted) {
    // As in storage: a delete takes the text of the message's earlier edits too.
    for (LogEntry& e : entries) {
      if (e.kind == EntryKind::kEdit && e.target_seq == message.seq) e.body.reset();
    }
  }
}

void RecentLog::Clear() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    shard.runs.clear();
  }
}

std::optional<LogPage> RecentLog::After(std::string_view conv_id, int64_t after_seq,
                                        int limit) const {
  Shard& shard = ShardFor(conv_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.runs.find(std::string(conv_id));
  if (it == shard.runs.end() || it->second.entries.empty()) return std::nullopt;
  Run& run = it->second;
  const int64_t first = run.entries.front().seq;
  const int64_t last = run.entries.back().seq;
  // Served only if nothing between after_seq and the first cached entry is missing.
  if (after_seq + 1 < first || after_seq > last) return std::nullopt;
  run.last_used = ++shard.clock;
  LogPage page;
  const size_t start = static_cast<size_t>(after_seq + 1 - first);
  const size_t end = std::min(run.entries.size(), start + static_cast<size_t>(std::max(limit, 0)));
  page.entries.assign(run.entries.begin() + static_cast<std::ptrdiff_t>(start),
                      run.entries.begin() + static_cast<std::ptrdiff_t>(end));
  page.has_more = end < run.entries.size();
  return page;
}

}  // namespace parley
