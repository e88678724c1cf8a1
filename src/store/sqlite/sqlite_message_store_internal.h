#pragma once

// The parts of SqliteMessageStore's implementation that its .cpp files share: prepared
// statements, connections, the read lease and snapshot, binding helpers. Not an interface:
// include it only from sqlite_message_store*.cpp.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_message_store.h"
#include "store/sqlite/sqlite_search.h"

namespace parley {
namespace message_store_internal {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

inline constexpr int kMaxPage = 200;
inline constexpr int64_t kMsPerDay = 86'400'000;

struct WriteStatements {
  Database* db = nullptr;  // the connection they belong to
  Statement insert_conversation;
  Statement upsert_member;
  Statement insert_entry;
  Statement bump_conversation;
  Statement index_body;
  Statement unindex_body;
  Statement find_message;
  Statement update_message;
  Statement erase_edit_bodies;
  Statement erase_reactions;
  Statement add_reaction;
  Statement remove_reaction;
  Statement remove_member;
  Statement set_title;
  Statement advance_member;
  Statement add_usage;

  // Bodies written in the batch being applied, (sender, day) -> (entries, bytes): one upsert
  // of usage_daily per sender and batch.
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> usage;
  // Read and delivered positions of the batch being applied, (conv, user) -> highest of each,
  // written as one UPDATE per member (a busy sender moves both once per batch, not twice per
  // message). They only move forward, so they commute with appends; they are written before
  // any other kind of change (membership) and at the end of the batch.
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> member_positions;
  // Search-index changes of the batch being applied, run after all its other statements.
  // FTS5 writes its pending terms out as a new index segment whenever another statement
  // opens a savepoint; interleaved, that was a segment per message (28% of a message's cost
  // under load, docs/BENCHMARKS.md). Together at the end they make one segment per batch.
  struct FtsChange {
    bool add = false;  // false: remove the row's old text from the index
    int64_t rowid = 0;
    std::string conv_id;
    std::string body;
  };
  std::vector<FtsChange> fts_changes;
};

struct ReadStatements {
  Statement begin;
  Statement end;
  Statement load_conversation;
  Statement load_members;
  Statement find_direct;
  Statement get_member;
  Statement find_by_client_msg_id;
  Statement client_msg_id_exists;
  Statement get_entry;
  Statement log_after;
  Statement log_before;
  Statement reactions;
  Statement list_conversations;
  Statement get_summary;
  Statement unread;
  Statement last_message;
  Statement search_conversations;
  Statement search_in_conversation;
  Statement search_hit;
  Statement conversation_rowids;
  Statement usage_of_day;
  Statement memberships;
  Statement members_up_to;
  Statement shares_a_conversation;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

// Binds `args` to parameters 1, 2, ... in order, stopping at the first failure. A bool binds
// as 0/1, an empty optional as NULL.
template <class... Args>
Status BindAll(Statement& stmt, const Args&... args) {
  int index = 0;
  Status status;
  auto bind_one = [&](const auto& arg) {
    if (!status.ok()) return;
    ++index;
    using T = std::decay_t<decltype(arg)>;
    if constexpr (std::is_same_v<T, bool>) {
      status = stmt.Bind(index, int64_t{arg ? 1 : 0});
    } else if constexpr (IsOptional<T>::value) {
      status = arg.has_value() ? stmt.Bind(index, *arg) : stmt.Bind(index, nullptr);
    } else {
      status = stmt.Bind(index, arg);
    }
  };
  (bind_one(args), ...);
  return status;
}

// Runs a statement that returns no rows (or whose rows do not matter).
inline Status Run(Statement& stmt) {
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

// Binds and runs a statement that returns no rows, resetting it afterwards.
template <class... Args>
Status BindAndRun(Statement& stmt, const Args&... args) {
  ScopedReset reset(stmt);
  Status status = BindAll(stmt, args...);
  if (status.ok()) status = Run(stmt);
  return status;
}

inline Error InContext(Error error, std::string_view what) {
  error.message = std::string(what) + ": " + error.message;
  return error;
}

/// Reads a row that starts with the entry columns (sqlite_message_store.cpp); column 0, the
/// rowid, is the caller's.
Result<LogEntry> ReadEntry(const Statement& stmt);

/// Fills the reactions of the kMessage entries among `entries`, which all belong to `conv_id`.
Status AttachReactions(ReadStatements& s, std::string_view conv_id,
                       const std::vector<LogEntry*>& entries);

/// Indexes the messages that migration 5 left to index (search_backfill). Writer connection.
Status BackfillSearchIndex(Database& db, const sqlite::SearchTokenizer& tokenizer);

// A read transaction: every query inside it sees the same snapshot of the database.
class Snapshot {
 public:
  [[nodiscard]] static Result<Snapshot> Begin(Database& db, ReadStatements& s) {
    ScopedReset reset(s.begin);
    if (Status st = Run(s.begin); !st.ok()) return st.error();
    return Snapshot(&db, &s);
  }
  ~Snapshot() {
    if (db_ == nullptr) return;
    {
      ScopedReset reset(s_->end);
      (void)Run(s_->end);
    }
    // COMMIT of a read transaction fails only while a statement is still running; the next
    // Begin on this connection must not find the transaction open.
    if (!db_->InAutocommit()) (void)db_->Exec("ROLLBACK");
  }
  Snapshot(Snapshot&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), s_(std::exchange(other.s_, nullptr)) {}
  Snapshot& operator=(Snapshot&&) = delete;
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 private:
  Snapshot(Database* db, ReadStatements* s) : db_(db), s_(s) {}

  Database* db_;
  ReadStatements* s_;
};

}  // namespace message_store_internal

struct SqliteMessageStore::WriteConnection {
  std::unique_ptr<sqlite::Database> db;
  message_store_internal::WriteStatements statements;  // destroyed before db
  std::unique_ptr<sqlite::SearchTokenizer> tokenizer;  // destroyed before db
};

struct SqliteMessageStore::ReadConnection {
  std::unique_ptr<sqlite::Database> db;
  message_store_internal::ReadStatements statements;   // destroyed before db
  std::unique_ptr<sqlite::SearchTokenizer> tokenizer;  // destroyed before db
  // The deadline of the search running on this connection, read by its progress handler.
  std::chrono::steady_clock::time_point deadline;
  bool interrupted = false;  // the handler stopped a statement
};

/// Exclusive use of one read connection until destruction.
class SqliteMessageStore::ReadLease {
 public:
  ReadLease(SqliteMessageStore* store, ReadConnection* connection)
      : store_(store), connection_(connection) {}
  ~ReadLease() {
    {
      std::lock_guard lock(store_->read_mu_);
      store_->free_readers_.push_back(connection_);
    }
    store_->reader_freed_.notify_one();
  }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  sqlite::Database& db() { return *connection_->db; }
  message_store_internal::ReadStatements& statements() { return connection_->statements; }
  ReadConnection& connection() { return *connection_; }

 private:
  SqliteMessageStore* store_;
  ReadConnection* connection_;
};

}  // namespace parley
