#include "notify/sqlite/sqlite_notify_store.h"

#include <utility>

#include "store/sqlite/migrations.h"

namespace parley {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

PushSubscription ReadSubscription(const Statement& stmt) {
  return PushSubscription{.endpoint = stmt.ColumnText(0),
                          .user_id = stmt.ColumnText(1),
                          .p256dh = stmt.ColumnText(2),
                          .auth = stmt.ColumnText(3),
                          .created_ms = stmt.ColumnInt64(4)};
}

}  // namespace

Result<std::unique_ptr<SqliteNotifyStore>> SqliteNotifyStore::Open(const std::string& path,
                                                                   sqlite::Durability durability) {
  Result<std::unique_ptr<Database>> db = Database::Open(path, {.durability = durability});
  if (!db.ok()) return std::move(db).error();
  if (Status s = sqlite::Migrate(**db, sqlite::SchemaMigrations()); !s.ok()) return s.error();
  return std::unique_ptr<SqliteNotifyStore>(new SqliteNotifyStore(std::move(*db)));
}

SqliteNotifyStore::SqliteNotifyStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
SqliteNotifyStore::~SqliteNotifyStore() = default;

// The notifier asks for settings, mutes and subscriptions once per offline recipient of every
// message: compiling the SQL each time was a visible share of a busy group's cost.
Result<Statement*> SqliteNotifyStore::Cached(std::string_view sql,
                                             std::initializer_list<std::string_view> args) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    Result<Statement> prepared = db_->Prepare(sql, /*persistent=*/true);
    if (!prepared.ok()) return std::move(prepared).error();
    it = cache_.emplace(std::string(sql), std::move(*prepared)).first;
  }
  Statement& stmt = it->second;
  stmt.Reset();
  int index = 0;
  for (std::string_view arg : args) {
    if (Status s = stmt.Bind(++index, arg); !s.ok()) return s.error();
  }
  return &stmt;
}

Status SqliteNotifyStore::Exec(std::string_view sql, std::initializer_list<std::string_view> args) {
  Result<Statement*> stmt = Cached(sql, args);
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  Result<bool> row = (*stmt)->Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

Result<NotifySettings> SqliteNotifyStore::GetSettings(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Result<Statement*> stmt =
      Cached("SELECT private_previews, mentions_when_muted FROM notify_settings WHERE user_id = ?1",
             {user_id});
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  Result<bool> row = (*stmt)->Step();
  if (!row.ok()) return std::move(row).error();
  NotifySettings settings;
  if (*row) {
    settings.private_previews = (*stmt)->ColumnInt64(0) != 0;
    settings.mentions_when_muted = (*stmt)->ColumnInt64(1) != 0;
  }
  return settings;
}

Status SqliteNotifyStore::PutSettings(std::string_view user_id, const NotifySettings& settings) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt = db_->Prepare(
      "INSERT INTO notify_settings (user_id, private_previews, mentions_when_muted) "
      "VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO UPDATE SET "
      "private_previews = excluded.private_previews, "
      "mentions_when_muted = excluded.mentions_when_muted");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, user_id); !s.ok()) return s;
  if (Status s = stmt->Bind(2, int64_t{settings.private_previews}); !s.ok()) return s;
  if (Status s = stmt->Bind(3, int64_t{settings.mentions_when_muted}); !s.ok()) return s;
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

Status SqliteNotifyStore::SetMuted(std::string_view user_id, std::string_view conv_id, bool muted) {
  std::lock_guard lock(mu_);
  if (muted) {
    return Exec("INSERT OR IGNORE INTO notify_mutes (conv_id, user_id) VALUES (?1, ?2)",
                {conv_id, user_id});
  }
  return Exec("DELETE FROM notify_mutes WHERE conv_id = ?1 AND user_id = ?2", {conv_id, user_id});
}

Result<std::vector<std::string>> SqliteNotifyStore::MutedConversations(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Result<Statement*> stmt =
      Cached("SELECT conv_id FROM notify_mutes WHERE user_id = ?1 ORDER BY conv_id", {user_id});
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  std::vector<std::string> out;
  while (true) {
    Result<bool> row = (*stmt)->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    out.push_back((*stmt)->ColumnText(0));
  }
  return out;
}

Result<std::unordered_set<std::string>> SqliteNotifyStore::MutedBy(std::string_view conv_id) {
  std::lock_guard lock(mu_);
  Result<Statement*> stmt =
      Cached("SELECT user_id FROM notify_mutes WHERE conv_id = ?1", {conv_id});
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  std::unordered_set<std::string> out;
  while (true) {
    Result<bool> row = (*stmt)->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    out.insert((*stmt)->ColumnText(0));
  }
  return out;
}

Status SqliteNotifyStore::PutSubscription(const PushSubscription& sub, int max_per_user) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  {
    Result<Statement*> count =
        Cached("SELECT count(*) FROM push_subscriptions WHERE user_id = ?1 AND endpoint <> ?2",
               {sub.user_id, sub.endpoint});
    if (!count.ok()) return std::move(count).error();
    sqlite::ScopedReset reset_count(**count);
    Result<bool> row = (*count)->Step();
    if (!row.ok()) return std::move(row).error();
    if (*row && (*count)->ColumnInt64(0) >= max_per_user) {
      return Error::Conflict("too many push subscriptions; delete one first");
    }
  }
  Result<Statement> stmt = db_->Prepare(
      "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, endpoint) DO UPDATE SET "
      "p256dh = excluded.p256dh, auth = excluded.auth, created_ms = excluded.created_ms");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, std::string_view(sub.endpoint)); !s.ok()) return s;
  if (Status s = stmt->Bind(2, std::string_view(sub.user_id)); !s.ok()) return s;
  if (Status s = stmt->Bind(3, std::string_view(sub.p256dh)); !s.ok()) return s;
  if (Status s = stmt->Bind(4, std::string_view(sub.auth)); !s.ok()) return s;
  if (Status s = stmt->Bind(5, sub.created_ms); !s.ok()) return s;
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  return txn->Commit();
}

Status SqliteNotifyStore::RemoveSubscription(std::string_view user_id, std::string_view endpoint) {
  std::lock_guard lock(mu_);
  if (Status s = Exec("DELETE FROM push_subscriptions WHERE endpoint = ?1 AND user_id = ?2",
                      {endpoint, user_id});
      !s.ok()) {
    return s;
  }
  if (db_->Changes() == 0) return Error::NotFound("no such push subscription");
  return Status::Ok();
}

Status SqliteNotifyStore::DropSubscription(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  return Exec("DELETE FROM push_subscriptions WHERE endpoint = ?1", {endpoint});
}

Result<std::vector<PushSubscription>> SqliteNotifyStore::Subscriptions(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Result<Statement*> stmt = Cached(
      "SELECT endpoint, user_id, p256dh, auth, created_ms FROM push_subscriptions "
      "WHERE user_id = ?1 ORDER BY created_ms, endpoint",
      {user_id});
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  std::vector<PushSubscription> out;
  while (true) {
    Result<bool> row = (*stmt)->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    out.push_back(ReadSubscription(**stmt));
  }
  return out;
}

Result<PushSubscription> SqliteNotifyStore::FindSubscription(std::string_view user_id,
                                                             std::string_view endpoint) {
  std::lock_guard lock(mu_);
  Result<Statement*> stmt = Cached(
      "SELECT endpoint, user_id, p256dh, auth, created_ms FROM push_subscriptions "
      "WHERE user_id = ?1 AND endpoint = ?2",
      {user_id, endpoint});
  if (!stmt.ok()) return std::move(stmt).error();
  sqlite::ScopedReset reset_stmt(**stmt);
  Result<bool> row = (*stmt)->Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::NotFound("no such push subscription");
  return ReadSubscription(**stmt);
}

}  // namespace parley
