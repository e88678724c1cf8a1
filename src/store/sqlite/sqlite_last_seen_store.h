#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/last_seen_store.h"
#include "store/sqlite/database.h"

namespace parley {

/// LastSeenStore on the embedded SQLite database (table last_seen, migration 4).
///
/// One connection of its own, serialized by a mutex. Writes come in batches (the presence
/// store flushes about once a second), so they take SQLite's write lock rarely and briefly.
/// last_seen is worth less than a message: when the database runs with durability "full",
/// this connection still commits with "normal" (no fsync per commit in WAL mode), so a power
/// loss may take the last few seconds of last_seen updates, and never anything else.
class SqliteLastSeenStore final : public LastSeenStore {
 public:
  /// Opens or creates the database at `path` and brings its schema up to date.
  [[nodiscard]] static Result<std::unique_ptr<SqliteLastSeenStore>> Open(
      const std::string& path, sqlite::Durability durability);

  ~SqliteLastSeenStore() override;
  SqliteLastSeenStore(const SqliteLastSeenStore&) = delete;
  SqliteLastSeenStore& operator=(const SqliteLastSeenStore&) = delete;

  Status SaveLastSeen(const std::vector<std::pair<std::string, int64_t>>& values) override;
  Result<std::vector<int64_t>> LoadLastSeen(const std::vector<std::string>& user_ids) override;

 private:
  struct Statements;
  SqliteLastSeenStore(std::unique_ptr<sqlite::Database> db, std::unique_ptr<Statements> statements);

  std::mutex mu_;
  // Guarded by mu_. Declared before statements_ so that the statements are finalized first.
  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<Statements> statements_;
};

}  // namespace parley
