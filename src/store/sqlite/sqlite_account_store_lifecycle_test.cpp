// The session lifecycle of SqliteAccountStore: device list, device cap, password change,
// bounded token history and the sweep of dead rows.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_account_store.h"

namespace parley {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kDay = 24 * 60 * 60 * 1000;

class SqliteAccountLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_lifecycle_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = SqliteAccountStore::Open((dir_ / "parley.db").string(), sqlite::Durability::kOff);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_
                    ->CreateUser(NewUser{.id = "u_alice",
                                         .username = "alice",
                                         .display_name = "Alice",
                                         .password_hash = "old-hash",
                                         .created_ms = kNow})
                    .ok());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Rows of `table` matching `where`, counted through a connection of the test's own.
  int64_t Count(const std::string& table, const std::string& where = "1") {
    auto db = sqlite::Database::Open((dir_ / "parley.db").string());
    EXPECT_TRUE(db.ok());
    auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM " + table + " WHERE " + where);
    EXPECT_TRUE(stmt.ok());
    auto row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row);
    return stmt->ColumnInt64(0);
  }

  void AddDevice(const std::string& id, int64_t at_ms) {
    ASSERT_TRUE(store_->CreateDevice(id, "u_alice", "name of " + id, at_ms).ok());
    ASSERT_TRUE(store_->AddRefreshToken("t-" + id, id, at_ms + kDay).ok());
  }

  std::vector<std::string> DeviceIds() {
    auto devices = store_->ListDevices("u_alice");
    EXPECT_TRUE(devices.ok());
    std::vector<std::string> ids;
    for (const Device& d : *devices) ids.push_back(d.id);
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteAccountStore> store_;
};

TEST_F(SqliteAccountLifecycleTest, ListsLiveDevicesMostRecentlyUsedFirst) {
  AddDevice("d1", kNow);
  AddDevice("d2", kNow + 10);
  AddDevice("d3", kNow + 20);
  // A refresh marks the device used.
  auto rotated = store_->RotateRefreshToken("t-d1", "t-d1b", kNow + kDay, kNow + 30);
  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->outcome, RotateOutcome::kRotated);
  ASSERT_TRUE(store_->RevokeDevice("d2", kNow + 40).ok());

  EXPECT_THAT(DeviceIds(), ElementsAre("d1", "d3"));
  auto devices = store_->ListDevices("u_alice");
  EXPECT_EQ((*devices)[0].last_used_ms, kNow + 30);
  EXPECT_EQ((*devices)[0].created_ms, kNow);
  EXPECT_EQ((*devices)[0].name, "name of d1");
}

TEST_F(SqliteAccountLifecycleTest, EvictDevicesBeyondKeepsTheMostRecentlyUsedAndDeletesTheRest) {
  for (int i = 0; i < 5; ++i) AddDevice("d" + std::to_string(i), kNow + i);
  auto evicted = store_->EvictDevicesBeyond("u_alice", 3);
  ASSERT_TRUE(evicted.ok());
  EXPECT_THAT(*evicted, ElementsAre("d1", "d0"));
  EXPECT_THAT(DeviceIds(), ElementsAre("d4", "d3", "d2"));
  EXPECT_EQ(Count("devices"), 3);
  EXPECT_EQ(Count("refresh_tokens"), 3);
  EXPECT_EQ(store_->FindDevice("d0").error().code, ErrorCode::kNotFound);
  auto rotated = store_->RotateRefreshToken("t-d0", "t-new", kNow + kDay, kNow + 100);
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->outcome, RotateOutcome::kUnknown);
  EXPECT_TRUE(store_->EvictDevicesBeyond("u_alice", 3)->empty());
}

TEST_F(SqliteAccountLifecycleTest, RevokeOtherDevicesSparesTheOneNamed) {
  for (int i = 0; i < 3; ++i) AddDevice("d" + std::to_string(i), kNow + i);
  auto revoked = store_->RevokeOtherDevices("u_alice", "d1", kNow + 100);
  ASSERT_TRUE(revoked.ok());
  EXPECT_THAT(*revoked, ElementsAre("d2", "d0"));
  EXPECT_THAT(DeviceIds(), ElementsAre("d1"));
  auto all = store_->RevokeOtherDevices("u_alice", "", kNow + 200);
  EXPECT_THAT(*all, ElementsAre("d1"));
  EXPECT_TRUE(DeviceIds().empty());
}

TEST_F(SqliteAccountLifecycleTest, SetsThePasswordHash) {
  ASSERT_TRUE(store_->SetPasswordHash("u_alice", "new-hash").ok());
  auto found = store_->FindCredentialsById("u_alice");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->password_hash, "new-hash");
  EXPECT_EQ(store_->SetPasswordHash("u_nobody", "x").error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteAccountLifecycleTest, ManyRotationsKeepABoundedTokenHistoryAndReuseStillRevokes) {
  AddDevice("d1", kNow);
  std::string current = "t-d1";
  for (int i = 0; i < 1'500; ++i) {
    const std::string next = "t-" + std::to_string(i);
    auto rotated = store_->RotateRefreshToken(current, next, kNow + kDay, kNow + 1 + i);
    ASSERT_TRUE(rotated.ok());
    ASSERT_EQ(rotated->outcome, RotateOutcome::kRotated);
    current = next;
  }
  EXPECT_EQ(Count("refresh_tokens"), SqliteAccountStore::kUsedTokensKept + 1);
  // The token just before the current one is still known: presenting it again is reuse.
  auto reused = store_->RotateRefreshToken("t-1498", "t-x", kNow + kDay, kNow + 5'000);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->outcome, RotateOutcome::kReused);
  auto device = store_->FindRefreshTokenDevice(current);
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(*device, "d1");
}

TEST_F(SqliteAccountLifecycleTest, SweepDeletesExpiredTokensAndDeadDevices) {
  AddDevice("live", kNow);     // token lives a day
  AddDevice("revoked", kNow);  // revoked below
  ASSERT_TRUE(store_->CreateDevice("idle", "u_alice", "idle", kNow).ok());
  ASSERT_TRUE(store_->AddRefreshToken("t-idle", "idle", kNow + 1'000).ok());  // expires soon
  ASSERT_TRUE(store_->RevokeDevice("revoked", kNow + 10).ok());

  // Too early for anything but nothing is lost.
  auto none = store_->Sweep(kNow + 100, kNow, 1'000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->tokens, 0);
  EXPECT_EQ(none->devices, 0);

  // An hour later: the idle device's token has expired; the revoked device is long dead.
  auto swept = store_->Sweep(kNow + 3'600'000, kNow + 3'600'000 - 15 * 60'000, 1'000);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(swept->tokens, 2);   // t-idle (expired) and t-revoked
  EXPECT_EQ(swept->devices, 2);  // idle (no token left, unused) and revoked
  EXPECT_EQ(Count("devices"), 1);
  EXPECT_EQ(Count("refresh_tokens"), 1);
  EXPECT_THAT(DeviceIds(), ElementsAre("live"));
  EXPECT_EQ(store_->FindDevice("revoked").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace parley
