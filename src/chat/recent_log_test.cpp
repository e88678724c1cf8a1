#include "chat/recent_log.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

LogEntry Entry(const std::string& conv, int64_t seq, std::string body = "") {
  LogEntry e;
  e.conv_id = conv;
  e.seq = seq;
  e.kind = EntryKind::kMessage;
  e.body = body.empty() ? "m" + std::to_string(seq) : body;
  return e;
}

std::vector<int64_t> Seqs(const LogPage& page) {
  std::vector<int64_t> out;
  for (const auto& e : page.entries) out.push_back(e.seq);
  return out;
}

TEST(RecentLogTest, ServesWhatItHoldsContiguously) {
  RecentLog log(4, 100);
  for (int64_t seq = 1; seq <= 6; ++seq) log.Append(Entry("c", seq));  // keeps 3..6

  auto page = log.After("c", 2, 10);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(Seqs(*page), (std::vector<int64_t>{3, 4, 5, 6}));
  EXPECT_FALSE(page->has_more);

  auto limited = log.After("c", 3, 2);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(Seqs(*limited), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(limited->has_more);

  auto caught_up = log.After("c", 6, 10);
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_TRUE(caught_up->entries.empty());
}

TEST(RecentLogTest, RefusesWhatItCannotAnswerCompletely) {
  RecentLog log(4, 100);
  for (int64_t seq = 1; seq <= 6; ++seq) log.Append(Entry("c", seq));
  EXPECT_FALSE(log.After("c", 1, 10).has_value());  // seq 2 was evicted
  EXPECT_FALSE(log.After("c", 7, 10).has_value());  // ahead of the cache: ask the store
  EXPECT_FALSE(log.After("other", 0, 10).has_value());
}

TEST(RecentLogTest, AGapRestartsTheRun) {
  RecentLog log(8, 100);
  log.Append(Entry("c", 1));
  log.Append(Entry("c", 2));
  log.Append(Entry("c", 5));  // 3 and 4 never reached the cache
  EXPECT_FALSE(log.After("c", 2, 10).has_value());
  EXPECT_EQ(Seqs(*log.After("c", 4, 10)), (std::vector<int64_t>{5}));
}

TEST(RecentLogTest, UpdatesReplaceTheCurrentStateOfAMessage) {
  RecentLog log(8, 100);
  log.Append(Entry("c", 1, "helo"));
  LogEntry edited = Entry("c", 1, "hello");
  edited.edited_ts = 42;
  log.Update(edited);
  auto page = log.After("c", 0, 10);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->entries[0].body, "hello");
  EXPECT_EQ(page->entries[0].edited_ts, 42);
}

TEST(RecentLogTest, BoundedInConversationsAndClearable) {
  RecentLog log(2, 16);  // one conversation per shard
  for (int i = 0; i < 1000; ++i) log.Append(Entry("c" + std::to_string(i), 1));
  int cached = 0;
  for (int i = 0; i < 1000; ++i) cached += log.After("c" + std::to_string(i), 0, 1).has_value();
  EXPECT_LE(cached, 16);
  EXPECT_GE(cached, 1);
  log.Clear();
  EXPECT_FALSE(log.After("c999", 0, 1).has_value());
}

}  // namespace
}  // namespace parley
