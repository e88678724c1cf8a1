#include "store/sqlite/sqlite_message_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_search.h"

namespace parley {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr int64_t kNow = 1'700'000'000'000;

MATCHER_P2(IsReaction, emoji, users, "") {
  return arg.emoji == emoji && arg.users == std::vector<std::string>(users);
}

std::vector<int64_t> Seqs(const std::vector<LogEntry>& entries) {
  std::vector<int64_t> seqs;
  seqs.reserve(entries.size());
  for (const LogEntry& e : entries) seqs.push_back(e.seq);
  return seqs;
}

std::vector<std::string> Bodies(const std::vector<SearchHit>& hits) {
  std::vector<std::string> bodies;
  bodies.reserve(hits.size());
  for (const SearchHit& hit : hits) bodies.push_back(hit.message.body.value_or("<none>"));
  return bodies;
}

// The fake clock of every Conv: each new entry is one second later than the one before,
// whatever its conversation. Reset by the fixture.
int64_t g_now = kNow;

// A conversation's log as the chat sequencer would build it: it hands out the next seq and
// the mutations that go with each change.
class Conv {
 public:
  explicit Conv(std::string id, int64_t last_seq = 0) : id_(std::move(id)), last_seq_(last_seq) {}

  const std::string& id() const { return id_; }
  int64_t last_seq() const { return last_seq_; }

  LogEntry Next(std::string sender, EntryKind kind) {
    LogEntry e;
    e.conv_id = id_;
    e.seq = ++last_seq_;
    e.id = "m_" + id_ + "_" + std::to_string(e.seq);
    e.sender = std::move(sender);
    e.kind = kind;
    e.ts = g_now += 1000;
    return e;
  }

  mutation::AppendEntry Message(std::string sender, std::string body,
                                std::string client_msg_id = "") {
    LogEntry e = Next(std::move(sender), EntryKind::kMessage);
    e.body = std::move(body);
    e.client_msg_id = std::move(client_msg_id);
    return {e};
  }

  std::vector<Mutation> Edit(std::string sender, int64_t target, std::string body) {
    LogEntry e = Next(std::move(sender), EntryKind::kEdit);
    e.target_seq = target;
    e.body = body;
    return {mutation::AppendEntry{e}, mutation::UpdateMessage{id_, target, body, e.ts, false}};
  }

  std::vector<Mutation> Delete(std::string sender, int64_t target) {
    LogEntry e = Next(std::move(sender), EntryKind::kDelete);
    e.target_seq = target;
    return {mutation::AppendEntry{e}, mutation::UpdateMessage{id_, target, std::nullopt, 0, true}};
  }

  std::vector<Mutation> React(const std::string& user, int64_t target, const std::string& emoji,
                              bool on) {
    LogEntry e = Next(user, EntryKind::kReaction);
    e.target_seq = target;
    e.emoji = emoji;
    e.reaction_added = on;
    return {mutation::AppendEntry{e}, mutation::SetReaction{id_, target, user, emoji, on}};
  }

 private:
  std::string id_;
  int64_t last_seq_;
};

// Each test gets a fresh database in a directory under $TMPDIR, removed afterwards.
class SqliteMessageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_now = kNow;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_messages_XXXXXX").string();
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

  std::unique_ptr<SqliteMessageStore> OpenStore(int read_connections = 2) {
    // Durability does not matter to these tests, and kOff keeps them fast.
    Result<std::unique_ptr<SqliteMessageStore>> store =
        SqliteMessageStore::Open(Path(), sqlite::Durability::kOff, read_connections);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Apply(const std::vector<Mutation>& batch) {
    Status s = store_->Apply(batch);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void Apply(Mutation m) { Apply(std::vector<Mutation>{std::move(m)}); }

  // A group `id` created by the first of `members` (owner), with its seq-1 "created" entry.
  Conv CreateGroup(const std::string& id, const std::vector<std::string>& members,
                   std::string title = "Team") {
    Conv conv(id);
    LogEntry created = conv.Next(members.front(), EntryKind::kMember);
    created.member_user = members.front();
    created.member_action = "created";
    created.member_role = "owner";
    ConversationRecord record{.id = id,
                              .type = "group",
                              .title = std::move(title),
                              .direct_key = "",
                              .created_by = members.front(),
                              .created_ms = kNow,
                              // As the sequencer sends it: already counting the created entry.
                              .last_seq = 1,
                              .members = {}};
    for (const std::string& m : members) {
      record.members.push_back({.user_id = m,
                                .role = m == members.front() ? Role::kOwner : Role::kMember,
                                .read_seq = m == members.front() ? 1 : 0,
                                .delivered_seq = 0,
                                .joined_seq = 1});
    }
    Apply({mutation::InsertConversation{record}, mutation::AppendEntry{created}});
    return conv;
  }

  LogEntry Get(const Conv& conv, int64_t seq) {
    Result<std::optional<LogEntry>> entry = store_->GetEntry(conv.id(), seq);
    EXPECT_TRUE(entry.ok()) << entry.error().message;
    EXPECT_TRUE(entry.ok() && entry->has_value()) << "no entry " << seq;
    return entry.ok() && entry->has_value() ? **entry : LogEntry{};
  }

  LogPage Read(const Conv& conv, std::optional<int64_t> after, std::optional<int64_t> before,
               int limit) {
    Result<LogPage> page = store_->ReadLog(conv.id(), after, before, limit);
    EXPECT_TRUE(page.ok()) << page.error().message;
    return page.ok() ? *page : LogPage{};
  }

  std::vector<SearchHit> Search(std::string_view user, std::string_view query, int limit = 50,
                                int64_t before = 0) {
    Result<SearchPage> page = store_->Search(user, query, limit, before);
    EXPECT_TRUE(page.ok()) << "query [" << query << "]: " << page.error().message;
    return page.ok() ? page->hits : std::vector<SearchHit>{};
  }

  std::vector<ConversationSummary> List(std::string_view user) {
    Result<std::vector<ConversationSummary>> list = store_->ListConversations(user);
    EXPECT_TRUE(list.ok()) << list.error().message;
    return list.ok() ? *list : std::vector<ConversationSummary>{};
  }

  // A connection of its own, to look at what is really stored.
  int64_t RawCount(const std::string& sql) {
    Result<std::unique_ptr<sqlite::Database>> db =
        sqlite::Database::Open(Path(), {.durability = sqlite::Durability::kOff});
    EXPECT_TRUE(db.ok()) << db.error().message;
    if (!db.ok()) return -1;
    Result<sqlite::Statement> stmt = (*db)->Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << stmt.error().message;
    if (!stmt.ok()) return -1;
    Result<bool> row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row);
    return row.ok() && *row ? stmt->ColumnInt64(0) : -1;
  }

  // Whether `needle` occurs anywhere in the database file or its WAL.
  bool FilesContain(std::string_view needle) {
    for (const std::string& path : {Path(), Path() + "-wal"}) {
      std::ifstream file(path, std::ios::binary);
      if (!file) continue;
      const std::string bytes((std::istreambuf_iterator<char>(file)),
                              std::istreambuf_iterator<char>());
      if (bytes.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteMessageStore> store_;
};

TEST(MessageStoreNames, KindsAndRolesRoundTrip) {
  EXPECT_EQ(EntryKindName(EntryKind::kMessage), "message");
  EXPECT_EQ(EntryKindName(EntryKind::kEdit), "edit");
  EXPECT_EQ(EntryKindName(EntryKind::kDelete), "delete");
  EXPECT_EQ(EntryKindName(EntryKind::kReaction), "reaction");
  EXPECT_EQ(EntryKindName(EntryKind::kMember), "member");
  EXPECT_EQ(EntryKindName(EntryKind::kRename), "rename");
  for (Role role : {Role::kOwner, Role::kAdmin, Role::kMember}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
  EXPECT_EQ(ParseRole("Owner"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

TEST_F(SqliteMessageStoreTest, RefusesAnInMemoryDatabase) {
  Result<std::unique_ptr<SqliteMessageStore>> store =
      SqliteMessageStore::Open(":memory:", sqlite::Durability::kOff);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidRequest);
}

TEST_F(SqliteMessageStoreTest, CreatesAConversationAndLoadsItBack) {
  CreateGroup("c_1", {"u_alice", "u_bob", "u_carol"}, "Lunch");

  Result<std::optional<ConversationRecord>> loaded = store_->LoadConversation("c_1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  const ConversationRecord& c = **loaded;
  EXPECT_EQ(c.id, "c_1");
  EXPECT_EQ(c.type, "group");
  EXPECT_EQ(c.title, "Lunch");
  EXPECT_EQ(c.direct_key, "");
  EXPECT_EQ(c.created_by, "u_alice");
  EXPECT_EQ(c.created_ms, kNow);
  EXPECT_EQ(c.last_seq, 1);
  ASSERT_EQ(c.members.size(), 3u);
  EXPECT_EQ(c.members[0].user_id, "u_alice");
  EXPECT_EQ(c.members[0].role, Role::kOwner);
  EXPECT_EQ(c.members[0].read_seq, 1);
  EXPECT_EQ(c.members[0].joined_seq, 1);
  EXPECT_EQ(c.members[1].user_id, "u_bob");
  EXPECT_EQ(c.members[1].role, Role::kMember);
  EXPECT_EQ(c.members[2].user_id, "u_carol");

  LogEntry created = Get(Conv("c_1"), 1);
  EXPECT_EQ(created.kind, EntryKind::kMember);
  EXPECT_EQ(created.sender, "u_alice");
  EXPECT_EQ(created.member_user, "u_alice");
  EXPECT_EQ(created.member_action, "created");
  EXPECT_EQ(created.member_role, "owner");
  EXPECT_EQ(created.body, std::nullopt);

  Result<std::optional<ConversationRecord>> missing = store_->LoadConversation("c_nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, std::nullopt);
}

TEST_F(SqliteMessageStoreTest, FindsDirectConversationsByKey) {
  ConversationRecord direct{.id = "c_d",
                            .type = "direct",
                            .title = "",
                            .direct_key = "u_alice|u_bob",
                            .created_by = "u_alice",
                            .created_ms = kNow,
                            .last_seq = 0,
                            .members = {{.user_id = "u_alice"}, {.user_id = "u_bob"}}};
  Apply(mutation::InsertConversation{direct});

  EXPECT_THAT(*store_->FindDirect("u_alice|u_bob"), Optional(std::string("c_d")));
  EXPECT_EQ(*store_->FindDirect("u_alice|u_carol"), std::nullopt);
  EXPECT_EQ(*store_->FindDirect(""), std::nullopt);

  // Groups have no key, and any number of them can exist.
  CreateGroup("c_g1", {"u_alice"});
  CreateGroup("c_g2", {"u_alice"});
  EXPECT_EQ(*store_->FindDirect(""), std::nullopt);

  // A second direct conversation for the same pair is a conflict, and stores nothing.
  direct.id = "c_d2";
  Status s = store_->Apply({mutation::InsertConversation{direct}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*store_->LoadConversation("c_d2"), std::nullopt);
}

TEST_F(SqliteMessageStoreTest, ReadsPagesAfterAndBeforeWithHasMore) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  std::vector<Mutation> batch;
  for (int i = 2; i <= 10; ++i) batch.emplace_back(conv.Message("u_bob", "m" + std::to_string(i)));
  Apply(batch);

  LogPage page = Read(conv, 0, std::nullopt, 4);
  EXPECT_THAT(Seqs(page.entries), ElementsAre(1, 2, 3, 4));
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.entries[1].body, "m2");

  page = Read(conv, 6, std::nullopt, 4);  // exactly the rest
  EXPECT_THAT(Seqs(page.entries), ElementsAre(7, 8, 9, 10));
  EXPECT_FALSE(page.has_more);

  page = Read(conv, 8, std::nullopt, 4);
  EXPECT_THAT(Seqs(page.entries), ElementsAre(9, 10));
  EXPECT_FALSE(page.has_more);

  page = Read(conv, 10, std::nullopt, 4);
  EXPECT_THAT(page.entries, IsEmpty());
  EXPECT_FALSE(page.has_more);

  page = Read(conv, std::nullopt, std::nullopt, 3);  // neither: from the start
  EXPECT_THAT(Seqs(page.entries), ElementsAre(1, 2, 3));
  EXPECT_TRUE(page.has_more);

  page = Read(conv, std::nullopt, 11, 4);  // the newest page, still ascending
  EXPECT_THAT(Seqs(page.entries), ElementsAre(7, 8, 9, 10));
  EXPECT_TRUE(page.has_more);

  page = Read(conv, std::nullopt, 5, 4);  // exactly the rest
  EXPECT_THAT(Seqs(page.entries), ElementsAre(1, 2, 3, 4));
  EXPECT_FALSE(page.has_more);

  page = Read(conv, std::nullopt, 3, 4);
  EXPECT_THAT(Seqs(page.entries), ElementsAre(1, 2));
  EXPECT_FALSE(page.has_more);

  page = Read(conv, std::nullopt, 1, 4);
  EXPECT_THAT(page.entries, IsEmpty());
  EXPECT_FALSE(page.has_more);

  // before_seq wins over after_seq.
  page = Read(conv, 2, 6, 2);
  EXPECT_THAT(Seqs(page.entries), ElementsAre(4, 5));
  EXPECT_TRUE(page.has_more);

  // Limits out of range are clamped rather than trusted.
  page = Read(conv, 0, std::nullopt, 0);
  EXPECT_THAT(Seqs(page.entries), ElementsAre(1));
  EXPECT_TRUE(page.has_more);
  page = Read(conv, -5, std::nullopt, 100000);
  EXPECT_EQ(page.entries.size(), 10u);
  EXPECT_FALSE(page.has_more);

  page = Read(Conv("c_nope"), 0, std::nullopt, 10);
  EXPECT_THAT(page.entries, IsEmpty());
  EXPECT_FALSE(page.has_more);
}

TEST_F(SqliteMessageStoreTest, FindsAMessageByClientMsgId) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Conv other = CreateGroup("c_2", {"u_alice", "u_bob"});
  const mutation::AppendEntry first = conv.Message("u_alice", "first", "k1");
  const mutation::AppendEntry bobs = conv.Message("u_bob", "bob's", "k1");
  mutation::AppendEntry reply = conv.Message("u_alice", "no key");
  reply.entry.reply_to = 2;
  Apply({first, bobs, reply, conv.Message("u_alice", "no key either")});

  Result<std::optional<LogEntry>> found = store_->FindByClientMsgId("c_1", "u_alice", "k1");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->seq, 2);
  EXPECT_EQ((*found)->body, "first");
  EXPECT_EQ((*found)->client_msg_id, "k1");
  EXPECT_EQ((*found)->id, first.entry.id);
  EXPECT_EQ((*found)->ts, first.entry.ts);
  EXPECT_EQ((*found)->kind, EntryKind::kMessage);

  EXPECT_EQ((*store_->FindByClientMsgId("c_1", "u_bob", "k1"))->seq, 3);
  EXPECT_EQ(*store_->FindByClientMsgId("c_1", "u_carol", "k1"), std::nullopt);
  EXPECT_EQ(*store_->FindByClientMsgId("c_2", "u_alice", "k1"), std::nullopt);
  EXPECT_EQ(*store_->FindByClientMsgId("c_1", "u_alice", "k2"), std::nullopt);
  EXPECT_EQ(*store_->FindByClientMsgId("c_1", "u_alice", ""), std::nullopt);
  EXPECT_EQ(Get(conv, 4).client_msg_id, "");
  EXPECT_EQ(Get(conv, 4).reply_to, 2);
  EXPECT_EQ(Get(conv, 2).reply_to, 0);

  // The same key in another conversation is another message.
  Apply(other.Message("u_alice", "elsewhere", "k1"));
  EXPECT_EQ((*store_->FindByClientMsgId("c_2", "u_alice", "k1"))->body, "elsewhere");
}

TEST_F(SqliteMessageStoreTest, DuplicateClientMsgIdIsAConflictAndRollsBackTheWholeBatch) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(conv.Message("u_alice", "first", "k1"));  // seq 2

  Conv attempt = conv;
  const std::vector<Mutation> batch = {
      attempt.Message("u_bob", "lost"),  // seq 3: fine on its own
      mutation::SetReadSeq{"c_1", "u_bob", 3},
      attempt.Message("u_alice", "again", "k1"),  // seq 4: the duplicate
  };
  Status s = store_->Apply(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict) << s.error().message;

  EXPECT_EQ(*store_->GetEntry("c_1", 3), std::nullopt);
  EXPECT_EQ(*store_->GetEntry("c_1", 4), std::nullopt);
  std::optional<ConversationRecord> c = *store_->LoadConversation("c_1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->last_seq, 2);
  EXPECT_EQ(c->members[1].read_seq, 0);
  EXPECT_THAT(Search("u_bob", "lost"), IsEmpty());

  // The store is usable afterwards: the transaction did not stay open.
  Apply(conv.Message("u_bob", "kept"));
  EXPECT_EQ(Get(conv, 3).body, "kept");
}

TEST_F(SqliteMessageStoreTest, AFailingMutationRollsBackTheEarlierOnes) {
  Conv conv = CreateGroup("c_1", {"u_alice"});
  Conv attempt = conv;
  Status s = store_->Apply(
      {attempt.Message("u_alice", "lost"), mutation::UpdateMessage{"c_1", 99, "x", kNow, false}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().message;
  EXPECT_EQ(*store_->GetEntry("c_1", 2), std::nullopt);
  EXPECT_EQ((*store_->LoadConversation("c_1"))->last_seq, 1);

  s = store_->Apply({mutation::SetTitle{"c_1", "New"}, mutation::SetTitle{"c_nope", "x"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ((*store_->LoadConversation("c_1"))->title, "Team");
}

TEST_F(SqliteMessageStoreTest, KeepsTheLogGapless) {
  Conv conv = CreateGroup("c_1", {"u_alice"});
  Apply(conv.Message("u_alice", "two"));

  Conv skipping = conv;
  skipping.Next("u_alice", EntryKind::kMessage);  // seq 3 never stored
  Status s = store_->Apply({skipping.Message("u_alice", "four")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);

  Conv repeating("c_1", 1);
  s = store_->Apply({repeating.Message("u_alice", "two again")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);

  // An entry for a conversation that does not exist.
  Conv ghost("c_ghost");
  s = store_->Apply({ghost.Message("u_alice", "boo")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);

  EXPECT_THAT(Seqs(Read(conv, 0, std::nullopt, 10).entries), ElementsAre(1, 2));
}

TEST_F(SqliteMessageStoreTest, EditReplacesTheCurrentBody) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(conv.Message("u_alice", "see you at noon"));  // seq 2
  Apply(conv.Edit("u_alice", 2, "see you at one"));   // seq 3

  LogEntry message = Get(conv, 2);
  EXPECT_EQ(message.kind, EntryKind::kMessage);
  EXPECT_EQ(message.body, "see you at one");
  EXPECT_EQ(message.edited_ts, kNow + 3000);
  EXPECT_FALSE(message.deleted);

  LogEntry edit = Get(conv, 3);
  EXPECT_EQ(edit.kind, EntryKind::kEdit);
  EXPECT_EQ(edit.target_seq, 2);
  EXPECT_EQ(edit.body, "see you at one");

  EXPECT_THAT(Search("u_bob", "noon"), IsEmpty());
  EXPECT_THAT(Bodies(Search("u_bob", "one")), ElementsAre("see you at one"));
  // The edit's own entry is in the log, not in the search results.
  EXPECT_EQ(Search("u_bob", "see").size(), 1u);
  EXPECT_EQ((*store_->LoadConversation("c_1"))->last_seq, 3);
}

TEST_F(SqliteMessageStoreTest, DeleteErasesTheTextFromStorageAndIndex) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(conv.Message("u_alice", "the Zanzibar plan"));      // seq 2
  Apply(conv.Edit("u_alice", 2, "the Zanzibar plan, v2"));  // seq 3
  Apply(conv.Message("u_bob", "unrelated"));                // seq 4
  ASSERT_EQ(Search("u_bob", "zanzibar").size(), 1u);
  // Checkpointed into the main file: the scan below can see the text when it is there.
  ASSERT_TRUE(store_->PurgeDeletedText().ok());
  ASSERT_TRUE(FilesContain("anzibar"));

  Apply(conv.Delete("u_alice", 2));  // seq 5

  LogEntry message = Get(conv, 2);
  EXPECT_TRUE(message.deleted);
  EXPECT_EQ(message.body, std::nullopt);
  EXPECT_EQ(Get(conv, 3).body, std::nullopt);  // the earlier edit's copy went too
  LogEntry del = Get(conv, 5);
  EXPECT_EQ(del.kind, EntryKind::kDelete);
  EXPECT_EQ(del.target_seq, 2);
  EXPECT_THAT(Search("u_bob", "zanzibar"), IsEmpty());
  EXPECT_THAT(Search("u_bob", "plan"), IsEmpty());
  EXPECT_EQ(Get(conv, 4).body, "unrelated");

  // What another connection finds in the tables.
  EXPECT_EQ(RawCount("SELECT COUNT(*) FROM entries WHERE body LIKE '%anzibar%'"), 0);
  EXPECT_EQ(RawCount("SELECT COUNT(*) FROM entries WHERE body IS NOT NULL AND conv_id = 'c_1' "
                     "AND seq IN (2, 3)"),
            0);
  // The index's terms carry the conversation's tag (sqlite_search.h).
  const std::string tag = sqlite::ConversationTag("c_1");
  EXPECT_EQ(
      RawCount("SELECT COUNT(*) FROM search_index WHERE search_index MATCH '" + tag + "zanzibar'"),
      0);
  EXPECT_EQ(
      RawCount("SELECT COUNT(*) FROM search_index WHERE search_index MATCH '" + tag + "unrelated'"),
      1);

  // And in the files, once the leftovers (old index segments, WAL frames) are purged.
  ASSERT_TRUE(store_->PurgeDeletedText().ok());
  EXPECT_FALSE(FilesContain("anzibar"));
  EXPECT_TRUE(FilesContain("unrelated"));
  EXPECT_THAT(Bodies(Search("u_bob", "unrel")), ElementsAre("unrelated"));
}

TEST_F(SqliteMessageStoreTest, ReactionsToggleAndAreGroupedByEmoji) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob", "u_carol"});
  Apply(conv.Message("u_alice", "lunch?"));  // seq 2
  Apply(conv.Message("u_bob", "sure"));      // seq 3
  Apply(conv.React("u_alice", 2, "👍", true));
  Apply(conv.React("u_bob", 2, "❤️", true));
  Apply(conv.React("u_carol", 2, "👍", true));
  Apply(conv.React("u_carol", 3, "😂", true));
  // Adding an existing reaction again changes nothing (and keeps its place).
  Apply(mutation::SetReaction{"c_1", 2, "u_alice", "👍", true});

  EXPECT_THAT(Get(conv, 2).reactions,
              ElementsAre(IsReaction("👍", std::vector<std::string>{"u_alice", "u_carol"}),
                          IsReaction("❤️", std::vector<std::string>{"u_bob"})));

  Apply(conv.React("u_alice", 2, "👍", false));
  EXPECT_THAT(Get(conv, 2).reactions,
              ElementsAre(IsReaction("❤️", std::vector<std::string>{"u_bob"}),
                          IsReaction("👍", std::vector<std::string>{"u_carol"})));

  LogEntry reaction = Get(conv, conv.last_seq());
  EXPECT_EQ(reaction.kind, EntryKind::kReaction);
  EXPECT_EQ(reaction.target_seq, 2);
  EXPECT_EQ(reaction.emoji, "👍");
  EXPECT_FALSE(reaction.reaction_added);
  EXPECT_TRUE(Get(conv, 4).reaction_added);
  EXPECT_THAT(reaction.reactions, IsEmpty());

  // A page carries each message's own reactions, including for messages at its edges.
  LogPage page = Read(conv, 2, std::nullopt, 1);
  ASSERT_THAT(Seqs(page.entries), ElementsAre(3));
  EXPECT_THAT(page.entries[0].reactions,
              ElementsAre(IsReaction("😂", std::vector<std::string>{"u_carol"})));
  page = Read(conv, 0, std::nullopt, 50);
  EXPECT_EQ(page.entries[1].reactions.size(), 2u);
  EXPECT_EQ(page.entries[2].reactions.size(), 1u);
  EXPECT_THAT(page.entries[0].reactions, IsEmpty());

  // A reaction to a message that does not exist fails the batch.
  Status s = store_->Apply({mutation::SetReaction{"c_1", 99, "u_bob", "👍", true}});
  EXPECT_FALSE(s.ok());
}

TEST_F(SqliteMessageStoreTest, ReadAndDeliveredSeqNeverMoveBack) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  for (int i = 0; i < 5; ++i) Apply(conv.Message("u_alice", "hi"));

  Apply({mutation::SetReadSeq{"c_1", "u_bob", 5}, mutation::SetDeliveredSeq{"c_1", "u_bob", 6}});
  Apply({mutation::SetReadSeq{"c_1", "u_bob", 3}, mutation::SetDeliveredSeq{"c_1", "u_bob", 2}});
  // Upserting a stale copy of the member (a role change) does not move them back either.
  Apply(mutation::UpsertMember{"c_1",
                               {.user_id = "u_bob",
                                .role = Role::kAdmin,
                                .read_seq = 1,
                                .delivered_seq = 1,
                                .joined_seq = 1}});
  // Not a member: nothing to move, and not an error.
  Apply(mutation::SetReadSeq{"c_1", "u_zed", 4});

  std::optional<ConversationRecord> c = *store_->LoadConversation("c_1");
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->members.size(), 2u);
  EXPECT_EQ(c->members[1].user_id, "u_bob");
  EXPECT_EQ(c->members[1].role, Role::kAdmin);
  EXPECT_EQ(c->members[1].read_seq, 5);
  EXPECT_EQ(c->members[1].delivered_seq, 6);

  Apply(mutation::SetReadSeq{"c_1", "u_bob", 6});
  EXPECT_EQ((*store_->LoadConversation("c_1"))->members[1].read_seq, 6);
}

TEST_F(SqliteMessageStoreTest, MembersComeAndGoAndTitlesChange) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  LogEntry added = conv.Next("u_alice", EntryKind::kMember);
  added.member_user = "u_carol";
  added.member_action = "added";
  added.member_role = "member";
  LogEntry removed = conv.Next("u_alice", EntryKind::kMember);
  removed.member_user = "u_bob";
  removed.member_action = "removed";
  LogEntry renamed = conv.Next("u_alice", EntryKind::kRename);
  renamed.title = "Dinner";
  Apply({mutation::AppendEntry{added},
         mutation::UpsertMember{"c_1", {.user_id = "u_carol", .joined_seq = added.seq}},
         mutation::AppendEntry{removed}, mutation::RemoveMember{"c_1", "u_bob"},
         mutation::AppendEntry{renamed}, mutation::SetTitle{"c_1", "Dinner"}});

  std::optional<ConversationRecord> c = *store_->LoadConversation("c_1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->title, "Dinner");
  EXPECT_EQ(c->last_seq, 4);
  ASSERT_EQ(c->members.size(), 2u);
  EXPECT_EQ(c->members[0].user_id, "u_alice");
  EXPECT_EQ(c->members[1].user_id, "u_carol");
  EXPECT_EQ(c->members[1].joined_seq, 2);

  EXPECT_EQ(Get(conv, 2).member_user, "u_carol");
  EXPECT_EQ(Get(conv, 2).member_action, "added");
  EXPECT_EQ(Get(conv, 3).member_role, "");
  EXPECT_EQ(Get(conv, 4).kind, EntryKind::kRename);
  EXPECT_EQ(Get(conv, 4).title, "Dinner");

  Result<std::optional<MemberRecord>> carol = store_->GetMember("c_1", "u_carol");
  ASSERT_TRUE(carol.ok()) << carol.error().message;
  ASSERT_TRUE(carol->has_value());
  EXPECT_EQ((*carol)->role, Role::kMember);
  EXPECT_EQ((*carol)->joined_seq, 2);
  EXPECT_EQ(*store_->GetMember("c_1", "u_bob"), std::nullopt);
  EXPECT_EQ(*store_->GetMember("c_nope", "u_alice"), std::nullopt);
  EXPECT_EQ((*store_->GetMember("c_1", "u_alice"))->role, Role::kOwner);

  // Removing someone who is not a member does nothing.
  Apply(mutation::RemoveMember{"c_1", "u_bob"});
  EXPECT_EQ(*store_->GetSummary("c_1", "u_bob"), std::nullopt);
}

TEST_F(SqliteMessageStoreTest, ListsConversationsWithUnreadAndLastMessage) {
  Conv team = CreateGroup("c_team", {"u_alice", "u_bob", "u_carol"});
  Conv pair = CreateGroup("c_pair", {"u_alice", "u_bob"});
  CreateGroup("c_other", {"u_carol"});

  Apply({team.Message("u_bob", "b1"),    // 2
         team.Message("u_alice", "a1"),  // 3
         team.Message("u_bob", "b2"),    // 4
         team.Message("u_carol", "c1"),  // 5
         team.Message("u_bob", "b3")});  // 6
  Apply(mutation::SetReadSeq{"c_team", "u_alice", 3});
  Apply(team.Delete("u_bob", 4));              // 7
  Apply(team.React("u_carol", 6, "👍", true));  // 8
  Apply(pair.Message("u_bob", "p1"));          // pair 2: the most recent activity

  std::vector<ConversationSummary> list = List("u_alice");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].conversation.id, "c_pair");
  EXPECT_EQ(list[0].unread, 1);
  EXPECT_EQ(list[0].read_seq, 1);
  EXPECT_EQ(list[1].conversation.id, "c_team");
  EXPECT_EQ(list[1].conversation.last_seq, 8);
  EXPECT_EQ(list[1].read_seq, 3);
  // Above seq 3: b2 (deleted), c1, b3; the reaction and delete entries are not messages.
  EXPECT_EQ(list[1].unread, 2);
  ASSERT_EQ(list[1].conversation.members.size(), 3u);
  ASSERT_TRUE(list[1].last_message.has_value());
  EXPECT_EQ(list[1].last_message->seq, 6);
  EXPECT_EQ(list[1].last_message->body, "b3");
  EXPECT_THAT(list[1].last_message->reactions,
              ElementsAre(IsReaction("👍", std::vector<std::string>{"u_carol"})));

  // Bob's own messages never count as unread for him.
  list = List("u_bob");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].conversation.id, "c_team");
  EXPECT_EQ(list[1].unread, 2);  // a1 and c1
  EXPECT_EQ(list[0].unread, 0);

  // New activity moves a conversation to the top.
  Apply(team.Message("u_carol", "c2"));
  list = List("u_alice");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].conversation.id, "c_team");
  EXPECT_EQ(list[0].unread, 3);
  EXPECT_EQ(list[0].last_message->body, "c2");

  // A conversation without messages has no last message.
  list = List("u_carol");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].conversation.id, "c_other");
  EXPECT_EQ(list[1].last_message, std::nullopt);
  EXPECT_EQ(list[1].unread, 0);

  EXPECT_THAT(List("u_nobody"), IsEmpty());
}

TEST_F(SqliteMessageStoreTest, GetSummaryIsForMembersOnly) {
  Conv team = CreateGroup("c_team", {"u_alice", "u_bob"});
  Apply(team.Message("u_bob", "hello"));

  Result<std::optional<ConversationSummary>> summary = store_->GetSummary("c_team", "u_alice");
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  ASSERT_TRUE(summary->has_value());
  EXPECT_EQ((*summary)->conversation.id, "c_team");
  EXPECT_EQ((*summary)->conversation.title, "Team");
  EXPECT_EQ((*summary)->conversation.members.size(), 2u);
  EXPECT_EQ((*summary)->unread, 1);
  EXPECT_EQ((*summary)->last_message->body, "hello");

  EXPECT_EQ(*store_->GetSummary("c_team", "u_carol"), std::nullopt);
  EXPECT_EQ(*store_->GetSummary("c_nope", "u_alice"), std::nullopt);
}

TEST_F(SqliteMessageStoreTest, SearchMatchesPrefixesOfEveryWord) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply({conv.Message("u_alice", "hello world"),  // 2
         conv.Message("u_bob", "help me"),        // 3
         conv.Message("u_alice", "world peace"),  // 4
         conv.Message("u_bob", "Café au lait"),   // 5
         conv.Message("u_bob", "rock and roll")});

  EXPECT_THAT(Bodies(Search("u_alice", "hel")), ElementsAre("help me", "hello world"));
  EXPECT_THAT(Bodies(Search("u_alice", "hel wor")), ElementsAre("hello world"));
  EXPECT_THAT(Bodies(Search("u_alice", "  WORLD\t")), ElementsAre("world peace", "hello world"));
  EXPECT_THAT(Bodies(Search("u_alice", "cafe")), ElementsAre("Café au lait"));
  EXPECT_THAT(Bodies(Search("u_alice", "CAF LAI")), ElementsAre("Café au lait"));
  EXPECT_THAT(Search("u_alice", "hello peace"), IsEmpty());
  EXPECT_THAT(Search("u_alice", "orld"), IsEmpty());  // prefixes, not substrings

  std::vector<SearchHit> hits = Search("u_alice", "peace");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message.conv_id, "c_1");
  EXPECT_EQ(hits[0].message.seq, 4);
  EXPECT_EQ(hits[0].message.sender, "u_alice");
  EXPECT_GT(hits[0].cursor, 0);
}

TEST_F(SqliteMessageStoreTest, SearchTreatsEveryCharacterOfTheQueryAsText) {
  Conv conv = CreateGroup("c_1", {"u_alice"});
  Apply({conv.Message("u_alice", "hello world"), conv.Message("u_alice", "rock and roll"),
         conv.Message("u_alice", "near the \"quoted\" e-mail")});

  for (std::string_view query :
       {"\"",  "\"\"",       "*",       "NEAR(",     "NEAR(a b)", "AND",
        "OR",  "NOT",        "-",       "hello\"",   "(",         ")",
        "a:b", "body:hello", "^hello",  "{body}: x", "hel*",      "'",
        "\\",  "+",          "a\"b\"c", "\xff\xfe",  "😀",         "NEAR(hello, world)"}) {
    Result<SearchPage> hits = store_->Search("u_alice", query, 10, 0);
    EXPECT_TRUE(hits.ok()) << "query [" << query << "]: " << hits.error().message;
  }
  const std::string with_nul("hello\0world", 11);
  EXPECT_THAT(Bodies(Search("u_alice", with_nul)), ElementsAre("hello world"));

  // Operators are words like any other.
  EXPECT_THAT(Bodies(Search("u_alice", "AND")), ElementsAre("rock and roll"));
  EXPECT_THAT(Bodies(Search("u_alice", "NEAR(")), ElementsAre("near the \"quoted\" e-mail"));
  EXPECT_THAT(Bodies(Search("u_alice", "\"quoted\"")), ElementsAre("near the \"quoted\" e-mail"));
  EXPECT_THAT(Bodies(Search("u_alice", "e-mail")), ElementsAre("near the \"quoted\" e-mail"));
  EXPECT_THAT(Bodies(Search("u_alice", "body:hello")), IsEmpty());
  // Words without letters or digits take nothing away from the others.
  EXPECT_THAT(Bodies(Search("u_alice", "hello - * \" 😀")), ElementsAre("hello world"));
  EXPECT_THAT(Search("u_alice", "-"), IsEmpty());

  for (std::string_view empty : {"", "   ", "\t\n"}) {
    Result<SearchPage> hits = store_->Search("u_alice", empty, 10, 0);
    ASSERT_FALSE(hits.ok());
    EXPECT_EQ(hits.error().code, ErrorCode::kInvalidRequest);
  }
}

TEST_F(SqliteMessageStoreTest, SearchSeesOnlyUndeletedMessagesOfTheUsersConversations) {
  Conv mine = CreateGroup("c_mine", {"u_alice", "u_bob"});
  Conv theirs = CreateGroup("c_theirs", {"u_bob", "u_carol"});
  Apply({mine.Message("u_bob", "secret one"), theirs.Message("u_carol", "secret two"),
         mine.Message("u_alice", "secret three")});
  Apply(mine.Delete("u_alice", 3));

  std::vector<SearchHit> hits = Search("u_alice", "secret");
  EXPECT_THAT(Bodies(hits), ElementsAre("secret one"));
  EXPECT_THAT(Bodies(Search("u_bob", "secret")), ElementsAre("secret two", "secret one"));
  EXPECT_THAT(Search("u_nobody", "secret"), IsEmpty());

  // Leaving a conversation takes its messages out of the user's results.
  Apply(mutation::RemoveMember{"c_mine", "u_bob"});
  EXPECT_THAT(Bodies(Search("u_bob", "secret")), ElementsAre("secret two"));
}

TEST_F(SqliteMessageStoreTest, SearchPagesNewestFirstWithACursor) {
  Conv a = CreateGroup("c_a", {"u_alice"});
  Conv b = CreateGroup("c_b", {"u_alice"});
  // Interleaved across conversations; "newest" is the order of insertion.
  Apply({a.Message("u_alice", "note 1"), b.Message("u_alice", "note 2")});
  Apply({a.Message("u_alice", "note 3"), a.Message("u_alice", "other")});
  Apply({b.Message("u_alice", "note 4"), a.Message("u_alice", "note 5")});

  std::vector<SearchHit> page = Search("u_alice", "note", 2);
  EXPECT_THAT(Bodies(page), ElementsAre("note 5", "note 4"));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_GT(page[0].cursor, page[1].cursor);

  page = Search("u_alice", "note", 2, page.back().cursor);
  EXPECT_THAT(Bodies(page), ElementsAre("note 3", "note 2"));
  ASSERT_EQ(page.size(), 2u);

  page = Search("u_alice", "note", 2, page.back().cursor);
  EXPECT_THAT(Bodies(page), ElementsAre("note 1"));
  ASSERT_EQ(page.size(), 1u);

  EXPECT_THAT(Search("u_alice", "note", 2, page.back().cursor), IsEmpty());
  EXPECT_EQ(Search("u_alice", "note", 0).size(), 1u);  // limit clamped to at least 1
}

TEST_F(SqliteMessageStoreTest, SearchResultsShowTheCurrentState) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(conv.Message("u_alice", "pizza tonight"));  // 2
  Apply(conv.Edit("u_alice", 2, "pizza tomorrow"));
  Apply(conv.React("u_bob", 2, "🍕", true));

  std::vector<SearchHit> hits = Search("u_bob", "pizza");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].message.body, "pizza tomorrow");
  EXPECT_EQ(hits[0].message.edited_ts, kNow + 3000);
  EXPECT_THAT(hits[0].message.reactions,
              ElementsAre(IsReaction("🍕", std::vector<std::string>{"u_bob"})));
}

TEST_F(SqliteMessageStoreTest, ReadsOnOtherConnectionsSeeEachBatchOnceApplyReturns) {
  store_ = OpenStore(/*read_connections=*/4);
  ASSERT_NE(store_, nullptr);
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});

  constexpr int kMessages = 150;
  std::atomic<int64_t> applied{1};  // the last seq whose Apply returned
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};

  // Readers check that what they see is a consistent prefix of the log, never older than
  // what was already acknowledged when the read started.
  auto reader = [&](int which) {
    while (!done.load()) {
      const int64_t acknowledged = applied.load();
      if (which % 2 == 0) {
        Result<std::vector<ConversationSummary>> list = store_->ListConversations("u_bob");
        if (!list.ok() || list->size() != 1) {
          ++failures;
          continue;
        }
        const ConversationSummary& s = list->front();
        const int64_t last = s.conversation.last_seq;
        // Before the first message there is no last message.
        const int64_t last_message = s.last_message ? s.last_message->seq : 1;
        if (last < acknowledged || last_message != last || s.unread != last - 1) {
          ++failures;
        }
      } else {
        Result<LogPage> page = store_->ReadLog("c_1", std::nullopt, kMessages + 10, 200);
        if (!page.ok() || static_cast<int64_t>(page->entries.size()) < acknowledged ||
            page->entries.back().seq != static_cast<int64_t>(page->entries.size())) {
          ++failures;
        }
      }
    }
  };
  constexpr int kReaders = 6;
  std::vector<std::thread> readers;
  readers.reserve(kReaders);
  for (int i = 0; i < kReaders; ++i) readers.emplace_back(reader, i);

  for (int i = 0; i < kMessages; ++i) {
    Status s = store_->Apply({conv.Message("u_alice", "m" + std::to_string(i))});
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) break;  // not ASSERT: the readers must be joined
    applied.store(conv.last_seq());
    // The writer's own next read, on some read connection, sees it at once.
    Result<std::optional<LogEntry>> entry = store_->GetEntry("c_1", conv.last_seq());
    EXPECT_TRUE(entry.ok() && entry->has_value()) << "seq " << conv.last_seq();
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SqliteMessageStoreTest, DataSurvivesReopening) {
  Conv conv = CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(conv.Message("u_alice", "persistent hello", "k1"));
  Apply(conv.React("u_bob", 2, "👍", true));
  Apply(mutation::SetReadSeq{"c_1", "u_bob", 2});

  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);

  EXPECT_EQ((*store_->LoadConversation("c_1"))->last_seq, 3);
  EXPECT_EQ((*store_->FindByClientMsgId("c_1", "u_alice", "k1"))->body, "persistent hello");
  EXPECT_THAT(Get(conv, 2).reactions,
              ElementsAre(IsReaction("👍", std::vector<std::string>{"u_bob"})));
  EXPECT_THAT(Bodies(Search("u_bob", "persist")), ElementsAre("persistent hello"));
  EXPECT_EQ((*store_->GetSummary("c_1", "u_bob"))->read_seq, 2);
  // The log carries on where it stopped.
  Apply(conv.Message("u_bob", "still here"));
  EXPECT_EQ(Get(conv, 4).body, "still here");
}

TEST_F(SqliteMessageStoreTest, FullDurabilityCommitsToo) {
  store_.reset();
  Result<std::unique_ptr<SqliteMessageStore>> store =
      SqliteMessageStore::Open(Path(), sqlite::Durability::kFull, 1);
  ASSERT_TRUE(store.ok()) << store.error().message;
  store_ = std::move(*store);
  Conv conv = CreateGroup("c_1", {"u_alice"});
  Apply(conv.Message("u_alice", "durable"));
  EXPECT_EQ(Get(conv, 2).body, "durable");
}

// ---------------------------------------------------------------------------- presence

// A direct conversation between `a` and `b` with its seq-1 "created" entry.
void CreateDirect(SqliteMessageStore& store, const std::string& id, const std::string& a,
                  const std::string& b) {
  ConversationRecord record{.id = id,
                            .type = "direct",
                            .title = "",
                            .direct_key = std::min(a, b) + "|" + std::max(a, b),
                            .created_by = a,
                            .created_ms = kNow,
                            .last_seq = 1,
                            .members = {{.user_id = a, .role = Role::kMember, .joined_seq = 1},
                                        {.user_id = b, .role = Role::kMember, .joined_seq = 1}}};
  LogEntry created;
  created.conv_id = id;
  created.seq = 1;
  created.id = "m_" + id;
  created.sender = a;
  created.kind = EntryKind::kMember;
  created.ts = kNow;
  created.member_user = a;
  created.member_action = "created";
  ASSERT_TRUE(
      store.Apply({mutation::InsertConversation{record}, mutation::AppendEntry{created}}).ok());
}

TEST_F(SqliteMessageStoreTest, ContactsAreDirectPeersFirstThenMembersOfSmallGroups) {
  CreateDirect(*store_, "c_d1", "u_alice", "u_zed");
  CreateDirect(*store_, "c_d2", "u_bob", "u_alice");
  CreateDirect(*store_, "c_other", "u_bob", "u_carol");
  CreateGroup("c_small", {"u_carol", "u_alice", "u_bob"});
  CreateGroup("c_big", {"u_dave", "u_alice", "u_erin", "u_frank"});

  Result<ContactList> contacts = store_->ListContacts("u_alice", 3, 100);

  ASSERT_TRUE(contacts.ok()) << contacts.error().message;
  EXPECT_THAT(contacts->users, ElementsAre("u_zed", "u_bob", "u_carol"));
  EXPECT_EQ(contacts->direct, 2u);
  EXPECT_FALSE(contacts->truncated);
  EXPECT_THAT(contacts->conversations,
              ::testing::UnorderedElementsAre("c_d1", "c_d2", "c_small", "c_big"));

  // The big group counts once it is small enough; a user in nothing has no contacts.
  EXPECT_THAT(store_->ListContacts("u_alice", 4, 100)->users,
              ElementsAre("u_zed", "u_bob", "u_dave", "u_erin", "u_frank", "u_carol"));
  EXPECT_THAT(store_->ListContacts("u_alice", 0, 100)->users, ElementsAre("u_zed", "u_bob"));
  EXPECT_THAT(store_->ListContacts("u_nobody", 100, 100)->users, IsEmpty());
  EXPECT_THAT(store_->ListContacts("u_nobody", 100, 100)->conversations, IsEmpty());
}

TEST_F(SqliteMessageStoreTest, ContactsStopAtTheLimit) {
  CreateDirect(*store_, "c_d1", "u_alice", "u_zed");
  CreateGroup("c_small", {"u_alice", "u_bob", "u_carol"});

  Result<ContactList> contacts = store_->ListContacts("u_alice", 100, 2);

  ASSERT_TRUE(contacts.ok()) << contacts.error().message;
  EXPECT_THAT(contacts->users, ElementsAre("u_zed", "u_bob"));
  EXPECT_TRUE(contacts->truncated);
  EXPECT_THAT(contacts->conversations, ::testing::UnorderedElementsAre("c_d1", "c_small"));
}

TEST_F(SqliteMessageStoreTest, ContactsFollowMembershipChanges) {
  CreateGroup("c_small", {"u_alice", "u_bob"});
  Apply(mutation::UpsertMember{"c_small", {.user_id = "u_carol", .joined_seq = 2}});
  EXPECT_THAT(store_->ListContacts("u_carol", 10, 10)->users, ElementsAre("u_alice", "u_bob"));

  Apply(mutation::RemoveMember{"c_small", "u_bob"});
  EXPECT_THAT(store_->ListContacts("u_alice", 10, 10)->users, ElementsAre("u_carol"));
  EXPECT_THAT(store_->ListContacts("u_bob", 10, 10)->users, IsEmpty());
}

TEST_F(SqliteMessageStoreTest, UsersSharingAConversationOfAnySize) {
  CreateDirect(*store_, "c_d1", "u_alice", "u_bob");
  CreateGroup("c_big", {"u_alice", "u_carol", "u_dave", "u_erin"});

  Result<std::vector<std::string>> shared = store_->UsersSharingAConversation(
      "u_alice", {"u_erin", "u_stranger", "u_bob", "u_alice", "u_erin", "u_carol"});

  ASSERT_TRUE(shared.ok()) << shared.error().message;
  EXPECT_THAT(*shared, ElementsAre("u_erin", "u_bob", "u_carol"));
  EXPECT_THAT(*store_->UsersSharingAConversation("u_stranger", {"u_alice"}), IsEmpty());
  EXPECT_THAT(*store_->UsersSharingAConversation("u_alice", {}), IsEmpty());
}

TEST_F(SqliteMessageStoreTest, TheAppliedListenerHearsEachCommittedBatch) {
  std::vector<size_t> batches;
  store_->OnApplied([&](const std::vector<Mutation>& batch) { batches.push_back(batch.size()); });
  CreateGroup("c_1", {"u_alice", "u_bob"});
  Apply(mutation::RemoveMember{"c_1", "u_bob"});
  // A failed batch is rolled back and not reported.
  EXPECT_FALSE(store_->Apply({mutation::SetTitle{"c_nope", "x"}}).ok());

  EXPECT_THAT(batches, ElementsAre(2u, 1u));
}

}  // namespace
}  // namespace parley
