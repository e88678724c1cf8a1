#include "store/sqlite/sqlite_account_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <latch>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/database.h"

namespace parley {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kDay = 24 * 60 * 60 * 1000;

NewUser Alice() {
  return NewUser{
      .id = "u_alice",
      .username = "alice",
      .display_name = "Alice A.",
      .password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
      .created_ms = kNow,
  };
}

// Each test gets a fresh database in a directory under $TMPDIR, removed afterwards.
class SqliteAccountStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_accounts_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path() const { return (dir_ / "parley.db").string(); }

  std::unique_ptr<SqliteAccountStore> OpenStore() {
    // Durability does not matter to these tests, and kOff keeps them fast.
    Result<std::unique_ptr<SqliteAccountStore>> store =
        SqliteAccountStore::Open(Path(), sqlite::Durability::kOff);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Alice with one device "d_phone" holding refresh token "hash-1".
  void SetUpAliceWithToken(int64_t expires_ms = kNow + kDay) {
    ASSERT_TRUE(store_->CreateUser(Alice()).ok());
    ASSERT_TRUE(store_->CreateDevice("d_phone", "u_alice", "Phone", kNow).ok());
    ASSERT_TRUE(store_->AddRefreshToken("hash-1", "d_phone", expires_ms).ok());
  }

  RotateOutcome Rotate(std::string_view old_hash, std::string_view new_hash,
                       int64_t now_ms = kNow + 1000) {
    Result<RotateResult> result =
        store_->RotateRefreshToken(old_hash, new_hash, now_ms + kDay, now_ms);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? result->outcome : RotateOutcome::kUnknown;
  }

  bool DeviceRevoked(std::string_view device_id) {
    Result<Device> device = store_->FindDevice(device_id);
    EXPECT_TRUE(device.ok());
    return device.ok() && device->revoked;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteAccountStore> store_;
};

// ---------------------------------------------------------------------------- users

TEST_F(SqliteAccountStoreTest, CreatesAndFindsUser) {
  Result<User> created = store_->CreateUser(Alice());
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->id, "u_alice");
  EXPECT_EQ(created->username, "alice");
  EXPECT_EQ(created->display_name, "Alice A.");
  EXPECT_EQ(created->created_ms, kNow);

  Result<UserCredentials> by_name = store_->FindUserByUsername("alice");
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
  EXPECT_EQ(by_name->user.id, "u_alice");
  EXPECT_EQ(by_name->user.display_name, "Alice A.");
  EXPECT_EQ(by_name->user.created_ms, kNow);
  EXPECT_EQ(by_name->password_hash, Alice().password_hash);

  Result<User> by_id = store_->FindUserById("u_alice");
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->username, "alice");
}

TEST_F(SqliteAccountStoreTest, UsernameIsUniqueIgnoringCase) {
  ASSERT_TRUE(store_->CreateUser(Alice()).ok());
  NewUser shouting = Alice();
  shouting.id = "u_other";
  shouting.username = "ALICE";
  Result<User> taken = store_->CreateUser(shouting);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kConflict);
  EXPECT_EQ(taken.error().message, "username is taken");
}

TEST_F(SqliteAccountStoreTest, DuplicateUserIdIsConflict) {
  ASSERT_TRUE(store_->CreateUser(Alice()).ok());
  NewUser same_id = Alice();
  same_id.username = "bob";
  Result<User> taken = store_->CreateUser(same_id);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kConflict);
  EXPECT_EQ(taken.error().message, "user id is taken");
  EXPECT_EQ(store_->FindUserByUsername("bob").error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteAccountStoreTest, FindUserByUsernameIgnoresCase) {
  ASSERT_TRUE(store_->CreateUser(Alice()).ok());
  for (std::string_view name : {"alice", "Alice", "ALICE", "aLiCe"}) {
    Result<UserCredentials> found = store_->FindUserByUsername(name);
    ASSERT_TRUE(found.ok()) << name;
    EXPECT_EQ(found->user.id, "u_alice");
    EXPECT_EQ(found->user.username, "alice");
  }
}

TEST_F(SqliteAccountStoreTest, CreateUserStoresUsernameLowerCased) {
  NewUser mixed = Alice();
  mixed.username = "AliCe";
  Result<User> created = store_->CreateUser(mixed);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->username, "alice");
  EXPECT_EQ(store_->FindUserById("u_alice")->username, "alice");
}

TEST_F(SqliteAccountStoreTest, UnknownUserIsNotFound) {
  Result<UserCredentials> by_name = store_->FindUserByUsername("nobody");
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().code, ErrorCode::kNotFound);
  Result<User> by_id = store_->FindUserById("u_nobody");
  ASSERT_FALSE(by_id.ok());
  EXPECT_EQ(by_id.error().code, ErrorCode::kNotFound);
}

// ---------------------------------------------------------------------------- devices

TEST_F(SqliteAccountStoreTest, CreatesFindsAndRevokesDevice) {
  ASSERT_TRUE(store_->CreateUser(Alice()).ok());
  Result<Device> created = store_->CreateDevice("d_phone", "u_alice", "Phone", kNow);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->id, "d_phone");
  EXPECT_FALSE(created->revoked);

  Result<Device> found = store_->FindDevice("d_phone");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->user_id, "u_alice");
  EXPECT_EQ(found->name, "Phone");
  EXPECT_EQ(found->created_ms, kNow);
  EXPECT_FALSE(found->revoked);

  ASSERT_TRUE(store_->RevokeDevice("d_phone", kNow + 1).ok());
  EXPECT_TRUE(DeviceRevoked("d_phone"));
  // Idempotent.
  ASSERT_TRUE(store_->RevokeDevice("d_phone", kNow + 2).ok());
  EXPECT_TRUE(DeviceRevoked("d_phone"));
}

TEST_F(SqliteAccountStoreTest, UnknownDeviceOrUserIsNotFound) {
  EXPECT_EQ(store_->FindDevice("d_none").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->RevokeDevice("d_none", kNow).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->AddRefreshToken("hash", "d_none", kNow + kDay).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(store_->CreateDevice("d_phone", "u_nobody", "Phone", kNow).error().code,
            ErrorCode::kNotFound);
}

TEST_F(SqliteAccountStoreTest, DuplicateDeviceIdIsConflict) {
  ASSERT_TRUE(store_->CreateUser(Alice()).ok());
  ASSERT_TRUE(store_->CreateDevice("d_phone", "u_alice", "Phone", kNow).ok());
  Result<Device> again = store_->CreateDevice("d_phone", "u_alice", "Tablet", kNow);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

// ---------------------------------------------------------------------------- refresh tokens

TEST_F(SqliteAccountStoreTest, RotationHandsOverAndReuseRevokesTheSession) {
  SetUpAliceWithToken();

  Result<RotateResult> first =
      store_->RotateRefreshToken("hash-1", "hash-2", kNow + 2 * kDay, kNow + 1000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->outcome, RotateOutcome::kRotated);
  EXPECT_EQ(first->device_id, "d_phone");
  EXPECT_EQ(first->user_id, "u_alice");

  // The new token works.
  EXPECT_EQ(Rotate("hash-2", "hash-3"), RotateOutcome::kRotated);
  EXPECT_FALSE(DeviceRevoked("d_phone"));

  // The first token shows up again: someone kept a copy. The whole device goes.
  Result<RotateResult> reused =
      store_->RotateRefreshToken("hash-1", "hash-x", kNow + 2 * kDay, kNow + 3000);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->outcome, RotateOutcome::kReused);
  EXPECT_EQ(reused->device_id, "d_phone");
  EXPECT_EQ(reused->user_id, "u_alice");
  EXPECT_TRUE(DeviceRevoked("d_phone"));

  // Including the newest token, which the legitimate holder may have.
  EXPECT_EQ(Rotate("hash-3", "hash-4"), RotateOutcome::kRevoked);
  EXPECT_EQ(Rotate("hash-1", "hash-5"), RotateOutcome::kRevoked);
  // Nothing was stored for the refused rotations.
  EXPECT_EQ(Rotate("hash-x", "hash-6"), RotateOutcome::kUnknown);
  EXPECT_EQ(Rotate("hash-4", "hash-7"), RotateOutcome::kUnknown);
}

TEST_F(SqliteAccountStoreTest, ExpiredTokenIsRefusedWithoutRevoking) {
  SetUpAliceWithToken(/*expires_ms=*/kNow + 1000);
  // Expiry is exclusive: at expires_ms the token is already dead.
  Result<RotateResult> result =
      store_->RotateRefreshToken("hash-1", "hash-2", kNow + kDay, kNow + 1000);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, RotateOutcome::kExpired);
  EXPECT_EQ(result->device_id, "d_phone");
  EXPECT_FALSE(DeviceRevoked("d_phone"));
  EXPECT_EQ(Rotate("hash-2", "hash-3"), RotateOutcome::kUnknown);
}

TEST_F(SqliteAccountStoreTest, TokenJustBeforeExpiryRotates) {
  SetUpAliceWithToken(/*expires_ms=*/kNow + 1000);
  EXPECT_EQ(Rotate("hash-1", "hash-2", /*now_ms=*/kNow + 999), RotateOutcome::kRotated);
}

TEST_F(SqliteAccountStoreTest, UnknownTokenIsUnknown) {
  SetUpAliceWithToken();
  Result<RotateResult> result =
      store_->RotateRefreshToken("no-such-hash", "hash-2", kNow + kDay, kNow);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, RotateOutcome::kUnknown);
  EXPECT_EQ(result->device_id, "");
  EXPECT_EQ(result->user_id, "");
  EXPECT_EQ(Rotate("hash-2", "hash-3"), RotateOutcome::kUnknown);
}

TEST_F(SqliteAccountStoreTest, RevokedDeviceCannotRotate) {
  SetUpAliceWithToken();
  ASSERT_TRUE(store_->RevokeDevice("d_phone", kNow + 1).ok());
  Result<RotateResult> result =
      store_->RotateRefreshToken("hash-1", "hash-2", kNow + kDay, kNow + 2);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(result->device_id, "d_phone");
  EXPECT_EQ(result->user_id, "u_alice");
}

TEST_F(SqliteAccountStoreTest, RevokedDeviceGetsNoNewTokens) {
  SetUpAliceWithToken();
  ASSERT_TRUE(store_->RevokeDevice("d_phone", kNow + 1).ok());
  EXPECT_EQ(store_->AddRefreshToken("hash-2", "d_phone", kNow + kDay).error().code,
            ErrorCode::kConflict);
}

TEST_F(SqliteAccountStoreTest, DuplicateNewHashLeavesOldTokenUsable) {
  SetUpAliceWithToken();
  ASSERT_TRUE(store_->AddRefreshToken("hash-2", "d_phone", kNow + kDay).ok());
  Result<RotateResult> clash =
      store_->RotateRefreshToken("hash-1", "hash-2", kNow + kDay, kNow + 1000);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, ErrorCode::kConflict);
  // All or nothing: the old token was not marked used.
  EXPECT_EQ(Rotate("hash-1", "hash-3"), RotateOutcome::kRotated);
}

TEST_F(SqliteAccountStoreTest, DataPersistsAcrossReopen) {
  SetUpAliceWithToken();
  ASSERT_TRUE(store_->CreateDevice("d_laptop", "u_alice", "Laptop", kNow).ok());
  ASSERT_TRUE(store_->RevokeDevice("d_laptop", kNow + 5).ok());
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  Result<UserCredentials> alice = store_->FindUserByUsername("alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->password_hash, Alice().password_hash);
  EXPECT_FALSE(DeviceRevoked("d_phone"));
  EXPECT_TRUE(DeviceRevoked("d_laptop"));
  EXPECT_EQ(Rotate("hash-1", "hash-2"), RotateOutcome::kRotated);
}

TEST_F(SqliteAccountStoreTest, OpenRefusesNewerSchema) {
  store_.reset();
  {
    Result<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(Path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=1000").ok());
  }
  Result<std::unique_ptr<SqliteAccountStore>> store = SqliteAccountStore::Open(Path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
}

// Runs `threads` rotations of "hash-1" at once, thread i on `stores[i % stores.size()]`, and
// counts the outcomes.
std::map<RotateOutcome, int> RaceRotations(const std::vector<AccountStore*>& stores, int threads) {
  std::latch start(threads);
  std::vector<Result<RotateResult>> results(threads, Error::Internal("not run"));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = stores[i % stores.size()]->RotateRefreshToken(
          "hash-1", "new-" + std::to_string(i), kNow + kDay, kNow + 1000);
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::map<RotateOutcome, int> counts;
  for (const Result<RotateResult>& result : results) {
    EXPECT_TRUE(result.ok()) << result.error().message;
    if (result.ok()) ++counts[result->outcome];
  }
  return counts;
}

TEST_F(SqliteAccountStoreTest, ConcurrentRotationsOfOneTokenRotateExactlyOnce) {
  SetUpAliceWithToken();
  std::map<RotateOutcome, int> counts = RaceRotations({store_.get()}, 8);
  // The first rotates; the second finds the token used and revokes the device; the rest find
  // the device revoked.
  EXPECT_EQ(counts[RotateOutcome::kRotated], 1);
  EXPECT_EQ(counts[RotateOutcome::kReused], 1);
  EXPECT_EQ(counts[RotateOutcome::kRevoked], 6);
  EXPECT_TRUE(DeviceRevoked("d_phone"));
}

TEST_F(SqliteAccountStoreTest, ConcurrentRotationsAcrossConnectionsRotateExactlyOnce) {
  SetUpAliceWithToken();
  // A second connection to the same file: the mutex no longer serializes, SQLite's write
  // lock does.
  std::unique_ptr<SqliteAccountStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  std::map<RotateOutcome, int> counts = RaceRotations({store_.get(), other.get()}, 8);
  EXPECT_EQ(counts[RotateOutcome::kRotated], 1);
  EXPECT_EQ(counts[RotateOutcome::kReused], 1);
  EXPECT_EQ(counts[RotateOutcome::kRevoked], 6);
}

}  // namespace
}  // namespace parley
