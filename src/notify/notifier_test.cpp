#include "notify/notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "notify/notification.h"
#include "notify/sqlite/sqlite_job_queue.h"
#include "notify/sqlite/sqlite_notify_store.h"
#include "notify/test_dir.h"
#include "store/sqlite/sqlite_account_store.h"

namespace parley {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kWindow = 30'000;

class FakeConnection final : public Connection {
 public:
  explicit FakeConnection(std::string user) : user_(std::move(user)) {}
  void Deliver(Frame) override {}
  void Close(int, std::string) override {}
  const std::string& user_id() const override { return user_; }
  const std::string& device_id() const override { return device_; }
  const std::string& session_id() const override { return device_; }

 private:
  std::string user_;
  std::string device_ = "d_1";
};

TEST(ParseMentionsTest, FindsNamesNotEmailAddresses) {
  EXPECT_THAT(ParseMentions("hi @Bob and @carol_2, see @bob.", 20), ElementsAre("bob", "carol_2"));
  EXPECT_THAT(ParseMentions("mail alice@example.com", 20), IsEmpty());
  EXPECT_THAT(ParseMentions("@al is too short, @ alone, @@dave", 20), ElementsAre("dave"));
  EXPECT_THAT(ParseMentions("@aaa @bbb @ccc", 2), ElementsAre("aaa", "bbb"));
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string db = dir_.File("parley.db");
    auto queue = SqliteJobQueue::Open(db, sqlite::Durability::kOff);
    auto store = SqliteNotifyStore::Open(db, sqlite::Durability::kOff);
    auto accounts = SqliteAccountStore::Open(db, sqlite::Durability::kOff);
    ASSERT_TRUE(queue.ok() && store.ok() && accounts.ok());
    queue_ = std::move(*queue);
    store_ = std::move(*store);
    accounts_ = std::move(*accounts);
    for (const char* name : {"alice", "bob", "carol"}) {
      ASSERT_TRUE(accounts_->CreateUser({std::string("u_") + name, name, name, "hash", 0}).ok());
    }
    MakeNotifier(Options(kWindow, /*webhook=*/true, /*webpush=*/false));
  }

  static NotifierOptions Options(int64_t window_ms, bool webhook, bool webpush) {
    NotifierOptions options;
    options.window_ms = window_ms;
    options.webhook = webhook;
    options.webpush = webpush;
    return options;
  }

  void MakeNotifier(NotifierOptions options) {
    notifier_ = std::make_unique<Notifier>(*queue_, *store_, *accounts_, hub_, clock_, metrics_,
                                           options, [this] { ++wakes_; });
  }

  // alice writes `body` to the group of alice, bob and carol.
  void Message(std::string body, int64_t seq) {
    ChatService::CommittedMessage m;
    m.message.conv_id = "c_1";
    m.message.seq = seq;
    m.message.sender = "u_alice";
    m.message.ts = clock_.NowMs();
    m.message.body = std::move(body);
    m.conv_type = "group";
    m.conv_title = "trip";
    m.members = members_;
    notifier_->Handle(m);
  }

  struct Made {
    std::string kind;
    NotifyTarget target;
    int64_t run_at = 0;
  };
  // Every job enqueued so far, with when it becomes due.
  std::vector<Made> Jobs() {
    std::vector<Made> out;
    auto jobs = queue_->Claim(clock_.NowMs() + 100 * kWindow, 1, 1000);
    EXPECT_TRUE(jobs.ok());
    for (const Job& job : *jobs) {
      out.push_back({job.kind, *NotifyTarget::FromJson(job.payload), job.created_ms});
      EXPECT_TRUE(queue_->Complete(job.id, job.lease).ok());
    }
    return out;
  }
  std::vector<std::string> Users(const std::vector<Made>& jobs) {
    std::vector<std::string> users;
    for (const Made& m : jobs) users.push_back(m.target.user_id);
    return users;
  }

  testing_support::ScratchDir dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  ConnectionHub hub_;
  std::unique_ptr<SqliteJobQueue> queue_;
  std::unique_ptr<SqliteNotifyStore> store_;
  std::unique_ptr<SqliteAccountStore> accounts_;
  std::unique_ptr<Notifier> notifier_;
  std::shared_ptr<const std::vector<std::string>> members_ =
      std::make_shared<const std::vector<std::string>>(
          std::vector<std::string>{"u_alice", "u_bob", "u_carol"});
  int wakes_ = 0;
};

TEST_F(NotifierTest, OnlyMembersWithNoConnectionOtherThanTheSenderAreNotified) {
  auto carol_phone = std::make_shared<FakeConnection>("u_carol");
  hub_.Add(carol_phone);

  Message("hello", 2);

  const std::vector<Made> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].kind, "webhook");
  EXPECT_EQ(jobs[0].target.user_id, "u_bob");
  EXPECT_EQ(jobs[0].target.conv_id, "c_1");
  EXPECT_EQ(jobs[0].target.seq, 2);
  EXPECT_EQ(jobs[0].target.sender, "u_alice");
  EXPECT_EQ(jobs[0].target.title, "trip");
  EXPECT_EQ(jobs[0].run_at, clock_.NowMs());
  EXPECT_EQ(wakes_, 1);
}

TEST_F(NotifierTest, MessagesInsideAWindowFoldIntoOneJobAtItsEnd) {
  const int64_t t0 = clock_.NowMs();
  Message("one", 2);  // notifies now, opens the window [t0, t0 + W)
  clock_.Advance(1'000);
  Message("two", 3);  // one job at t0 + W
  clock_.Advance(1'000);
  Message("three", 4);  // covered by that job

  const std::vector<Made> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(4));  // bob and carol, twice each
  EXPECT_EQ(jobs[0].run_at, t0);
  EXPECT_EQ(jobs[1].run_at, t0);
  EXPECT_EQ(jobs[2].run_at, t0 + kWindow);
  EXPECT_EQ(jobs[2].target.seq, 3);
  EXPECT_EQ(jobs[3].run_at, t0 + kWindow);
}

TEST_F(NotifierTest, AfterTheWindowsJobRanTheNextMessageWaitsForTheFollowingWindow) {
  const int64_t t0 = clock_.NowMs();
  Message("one", 2);
  clock_.Advance(1'000);
  Message("two", 3);  // at t0 + W
  clock_.Set(t0 + kWindow + 5'000);
  Message("three", 4);  // the job at t0 + W ran: the next may run at t0 + 2W
  clock_.Set(t0 + 3 * kWindow + 1);
  Message("four", 5);  // quiet for a whole window: at once

  std::vector<int64_t> bob;
  for (const Made& m : Jobs()) {
    if (m.target.user_id == "u_bob") bob.push_back(m.run_at);
  }
  EXPECT_THAT(bob, ElementsAre(t0, t0 + kWindow, t0 + 2 * kWindow, t0 + 3 * kWindow + 1));
}

TEST_F(NotifierTest, AZeroWindowNotifiesEveryMessage) {
  MakeNotifier(Options(0, true, false));
  Message("one", 2);
  Message("two", 3);
  EXPECT_THAT(Jobs(), SizeIs(4));
}

TEST_F(NotifierTest, AMutedConversationDoesNotNotify) {
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_1", true).ok());
  Message("hello everyone", 2);
  EXPECT_THAT(Users(Jobs()), ElementsAre("u_carol"));
}

TEST_F(NotifierTest, AMentionBreaksThroughAMuteUnlessTheUserSaidNo) {
  ASSERT_TRUE(store_->SetMuted("u_bob", "c_1", true).ok());
  ASSERT_TRUE(store_->SetMuted("u_carol", "c_1", true).ok());
  ASSERT_TRUE(
      store_->PutSettings("u_carol", {.private_previews = false, .mentions_when_muted = false})
          .ok());

  Message("@Bob and @carol, look", 2);

  const std::vector<Made> jobs = Jobs();
  ASSERT_THAT(Users(jobs), ElementsAre("u_bob"));
  EXPECT_TRUE(jobs[0].target.mention);
}

TEST_F(NotifierTest, EachPushSubscriptionGetsAJob) {
  MakeNotifier(Options(kWindow, false, true));
  ASSERT_TRUE(store_->PutSubscription({"https://push.example/b1", "u_bob", "k", "a", 1}, 5).ok());
  ASSERT_TRUE(store_->PutSubscription({"https://push.example/b2", "u_bob", "k", "a", 2}, 5).ok());

  Message("hello", 2);

  const std::vector<Made> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(2));
  EXPECT_EQ(jobs[0].kind, "webpush");
  EXPECT_EQ(jobs[0].target.endpoint, "https://push.example/b1");
  EXPECT_EQ(jobs[1].target.endpoint, "https://push.example/b2");
}

TEST_F(NotifierTest, TheThreadHandsOffFromTheSequencerAndDrainsOnDestruction) {
  notifier_->Start();
  ChatService::CommittedMessage m;
  m.message.conv_id = "c_1";
  m.message.seq = 2;
  m.message.sender = "u_alice";
  m.message.body = "hi";
  m.members = members_;
  notifier_->OnCommitted(m);
  notifier_.reset();  // joins after handling what was queued
  EXPECT_THAT(Jobs(), SizeIs(2));
}

}  // namespace
}  // namespace parley
