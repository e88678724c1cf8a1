#include "store/sqlite/sqlite_privacy_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX

#include <filesystem>
#include <string>
#include <vector>

namespace parley {
namespace {

class SqlitePrivacyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_privacy_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = SqlitePrivacyStore::Open((dir_ / "parley.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static Invitation Invite(std::string id, std::string conv, std::string user, int64_t ms) {
    return {std::move(id), std::move(conv), std::move(user), "u_inviter", "title", ms};
  }
  std::vector<std::string> Ids(std::string_view user) {
    std::vector<std::string> ids;
    Result<std::vector<Invitation>> list = store_->Invitations(user);
    for (const Invitation& i : *list) ids.push_back(i.id);
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqlitePrivacyStore> store_;
};

TEST_F(SqlitePrivacyStoreTest, GroupAddsIsUnsetUntilChosen) {
  EXPECT_FALSE(store_->GetGroupAdds("u_a")->has_value());
  ASSERT_TRUE(store_->PutGroupAdds("u_a", GroupAdds::kNobody).ok());
  EXPECT_EQ(**store_->GetGroupAdds("u_a"), GroupAdds::kNobody);
  ASSERT_TRUE(store_->PutGroupAdds("u_a", GroupAdds::kContacts).ok());
  EXPECT_EQ(**store_->GetGroupAdds("u_a"), GroupAdds::kContacts);
  EXPECT_EQ(ParseGroupAdds("anyone"), GroupAdds::kAnyone);
  EXPECT_EQ(ParseGroupAdds("everyone"), std::nullopt);
  EXPECT_EQ(GroupAddsName(GroupAdds::kContacts), "contacts");
}

TEST_F(SqlitePrivacyStoreTest, OneInvitationPerGroupAndInvitee) {
  ASSERT_EQ(store_->PutInvitation(Invite("i_1", "c_1", "u_a", 10), 5)->id, "i_1");
  // Again for the same group: the first is kept and returned.
  EXPECT_EQ(store_->PutInvitation(Invite("i_2", "c_1", "u_a", 20), 5)->id, "i_1");
  ASSERT_EQ(store_->PutInvitation(Invite("i_3", "c_1", "u_b", 20), 5)->id, "i_3");
  EXPECT_THAT(Ids("u_a"), ::testing::ElementsAre("i_1"));
  EXPECT_EQ((*store_->GetInvitation("i_3"))->user_id, "u_b");
  EXPECT_FALSE(store_->GetInvitation("i_2")->has_value());
}

TEST_F(SqlitePrivacyStoreTest, PendingInvitationsAreBoundedOldestDropped) {
  for (int i = 0; i < 6; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(store_->PutInvitation(Invite("i_" + n, "c_" + n, "u_a", 100 + i), 3).ok());
  }
  EXPECT_THAT(Ids("u_a"), ::testing::ElementsAre("i_3", "i_4", "i_5"));
}

TEST_F(SqlitePrivacyStoreTest, OnlyTheInviteeRemovesAnInvitation) {
  ASSERT_TRUE(store_->PutInvitation(Invite("i_1", "c_1", "u_a", 10), 5).ok());
  EXPECT_EQ(store_->RemoveInvitation("u_b", "i_1").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->RemoveInvitation("u_a", "i_1").ok());
  EXPECT_EQ(store_->RemoveInvitation("u_a", "i_1").error().code, ErrorCode::kNotFound);
  EXPECT_THAT(Ids("u_a"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace parley
