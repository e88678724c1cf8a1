#include "store/sqlite/sqlite_privacy_store.h"

#include <utility>

#include "store/sqlite/migrations.h"

namespace parley {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

constexpr std::string_view kInvitationColumns = "id, conv_id, user_id, inviter, title, created_ms";

Invitation ReadInvitation(const Statement& stmt) {
  return Invitation{.id = stmt.ColumnText(0),
                    .conv_id = stmt.ColumnText(1),
                    .user_id = stmt.ColumnText(2),
                    .inviter = stmt.ColumnText(3),
                    .title = stmt.ColumnText(4),
                    .created_ms = stmt.ColumnInt64(5)};
}

// Runs `stmt` to its end and collects the invitations it reads.
Result<std::vector<Invitation>> CollectInvitations(Statement& stmt) {
  std::vector<Invitation> out;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return out;
    out.push_back(ReadInvitation(stmt));
  }
}

}  // namespace

Result<std::unique_ptr<SqlitePrivacyStore>> SqlitePrivacyStore::Open(
    const std::string& path, sqlite::Durability durability) {
  Result<std::unique_ptr<Database>> db = Database::Open(path, {.durability = durability});
  if (!db.ok()) return std::move(db).error();
  if (Status s = sqlite::Migrate(**db, sqlite::SchemaMigrations()); !s.ok()) return s.error();
  return std::unique_ptr<SqlitePrivacyStore>(new SqlitePrivacyStore(std::move(*db)));
}

SqlitePrivacyStore::SqlitePrivacyStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
SqlitePrivacyStore::~SqlitePrivacyStore() = default;

Result<std::optional<GroupAdds>> SqlitePrivacyStore::GetGroupAdds(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt =
      db_->Prepare("SELECT group_adds FROM privacy_settings WHERE user_id = ?1");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, user_id); !s.ok()) return s.error();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return std::optional<GroupAdds>();
  return ParseGroupAdds(stmt->ColumnText(0));
}

Status SqlitePrivacyStore::PutGroupAdds(std::string_view user_id, GroupAdds adds) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt = db_->Prepare(
      "INSERT INTO privacy_settings (user_id, group_adds) VALUES (?1, ?2) "
      "ON CONFLICT (user_id) DO UPDATE SET group_adds = excluded.group_adds");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, user_id); !s.ok()) return s;
  if (Status s = stmt->Bind(2, GroupAddsName(adds)); !s.ok()) return s;
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

Result<Invitation> SqlitePrivacyStore::PutInvitation(const Invitation& invitation,
                                                     size_t max_pending) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  {
    Result<Statement> existing = db_->Prepare("SELECT " + std::string(kInvitationColumns) +
                                              " FROM invitations WHERE conv_id = ?1 AND "
                                              "user_id = ?2");
    if (!existing.ok()) return std::move(existing).error();
    if (Status s = existing->Bind(1, std::string_view(invitation.conv_id)); !s.ok())
      return s.error();
    if (Status s = existing->Bind(2, std::string_view(invitation.user_id)); !s.ok())
      return s.error();
    Result<bool> row = existing->Step();
    if (!row.ok()) return std::move(row).error();
    if (*row) return ReadInvitation(*existing);
  }
  {
    Result<Statement> insert = db_->Prepare(
        "INSERT INTO invitations (id, conv_id, user_id, inviter, title, created_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!insert.ok()) return std::move(insert).error();
    int index = 0;
    for (const std::string* field : {&invitation.id, &invitation.conv_id, &invitation.user_id,
                                     &invitation.inviter, &invitation.title}) {
      if (Status s = insert->Bind(++index, std::string_view(*field)); !s.ok()) return s.error();
    }
    if (Status s = insert->Bind(6, invitation.created_ms); !s.ok()) return s.error();
    Result<bool> row = insert->Step();
    if (!row.ok()) return std::move(row).error();
  }
  {
    // The newest max_pending stay; rowid breaks ties of the same millisecond.
    Result<Statement> trim = db_->Prepare(
        "DELETE FROM invitations WHERE user_id = ?1 AND rowid NOT IN (SELECT rowid FROM "
        "invitations WHERE user_id = ?1 ORDER BY created_ms DESC, rowid DESC LIMIT ?2)");
    if (!trim.ok()) return std::move(trim).error();
    if (Status s = trim->Bind(1, std::string_view(invitation.user_id)); !s.ok()) return s.error();
    if (Status s = trim->Bind(2, static_cast<int64_t>(max_pending)); !s.ok()) return s.error();
    Result<bool> row = trim->Step();
    if (!row.ok()) return std::move(row).error();
  }
  if (Status s = txn->Commit(); !s.ok()) return s.error();
  return invitation;
}

Result<std::vector<Invitation>> SqlitePrivacyStore::Invitations(std::string_view user_id) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt = db_->Prepare("SELECT " + std::string(kInvitationColumns) +
                                        " FROM invitations WHERE user_id = ?1 "
                                        "ORDER BY created_ms, rowid");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, user_id); !s.ok()) return s.error();
  return CollectInvitations(*stmt);
}

Result<std::optional<Invitation>> SqlitePrivacyStore::GetInvitation(std::string_view id) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt =
      db_->Prepare("SELECT " + std::string(kInvitationColumns) + " FROM invitations WHERE id = ?1");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, id); !s.ok()) return s.error();
  Result<std::vector<Invitation>> found = CollectInvitations(*stmt);
  if (!found.ok()) return std::move(found).error();
  if (found->empty()) return std::optional<Invitation>();
  return std::optional<Invitation>(std::move(found->front()));
}

Status SqlitePrivacyStore::RemoveInvitation(std::string_view user_id, std::string_view id) {
  std::lock_guard lock(mu_);
  Result<Statement> stmt = db_->Prepare("DELETE FROM invitations WHERE id = ?1 AND user_id = ?2");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status s = stmt->Bind(1, id); !s.ok()) return s;
  if (Status s = stmt->Bind(2, user_id); !s.ok()) return s;
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  if (db_->Changes() == 0) return Error::NotFound("no such invitation");
  return Status::Ok();
}

}  // namespace parley
