#include "store/sqlite/sqlite_search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

using std::chrono::steady_clock;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class TempDb {
 public:
  TempDb() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_search_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = pattern;
  }
  ~TempDb() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string Path() const { return (dir_ / "parley.db").string(); }

 private:
  std::filesystem::path dir_;
};

// ------------------------------------------------------------------------- query validation

class SearchQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = sqlite::Database::Open(":memory:");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto tokenizer = sqlite::SearchTokenizer::Create(*db_);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
    tokenizer_ = std::move(*tokenizer);
  }
  std::string Match(std::string_view query) {
    auto parsed = sqlite::ParseSearchQuery(*tokenizer_, query);
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    return parsed.ok() ? sqlite::MatchExpression(*parsed, "xT") : "<error>";
  }
  std::unique_ptr<sqlite::Database> db_;
  std::unique_ptr<sqlite::SearchTokenizer> tokenizer_;
};

TEST_F(SearchQueryTest, WordsAreFoldedTaggedAndPrefixedFromThreeCharacters) {
  EXPECT_EQ(Match("Café"), "\"xTcafe\"*");
  EXPECT_EQ(Match("hel WOR"), "\"xThel\"* AND \"xTwor\"*");
  // One or two characters match whole words only: a short prefix would visit most terms.
  EXPECT_EQ(Match("a"), "\"xTa\"");
  EXPECT_EQ(Match("au lait"), "\"xTau\" AND \"xTlait\"*");
  EXPECT_EQ(Match("été"), "\"xTete\"*");  // three code points, not three bytes
  // A word that folds to several is a phrase; only its last word is a prefix.
  EXPECT_EQ(Match("e-mail"), "\"xTe xTmail\"*");
  // Syntax is text: nothing of the query survives but letters and digits.
  EXPECT_EQ(Match("\"quoted\" NEAR( a:b *"), "\"xTquoted\"* AND \"xTnear\"* AND \"xTa xTb\"");
  EXPECT_EQ(Match("- * 😀"), "");
}

TEST_F(SearchQueryTest, RefusesBlankAndLongQueries) {
  for (std::string_view blank : {std::string_view(""), std::string_view(" "),
                                 std::string_view("\t\n"), std::string_view("\0", 1)}) {
    auto parsed = sqlite::ParseSearchQuery(*tokenizer_, blank);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidRequest);
  }
  EXPECT_TRUE(sqlite::ParseSearchQuery(*tokenizer_, "a b c d e f g h").ok());
  auto nine = sqlite::ParseSearchQuery(*tokenizer_, "a b c d e f g h i");
  ASSERT_FALSE(nine.ok());
  EXPECT_EQ(nine.error().code, ErrorCode::kInvalidRequest);
  EXPECT_THAT(nine.error().message, ::testing::HasSubstr("more than 8 words"));
}

TEST(ConversationTag, IsFixedLengthAlphanumericAndDistinct) {
  const std::string a = sqlite::ConversationTag("c_1");
  EXPECT_EQ(a.size(), 17u);
  EXPECT_EQ(a[0], 'x');
  EXPECT_EQ(a.find_first_not_of("x0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, sqlite::ConversationTag("c_2"));
  EXPECT_EQ(a, sqlite::ConversationTag("c_1"));
}

// ------------------------------------------------------------------------- the store

// A store with one big group (`big`, members u_big*) and small ones, filled fast (kOff).
class SearchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteMessageStore::Open(db_.Path(), sqlite::Durability::kOff, 2);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }

  void CreateGroup(const std::string& id, const std::vector<std::string>& members) {
    ConversationRecord record{.id = id,
                              .type = "group",
                              .title = "t",
                              .direct_key = "",
                              .created_by = members.front(),
                              .created_ms = 1,
                              .last_seq = 0,
                              .members = {}};
    for (const std::string& m : members) record.members.push_back({.user_id = m});
    ASSERT_TRUE(store_->Apply({mutation::InsertConversation{record}}).ok());
    last_seq_[id] = 0;
  }

  // `count` messages into `conv`, in batches; body(i) gives the text.
  template <class Body>
  void Fill(const std::string& conv, const std::string& sender, int count, Body body) {
    std::vector<Mutation> batch;
    for (int i = 0; i < count; ++i) {
      LogEntry e;
      e.conv_id = conv;
      e.seq = ++last_seq_[conv];
      e.id = "m_" + conv + "_" + std::to_string(e.seq);
      e.sender = sender;
      e.ts = 1'700'000'000'000 + e.seq;
      e.body = body(i);
      batch.push_back(mutation::AppendEntry{e});
      if (batch.size() == 1000) {
        ASSERT_TRUE(store_->Apply(batch).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE(store_->Apply(batch).ok());
    }
  }

  // Median wall time of `runs` searches, in microseconds.
  double MedianMicros(const std::string& user, const std::string& query, int runs = 7) {
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      const auto start = steady_clock::now();
      auto page = store_->Search(user, query, 20, 0);
      times.push_back(
          std::chrono::duration<double, std::micro>(steady_clock::now() - start).count());
      EXPECT_TRUE(page.ok());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

  TempDb db_;
  std::unique_ptr<SqliteMessageStore> store_;
  std::map<std::string, int64_t> last_seq_;
};

// Random-looking words, so that a prefix has many distinct terms to expand to.
std::string Words(int i, int n = 8) {
  std::string text;
  uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 12345u;
  for (int w = 0; w < n; ++w) {
    if (!text.empty()) text += ' ';
    for (int c = 0; c < 6; ++c) {
      x = x * 1103515245u + 12345u;
      text += static_cast<char>('a' + (x >> 16) % 26);
    }
  }
  return text;
}

TEST_F(SearchStoreTest, TheIndexScopesTheQueryToTheUsersConversations) {
  CreateGroup("c_big", {"u_attacker"});
  CreateGroup("c_small", {"u_bystander", "u_friend"});
  Fill("c_big", "u_attacker", 20'000, [](int i) { return Words(i); });
  Fill("c_small", "u_friend", 20, [](int i) { return "abc hello " + std::to_string(i); });

  // The worst prefix for the big conversation: every three-letter prefix is some term's.
  const double attacker = MedianMicros("u_attacker", "abc");
  const double bystander = MedianMicros("u_bystander", "abc");
  const double non_member = MedianMicros("u_nobody", "abc");
  std::cout << "search 'abc' (20k messages in the attacker's conversation): attacker " << attacker
            << " us, bystander (20 messages) " << bystander << " us, non-member " << non_member
            << " us\n";
  auto page = store_->Search("u_bystander", "abc", 50, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->hits.size(), 20u);
  // A non-member and a bystander do not pay for the attacker's data.
  EXPECT_LT(non_member, 5'000);
  EXPECT_LT(bystander, 20'000);
}

TEST_F(SearchStoreTest, TheDeadlineStopsALongSearchWithTruncatedResults) {
  CreateGroup("c_big", {"u_a"});
  // Two frequent words that never meet: the AND must walk both doclists to the end.
  Fill("c_big", "u_a", 30'000,
       [](int i) { return std::string(i % 2 ? "alpha " : "omega ") + Words(i, 3); });

  const auto start = steady_clock::now();
  auto full = store_->Search("u_a", "alpha omega", 20, 0);
  const double full_ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_THAT(full->hits, IsEmpty());
  EXPECT_FALSE(full->truncated);

  SearchBounds bounds;
  bounds.deadline = steady_clock::now() + std::chrono::microseconds(500);
  const auto bounded_start = steady_clock::now();
  auto bounded = store_->Search("u_a", "alpha omega", 20, 0, bounds);
  const double bounded_ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - bounded_start).count();
  std::cout << "unbounded search " << full_ms << " ms; with a 0.5 ms deadline " << bounded_ms
            << " ms\n";
  ASSERT_TRUE(bounded.ok()) << bounded.error().message;
  if (full_ms < 5) GTEST_SKIP() << "the unbounded search was too quick to interrupt";
  EXPECT_TRUE(bounded->truncated);
  EXPECT_LT(bounded_ms, full_ms / 2);

  // The connection is fine afterwards: the next search runs in full.
  auto again = store_->Search("u_a", "alpha", 5, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->hits.size(), 5u);
  EXPECT_FALSE(again->truncated);
}

TEST_F(SearchStoreTest, AConversationCapTruncates) {
  for (int i = 0; i < 5; ++i) {
    const std::string id = "c_" + std::to_string(i);
    CreateGroup(id, {"u_a"});
    Fill(id, "u_a", 1, [i](int) { return "needle " + std::to_string(i); });
  }
  SearchBounds bounds;
  bounds.max_conversations = 3;
  auto page = store_->Search("u_a", "needle", 20, 0, bounds);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->hits.size(), 3u);
  EXPECT_TRUE(page->truncated);
  auto all = store_->Search("u_a", "needle", 20, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->hits.size(), 5u);
  EXPECT_FALSE(all->truncated);
}

TEST_F(SearchStoreTest, ResultsMergeAcrossConversationsNewestFirstAndPage) {
  CreateGroup("c_x", {"u_a"});
  CreateGroup("c_y", {"u_a"});
  for (int i = 0; i < 6; ++i) {
    Fill(i % 2 ? "c_x" : "c_y", "u_a", 1, [i](int) { return "note " + std::to_string(i); });
  }
  auto first = store_->Search("u_a", "note", 4, 0);
  ASSERT_TRUE(first.ok());
  std::vector<std::string> bodies;
  for (const SearchHit& hit : first->hits) bodies.push_back(*hit.message.body);
  EXPECT_THAT(bodies, ElementsAre("note 5", "note 4", "note 3", "note 2"));
  auto rest = store_->Search("u_a", "note", 4, first->hits.back().cursor);
  ASSERT_TRUE(rest.ok());
  bodies.clear();
  for (const SearchHit& hit : rest->hits) bodies.push_back(*hit.message.body);
  EXPECT_THAT(bodies, ElementsAre("note 1", "note 0"));
}

// What a day's quota can cost on disk, and what a purge costs: the figures behind the
// defaults in docs/PROTOCOL.md (quota_bytes_per_day, purge_interval_ms).
TEST_F(SearchStoreTest, DiskPerTextByteAndPurgeCostAreBounded) {
  CreateGroup("c_big", {"u_a"});
  // 300 messages of the largest size, random words: the worst text for the index.
  std::string big;
  Fill("c_big", "u_a", 300, [&big](int i) {
    big.clear();
    for (int k = 0; big.size() < 16 * 1024 - 64; ++k) big += Words(i * 1000 + k) + ' ';
    return big;
  });
  const int64_t text = 300 * static_cast<int64_t>(big.size());
  ASSERT_TRUE(store_->PurgeDeletedText().ok());  // checkpointed: the main file holds it all
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(db_.Path()));
  std::cout << "300 messages of " << big.size() << " bytes: " << bytes << " bytes on disk, "
            << static_cast<double>(bytes) / static_cast<double>(text) << " per byte of text\n";
  EXPECT_LT(bytes, text * 4);

  // A purge after one delete rewrites the whole index: its cost grows with the index.
  Fill("c_big", "u_a", 2'000, [](int i) { return Words(i); });
  LogEntry del;
  del.conv_id = "c_big";
  del.seq = ++last_seq_["c_big"];
  del.id = "m_del";
  del.sender = "u_a";
  del.kind = EntryKind::kDelete;
  del.ts = 1'700'000'000'000 + del.seq;
  del.target_seq = 5;
  ASSERT_TRUE(store_
                  ->Apply({mutation::AppendEntry{del},
                           mutation::UpdateMessage{"c_big", 5, std::nullopt, 0, true}})
                  .ok());
  EXPECT_EQ(store_->TextRemovedSincePurge(), 1u);
  const auto start = steady_clock::now();
  auto purged = store_->PurgeDeletedText();
  const double ms = std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(store_->TextRemovedSincePurge(), 0u);
  std::cout << "purge of an index of 2,300 messages (" << bytes / 1024
            << " KiB of text index): " << ms << " ms\n";
  EXPECT_LT(ms, 5'000);
}

TEST(SearchMigration, ADatabaseWithTheOldGlobalIndexKeepsWorking) {
  TempDb db;
  {
    // Schema version 4, as the previous release left it, with a message in the old index.
    auto raw = sqlite::Database::Open(db.Path());
    ASSERT_TRUE(raw.ok());
    std::vector<sqlite::Migration> old(sqlite::SchemaMigrations().begin(),
                                       sqlite::SchemaMigrations().begin() + 4);
    ASSERT_TRUE(sqlite::Migrate(**raw, old).ok());
    ASSERT_TRUE((*raw)
                    ->Exec("INSERT INTO conversations (id, type, created_by, created_ms, last_seq, "
                           "last_activity_ms) VALUES ('c_1', 'group', 'u_a', 1, 2, 1);"
                           "INSERT INTO members (conv_id, user_id, role) VALUES ('c_1', 'u_a', "
                           "'owner');"
                           "INSERT INTO entries (conv_id, seq, id, sender, kind, ts, body) VALUES "
                           "('c_1', 1, 'm_1', 'u_a', 'message', 1, 'Old Zebra crossing'),"
                           "('c_1', 2, 'm_2', 'u_a', 'message', 2, 'another one');"
                           "INSERT INTO entries_fts (rowid, body) SELECT rowid, body FROM entries;")
                    .ok());
  }
  auto store = SqliteMessageStore::Open(db.Path(), sqlite::Durability::kOff, 1);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto page = (*store)->Search("u_a", "zeb", 10, 0);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->hits.size(), 1u);
  EXPECT_EQ(page->hits[0].message.body, "Old Zebra crossing");
  // Backfilled once: opening again indexes nothing twice.
  store->reset();
  auto again = SqliteMessageStore::Open(db.Path(), sqlite::Durability::kOff, 1);
  ASSERT_TRUE(again.ok());
  auto page2 = (*again)->Search("u_a", "another", 10, 0);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->hits.size(), 1u);
}

TEST_F(SearchStoreTest, UsageIsCountedPerUserAndDay) {
  CreateGroup("c_1", {"u_a", "u_b"});
  Fill("c_1", "u_a", 3, [](int) { return std::string("12345"); });
  Fill("c_1", "u_b", 1, [](int) { return std::string("xy"); });
  auto usage = store_->UsageOfDay(1'700'000'000'000 / 86'400'000);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].user_id, "u_a");
  EXPECT_EQ((*usage)[0].entries, 3);
  EXPECT_EQ((*usage)[0].bytes, 15);
  EXPECT_EQ((*usage)[1].user_id, "u_b");
  EXPECT_EQ((*usage)[1].bytes, 2);
  auto other_day = store_->UsageOfDay(1);
  ASSERT_TRUE(other_day.ok());
  EXPECT_THAT(*other_day, IsEmpty());
}

}  // namespace
}  // namespace parley
