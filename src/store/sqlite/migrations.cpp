#include "store/sqlite/migrations.h"

#include <string>
#include <utility>

namespace parley::sqlite {

const std::vector<Migration>& SchemaMigrations() {
  // Append only; see migrations.h.
  static const std::vector<Migration> kMigrations = {
      {
          1,
          "accounts: users, devices, refresh tokens",
          R"sql(
            -- COLLATE NOCASE: usernames are unique regardless of ASCII case even if a
            -- caller forgets to lower-case, and lookups by username use this index.
            CREATE TABLE users (
              id            TEXT PRIMARY KEY,
              username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
              display_name  TEXT NOT NULL,
              password_hash TEXT NOT NULL,
              created_ms    INTEGER NOT NULL
            );
            CREATE TABLE devices (
              id          TEXT PRIMARY KEY,
              user_id     TEXT NOT NULL REFERENCES users(id),
              name        TEXT NOT NULL,
              created_ms  INTEGER NOT NULL,
              revoked_ms  INTEGER
            );
            CREATE INDEX devices_user_id ON devices(user_id);
            CREATE TABLE refresh_tokens (
              token_hash  TEXT PRIMARY KEY,
              device_id   TEXT NOT NULL REFERENCES devices(id),
              expires_ms  INTEGER NOT NULL,
              used_ms     INTEGER
            );
            CREATE INDEX refresh_tokens_device_id ON refresh_tokens(device_id);
          )sql",
      },
      {
          2,
          "conversations: conversations, members, log entries, reactions, search index",
          R"sql(
            -- No foreign keys to users: user ids are opaque here, checked by the chat service.
            CREATE TABLE conversations (
              id               TEXT PRIMARY KEY,
              type             TEXT NOT NULL CHECK (type IN ('direct', 'group')),
              title            TEXT NOT NULL DEFAULT '',
              -- NULL for groups (NULLs never clash); makes a second direct conversation
              -- between the same two users a kConflict.
              direct_key       TEXT UNIQUE,
              created_by       TEXT NOT NULL,
              created_ms       INTEGER NOT NULL,
              last_seq         INTEGER NOT NULL DEFAULT 0,
              last_activity_ms INTEGER NOT NULL
            );
            -- WITHOUT ROWID: clustered by conversation; members_user_id then carries conv_id
            -- and serves "my conversations" without touching the table.
            CREATE TABLE members (
              conv_id       TEXT NOT NULL REFERENCES conversations(id),
              user_id       TEXT NOT NULL,
              role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
              read_seq      INTEGER NOT NULL DEFAULT 0,
              delivered_seq INTEGER NOT NULL DEFAULT 0,
              joined_seq    INTEGER NOT NULL DEFAULT 0,
              PRIMARY KEY (conv_id, user_id)
            ) WITHOUT ROWID;
            CREATE INDEX members_user_id ON members(user_id);
            -- One row per log entry, never deleted. A kMessage row also holds the message's
            -- current state (body, edited_ts, deleted). rowid grows with insertion: it is the
            -- search cursor and the search index's key.
            CREATE TABLE entries (
              rowid          INTEGER PRIMARY KEY,
              conv_id        TEXT NOT NULL REFERENCES conversations(id),
              seq            INTEGER NOT NULL CHECK (seq >= 1),
              id             TEXT NOT NULL,
              sender         TEXT NOT NULL,
              kind           TEXT NOT NULL
                             CHECK (kind IN ('message', 'edit', 'delete', 'reaction', 'member',
                                             'rename')),
              ts             INTEGER NOT NULL,
              client_msg_id  TEXT,  -- NULL when none, so that it stays out of the unique index
              body           TEXT,  -- NULL when none or erased by a delete
              reply_to       INTEGER NOT NULL DEFAULT 0,
              edited_ts      INTEGER NOT NULL DEFAULT 0,
              deleted        INTEGER NOT NULL DEFAULT 0,
              target_seq     INTEGER NOT NULL DEFAULT 0,
              emoji          TEXT NOT NULL DEFAULT '',
              reaction_added INTEGER NOT NULL DEFAULT 0,
              member_user    TEXT NOT NULL DEFAULT '',
              member_action  TEXT NOT NULL DEFAULT '',
              member_role    TEXT NOT NULL DEFAULT '',
              title          TEXT NOT NULL DEFAULT '',
              UNIQUE (conv_id, seq)
            );
            -- Idempotent sends: one message per (conversation, sender, client_msg_id).
            CREATE UNIQUE INDEX entries_client_msg_id ON entries(conv_id, sender, client_msg_id)
              WHERE client_msg_id IS NOT NULL;
            -- The edits of a message, whose bodies a delete erases too.
            CREATE INDEX entries_edit_target ON entries(conv_id, target_seq) WHERE kind = 'edit';
            -- Current reactions; rowid order is the order in which they were added.
            CREATE TABLE reactions (
              conv_id TEXT NOT NULL,
              seq     INTEGER NOT NULL,
              emoji   TEXT NOT NULL,
              user_id TEXT NOT NULL,
              PRIMARY KEY (conv_id, seq, emoji, user_id),
              FOREIGN KEY (conv_id, seq) REFERENCES entries(conv_id, seq)
            );
            -- Full-text index over the bodies of undeleted kMessage rows, keyed by
            -- entries.rowid. External content: the text lives only in entries. The store keeps
            -- it in step by hand (no triggers): it indexes exactly the kMessage rows whose body
            -- is not NULL, so 'rebuild' must never be run on it.
            CREATE VIRTUAL TABLE entries_fts USING fts5(
              body, content='entries', content_rowid='rowid',
              tokenize='unicode61 remove_diacritics 2');
          )sql",
      },
      {
          3,
          "notifications: job queue, dead letters, settings, mutes, push subscriptions",
          R"sql(
            -- The durable job queue (notify/sqlite/sqlite_job_queue.cpp). run_at_ms is when a
            -- waiting job (lease = 0) becomes due, and when a leased job's lease expires: a
            -- job is claimable exactly when run_at_ms <= now, so one index serves both.
            -- AUTOINCREMENT: ids are never reused, so a job id names one notification
            -- forever (webhook receivers de-duplicate retries by it).
            CREATE TABLE notify_jobs (
              id          INTEGER PRIMARY KEY AUTOINCREMENT,
              kind        TEXT NOT NULL,
              payload     TEXT NOT NULL,
              attempts    INTEGER NOT NULL DEFAULT 0,
              run_at_ms   INTEGER NOT NULL,
              lease       INTEGER NOT NULL DEFAULT 0,
              created_ms  INTEGER NOT NULL,
              last_error  TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX notify_jobs_run_at ON notify_jobs(run_at_ms);
            CREATE TABLE notify_dead (
              id          INTEGER PRIMARY KEY,
              kind        TEXT NOT NULL,
              payload     TEXT NOT NULL,
              attempts    INTEGER NOT NULL,
              created_ms  INTEGER NOT NULL,
              dead_ms     INTEGER NOT NULL,
              last_error  TEXT NOT NULL
            );
            CREATE TABLE notify_settings (
              user_id             TEXT PRIMARY KEY,
              private_previews    INTEGER NOT NULL,
              mentions_when_muted INTEGER NOT NULL
            ) WITHOUT ROWID;
            -- Clustered by conversation: the notifier asks "who muted this conversation".
            CREATE TABLE notify_mutes (
              conv_id TEXT NOT NULL,
              user_id TEXT NOT NULL,
              PRIMARY KEY (conv_id, user_id)
            ) WITHOUT ROWID;
            CREATE INDEX notify_mutes_user_id ON notify_mutes(user_id);
            CREATE TABLE push_subscriptions (
              endpoint   TEXT PRIMARY KEY,
              user_id    TEXT NOT NULL,
              p256dh     TEXT NOT NULL,
              auth       TEXT NOT NULL,
              created_ms INTEGER NOT NULL
            );
            CREATE INDEX push_subscriptions_user_id ON push_subscriptions(user_id);
          )sql",
      },
      {
          4,
          "presence: when each user was last seen",
          R"sql(
            -- Live presence is kept in memory; only last_seen outlives the process. A table of
            -- its own rather than a column of users: it is written often (in batches) by its
            -- own connection, and a cluster keeps it in the presence store instead.
            CREATE TABLE last_seen (
              user_id      TEXT PRIMARY KEY,
              last_seen_ms INTEGER NOT NULL
            ) WITHOUT ROWID;
          )sql",
      },
      {
          5,
          "push subscriptions keyed by (user, endpoint)",
          R"sql(
            -- Issue 17 #15: keyed by endpoint alone, a second user registering someone's
            -- endpoint took the row over, and its owner could neither delete it nor get
            -- notifications. Each user's registration is now a row of their own.
            CREATE TABLE push_subscriptions_by_user (
              user_id    TEXT NOT NULL,
              endpoint   TEXT NOT NULL,
              p256dh     TEXT NOT NULL,
              auth       TEXT NOT NULL,
              created_ms INTEGER NOT NULL,
              PRIMARY KEY (user_id, endpoint)
            ) WITHOUT ROWID;
            INSERT INTO push_subscriptions_by_user (user_id, endpoint, p256dh, auth, created_ms)
              SELECT user_id, endpoint, p256dh, auth, created_ms FROM push_subscriptions;
            DROP TABLE push_subscriptions;
            ALTER TABLE push_subscriptions_by_user RENAME TO push_subscriptions;
            -- The push service saying an endpoint is gone drops every row of it.
            CREATE INDEX push_subscriptions_endpoint ON push_subscriptions(endpoint);
          )sql",
      },
      {
          6,
          "privacy: who may add a user to groups; pending group invitations",
          R"sql(
            -- Issue 17 #6. A user without a row has the server's default_group_adds.
            CREATE TABLE privacy_settings (
              user_id    TEXT PRIMARY KEY,
              group_adds TEXT NOT NULL CHECK (group_adds IN ('anyone', 'contacts', 'nobody'))
            ) WITHOUT ROWID;
            -- An add the invitee's setting did not allow. One per (conversation, invitee);
            -- at most max_pending_invitations per invitee (the oldest go).
            CREATE TABLE invitations (
              id         TEXT PRIMARY KEY,
              conv_id    TEXT NOT NULL,
              user_id    TEXT NOT NULL,
              inviter    TEXT NOT NULL,
              title      TEXT NOT NULL,
              created_ms INTEGER NOT NULL,
              UNIQUE (conv_id, user_id)
            );
            CREATE INDEX invitations_user_id ON invitations(user_id, created_ms);
          )sql",
      },
      {
          7,
          "search index scoped by conversation; daily usage per user",
          R"sql(
            -- The dropped index's pages are zeroed as they are freed, whichever store's
            -- connection runs this (the old index holds the words of deleted messages).
            PRAGMA secure_delete=ON;
            DROP TABLE entries_fts;
            -- Contentless: the index holds no text of its own, only terms. Each term is the
            -- conversation's tag followed by a folded word (store/sqlite/sqlite_search.h), so a
            -- query visits only its conversation's part of the term b-tree. The store writes
            -- it by hand: exactly the non-NULL bodies of undeleted kMessage rows, keyed by
            -- entries.rowid; a row is removed with the 'delete' command and its old terms.
            CREATE VIRTUAL TABLE search_index USING fts5(terms, content='', tokenize='ascii');
            -- The rows below `up_to` that the index does not hold yet: the store indexes them
            -- when it next opens (the terms need the tokenizer, which SQL here cannot reach),
            -- then deletes this row.
            CREATE TABLE search_backfill (up_to INTEGER NOT NULL);
            INSERT INTO search_backfill (up_to) SELECT rowid FROM entries ORDER BY rowid DESC LIMIT 1;
            -- Bodies written per user and UTC day (day = ts / 86400000), for storage quotas.
            CREATE TABLE usage_daily (
              user_id TEXT NOT NULL,
              day     INTEGER NOT NULL,
              entries INTEGER NOT NULL,
              bytes   INTEGER NOT NULL,
              PRIMARY KEY (day, user_id)
            ) WITHOUT ROWID;
          )sql",
      },
      {
          8,
          "accounts: when each device was last used; indexes for sweeping dead sessions",
          R"sql(
            -- Last login or refresh: the device list shows it, and the per-user device cap
            -- revokes the least recently used device first.
            ALTER TABLE devices ADD COLUMN last_used_ms INTEGER;
            UPDATE devices SET last_used_ms = created_ms;
            CREATE INDEX devices_revoked_ms ON devices(revoked_ms) WHERE revoked_ms IS NOT NULL;
            CREATE INDEX refresh_tokens_expires_ms ON refresh_tokens(expires_ms);
          )sql",
      },
  };
  return kMigrations;
}

Result<int64_t> SchemaVersion(Database& db) {
  Result<Statement> stmt = db.Prepare("PRAGMA user_version");
  if (!stmt.ok()) return std::move(stmt).error();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::Internal("sqlite: PRAGMA user_version returned no row");
  return stmt->ColumnInt64(0);
}

namespace {

// Applies `migration` unless another connection got there first; the check and the work
// share one write transaction, so exactly one of two racing processes applies it.
Status Apply(Database& db, const Migration& migration) {
  Result<Transaction> txn = Transaction::Begin(db);
  if (!txn.ok()) return std::move(txn).error();
  Result<int64_t> version = SchemaVersion(db);
  if (!version.ok()) return std::move(version).error();
  if (*version >= migration.version) return Status::Ok();

  if (Status s = db.Exec(migration.sql); !s.ok()) {
    Error error = s.error();
    error.code = ErrorCode::kInternal;
    error.message = "migration " + std::to_string(migration.version) + " (" +
                    std::string(migration.description) + ") failed: " + error.message;
    return error;
  }
  // A pragma takes no bound parameters; the version is an integer we own, not input.
  if (Status s = db.Exec("PRAGMA user_version=" + std::to_string(migration.version)); !s.ok()) {
    return s;
  }
  return txn->Commit();
}

}  // namespace

Status Migrate(Database& db, const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return Error::Internal("migration list is misnumbered: entry " + std::to_string(i + 1) +
                             " has version " + std::to_string(migrations[i].version));
    }
  }
  const int64_t newest = static_cast<int64_t>(migrations.size());

  Result<int64_t> current = SchemaVersion(db);
  if (!current.ok()) return std::move(current).error();
  if (*current > newest) {
    return Error::Internal("database schema version " + std::to_string(*current) +
                           " is newer than this binary knows (" + std::to_string(newest) +
                           "); refusing to run");
  }
  for (int64_t v = *current + 1; v <= newest; ++v) {
    if (Status s = Apply(db, migrations[static_cast<size_t>(v - 1)]); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace parley::sqlite
