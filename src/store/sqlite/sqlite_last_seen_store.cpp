#include "store/sqlite/sqlite_last_seen_store.h"

#include <array>
#include <utility>

#include "store/sqlite/migrations.h"

namespace parley {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

struct SqliteLastSeenStore::Statements {
  Statement upsert;
  Statement find;
  Statement begin_read;
  Statement end_read;
};

Result<std::unique_ptr<SqliteLastSeenStore>> SqliteLastSeenStore::Open(
    const std::string& path, sqlite::Durability durability) {
  const sqlite::Durability mine =
      durability == sqlite::Durability::kFull ? sqlite::Durability::kNormal : durability;
  Result<std::unique_ptr<Database>> db = Database::Open(path, {.durability = mine});
  if (!db.ok()) return std::move(db).error();
  if (Status s = sqlite::Migrate(**db, sqlite::SchemaMigrations()); !s.ok()) return s.error();

  auto statements = std::make_unique<Statements>();
  const std::array<std::pair<Statement*, std::string_view>, 4> to_prepare = {{
      {&statements->upsert,
       "INSERT INTO last_seen (user_id, last_seen_ms) VALUES (?1, ?2) ON CONFLICT (user_id) "
       "DO UPDATE SET last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)"},
      {&statements->find, "SELECT last_seen_ms FROM last_seen WHERE user_id = ?1"},
      {&statements->begin_read, "BEGIN"},
      {&statements->end_read, "COMMIT"},
  }};
  if (Status s = sqlite::PrepareAll(**db, to_prepare); !s.ok()) return s.error();
  return std::unique_ptr<SqliteLastSeenStore>(
      new SqliteLastSeenStore(std::move(*db), std::move(statements)));
}

SqliteLastSeenStore::SqliteLastSeenStore(std::unique_ptr<Database> db,
                                         std::unique_ptr<Statements> statements)
    : db_(std::move(db)), statements_(std::move(statements)) {}

SqliteLastSeenStore::~SqliteLastSeenStore() = default;

Status SqliteLastSeenStore::SaveLastSeen(
    const std::vector<std::pair<std::string, int64_t>>& values) {
  if (values.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  Statement& upsert = statements_->upsert;
  for (const auto& [user_id, ms] : values) {
    ScopedReset reset(upsert);
    if (Status s = upsert.Bind(1, user_id); !s.ok()) return s;
    if (Status s = upsert.Bind(2, ms); !s.ok()) return s;
    Result<bool> row = upsert.Step();
    if (!row.ok()) return std::move(row).error();
  }
  return txn->Commit();
}

Result<std::vector<int64_t>> SqliteLastSeenStore::LoadLastSeen(
    const std::vector<std::string>& user_ids) {
  std::vector<int64_t> out;
  out.reserve(user_ids.size());
  if (user_ids.empty()) return out;
  std::lock_guard lock(mu_);
  // One read transaction, so that a batch is read from one snapshot.
  {
    ScopedReset reset(statements_->begin_read);
    if (Result<bool> row = statements_->begin_read.Step(); !row.ok()) {
      return std::move(row).error();
    }
  }
  Status status;
  Statement& find = statements_->find;
  for (const std::string& user_id : user_ids) {
    ScopedReset reset(find);
    if (status = find.Bind(1, user_id); !status.ok()) break;
    Result<bool> row = find.Step();
    if (!row.ok()) {
      status = std::move(row).error();
      break;
    }
    out.push_back(*row ? find.ColumnInt64(0) : 0);
  }
  {
    ScopedReset reset(statements_->end_read);
    (void)statements_->end_read.Step();
  }
  if (!db_->InAutocommit()) (void)db_->Exec("ROLLBACK");
  if (!status.ok()) return status.error();
  return out;
}

}  // namespace parley
