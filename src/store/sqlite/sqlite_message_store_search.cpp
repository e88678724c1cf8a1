// SqliteMessageStore: search, daily usage and the purge of erased text (see
// sqlite_search.h for the index's design).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_message_store.h"
#include "store/sqlite/sqlite_message_store_internal.h"
#include "store/sqlite/sqlite_search.h"

namespace parley {

using message_store_internal::AttachReactions;
using message_store_internal::BindAll;
using message_store_internal::BindAndRun;
using message_store_internal::Database;
using message_store_internal::InContext;
using message_store_internal::kMaxPage;
using message_store_internal::ReadEntry;
using message_store_internal::ReadStatements;
using message_store_internal::ScopedReset;
using message_store_internal::Snapshot;
using message_store_internal::Statement;
using message_store_internal::Transaction;

namespace message_store_internal {

// Indexes the messages that migration 5 left to index (search_backfill), in one transaction,
// then forgets the task. A no-op once done. The cost is one pass over the message rows, once.
Status BackfillSearchIndex(Database& db, const sqlite::SearchTokenizer& tokenizer) {
  Result<Transaction> txn = Transaction::Begin(db);
  if (!txn.ok()) return std::move(txn).error();
  int64_t up_to = 0;
  {
    Result<Statement> pending = db.Prepare("SELECT up_to FROM search_backfill");
    if (!pending.ok()) return std::move(pending).error();
    Result<bool> row = pending->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return Status::Ok();
    up_to = pending->ColumnInt64(0);
  }
  Result<Statement> rows = db.Prepare(
      "SELECT rowid, conv_id, body FROM entries WHERE rowid <= ?1 AND kind = 'message' "
      "AND deleted = 0 AND body IS NOT NULL");
  if (!rows.ok()) return std::move(rows).error();
  Result<Statement> index = db.Prepare("INSERT INTO search_index (rowid, terms) VALUES (?1, ?2)");
  if (!index.ok()) return std::move(index).error();
  if (Status st = rows->Bind(1, up_to); !st.ok()) return st;
  while (true) {
    Result<bool> row = rows->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    Result<std::string> terms = sqlite::IndexedText(
        tokenizer, sqlite::ConversationTag(rows->ColumnText(1)), rows->ColumnText(2));
    if (!terms.ok()) return std::move(terms).error();
    if (Status st = BindAndRun(*index, rows->ColumnInt64(0), *terms); !st.ok()) return st;
  }
  if (Status st = db.Exec("DELETE FROM search_backfill"); !st.ok()) return st;
  return txn->Commit();
}

}  // namespace message_store_internal

Result<uint64_t> SqliteMessageStore::PurgeDeletedText() {
  std::lock_guard lock(write_mu_);
  Database& db = *writer_->db;
  // Taken before the work: removals that commit while it runs are counted for the next purge.
  const uint64_t pending = text_removed_since_purge_.exchange(0);
  auto restore = [&] { text_removed_since_purge_.fetch_add(pending); };
  // With FTS5 secure-delete (SQLite 3.44+) removed terms are already gone from the index, and
  // only the WAL is left to clear; before it, only a full rewrite drops them.
  if (!fts_secure_delete_) {
    if (Status s = db.Exec("INSERT INTO search_index (search_index) VALUES ('optimize')");
        !s.ok()) {
      restore();
      return InContext(s.error(), "optimizing the search index");
    }
  }
  Result<Statement> checkpoint = db.Prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  if (!checkpoint.ok()) {
    restore();
    return std::move(checkpoint).error();
  }
  Result<bool> row = checkpoint->Step();
  if (!row.ok()) {
    restore();
    return std::move(row).error();
  }
  // The row is (busy, wal frames, frames checkpointed); busy means a reader was in the way.
  if (*row && checkpoint->ColumnInt64(0) != 0) {
    restore();
    return Error::Unavailable("the WAL could not be truncated: a reader is using it");
  }
  return pending;
}

Result<SearchPage> SqliteMessageStore::Search(std::string_view user_id, std::string_view query,
                                              int limit, int64_t before,
                                              const SearchBounds& bounds) {
  limit = std::clamp(limit, 1, kMaxPage);
  if (before <= 0) before = std::numeric_limits<int64_t>::max();

  ReadLease lease = Borrow();
  ReadConnection& connection = lease.connection();
  Result<sqlite::SearchQuery> parsed = sqlite::ParseSearchQuery(*connection.tokenizer, query);
  if (!parsed.ok()) return std::move(parsed).error();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  SearchPage page;
  std::vector<std::string> conversations;
  {
    Statement& stmt = s.search_conversations;
    ScopedReset reset(stmt);
    const int64_t most = static_cast<int64_t>(std::min<size_t>(bounds.max_conversations, 1 << 30));
    if (Status st = BindAll(stmt, user_id, most + 1); !st.ok()) return st.error();
    while (true) {
      Result<bool> row = stmt.Step();
      if (!row.ok()) return std::move(row).error();
      if (!*row) break;
      conversations.push_back(stmt.ColumnText(0));
    }
    if (conversations.size() > bounds.max_conversations) {
      conversations.resize(bounds.max_conversations);
      page.truncated = true;
    }
  }
  if (parsed->phrases.empty()) return page;

  // The deadline: SQLite calls the handler every kProgressSteps virtual machine instructions
  // (tens of microseconds), and a non-zero answer interrupts the running statement.
  constexpr int kProgressSteps = 1000;
  connection.deadline = bounds.deadline;
  connection.interrupted = false;
  sqlite3* handle = lease.db().native_handle();
  sqlite3_progress_handler(
      handle, kProgressSteps,
      [](void* context) -> int {
        auto* c = static_cast<ReadConnection*>(context);
        if (std::chrono::steady_clock::now() < c->deadline) return 0;
        c->interrupted = true;
        return 1;
      },
      &connection);
  struct ClearHandler {
    sqlite3* handle;
    ~ClearHandler() { sqlite3_progress_handler(handle, 0, nullptr, nullptr); }
  } clear_handler{handle};

  // Each conversation's newest `limit` matches; once `limit` are held, a conversation need only
  // look above the oldest of them, so later queries stop sooner.
  //
  // Why windows: FTS5 evaluates a MATCH inside the virtual table, where neither the progress
  // handler nor sqlite3_interrupt() reaches, so one statement over a big conversation cannot be
  // stopped (an AND of two frequent words that never meet walks both doclists to the end). So
  // each conversation is read in rowid windows, newest first, the deadline checked between
  // them; a window grows 4x while windows stay quick (a sparse conversation needs few), and
  // shrinks when one is slow, so one window costs a few milliseconds at most.
  constexpr auto kQuickWindow = std::chrono::milliseconds(2);
  constexpr auto kSlowWindow = std::chrono::milliseconds(8);
  std::vector<SearchHit> hits;
  int64_t floor = 0;
  int64_t window = 2048;
  bool stop = false;
  for (const std::string& conv_id : conversations) {
    if (stop) break;
    int64_t first = 0;
    int64_t last = 0;
    {
      Statement& stmt = s.conversation_rowids;
      ScopedReset reset(stmt);
      if (Status st = stmt.Bind(1, conv_id); !st.ok()) return st.error();
      Result<bool> row = stmt.Step();
      if (!row.ok()) return std::move(row).error();
      if (!*row || stmt.ColumnIsNull(0)) continue;  // an empty log
      first = stmt.ColumnInt64(0);
      last = stmt.ColumnInt64(1);
    }
    const std::string match = sqlite::MatchExpression(*parsed, sqlite::ConversationTag(conv_id));
    // Rows in (low, high) are searched next; `high` moves down window by window.
    int64_t high = std::min(before, last + 1);
    size_t found_here = 0;
    while (high > first && high - 1 > floor && found_here < static_cast<size_t>(limit)) {
      if (std::chrono::steady_clock::now() >= bounds.deadline) {
        page.truncated = true;
        stop = true;
        break;
      }
      const int64_t low = std::max({floor, first - 1, high - 1 - window});
      const auto started = std::chrono::steady_clock::now();
      // The newest `need` matches of the window.
      const size_t need = static_cast<size_t>(limit) - found_here;
      std::deque<int64_t> rowids;
      {
        Statement& stmt = s.search_in_conversation;
        ScopedReset reset(stmt);
        if (Status st = BindAll(stmt, match, low, high); !st.ok()) return st.error();
        while (true) {
          Result<bool> row = stmt.Step();
          if (!row.ok()) {
            if (!connection.interrupted) return std::move(row).error();
            page.truncated = true;
            stop = true;
            break;
          }
          if (!*row) break;
          rowids.push_back(stmt.ColumnInt64(0));
          if (rowids.size() > need) rowids.pop_front();
        }
      }
      for (auto it = rowids.rbegin(); it != rowids.rend(); ++it) {
        Statement& stmt = s.search_hit;
        ScopedReset reset(stmt);
        if (Status st = BindAll(stmt, *it, conv_id); !st.ok()) return st.error();
        Result<bool> row = stmt.Step();
        if (!row.ok()) return std::move(row).error();
        if (!*row) continue;
        Result<LogEntry> entry = ReadEntry(stmt);
        if (!entry.ok()) return std::move(entry).error();
        hits.push_back(SearchHit{.message = std::move(*entry), .cursor = *it});
        ++found_here;
      }
      if (stop) break;
      high = low + 1;
      const auto took = std::chrono::steady_clock::now() - started;
      if (took < kQuickWindow && window < (int64_t{1} << 40)) window *= 4;
      if (took > kSlowWindow && window > 256) window /= 4;
    }
    if (hits.size() >= static_cast<size_t>(limit)) {
      std::sort(hits.begin(), hits.end(),
                [](const SearchHit& a, const SearchHit& b) { return a.cursor > b.cursor; });
      hits.resize(static_cast<size_t>(limit));
      floor = hits.back().cursor;
    }
  }
  std::sort(hits.begin(), hits.end(),
            [](const SearchHit& a, const SearchHit& b) { return a.cursor > b.cursor; });
  if (hits.size() > static_cast<size_t>(limit)) hits.resize(static_cast<size_t>(limit));
  // At most `limit` small queries: not worth a deadline, and a page without its reactions
  // would show a wrong state.
  sqlite3_progress_handler(handle, 0, nullptr, nullptr);
  for (SearchHit& hit : hits) {
    if (Status st = AttachReactions(s, hit.message.conv_id, {&hit.message}); !st.ok()) {
      return st.error();
    }
  }
  page.hits = std::move(hits);
  return page;
}

Result<std::vector<DailyUsage>> SqliteMessageStore::UsageOfDay(int64_t day) {
  ReadLease lease = Borrow();
  Statement& stmt = lease.statements().usage_of_day;
  ScopedReset reset(stmt);
  if (Status st = stmt.Bind(1, day); !st.ok()) return st.error();
  std::vector<DailyUsage> usage;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    usage.push_back(DailyUsage{.user_id = stmt.ColumnText(0),
                               .day = day,
                               .entries = stmt.ColumnInt64(1),
                               .bytes = stmt.ColumnInt64(2)});
  }
  return usage;
}

}  // namespace parley
