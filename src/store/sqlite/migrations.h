#pragma once

// Versioned schema migrations for Parley's SQLite database, run at start-up by every
// SQLite-backed store.
//
// Design: one global, ordered list (SchemaMigrations(), in migrations.cpp) covers the whole
// schema of the one database file (accounts, devices, tokens, and later conversations and
// messages). A component that needs tables appends a migration to the end of that list. The
// applied version is the database's `PRAGMA user_version`, a single integer, which is why
// there is one list rather than one per component: a version number then names one schema.
// Every store runs the whole list on Open, so whichever store opens the file first creates
// all tables, and the others find nothing to do.
//
// Rules for the list: versions are 1, 2, 3, ... with no gaps; a migration that has shipped is
// never edited or removed (databases in the field already ran it); fixes go in a new one.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/sqlite/database.h"

namespace parley::sqlite {

struct Migration {
  int64_t version = 0;           // 1-based; equal to its position in the list
  std::string_view description;  // for error messages and humans
  std::string_view sql;          // one or more `;`-separated statements
};

/// Parley's schema, oldest first. The last entry's version is the newest this binary knows.
const std::vector<Migration>& SchemaMigrations();

/// Brings `db` up to the last version in `migrations`. Each pending migration runs in an
/// IMMEDIATE transaction together with the bump of user_version, so a failure leaves the
/// database at the previous version, and two processes migrating the same file at once apply
/// each migration once. Idempotent.
///
/// kInternal when the database is at a newer version than `migrations` knows (a newer binary
/// wrote it; running an older one could corrupt data, so it refuses), when the list breaks the
/// numbering rules, or when a migration fails. Must be called outside any transaction.
Status Migrate(Database& db, const std::vector<Migration>& migrations);

/// The database's applied schema version (PRAGMA user_version); 0 for a new file.
Result<int64_t> SchemaVersion(Database& db);

}  // namespace parley::sqlite
