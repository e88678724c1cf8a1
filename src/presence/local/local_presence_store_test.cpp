#include "presence/local/local_presence_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace parley {
namespace {

/// A LastSeenStore in memory that can be told to fail.
class FakeLastSeen final : public LastSeenStore {
 public:
  Status SaveLastSeen(const std::vector<std::pair<std::string, int64_t>>& values) override {
    ++saves;
    if (fail) return Error::Unavailable("disk on fire");
    for (const auto& [user, ms] : values) stored[user] = std::max(stored[user], ms);
    return Status::Ok();
  }
  Result<std::vector<int64_t>> LoadLastSeen(const std::vector<std::string>& user_ids) override {
    ++loads;
    std::vector<int64_t> out;
    for (const auto& user : user_ids) out.push_back(stored.contains(user) ? stored[user] : 0);
    return out;
  }

  std::map<std::string, int64_t> stored;
  bool fail = false;
  int saves = 0;
  int loads = 0;
};

constexpr int64_t kNow = 1'700'000'000'000;

PresenceInfo Info(std::string user, bool online, int64_t last_seen_ms) {
  PresenceInfo info;
  info.user_id = std::move(user);
  info.online = online;
  info.last_seen_ms = last_seen_ms;
  return info;
}

TEST(LocalPresenceStoreTest, AnswersTheAnnouncedStateAndLastSeenOfOthers) {
  FakeLastSeen disk;
  disk.stored["u_old"] = kNow - 1000;
  LocalPresenceStore store(disk);
  EXPECT_EQ(*store.SetConnectedHere("u_alice", true, kNow), 1);
  PresenceInfo alice = Info("u_alice", true, kNow);
  alice.away = true;
  alice.text = "hi";
  ASSERT_TRUE(store.Publish(alice).ok());

  auto got = store.Get({"u_alice", "u_old", "u_never"});

  ASSERT_TRUE(got.ok());
  EXPECT_TRUE((*got)[0].online);
  EXPECT_EQ((*got)[0].text, "hi");
  EXPECT_FALSE((*got)[1].online);
  EXPECT_EQ((*got)[1].user_id, "u_old");
  EXPECT_EQ((*got)[1].last_seen_ms, kNow - 1000);
  EXPECT_EQ((*got)[2].last_seen_ms, 0);
  EXPECT_EQ(disk.loads, 1);  // one batch for everyone not in memory
}

TEST(LocalPresenceStoreTest, FlushWritesOneBatchAndForgetsOfflineUsers) {
  FakeLastSeen disk;
  LocalPresenceStore store(disk);
  for (const char* user : {"u_a", "u_b"}) {
    ASSERT_TRUE(store.SetConnectedHere(user, true, kNow).ok());
    ASSERT_TRUE(store.Publish(Info(user, true, kNow)).ok());
  }
  ASSERT_TRUE(store.SetConnectedHere("u_a", false, kNow + 10).ok());
  ASSERT_TRUE(store.Publish(Info("u_a", false, kNow + 10)).ok());
  EXPECT_EQ(*store.SetConnectedHere("u_nobody", false, kNow), 0);  // not remembered

  ASSERT_TRUE(store.Flush().ok());

  EXPECT_EQ(disk.saves, 1);
  EXPECT_EQ(disk.stored["u_a"], kNow + 10);
  EXPECT_EQ(disk.stored["u_b"], kNow);
  EXPECT_EQ(store.EntriesForTest(), 1u);  // u_b is online
  EXPECT_EQ((*store.Get({"u_a"}))[0].last_seen_ms, kNow + 10);
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(disk.saves, 1);  // nothing new to write
}

TEST(LocalPresenceStoreTest, AFailedFlushKeepsItsValuesForTheNextOne) {
  FakeLastSeen disk;
  LocalPresenceStore store(disk);
  ASSERT_TRUE(store.SetConnectedHere("u_a", true, kNow).ok());
  ASSERT_TRUE(store.SetConnectedHere("u_a", false, kNow + 5).ok());
  disk.fail = true;
  EXPECT_FALSE(store.Flush().ok());
  EXPECT_EQ((*store.Get({"u_a"}))[0].last_seen_ms, kNow + 5);  // still in memory

  disk.fail = false;
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(disk.stored["u_a"], kNow + 5);
  EXPECT_EQ(store.EntriesForTest(), 0u);
}

}  // namespace
}  // namespace parley
