#include "store/sqlite/database.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/migrations.h"

namespace parley::sqlite {
namespace {

// Each test gets a fresh directory under $TMPDIR, removed afterwards.
class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "parley_db_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name = "test.db") const { return (dir_ / name).string(); }

  std::unique_ptr<Database> OpenDb(const DatabaseOptions& options = {}) {
    Result<std::unique_ptr<Database>> db = Database::Open(Path(), options);
    EXPECT_TRUE(db.ok()) << db.error().message;
    return db.ok() ? std::move(*db) : nullptr;
  }

  std::filesystem::path dir_;
};

// The first column of the first row of `sql`, as text.
std::string QueryText(Database& db, const std::string& sql) {
  Result<Statement> stmt = db.Prepare(sql);
  if (!stmt.ok()) return "error: " + stmt.error().message;
  Result<bool> row = stmt->Step();
  if (!row.ok()) return "error: " + row.error().message;
  return *row ? stmt->ColumnText(0) : "<no row>";
}

int64_t QueryInt(Database& db, const std::string& sql) {
  Result<Statement> stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.error().message;
  if (!stmt.ok()) return -1;
  Result<bool> row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  return row.ok() && *row ? stmt->ColumnInt64(0) : -1;
}

TEST_F(DatabaseTest, OpenCreatesFileInWalModeWithForeignKeys) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(std::filesystem::exists(Path()));
  EXPECT_EQ(QueryText(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(QueryInt(*db, "PRAGMA synchronous"), 2);  // FULL by default
  EXPECT_EQ(QueryInt(*db, "PRAGMA busy_timeout"), 5000);
}

TEST_F(DatabaseTest, DurabilityAndBusyTimeoutFollowOptions) {
  std::unique_ptr<Database> normal =
      OpenDb({.durability = Durability::kNormal, .busy_timeout_ms = 250});
  ASSERT_NE(normal, nullptr);
  EXPECT_EQ(QueryInt(*normal, "PRAGMA synchronous"), 1);
  EXPECT_EQ(QueryInt(*normal, "PRAGMA busy_timeout"), 250);

  std::unique_ptr<Database> off = OpenDb({.durability = Durability::kOff});
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(QueryInt(*off, "PRAGMA synchronous"), 0);
}

TEST_F(DatabaseTest, OpenFailsInMissingDirectory) {
  Result<std::unique_ptr<Database>> db = Database::Open(Path("no/such/dir/test.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kInternal);
}

TEST_F(DatabaseTest, BindStepAndReadColumns) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, n TEXT)").ok());

  Result<Statement> insert = db->Prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(insert.ok()) << insert.error().message;
  ASSERT_TRUE(insert->Bind(1, int64_t{1} << 40).ok());
  ASSERT_TRUE(insert->Bind(2, std::string_view("h\0llo", 5)).ok());  // embedded NUL kept
  ASSERT_TRUE(insert->Bind(3, nullptr).ok());
  Result<bool> row = insert->Step();
  ASSERT_TRUE(row.ok()) << row.error().message;
  EXPECT_FALSE(*row);
  EXPECT_EQ(db->Changes(), 1);

  // Reuse after Reset; an empty string_view is '' rather than NULL.
  insert->Reset();
  ASSERT_TRUE(insert->Bind(1, 0).ok());
  ASSERT_TRUE(insert->Bind(2, std::string_view()).ok());
  ASSERT_TRUE(insert->Bind(3, std::string("x")).ok());
  ASSERT_TRUE(insert->Step().ok());

  Result<Statement> select = db->Prepare("SELECT i, s, n, s IS NULL FROM t ORDER BY i DESC");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(0), int64_t{1} << 40);
  EXPECT_EQ(select->ColumnText(1), std::string("h\0llo", 5));
  EXPECT_TRUE(select->ColumnIsNull(2));
  EXPECT_EQ(select->ColumnText(2), "");
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt64(0), 0);
  EXPECT_EQ(select->ColumnText(1), "");
  EXPECT_EQ(select->ColumnInt64(3), 0);  // not NULL
  EXPECT_EQ(select->ColumnText(2), "x");
  Result<bool> done = select->Step();
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
}

TEST_F(DatabaseTest, ExecRunsSeveralStatements) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x); -- a comment\n"
                       "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);  ")
                  .ok());
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM t"), 2);
}

TEST_F(DatabaseTest, SyntaxErrorIsInternalWithSqliteMessage) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  Result<Statement> stmt = db->Prepare("SELEC 1");
  ASSERT_FALSE(stmt.ok());
  EXPECT_EQ(stmt.error().code, ErrorCode::kInternal);
  EXPECT_NE(stmt.error().message.find("syntax error"), std::string::npos) << stmt.error().message;

  Status status = db->Exec("CREATE TABLE t (x); INSERT INTO nope VALUES (1)");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("no such table: nope"), std::string::npos);
}

TEST_F(DatabaseTest, UniqueAndPrimaryKeyViolationsAreConflicts) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT UNIQUE)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 'x')").ok());

  Status unique = db->Exec("INSERT INTO t VALUES ('b', 'x')");
  ASSERT_FALSE(unique.ok());
  EXPECT_EQ(unique.error().code, ErrorCode::kConflict);

  Result<Statement> insert = db->Prepare("INSERT INTO t VALUES (?1, ?2)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->Bind(1, "a").ok());
  ASSERT_TRUE(insert->Bind(2, "y").ok());
  Result<bool> primary = insert->Step();
  ASSERT_FALSE(primary.ok());
  EXPECT_EQ(primary.error().code, ErrorCode::kConflict);
}

TEST_F(DatabaseTest, ForeignKeyViolationIsInternal) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE p (id TEXT PRIMARY KEY);"
                       "CREATE TABLE c (p_id TEXT REFERENCES p(id))")
                  .ok());
  Status status = db->Exec("INSERT INTO c VALUES ('missing')");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
}

TEST_F(DatabaseTest, TransactionRollsBackOnDestructionAndKeepsCommits) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x)").ok());
  {
    Result<Transaction> txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok()) << txn.error().message;
    EXPECT_FALSE(db->InAutocommit());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_TRUE(db->InAutocommit());
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM t"), 0);
  {
    Result<Transaction> txn = Transaction::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE(txn->Commit().ok());
    EXPECT_FALSE(txn->Commit().ok());  // already finished
  }
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM t"), 1);
}

TEST_F(DatabaseTest, TransactionsDoNotNest) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  Result<Transaction> outer = Transaction::Begin(*db);
  ASSERT_TRUE(outer.ok());
  Result<Transaction> inner = Transaction::Begin(*db);
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(db->InAutocommit());  // the failed Begin did not end the outer one
}

TEST_F(DatabaseTest, WriteLockHeldElsewhereIsUnavailable) {
  std::unique_ptr<Database> first = OpenDb();
  std::unique_ptr<Database> second = OpenDb({.busy_timeout_ms = 0});
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  Result<Transaction> holding = Transaction::Begin(*first);
  ASSERT_TRUE(holding.ok());

  Result<Transaction> waiting = Transaction::Begin(*second);
  ASSERT_FALSE(waiting.ok());
  EXPECT_EQ(waiting.error().code, ErrorCode::kUnavailable);
}

// ---------------------------------------------------------------------------- migrations

const std::vector<Migration> kTwoSteps = {
    {1, "create t", "CREATE TABLE t (x INTEGER)"},
    {2, "seed t", "INSERT INTO t VALUES (42)"},
};

TEST_F(DatabaseTest, MigrationsApplyOnceAndAreIdempotentAcrossReopen) {
  {
    std::unique_ptr<Database> db = OpenDb();
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(*SchemaVersion(*db), 0);
    // Only the first step, as an older binary would have done.
    ASSERT_TRUE(Migrate(*db, {kTwoSteps[0]}).ok());
    EXPECT_EQ(*SchemaVersion(*db), 1);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM t"), 0);

    ASSERT_TRUE(Migrate(*db, kTwoSteps).ok());
    EXPECT_EQ(*SchemaVersion(*db), 2);
    ASSERT_TRUE(Migrate(*db, kTwoSteps).ok());
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM t"), 1);
  }
  std::unique_ptr<Database> reopened = OpenDb();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*SchemaVersion(*reopened), 2);
  ASSERT_TRUE(Migrate(*reopened, kTwoSteps).ok());
  EXPECT_EQ(QueryInt(*reopened, "SELECT count(*) FROM t"), 1);
}

TEST_F(DatabaseTest, NewerSchemaThanKnownRefuses) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("PRAGMA user_version=99").ok());
  Status status = Migrate(*db, SchemaMigrations());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_NE(status.error().message.find("newer"), std::string::npos) << status.error().message;
  EXPECT_EQ(*SchemaVersion(*db), 99);
}

TEST_F(DatabaseTest, FailedMigrationLeavesPreviousVersion) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  const std::vector<Migration> broken = {
      kTwoSteps[0],
      {2, "half good", "CREATE TABLE u (y); INSERT INTO nope VALUES (1)"},
  };
  Status status = Migrate(*db, broken);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("migration 2 (half good)"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(*SchemaVersion(*db), 1);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM sqlite_master WHERE name = 'u'"), 0);
  EXPECT_TRUE(db->InAutocommit());
}

TEST_F(DatabaseTest, MisnumberedMigrationListIsRejected) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  EXPECT_FALSE(Migrate(*db, {{1, "a", "CREATE TABLE a (x)"}, {3, "c", "CREATE TABLE c (x)"}}).ok());
  EXPECT_FALSE(Migrate(*db, {{2, "b", "CREATE TABLE b (x)"}}).ok());
  EXPECT_EQ(*SchemaVersion(*db), 0);
}

TEST_F(DatabaseTest, SchemaMigrationsBuildTheWholeSchema) {
  std::unique_ptr<Database> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(Migrate(*db, SchemaMigrations()).ok());
  EXPECT_EQ(*SchemaVersion(*db), static_cast<int64_t>(SchemaMigrations().size()));
  for (const char* table : {"users", "devices", "refresh_tokens"}) {
    EXPECT_EQ(QueryInt(*db, std::string("SELECT count(*) FROM sqlite_master WHERE type = "
                                        "'table' AND name = '") +
                                table + "'"),
              1)
        << table;
  }
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = "
                     "'refresh_tokens_device_id'"),
            1);
}

}  // namespace
}  // namespace parley::sqlite
