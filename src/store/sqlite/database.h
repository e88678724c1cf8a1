#pragma once

// A small RAII layer over the SQLite C API, shared by every SQLite-backed store.
//
// Thread-safety: none of these classes is thread-safe. A Database is opened in SQLite's
// multi-thread mode (SQLITE_OPEN_NOMUTEX): it may move between threads, but the Database and
// every Statement and Transaction made from it must be used by one thread at a time. Callers
// serialize, typically with one mutex per connection.
//
// Errors: every failure is a parley::Error. A UNIQUE or PRIMARY KEY violation is kConflict,
// SQLITE_BUSY/SQLITE_LOCKED (another connection held the lock past the busy timeout) is
// kUnavailable, anything else is kInternal carrying sqlite3_errmsg().

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

// From <sqlite3.h>; declared here so that users of this header do not need SQLite's.
struct sqlite3;
struct sqlite3_stmt;

namespace parley::sqlite {

/// How hard a commit works to survive a power loss (PRAGMA synchronous). In WAL mode:
/// kFull fsyncs the WAL on every commit, so a commit that returned is durable. kNormal fsyncs
/// only at checkpoints: the database stays consistent, but the last commits before a power
/// loss (not a process crash) may be lost. kOff never fsyncs; for tests and throwaway data.
enum class Durability { kFull, kNormal, kOff };

struct DatabaseOptions {
  Durability durability = Durability::kFull;
  /// How long a statement waits for another connection's lock before failing with
  /// kUnavailable. 0 fails at once.
  int busy_timeout_ms = 5000;
};

class Statement;

/// One open connection to a database file, in WAL mode with foreign keys enforced.
/// Statements made by Prepare() must be destroyed before their Database.
class Database {
 public:
  /// Opens (creating if missing) the database at `path` and configures the connection:
  /// journal_mode=WAL, synchronous per `options.durability`, busy_timeout, foreign_keys=ON.
  /// ":memory:" opens a private in-memory database (its journal mode stays "memory").
  [[nodiscard]] static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                              const DatabaseOptions& options = {});

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Runs one or more `;`-separated statements, discarding any rows. For DDL, pragmas and
  /// transaction control; use Prepare() for anything carrying values.
  Status Exec(std::string_view sql);

  /// Compiles one statement. Statements that are run repeatedly should be prepared once and
  /// kept; `persistent` hints SQLite that this one will live long.
  Result<Statement> Prepare(std::string_view sql, bool persistent = false);

  /// Rows inserted, updated or deleted by the most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  /// The rowid of the last row this connection inserted.
  int64_t LastInsertRowid() const;

  /// True when no transaction is open on this connection.
  bool InAutocommit() const;

  /// The underlying connection, for the few SQLite calls this layer does not wrap (a progress
  /// handler, the FTS5 extension API). Owned by this Database; same threading rules.
  sqlite3* native_handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  sqlite3* db_;
};

/// A prepared statement. Move-only; finalized on destruction.
///
/// Usage: Bind() parameters (1-based), Step() until it returns false, read columns
/// (0-based) while it returns true, then Reset() before reusing it. A statement that is not
/// reset after a SELECT keeps its read transaction open, so reused statements should be reset
/// as soon as the caller is done with them (see ScopedReset).
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Text is copied into the statement, so `value` need not outlive the call.
  Status Bind(int index, int64_t value);
  Status Bind(int index, std::string_view value);
  Status Bind(int index, std::nullptr_t);
  /// Other signed integers; without it `Bind(i, 0)` would be ambiguous with the nullptr_t
  /// overload.
  template <std::signed_integral T>
  requires(!std::same_as<T, int64_t>) Status Bind(int index, T value) {
    return Bind(index, static_cast<int64_t>(value));
  }

  /// Advances the statement: true when a row is available, false when it has finished.
  Result<bool> Step();

  /// Column getters for the current row. A NULL reads as 0 or "".
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

  /// Rewinds the statement and clears its bindings so it can run again. Never fails: an error
  /// from the last Step() was already reported there.
  void Reset();

  bool valid() const { return stmt_ != nullptr; }

 private:
  friend class Database;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  sqlite3_stmt* stmt_ = nullptr;
};

/// Resets a reused statement when the scope ends, on every return path.
class ScopedReset {
 public:
  explicit ScopedReset(Statement& statement) : statement_(statement) {}
  ~ScopedReset() { statement_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  Statement& statement_;
};

/// A write transaction: BEGIN IMMEDIATE takes the write lock up front, so reads inside it
/// see data no other connection can change before Commit(). Rolls back on destruction unless
/// committed. Transactions do not nest.
class Transaction {
 public:
  /// kUnavailable when another connection holds the write lock past the busy timeout.
  [[nodiscard]] static Result<Transaction> Begin(Database& db);

  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// On failure the transaction is still rolled back by the destructor.
  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}

  Database* db_;  // null once committed or moved from
};

/// Prepares each statement (persistent: they live as long as the connection) into its target.
/// The first failure is returned; targets prepared before it stay prepared.
using StatementList = std::span<const std::pair<Statement*, std::string_view>>;
Status PrepareAll(Database& db, StatementList statements);
inline Status PrepareAll(
    Database& db, std::initializer_list<std::pair<Statement*, std::string_view>> statements) {
  return PrepareAll(db, StatementList(statements.begin(), statements.size()));
}

}  // namespace parley::sqlite
