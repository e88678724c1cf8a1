#include "store/sqlite/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace parley::sqlite {
namespace {

// The one mapping from SQLite result codes to Parley's taxonomy. `rc` is an extended code:
// the connection is opened with extended result codes on.
Error ErrorFor(sqlite3* db, int rc) {
  std::string message = "sqlite: ";
  // sqlite3_errmsg describes the most recent failed call on `db`, which is the one that
  // returned `rc`; without a handle only the generic text for the code is available.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (db != nullptr) message += " (code " + std::to_string(sqlite3_extended_errcode(db)) + ")";
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Error::Conflict(std::move(message));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error::Unavailable(std::move(message));
    default:
      return Error::Internal(std::move(message));
  }
}

const char* SynchronousPragma(Durability durability) {
  switch (durability) {
    case Durability::kFull:
      return "PRAGMA synchronous=FULL";
    case Durability::kNormal:
      return "PRAGMA synchronous=NORMAL";
    case Durability::kOff:
      return "PRAGMA synchronous=OFF";
  }
  return "PRAGMA synchronous=FULL";
}

// SQLite binds a null data pointer as SQL NULL, and an empty string_view may have one.
const char* NonNullData(std::string_view text) { return text.data() != nullptr ? text.data() : ""; }

}  // namespace

// ---------------------------------------------------------------------------- Database

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const DatabaseOptions& options) {
  // Accounts, tokens and messages: owner-only. SQLite creates the -wal and -shm files with
  // the database file's mode, so creating that one 0600 (and narrowing an older, wider one)
  // covers all three whatever the umask.
  if (path != ":memory:" && !path.starts_with("file:")) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    for (const char* suffix : {"", "-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  }
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // The handle is allocated even when opening fails, and must be closed either way; owning
  // it first makes every early return below close it.
  std::unique_ptr<Database> db(new Database(raw));
  if (raw == nullptr) return Error::Internal("sqlite: out of memory opening " + path);
  if (rc != SQLITE_OK) return ErrorFor(raw, rc);
  sqlite3_extended_result_codes(raw, 1);
  // Before anything else: switching to WAL needs a lock that another connection may hold.
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);

  std::string mode;
  {
    Result<Statement> journal = db->Prepare("PRAGMA journal_mode=WAL");
    if (!journal.ok()) return std::move(journal).error();
    Result<bool> row = journal->Step();
    if (!row.ok()) return std::move(row).error();
    if (*row) mode = journal->ColumnText(0);
  }
  // SQLite answers with the mode it is in rather than failing, e.g. on a file system
  // without shared memory; running without WAL would silently change locking behaviour.
  if (mode != "wal" && !(path == ":memory:" && mode == "memory")) {
    return Error::Internal("sqlite: could not enable WAL on " + path + " (journal_mode=" + mode +
                           ")");
  }

  if (Status s = db->Exec(SynchronousPragma(options.durability)); !s.ok()) return s.error();
  if (Status s = db->Exec("PRAGMA foreign_keys=ON"); !s.ok()) return s.error();
  return db;
}

Database::~Database() {
  // close_v2 rather than close: should a Statement outlive its Database after all, the
  // connection is released with the last statement instead of leaking.
  sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  // sqlite3_exec needs a NUL-terminated string; preparing statement by statement does not.
  const char* tail = NonNullData(sql);
  const char* const end = tail + sql.size();
  while (tail < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &stmt, &next);
    if (rc != SQLITE_OK) return ErrorFor(db_, rc);
    tail = next;
    if (stmt == nullptr) continue;  // whitespace or a comment
    do {
      rc = sqlite3_step(stmt);
    } while (rc == SQLITE_ROW);
    // Build the error before finalize, which may replace the connection's error message.
    Status status = rc == SQLITE_DONE ? Status::Ok() : Status(ErrorFor(db_, rc));
    sqlite3_finalize(stmt);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  const unsigned int flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  const int rc = sqlite3_prepare_v3(db_, NonNullData(sql), static_cast<int>(sql.size()), flags,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorFor(db_, rc);
  if (stmt == nullptr)
    return Error::Internal("sqlite: no statement in \"" + std::string(sql) + "\"");
  return Statement(stmt);
}

int64_t Database::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

bool Database::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

// ---------------------------------------------------------------------------- Statement

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Status Statement::Bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return ErrorFor(sqlite3_db_handle(stmt_), rc);
  return Status::Ok();
}

Status Statement::Bind(int index, std::string_view value) {
  const int rc = sqlite3_bind_text64(stmt_, index, NonNullData(value), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return ErrorFor(sqlite3_db_handle(stmt_), rc);
  return Status::Ok();
}

Status Statement::Bind(int index, std::nullptr_t) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return ErrorFor(sqlite3_db_handle(stmt_), rc);
  return Status::Ok();
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorFor(sqlite3_db_handle(stmt_), rc);
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  // column_text before column_bytes: the order SQLite documents for a stable length.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// ---------------------------------------------------------------------------- Transaction

Result<Transaction> Transaction::Begin(Database& db) {
  if (Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) make SQLite roll back by itself; a second
  // ROLLBACK would only fail. A ROLLBACK that fails (an I/O error) cannot be reported from a
  // destructor; the transaction then stays open and the next Begin() on this connection fails.
  if (db_ != nullptr && !db_->InAutocommit()) (void)db_->Exec("ROLLBACK");
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Status Transaction::Commit() {
  if (db_ == nullptr) return Error::Internal("sqlite: commit of a finished transaction");
  Status status = db_->Exec("COMMIT");
  // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open for the destructor to roll
  // back.
  if (status.ok()) db_ = nullptr;
  return status;
}

Status PrepareAll(Database& db, StatementList statements) {
  for (const auto& [target, sql] : statements) {
    Result<Statement> stmt = db.Prepare(sql, /*persistent=*/true);
    if (!stmt.ok()) return std::move(stmt).error();
    *target = std::move(*stmt);
  }
  return Status::Ok();
}

}  // namespace parley::sqlite
