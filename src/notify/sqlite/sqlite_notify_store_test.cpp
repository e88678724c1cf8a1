#include "notify/sqlite/sqlite_notify_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "notify/test_dir.h"

namespace parley {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class NotifyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteNotifyStore::Open(dir_.File("parley.db"), sqlite::Durability::kOff);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }

  static PushSubscription Sub(std::string endpoint, std::string user, int64_t created = 1) {
    return {std::move(endpoint), std::move(user), "p256dh", "auth", created};
  }

  testing_support::ScratchDir dir_;
  std::unique_ptr<SqliteNotifyStore> store_;
};

TEST_F(NotifyStoreTest, SettingsDefaultUntilPut) {
  NotifySettings settings = *store_->GetSettings("u_bob");
  EXPECT_FALSE(settings.private_previews);
  EXPECT_TRUE(settings.mentions_when_muted);

  ASSERT_TRUE(
      store_->PutSettings("u_bob", {.private_previews = true, .mentions_when_muted = false}).ok());

  settings = *store_->GetSettings("u_bob");
  EXPECT_TRUE(settings.private_previews);
  EXPECT_FALSE(settings.mentions_when_muted);
  EXPECT_FALSE(store_->GetSettings("u_alice")->private_previews);
}

TEST_F(NotifyStoreTest, MutesAreIdempotentAndListedBothWays) {
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_1", true).ok());
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_1", true).ok());
  ASSERT_TRUE(store_->SetMuted("u_carol", "c_1", true).ok());
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_2", true).ok());

  EXPECT_THAT(*store_->MutedBy("c_1"), UnorderedElementsAre("u_bob", "u_carol"));
  EXPECT_THAT(*store_->MutedConversations("u_bob"), ElementsAre("c_1", "c_2"));

  ASSERT_TRUE(store_->SetMuted("u_bob", "c_1", false).ok());
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_9", false).ok());
  EXPECT_THAT(*store_->MutedBy("c_1"), UnorderedElementsAre("u_carol"));
}

// Issue 17 #15: a second user registering the same endpoint used to take the row over.
TEST_F(NotifyStoreTest, AnotherUsersRegistrationOfAnEndpointNeverTakesItOver) {
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/1", "u_bob"), 5).ok());
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/1", "u_carol", 9), 5).ok());

  ASSERT_EQ(store_->Subscriptions("u_bob")->size(), 1u);
  ASSERT_EQ(store_->Subscriptions("u_carol")->size(), 1u);
  EXPECT_EQ(store_->FindSubscription("u_bob", "https://push.example/1")->user_id, "u_bob");
  EXPECT_EQ(store_->FindSubscription("u_carol", "https://push.example/1")->user_id, "u_carol");
  // Each removes only their own.
  EXPECT_TRUE(store_->RemoveSubscription("u_carol", "https://push.example/1").ok());
  EXPECT_EQ(store_->Subscriptions("u_bob")->size(), 1u);
  EXPECT_TRUE(store_->RemoveSubscription("u_bob", "https://push.example/1").ok());
}

TEST_F(NotifyStoreTest, SubscriptionsPerUserAreCapped) {
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/1", "u_bob"), 2).ok());
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/2", "u_bob"), 2).ok());
  EXPECT_EQ(store_->PutSubscription(Sub("https://push.example/3", "u_bob"), 2).error().code,
            ErrorCode::kConflict);
  // Re-registering one already held is not a new one.
  EXPECT_TRUE(store_->PutSubscription(Sub("https://push.example/2", "u_bob", 7), 2).ok());
}

TEST_F(NotifyStoreTest, RemoveIsPerUserAndDropIsForAnyone) {
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/1", "u_bob"), 5).ok());
  ASSERT_TRUE(store_->PutSubscription(Sub("https://push.example/2", "u_bob"), 5).ok());

  EXPECT_EQ(store_->RemoveSubscription("u_carol", "https://push.example/1").error().code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(store_->RemoveSubscription("u_bob", "https://push.example/1").ok());
  EXPECT_TRUE(store_->DropSubscription("https://push.example/2").ok());
  EXPECT_TRUE(store_->DropSubscription("https://push.example/2").ok());

  EXPECT_THAT(*store_->Subscriptions("u_bob"), IsEmpty());
  EXPECT_EQ(store_->FindSubscription("u_bob", "https://push.example/2").error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace parley
