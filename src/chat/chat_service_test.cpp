#include "chat/chat_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "chat/encode.h"
#include "store/sqlite/sqlite_account_store.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

namespace json = boost::json;
using testing::ElementsAre;
using testing::IsEmpty;

/// A device as the hub sees it: records every frame, parsed.
class Device final : public Connection {
 public:
  Device(std::string user, std::string device)
      : user_(std::move(user)), device_(std::move(device)) {}
  void Deliver(Frame frame) override {
    {
      std::lock_guard lock(mu_);
      frames_.push_back(json::parse(*frame).as_object());
    }
    arrived_.notify_all();
  }

  /// Waits (bounded) until `count` frames of `type` have arrived. Answers come before fan-out,
  /// so a test that got its answer waits here for the events, instead of sleeping.
  bool WaitFor(std::string_view type, size_t count, std::string_view kind = {}) {
    std::unique_lock lock(mu_);
    return arrived_.wait_for(lock, std::chrono::seconds(10), [&] {
      size_t n = 0;
      for (const auto& f : frames_) {
        n += f.at("type").as_string() == type && (kind.empty() || f.at("kind").as_string() == kind);
      }
      return n >= count;
    });
  }
  void Close(int, std::string) override {}
  const std::string& user_id() const override { return user_; }
  const std::string& device_id() const override { return device_; }
  const std::string& session_id() const override { return device_; }

  std::vector<json::object> Frames(std::string_view type) {
    std::lock_guard lock(mu_);
    std::vector<json::object> out;
    for (const auto& f : frames_) {
      if (f.at("type").as_string() == type) out.push_back(f);
    }
    return out;
  }
  std::vector<int64_t> MessageSeqs(const std::string& conv) {
    std::vector<int64_t> seqs;
    for (const auto& f : Frames("message")) {
      if (f.at("conv").as_string() == conv && f.at("kind").as_string() == "message") {
        seqs.push_back(f.at("seq").as_int64());
      }
    }
    return seqs;
  }

 private:
  std::string user_, device_;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<json::object> frames_;
};

template <class T, class Start>
Result<T> Call(Start start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  start([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

class ChatServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-chat-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open();
    alice_ = AddUser("alice");
    bob_ = AddUser("bob");
    carol_ = AddUser("carol");
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    accounts_ = SqliteAccountStore::Open(dir_ + "/db", sqlite::Durability::kFull).value();
    messages_ = SqliteMessageStore::Open(dir_ + "/db", sqlite::Durability::kFull).value();
    chat_ = std::make_unique<ChatService>(*messages_, *accounts_, hub_, clock_, ChatOptions{});
  }
  // A restart: everything in memory is gone, only the database remains.
  void Close() {
    chat_.reset();
    messages_.reset();
    accounts_.reset();
  }

  std::string AddUser(const std::string& name) {
    NewUser u{"u_" + name, name, name, "hash", clock_.NowMs()};
    EXPECT_TRUE(accounts_->CreateUser(u).ok());
    return u.id;
  }
  std::shared_ptr<Device> Connect(const std::string& user, const std::string& device = "d") {
    auto d = std::make_shared<Device>(user, device);
    hub_.Add(d);
    devices_.push_back(d);
    return d;
  }

  Result<CreateResult> Create(const std::string& user, const std::string& type,
                              std::vector<std::string> members, const std::string& title = "") {
    return Call<CreateResult>([&](auto done) {
      chat_->CreateConversation({user, type, title, std::move(members)}, std::move(done));
    });
  }
  std::string Group(const std::string& owner, std::vector<std::string> members) {
    auto r = Create(owner, "group", std::move(members), "team");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r->conversation.id;
  }
  Result<LogEntry> Send(const std::string& user, const std::string& conv, const std::string& body,
                        const std::string& cmid = "", int64_t reply_to = 0,
                        const Connection* origin = nullptr) {
    return Call<LogEntry>([&](auto done) {
      chat_->Send({user, conv, cmid, body, reply_to}, origin, std::move(done));
    });
  }

  std::string dir_;
  FakeClock clock_;
  ConnectionHub hub_;
  std::unique_ptr<SqliteAccountStore> accounts_;
  std::unique_ptr<SqliteMessageStore> messages_;
  std::unique_ptr<ChatService> chat_;
  std::vector<std::shared_ptr<Device>> devices_;
  std::string alice_, bob_, carol_;
};

TEST_F(ChatServiceTest, DirectConversationIsUniquePerPair) {
  auto first = Create(alice_, "direct", {bob_});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  auto again = Create(bob_, "direct", {alice_});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->conversation.id, first->conversation.id);

  EXPECT_EQ(Create(alice_, "direct", {alice_}).error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(Create(alice_, "direct", {bob_, carol_}).error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(Create(alice_, "direct", {"u_nobody"}).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Create(alice_, "channel", {bob_}).error().code, ErrorCode::kInvalidRequest);
}

TEST_F(ChatServiceTest, ConcurrentSendersEveryMemberGetsEveryMessageOnceInOrder) {
  const std::string conv = Group(alice_, {bob_, carol_});
  auto alice_phone = Connect(alice_, "phone");
  auto bob_laptop = Connect(bob_, "laptop");
  auto carol_phone = Connect(carol_, "phone");

  constexpr int kPerSender = 60;
  std::vector<std::thread> senders;
  std::mutex mu;
  std::vector<int64_t> acked;
  for (const std::string& user : {alice_, bob_, carol_}) {
    senders.emplace_back([&, user] {
      for (int i = 0; i < kPerSender; ++i) {
        auto ack = Send(user, conv, user + " says " + std::to_string(i));
        ASSERT_TRUE(ack.ok()) << ack.error().message;
        std::lock_guard lock(mu);
        acked.push_back(ack->seq);
      }
    });
  }
  for (auto& t : senders) t.join();

  // Seq 1 is the creation entry; the 180 messages take 2..181 with no gap and no repeat.
  std::sort(acked.begin(), acked.end());
  ASSERT_EQ(acked.size(), 3u * kPerSender);
  for (size_t i = 0; i < acked.size(); ++i) EXPECT_EQ(acked[i], static_cast<int64_t>(i) + 2);

  for (auto* device : {alice_phone.get(), bob_laptop.get(), carol_phone.get()}) {
    // kind "message" only: the group's creation entry may or may not reach a device that
    // connected just after it.
    ASSERT_TRUE(device->WaitFor("message", acked.size(), "message")) << device->user_id();
    const std::vector<int64_t> seqs = device->MessageSeqs(conv);
    EXPECT_EQ(seqs, acked) << device->user_id();  // all, each once, ascending
  }
}

TEST_F(ChatServiceTest, TheSendingConnectionGetsNoEchoButTheSendersOtherDevicesDo) {
  const std::string conv = Group(alice_, {bob_});
  auto phone = Connect(alice_, "phone");
  auto laptop = Connect(alice_, "laptop");
  ASSERT_TRUE(Send(alice_, conv, "hi", "c1", 0, phone.get()).ok());
  // One fan-out reaches all of alice's devices: once the laptop has it, the phone had its chance.
  ASSERT_TRUE(laptop->WaitFor("message", 1, "message"));
  EXPECT_THAT(phone->MessageSeqs(conv), IsEmpty());
  EXPECT_THAT(laptop->MessageSeqs(conv), ElementsAre(2));
}

TEST_F(ChatServiceTest, RetryWithTheSameClientMsgIdGetsTheFirstAckAcrossARestart) {
  const std::string conv = Group(alice_, {bob_});
  auto first = Send(alice_, conv, "hello", "cmid-1");
  ASSERT_TRUE(first.ok());
  auto retry = Send(alice_, conv, "hello", "cmid-1");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->seq, first->seq);
  EXPECT_EQ(retry->id, first->id);

  Close();
  Open();
  auto after_restart = Send(alice_, conv, "hello", "cmid-1");
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(after_restart->seq, first->seq);
  EXPECT_EQ(after_restart->ts, first->ts);
  // Another sender may use the same client_msg_id: the key is (conversation, sender, id).
  auto bobs = Send(bob_, conv, "hello", "cmid-1");
  ASSERT_TRUE(bobs.ok());
  EXPECT_EQ(bobs->seq, first->seq + 1);

  auto page = chat_->History(alice_, conv, 0, std::nullopt, 200);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 3u);  // created, alice's hello once, bob's hello
}

TEST_F(ChatServiceTest, SeqsContinueGaplessAfterARestart) {
  const std::string conv = Group(alice_, {bob_});
  ASSERT_EQ(Send(alice_, conv, "one")->seq, 2);
  Close();
  Open();
  EXPECT_EQ(Send(bob_, conv, "two")->seq, 3);
}

TEST_F(ChatServiceTest, NonMembersCanNeitherSendNorReadNorLearnTheConversationExists) {
  const std::string conv = Group(alice_, {bob_});
  auto send = Send(carol_, conv, "let me in");
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().code, ErrorCode::kNotFound);
  auto missing = Send(carol_, "c_does_not_exist", "x");
  EXPECT_EQ(missing.error().message, send.error().message);
  EXPECT_EQ(chat_->History(carol_, conv, 0, std::nullopt, 10).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(chat_->GetConversation(carol_, conv).error().code, ErrorCode::kNotFound);
  EXPECT_THAT(*chat_->Sync(carol_), IsEmpty());
}

TEST_F(ChatServiceTest, RemovedMembersStopReceiving) {
  const std::string conv = Group(alice_, {bob_, carol_});
  auto carol_phone = Connect(carol_);
  auto bob_phone = Connect(bob_);
  ASSERT_TRUE(Send(alice_, conv, "before").ok());
  auto removed = Call<ConversationRecord>(
      [&](auto done) { chat_->RemoveMember(alice_, conv, carol_, std::move(done)); });
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  ASSERT_TRUE(Send(alice_, conv, "after").ok());
  // Bob gets "before" and "after"; fan-outs run in order, so by then carol's are done.
  ASSERT_TRUE(bob_phone->WaitFor("message", 2, "message"));

  EXPECT_THAT(carol_phone->MessageSeqs(conv), ElementsAre(2));
  // Carol did hear that she was removed.
  auto member_events = carol_phone->Frames("message");
  EXPECT_EQ(member_events.back().at("action").as_string(), "removed");
  EXPECT_EQ(Send(carol_, conv, "hello?").error().code, ErrorCode::kNotFound);
}

TEST_F(ChatServiceTest, RolesDecideWhoManagesTheGroupAndTheLastOwnerHandsOn) {
  const std::string conv = Group(alice_, {bob_});
  auto by_bob = Call<ConversationRecord>(
      [&](auto done) { chat_->AddMember(bob_, conv, carol_, std::move(done)); });
  EXPECT_EQ(by_bob.error().code, ErrorCode::kForbidden);
  auto by_alice = Call<ConversationRecord>(
      [&](auto done) { chat_->AddMember(alice_, conv, carol_, std::move(done)); });
  ASSERT_TRUE(by_alice.ok());
  EXPECT_EQ(by_alice->members.size(), 3u);

  auto leave = Call<ConversationRecord>(
      [&](auto done) { chat_->RemoveMember(alice_, conv, alice_, std::move(done)); });
  ASSERT_TRUE(leave.ok());
  ASSERT_EQ(leave->members.size(), 2u);
  EXPECT_EQ(leave->members[0].user_id, bob_);  // the longest-standing member
  EXPECT_EQ(leave->members[0].role, Role::kOwner);

  auto renamed = Call<ConversationRecord>(
      [&](auto done) { chat_->Rename(bob_, conv, "bob's team", std::move(done)); });
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->title, "bob's team");
}

TEST_F(ChatServiceTest, EditDeleteReactAndReplyFollowTheRules) {
  const std::string conv = Group(alice_, {bob_});
  const int64_t msg = Send(alice_, conv, "helo")->seq;

  auto bob_edit = Call<LogEntry>(
      [&](auto done) { chat_->Edit(bob_, conv, msg, "hacked", nullptr, std::move(done)); });
  EXPECT_EQ(bob_edit.error().code, ErrorCode::kForbidden);
  auto edit = Call<LogEntry>(
      [&](auto done) { chat_->Edit(alice_, conv, msg, "hello", nullptr, std::move(done)); });
  ASSERT_TRUE(edit.ok());
  EXPECT_EQ(edit->kind, EntryKind::kEdit);
  EXPECT_EQ(edit->target_seq, msg);

  auto like = Call<LogEntry>(
      [&](auto done) { chat_->React(bob_, conv, msg, "👍", nullptr, std::move(done)); });
  ASSERT_TRUE(like.ok());
  EXPECT_TRUE(like->reaction_added);
  auto unlike = Call<LogEntry>(
      [&](auto done) { chat_->React(bob_, conv, msg, "👍", nullptr, std::move(done)); });
  ASSERT_TRUE(unlike.ok());
  EXPECT_FALSE(unlike->reaction_added);

  auto reply = Send(bob_, conv, "hi!", "", msg);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->reply_to, msg);
  EXPECT_EQ(Send(bob_, conv, "to nowhere", "", 999).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Send(bob_, conv, "to an edit", "", edit->seq).error().code, ErrorCode::kInvalidRequest);

  auto del = Call<LogEntry>(
      [&](auto done) { chat_->Delete(alice_, conv, msg, nullptr, std::move(done)); });
  ASSERT_TRUE(del.ok());
  auto again = Call<LogEntry>(
      [&](auto done) { chat_->Delete(alice_, conv, msg, nullptr, std::move(done)); });
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto edit_deleted = Call<LogEntry>(
      [&](auto done) { chat_->Edit(alice_, conv, msg, "back", nullptr, std::move(done)); });
  EXPECT_EQ(edit_deleted.error().code, ErrorCode::kConflict);

  auto page = chat_->History(bob_, conv, msg - 1, std::nullopt, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_TRUE(page->entries[0].deleted);
  EXPECT_FALSE(page->entries[0].body.has_value());
  EXPECT_TRUE(page->has_more);
}

TEST_F(ChatServiceTest, ReadSeqNeverMovesBackAndUnreadCountsOthersMessages) {
  const std::string conv = Group(alice_, {bob_});
  auto alice_phone = Connect(alice_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(alice_, conv, "m" + std::to_string(i)).ok());
  ASSERT_TRUE(Send(bob_, conv, "mine").ok());  // moves bob's read_seq to 5

  auto summary = chat_->GetConversation(bob_, conv);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->read_seq, 5);
  EXPECT_EQ(summary->unread, 0);
  EXPECT_EQ(chat_->GetConversation(alice_, conv)->unread, 1);

  auto read = Call<int64_t>([&](auto done) { chat_->MarkRead(alice_, conv, 5, std::move(done)); });
  EXPECT_EQ(*read, 5);
  auto back = Call<int64_t>([&](auto done) { chat_->MarkRead(alice_, conv, 2, std::move(done)); });
  EXPECT_EQ(*back, 5);
  auto beyond =
      Call<int64_t>([&](auto done) { chat_->MarkRead(alice_, conv, 99, std::move(done)); });
  EXPECT_EQ(*beyond, 5);  // clamped to the last seq
  EXPECT_EQ(chat_->GetConversation(alice_, conv)->unread, 0);
  ASSERT_TRUE(alice_phone->WaitFor("receipt", 1));
  auto receipts = alice_phone->Frames("receipt");
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(receipts[0].at("read_seq").as_int64(), 5);
}

TEST_F(ChatServiceTest, BadBodiesAreRefusedBeforeAnythingIsStored) {
  const std::string conv = Group(alice_, {bob_});
  EXPECT_EQ(Send(alice_, conv, "").error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(Send(alice_, conv, "bad \xC3").error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(Send(alice_, conv, std::string(16 * 1024 + 1, 'x')).error().code,
            ErrorCode::kPayloadTooLarge);
  EXPECT_TRUE(Send(alice_, conv, std::string(16 * 1024, 'x')).ok());
  EXPECT_EQ(Send(alice_, conv, "next")->seq, 3);
}

TEST_F(ChatServiceTest, TypingReachesOtherMembersOnly) {
  const std::string conv = Group(alice_, {bob_});
  auto alice_phone = Connect(alice_);
  auto bob_phone = Connect(bob_);
  auto carol_phone = Connect(carol_);
  ASSERT_TRUE(Call<bool>([&](auto done) { chat_->Typing(alice_, conv, std::move(done)); }).ok());
  ASSERT_TRUE(bob_phone->WaitFor("typing", 1));
  EXPECT_THAT(alice_phone->Frames("typing"), IsEmpty());
  EXPECT_EQ(bob_phone->Frames("typing").size(), 1u);
  EXPECT_THAT(carol_phone->Frames("typing"), IsEmpty());
  EXPECT_EQ(
      Call<bool>([&](auto done) { chat_->Typing(carol_, conv, std::move(done)); }).error().code,
      ErrorCode::kNotFound);
}

TEST_F(ChatServiceTest, HistoryFromMemoryMatchesHistoryFromStorage) {
  const std::string conv = Group(alice_, {bob_});
  const int64_t first = Send(alice_, conv, "first")->seq;
  const int64_t second = Send(bob_, conv, "second", "", first)->seq;
  ASSERT_TRUE(Call<LogEntry>([&](auto done) {
                chat_->Edit(alice_, conv, first, "first!", nullptr, std::move(done));
              }).ok());
  ASSERT_TRUE(Call<LogEntry>([&](auto done) {
                chat_->React(alice_, conv, second, "🎉", nullptr, std::move(done));
              }).ok());
  ASSERT_TRUE(Call<LogEntry>([&](auto done) {
                chat_->React(bob_, conv, first, "👍", nullptr, std::move(done));
              }).ok());
  ASSERT_TRUE(Call<LogEntry>([&](auto done) {
                chat_->Edit(bob_, conv, second, "second, secret", nullptr, std::move(done));
              }).ok());
  // The delete takes the body, the earlier edit's text and the reactions with it.
  ASSERT_TRUE(Call<LogEntry>([&](auto done) {
                chat_->Delete(bob_, conv, second, nullptr, std::move(done));
              }).ok());

  auto served = chat_->History(bob_, conv, 0, std::nullopt, 50);  // the recent-entries cache
  auto stored = messages_->ReadLog(conv, 0, std::nullopt, 50);    // storage itself
  ASSERT_TRUE(served.ok());
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(served->entries.size(), stored->entries.size());
  for (size_t i = 0; i < served->entries.size(); ++i) {
    EXPECT_EQ(json::serialize(EntryJson(served->entries[i])),
              json::serialize(EntryJson(stored->entries[i])));
  }
  EXPECT_EQ(served->has_more, stored->has_more);
  for (const LogEntry& e : served->entries) {
    EXPECT_FALSE(e.body && e.body->find("secret") != std::string::npos) << e.seq;
  }
}

}  // namespace
}  // namespace parley
