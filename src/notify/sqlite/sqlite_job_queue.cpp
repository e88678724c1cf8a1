#include "notify/sqlite/sqlite_job_queue.h"

#include <utility>

#include "store/sqlite/migrations.h"

namespace parley {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

struct SqliteJobQueue::Statements {
  Statement insert;
  Statement claim;
  Statement complete;
  Statement retry;
  Statement bury;
  Statement remove;
  Statement next_run_at;
  Statement counts;
};

namespace {

Status Run(Statement& stmt) {
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  return Status::Ok();
}

template <class... Args>
Status BindAll(Statement& stmt, const Args&... args) {
  int index = 0;
  Status status;
  auto bind_one = [&](const auto& arg) {
    if (status.ok()) status = stmt.Bind(++index, arg);
  };
  (bind_one(args), ...);
  return status;
}

Error LeaseLost(int64_t id) {
  return Error::Conflict("job " + std::to_string(id) +
                         ": lease lost (expired and reclaimed, or done)");
}

}  // namespace

Result<std::unique_ptr<SqliteJobQueue>> SqliteJobQueue::Open(const std::string& path,
                                                             sqlite::Durability durability) {
  Result<std::unique_ptr<Database>> db = Database::Open(path, {.durability = durability});
  if (!db.ok()) return std::move(db).error();
  if (Status s = sqlite::Migrate(**db, sqlite::SchemaMigrations()); !s.ok()) return s.error();

  auto st = std::make_unique<Statements>();
  const std::pair<Statement*, std::string_view> to_prepare[] = {
      {&st->insert,
       "INSERT INTO notify_jobs (kind, payload, run_at_ms, created_ms) VALUES (?1, ?2, ?3, ?4) "
       "RETURNING id"},
      // The subquery picks due jobs oldest first through notify_jobs_run_at; the UPDATE leases
      // them in the same statement, so no other claim can see them as due in between.
      {&st->claim,
       "UPDATE notify_jobs SET lease = ?1, run_at_ms = ?2, attempts = attempts + 1 "
       "WHERE id IN (SELECT id FROM notify_jobs WHERE run_at_ms <= ?3 "
       "ORDER BY run_at_ms, id LIMIT ?4) "
       "RETURNING id, kind, payload, attempts, created_ms"},
      {&st->complete, "DELETE FROM notify_jobs WHERE id = ?1 AND lease = ?2"},
      {&st->retry,
       "UPDATE notify_jobs SET lease = 0, run_at_ms = ?3, last_error = ?4 "
       "WHERE id = ?1 AND lease = ?2"},
      {&st->bury,
       "INSERT INTO notify_dead (id, kind, payload, attempts, created_ms, dead_ms, last_error) "
       "SELECT id, kind, payload, attempts, created_ms, ?3, ?4 FROM notify_jobs "
       "WHERE id = ?1 AND lease = ?2"},
      {&st->remove, "DELETE FROM notify_jobs WHERE id = ?1"},
      {&st->next_run_at, "SELECT min(run_at_ms) FROM notify_jobs"},
      {&st->counts,
       "SELECT (SELECT count(*) FROM notify_jobs WHERE lease = 0), "
       "(SELECT count(*) FROM notify_jobs WHERE lease <> 0), (SELECT count(*) FROM notify_dead)"},
  };
  if (Status s = sqlite::PrepareAll(**db, to_prepare); !s.ok()) return s.error();
  return std::unique_ptr<SqliteJobQueue>(new SqliteJobQueue(std::move(*db), std::move(st)));
}

SqliteJobQueue::SqliteJobQueue(std::unique_ptr<Database> db, std::unique_ptr<Statements> statements)
    : db_(std::move(db)), statements_(std::move(statements)), lease_rng_(std::random_device{}()) {}

SqliteJobQueue::~SqliteJobQueue() = default;

Result<std::vector<int64_t>> SqliteJobQueue::Enqueue(const std::vector<NewJob>& jobs) {
  std::vector<int64_t> ids;
  if (jobs.empty()) return ids;
  ids.reserve(jobs.size());
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  Statement& insert = statements_->insert;
  for (const NewJob& job : jobs) {
    ScopedReset reset(insert);
    // created_ms is the first run_at: the enqueuer's clock, without a second time source.
    if (Status s = BindAll(insert, std::string_view(job.kind), std::string_view(job.payload),
                           job.run_at_ms, job.run_at_ms);
        !s.ok()) {
      return s.error();
    }
    Result<bool> row = insert.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return Error::Internal("sqlite: insert returned no id");
    ids.push_back(insert.ColumnInt64(0));
  }
  if (Status s = txn->Commit(); !s.ok()) return s.error();
  return ids;
}

Result<std::vector<Job>> SqliteJobQueue::Claim(int64_t now_ms, int64_t visibility_timeout_ms,
                                               int max) {
  std::vector<Job> jobs;
  if (max <= 0) return jobs;
  std::lock_guard lock(mu_);
  // Never 0: 0 marks a job that is not leased.
  const int64_t lease = static_cast<int64_t>(lease_rng_() >> 1) | 1;
  Statement& claim = statements_->claim;
  ScopedReset reset(claim);
  if (Status s = BindAll(claim, lease, now_ms + visibility_timeout_ms, now_ms, max); !s.ok()) {
    return s.error();
  }
  while (true) {
    Result<bool> row = claim.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    jobs.push_back(Job{.id = claim.ColumnInt64(0),
                       .kind = claim.ColumnText(1),
                       .payload = claim.ColumnText(2),
                       .attempts = static_cast<int>(claim.ColumnInt64(3)),
                       .created_ms = claim.ColumnInt64(4),
                       .lease = lease});
  }
  return jobs;
}

Status SqliteJobQueue::Complete(int64_t id, int64_t lease) {
  std::lock_guard lock(mu_);
  Statement& stmt = statements_->complete;
  ScopedReset reset(stmt);
  if (Status s = BindAll(stmt, id, lease); !s.ok()) return s;
  if (Status s = Run(stmt); !s.ok()) return s;
  if (db_->Changes() == 0) return LeaseLost(id);
  return Status::Ok();
}

Status SqliteJobQueue::Retry(int64_t id, int64_t lease, int64_t next_run_at_ms,
                             std::string_view error) {
  std::lock_guard lock(mu_);
  Statement& stmt = statements_->retry;
  ScopedReset reset(stmt);
  if (Status s = BindAll(stmt, id, lease, next_run_at_ms, error); !s.ok()) return s;
  if (Status s = Run(stmt); !s.ok()) return s;
  if (db_->Changes() == 0) return LeaseLost(id);
  return Status::Ok();
}

Status SqliteJobQueue::DeadLetter(int64_t id, int64_t lease, int64_t now_ms,
                                  std::string_view error) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return std::move(txn).error();
  {
    Statement& bury = statements_->bury;
    ScopedReset reset(bury);
    if (Status s = BindAll(bury, id, lease, now_ms, error); !s.ok()) return s;
    if (Status s = Run(bury); !s.ok()) return s;
    if (db_->Changes() == 0) return LeaseLost(id);
  }
  {
    Statement& remove = statements_->remove;
    ScopedReset reset(remove);
    if (Status s = BindAll(remove, id); !s.ok()) return s;
    if (Status s = Run(remove); !s.ok()) return s;
  }
  return txn->Commit();
}

Result<std::optional<int64_t>> SqliteJobQueue::NextRunAt() {
  std::lock_guard lock(mu_);
  Statement& stmt = statements_->next_run_at;
  ScopedReset reset(stmt);
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row || stmt.ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.ColumnInt64(0));
}

Result<JobCounts> SqliteJobQueue::Counts() {
  std::lock_guard lock(mu_);
  Statement& stmt = statements_->counts;
  ScopedReset reset(stmt);
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return Error::Internal("sqlite: counts returned no row");
  return JobCounts{stmt.ColumnInt64(0), stmt.ColumnInt64(1), stmt.ColumnInt64(2)};
}

}  // namespace parley
