#include "presence/presence_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX

#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "presence/local/local_presence_store.h"
#include "store/sqlite/sqlite_last_seen_store.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kGrace = 5'000;

/// A device as the hub sees it; keeps the presence frames it is handed.
class Device final : public Connection {
 public:
  Device(std::string user, std::string name)
      : user_(std::move(user)), device_(std::move(name)), session_(user_ + "/" + device_) {}
  void Deliver(Frame frame) override {
    std::lock_guard lock(mu_);
    frames_.push_back(json::parse(*frame).as_object());
  }
  void Close(int /*code*/, std::string /*reason*/) override {}
  const std::string& user_id() const override { return user_; }
  const std::string& device_id() const override { return device_; }
  const std::string& session_id() const override { return session_; }

  /// The frames received since the last call.
  std::vector<json::object> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(frames_, {});
  }

 private:
  std::string user_, device_, session_;
  std::mutex mu_;
  std::vector<json::object> frames_;
};

MATCHER_P2(IsPresence, user, status, "") {
  return arg.at("type") == "presence" && arg.at("user") == json::value(user) &&
         arg.at("status") == json::value(status) && arg.at("last_seen").is_int64();
}

class PresenceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_presence_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto messages = SqliteMessageStore::Open(Path(), sqlite::Durability::kOff, 2);
    ASSERT_TRUE(messages.ok()) << messages.error().message;
    messages_ = std::move(*messages);
    auto last_seen = SqliteLastSeenStore::Open(Path(), sqlite::Durability::kOff);
    ASSERT_TRUE(last_seen.ok()) << last_seen.error().message;
    last_seen_ = std::move(*last_seen);
    Start();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    last_seen_.reset();
    messages_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Start(PresenceOptions options = {}) {
    options.grace_ms = kGrace;
    if (options.max_group_size == PresenceOptions{}.max_group_size) options.max_group_size = 3;
    service_.reset();
    store_ = std::make_unique<LocalPresenceStore>(*last_seen_);
    auto runner = std::make_unique<ManualTaskRunner>(clock_);
    runner_ = runner.get();
    service_ = std::make_unique<PresenceService>(*store_, *messages_, hub_, clock_, metrics_,
                                                 std::move(runner), options);
    messages_->OnApplied(
        [this](const std::vector<Mutation>& batch) { service_->OnMessagesApplied(batch); });
  }

  std::string Path() const { return (dir_ / "parley.db").string(); }

  std::shared_ptr<Device> Connect(const std::string& user, const std::string& name = "phone") {
    auto device = std::make_shared<Device>(user, name);
    hub_.Add(device);
    runner_->RunReady();
    return device;
  }
  void Disconnect(const std::shared_ptr<Device>& device) {
    hub_.Remove(*device);
    runner_->RunReady();
  }

  void Conversation(const std::string& id, const std::string& type,
                    const std::vector<std::string>& members) {
    ConversationRecord record{.id = id,
                              .type = type,
                              .title = "",
                              .direct_key = type == "direct" ? members[0] + "|" + members[1] : "",
                              .created_by = members[0],
                              .created_ms = clock_.NowMs(),
                              .last_seq = 0,
                              .members = {}};
    for (const std::string& m : members) record.members.push_back({.user_id = m});
    ASSERT_TRUE(messages_->Apply({mutation::InsertConversation{record}}).ok());
    runner_->RunReady();
  }

  Status SetStatus(const std::string& user, bool away, std::string text) {
    Status result = Error::Internal("not answered");
    service_->SetStatus(user, away, std::move(text), [&](Status s) { result = std::move(s); });
    runner_->RunReady();
    return result;
  }

  Result<std::vector<PresenceInfo>> Subscribe(const std::shared_ptr<Device>& device,
                                              std::vector<std::string> users) {
    Result<std::vector<PresenceInfo>> result = Error::Internal("not answered");
    service_->Subscribe(device, std::move(users),
                        [&](Result<std::vector<PresenceInfo>> r) { result = std::move(r); });
    runner_->RunReady();
    return result;
  }

  // A metric's value as /metrics shows it; -1 when it is not there.
  int64_t Counter(const std::string& name) {
    const std::string text = metrics_.Render();
    const std::string key = "\n" + name + " ";
    const size_t at = text.find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + key.size()));
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  ConnectionHub hub_;
  std::unique_ptr<SqliteMessageStore> messages_;
  std::unique_ptr<SqliteLastSeenStore> last_seen_;
  std::unique_ptr<LocalPresenceStore> store_;
  ManualTaskRunner* runner_ = nullptr;
  std::unique_ptr<PresenceService> service_;
};

TEST_F(PresenceServiceTest, TwoDevicesOfOneUserAreOneOnlineAndOneOffline) {
  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  auto bob = Connect("u_bob");
  auto phone = Connect("u_alice", "phone");
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "online")));

  auto laptop = Connect("u_alice", "laptop");
  runner_->Advance(kGrace * 2);
  Disconnect(phone);
  runner_->Advance(kGrace * 2);
  EXPECT_THAT(bob->Take(), IsEmpty());  // one device is enough to be online

  const int64_t gone_at = clock_.NowMs();
  Disconnect(laptop);
  runner_->Advance(kGrace - 1);
  EXPECT_THAT(bob->Take(), IsEmpty());  // still within the grace period
  runner_->Advance(1);
  const std::vector<json::object> frames = bob->Take();
  ASSERT_THAT(frames, ElementsAre(IsPresence("u_alice", "offline")));
  EXPECT_EQ(frames[0].at("last_seen"), json::value(gone_at));
  EXPECT_EQ(Counter("parley_presence_changes_total"), 3);  // bob online, alice online, offline
}

TEST_F(PresenceServiceTest, AReconnectWithinTheGracePeriodSendsNothing) {
  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  auto bob = Connect("u_bob");
  auto phone = Connect("u_alice");
  bob->Take();

  for (int i = 0; i < 20; ++i) {  // a phone on a bad network
    Disconnect(phone);
    runner_->Advance(kGrace / 4);
    phone = Connect("u_alice");
    runner_->Advance(kGrace / 4);
  }
  runner_->Advance(kGrace * 3);

  EXPECT_THAT(bob->Take(), IsEmpty());
  EXPECT_EQ(Counter("parley_presence_coalesced_total"), 20);
  EXPECT_EQ(Counter("parley_presence_changes_total"), 2);  // bob online, alice online
}

TEST_F(PresenceServiceTest, AUserIsAnnouncedAtMostOncePerGracePeriod) {
  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  auto bob = Connect("u_bob");
  auto alice = Connect("u_alice");
  bob->Take();

  // Flapping slower than the grace period: offline, then back soon after it was announced.
  Disconnect(alice);
  runner_->Advance(kGrace);
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "offline")));
  runner_->Advance(1000);
  alice = Connect("u_alice");
  EXPECT_THAT(bob->Take(), IsEmpty());  // waits for the end of the hold-down
  runner_->Advance(kGrace - 1000);
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "online")));

  // Away toggled many times within one period: only the final state goes out, once.
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(SetStatus("u_alice", i % 2 == 0, "").ok());
  runner_->Advance(kGrace);
  const std::vector<json::object> frames = bob->Take();
  ASSERT_THAT(frames, ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_EQ(frames[0].at("away"), json::value(true));
  EXPECT_EQ(Counter("parley_presence_coalesced_total"), 4);
  // Each user's contacts were read once; every later change of alice's used the cache.
  EXPECT_EQ(Counter("parley_presence_contacts_cache_misses_total"), 2);
  EXPECT_EQ(Counter("parley_presence_contacts_cache_hits_total"), 3);
}

TEST_F(PresenceServiceTest, OnlyContactsAndSubscribersHearOfIt) {
  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  Conversation("c_small", "group", {"u_alice", "u_erin", "u_frank"});
  Conversation("c_big", "group", {"u_alice", "u_dave", "u_gina", "u_hank"});  // > 3 members
  auto bob = Connect("u_bob");
  auto carol = Connect("u_carol");  // shares nothing
  auto dave = Connect("u_dave");
  auto dave_laptop = Connect("u_dave", "laptop");
  auto erin = Connect("u_erin");

  auto alice = Connect("u_alice");

  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_THAT(erin->Take(), ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_THAT(carol->Take(), IsEmpty());
  EXPECT_THAT(dave->Take(), IsEmpty());

  // Dave has the big group on screen: he subscribes to its members on this device.
  auto subscribed = Subscribe(dave, {"u_alice", "u_gina", "u_carol"});
  ASSERT_TRUE(subscribed.ok()) << subscribed.error().message;
  ASSERT_THAT(*subscribed, SizeIs(2));  // carol shares nothing with dave: left out
  EXPECT_TRUE((*subscribed)[0].online);
  EXPECT_EQ((*subscribed)[1].user_id, "u_gina");
  EXPECT_FALSE((*subscribed)[1].online);
  // Carol cannot watch alice either.
  EXPECT_THAT(*Subscribe(carol, {"u_alice"}), IsEmpty());

  Disconnect(alice);
  runner_->Advance(kGrace);
  EXPECT_THAT(dave->Take(), ElementsAre(IsPresence("u_alice", "offline")));
  EXPECT_THAT(dave_laptop->Take(), IsEmpty());  // only the device that subscribed
  EXPECT_THAT(carol->Take(), IsEmpty());
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "offline")));

  // The subscription ends with its connection.
  Disconnect(dave);
  alice = Connect("u_alice");
  runner_->Advance(kGrace);
  EXPECT_THAT(dave->Take(), IsEmpty());
  EXPECT_THAT(dave_laptop->Take(), IsEmpty());
  // An empty list ends them too.
  auto bob_watch = Subscribe(bob, {"u_alice"});
  ASSERT_TRUE(bob_watch.ok());
  ASSERT_TRUE(Subscribe(bob, {}).ok());
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "online")));  // as a contact, once
}

TEST_F(PresenceServiceTest, ASubscriberWhoIsAContactGetsOneFramePerDevice) {
  Conversation("c_small", "group", {"u_alice", "u_erin"});
  auto erin = Connect("u_erin");
  auto erin_laptop = Connect("u_erin", "laptop");
  ASSERT_TRUE(Subscribe(erin, {"u_alice"}).ok());

  auto alice = Connect("u_alice");

  EXPECT_THAT(erin->Take(), ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_THAT(erin_laptop->Take(), ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_EQ(Counter("parley_presence_events_total"), 2);
}

TEST_F(PresenceServiceTest, AwayAndStatusTextGoOutAndEndWithTheSession) {
  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  auto bob = Connect("u_bob");
  auto alice = Connect("u_alice");
  bob->Take();
  runner_->Advance(kGrace);

  ASSERT_TRUE(SetStatus("u_alice", true, "at lunch 🍜").ok());
  std::vector<json::object> frames = bob->Take();
  ASSERT_THAT(frames, ElementsAre(IsPresence("u_alice", "online")));
  EXPECT_EQ(frames[0].at("away"), json::value(true));
  EXPECT_EQ(frames[0].at("text"), json::value("at lunch 🍜"));
  auto seen = service_->Query("u_bob", {"u_alice"});
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE((*seen)[0].away);
  EXPECT_EQ((*seen)[0].text, "at lunch 🍜");

  EXPECT_FALSE(SetStatus("u_alice", false, std::string(65, 'x')).ok());
  EXPECT_FALSE(SetStatus("u_alice", false, "tab\there").ok());
  EXPECT_FALSE(SetStatus("u_alice", false, "\xff").ok());

  Disconnect(alice);
  runner_->Advance(kGrace * 2);
  alice = Connect("u_alice");
  frames = bob->Take();
  ASSERT_THAT(frames,
              ElementsAre(IsPresence("u_alice", "offline"), IsPresence("u_alice", "online")));
  EXPECT_FALSE(frames[0].contains("text"));
  EXPECT_FALSE(frames[1].contains("away"));
  EXPECT_FALSE(frames[1].contains("text"));
}

TEST_F(PresenceServiceTest, ANewConversationMakesNewContacts) {
  auto bob = Connect("u_bob");
  auto alice = Connect("u_alice");  // alice's (empty) contacts are now cached
  EXPECT_THAT(bob->Take(), IsEmpty());

  Conversation("c_ab", "direct", {"u_alice", "u_bob"});
  ASSERT_TRUE(SetStatus("u_alice", true, "").ok());
  runner_->Advance(kGrace);
  EXPECT_THAT(bob->Take(), ElementsAre(IsPresence("u_alice", "online")));

  // A group that grows past the size limit stops pushing to its members.
  Conversation("c_g", "group", {"u_alice", "u_erin"});
  auto erin = Connect("u_erin");
  ASSERT_TRUE(SetStatus("u_alice", false, "").ok());
  runner_->Advance(kGrace);
  EXPECT_THAT(erin->Take(), SizeIs(1));
  for (const char* user : {"u_x", "u_y"}) {
    ASSERT_TRUE(messages_->Apply({mutation::UpsertMember{"c_g", {.user_id = user}}}).ok());
  }
  runner_->RunReady();
  ASSERT_TRUE(SetStatus("u_alice", true, "").ok());
  runner_->Advance(kGrace);
  EXPECT_THAT(erin->Take(), IsEmpty());
  EXPECT_THAT(bob->Take(), SizeIs(2));
  // bob, alice, alice after c_ab, erin, alice after c_g, alice after c_g grew.
  EXPECT_EQ(Counter("parley_presence_contacts_cache_misses_total"), 6);
}

TEST_F(PresenceServiceTest, FanOutStopsAtTheCap) {
  PresenceOptions options;
  options.max_fanout = 3;
  Start(options);
  std::vector<std::shared_ptr<Device>> friends;
  for (int i = 0; i < 5; ++i) {
    const std::string user = "u_f" + std::to_string(i);
    Conversation("c_" + std::to_string(i), "direct", {"u_alice", user});
    friends.push_back(Connect(user));
  }

  auto alice = Connect("u_alice");

  size_t reached = 0;
  for (auto& f : friends) reached += f->Take().size();
  EXPECT_EQ(reached, 3u);
  EXPECT_EQ(Counter("parley_presence_fanout_capped_total"), 1);
  EXPECT_EQ(Counter("parley_presence_events_total"), 3);
}

TEST_F(PresenceServiceTest, ClientRequestsAreRefusedWhileTheQueueIsFull) {
  PresenceOptions options;
  options.max_queue = 2;
  Start(options);
  auto alice = std::make_shared<Device>("u_alice", "phone");
  auto bob = std::make_shared<Device>("u_bob", "phone");
  hub_.Add(alice);  // connection changes are queued whatever the length
  hub_.Add(bob);

  Status refused = Status::Ok();
  service_->SetStatus("u_alice", true, "", [&](Status s) { refused = std::move(s); });
  Result<std::vector<PresenceInfo>> also_refused = std::vector<PresenceInfo>{};
  service_->Subscribe(alice, {"u_bob"}, [&](auto r) { also_refused = std::move(r); });

  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  ASSERT_FALSE(also_refused.ok());
  EXPECT_EQ(also_refused.error().code, ErrorCode::kUnavailable);
  runner_->RunReady();
  EXPECT_TRUE(SetStatus("u_alice", true, "").ok());
}

TEST_F(PresenceServiceTest, QueriesSeeOnlySharedConversationsAndLastSeenOutlivesTheProcess) {
  Conversation("c_big", "group", {"u_alice", "u_bob", "u_x", "u_y", "u_z"});
  auto alice = Connect("u_alice");
  runner_->Advance(kGrace);
  const int64_t gone_at = clock_.NowMs();
  Disconnect(alice);
  runner_->Advance(kGrace);

  auto seen = service_->Query("u_bob", {"u_alice", "u_carol", "u_bob", "u_alice"});
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  ASSERT_THAT(*seen, SizeIs(2));
  EXPECT_EQ((*seen)[0].user_id, "u_alice");
  EXPECT_FALSE((*seen)[0].online);
  EXPECT_EQ((*seen)[0].last_seen_ms, gone_at);
  EXPECT_EQ((*seen)[1].user_id, "u_bob");
  EXPECT_EQ((*seen)[1].last_seen_ms, 0);  // never seen
  EXPECT_FALSE(service_->Query("u_bob", std::vector<std::string>(201, "u_alice")).ok());

  // A restart: a new service and store over the same database.
  service_->Shutdown();
  Start();
  seen = service_->Query("u_bob", {"u_alice"});
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ((*seen)[0].last_seen_ms, gone_at);
  EXPECT_EQ(store_->EntriesForTest(), 0u);
}

TEST_F(PresenceServiceTest, LastSeenIsFlushedInBatchesAndOfflineUsersAreForgotten) {
  std::vector<std::shared_ptr<Device>> devices;
  for (int i = 0; i < 50; ++i) devices.push_back(Connect("u_" + std::to_string(i)));
  for (auto& d : devices) Disconnect(d);
  runner_->Advance(kGrace * 3);

  EXPECT_EQ(store_->EntriesForTest(), 0u);
  auto stored = last_seen_->LoadLastSeen({"u_0", "u_49"});
  ASSERT_TRUE(stored.ok());
  EXPECT_GT((*stored)[0], 0);
  EXPECT_EQ(runner_->PendingTimers(), 0u);
}

}  // namespace
}  // namespace parley
