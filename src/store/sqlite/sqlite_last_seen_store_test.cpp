#include "store/sqlite/sqlite_last_seen_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kNow = 1'700'000'000'000;

class SqliteLastSeenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_last_seen_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteLastSeenStore> Open() {
    auto store =
        SqliteLastSeenStore::Open((dir_ / "parley.db").string(), sqlite::Durability::kFull);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::vector<int64_t> Load(const std::vector<std::string>& users) {
    auto values = store_->LoadLastSeen(users);
    EXPECT_TRUE(values.ok()) << values.error().message;
    return values.ok() ? *values : std::vector<int64_t>{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteLastSeenStore> store_;
};

TEST_F(SqliteLastSeenStoreTest, UnknownUsersWereNeverSeen) {
  EXPECT_THAT(Load({"u_nobody", "u_other"}), ElementsAre(0, 0));
  EXPECT_THAT(Load({}), ElementsAre());
}

TEST_F(SqliteLastSeenStoreTest, SavesABatchAndNeverMovesBack) {
  ASSERT_TRUE(store_->SaveLastSeen({{"u_alice", kNow}, {"u_bob", kNow + 5}}).ok());
  ASSERT_TRUE(store_->SaveLastSeen({{"u_alice", kNow - 1000}, {"u_bob", kNow + 10}}).ok());

  EXPECT_THAT(Load({"u_bob", "u_carol", "u_alice"}), ElementsAre(kNow + 10, 0, kNow));
}

TEST_F(SqliteLastSeenStoreTest, SurvivesReopeningBesideTheOtherStores) {
  // The message store on the same file runs the same migrations: both must agree on them.
  auto messages = SqliteMessageStore::Open((dir_ / "parley.db").string(), sqlite::Durability::kOff);
  ASSERT_TRUE(messages.ok()) << messages.error().message;
  ASSERT_TRUE(store_->SaveLastSeen({{"u_alice", kNow}}).ok());
  store_.reset();

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_THAT(Load({"u_alice"}), ElementsAre(kNow));
}

}  // namespace
}  // namespace parley
