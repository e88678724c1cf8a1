#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "notify/job_queue.h"
#include "store/sqlite/database.h"

namespace parley {

/// JobQueue on the embedded SQLite database (tables notify_jobs and notify_dead, see
/// store/sqlite/migrations.cpp).
///
/// One connection of its own, serialized by a mutex; the chat sequencer's writes and these
/// share SQLite's single write lock, each holding it for one short transaction. Claim is one
/// UPDATE ... RETURNING, so a claim is atomic without an explicit transaction.
///
/// Leases are random 63-bit tokens, so a worker of a process that died can never present a
/// lease that a later claim handed out.
class SqliteJobQueue final : public JobQueue {
 public:
  /// Opens or creates the database at `path` and brings its schema up to date.
  [[nodiscard]] static Result<std::unique_ptr<SqliteJobQueue>> Open(
      const std::string& path, sqlite::Durability durability = sqlite::Durability::kFull);
  ~SqliteJobQueue() override;
  SqliteJobQueue(const SqliteJobQueue&) = delete;
  SqliteJobQueue& operator=(const SqliteJobQueue&) = delete;

  Result<std::vector<int64_t>> Enqueue(const std::vector<NewJob>& jobs) override;
  Result<std::vector<Job>> Claim(int64_t now_ms, int64_t visibility_timeout_ms, int max) override;
  Status Complete(int64_t id, int64_t lease) override;
  Status Retry(int64_t id, int64_t lease, int64_t next_run_at_ms, std::string_view error) override;
  Status DeadLetter(int64_t id, int64_t lease, int64_t now_ms, std::string_view error) override;
  Result<std::optional<int64_t>> NextRunAt() override;
  Result<JobCounts> Counts() override;

 private:
  struct Statements;
  SqliteJobQueue(std::unique_ptr<sqlite::Database> db, std::unique_ptr<Statements> statements);

  std::mutex mu_;
  // Guarded by mu_. Declared before statements_ so that the statements are finalized first.
  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<Statements> statements_;  // guarded by mu_
  std::mt19937_64 lease_rng_;               // guarded by mu_
};

}  // namespace parley
