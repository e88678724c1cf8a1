#include "notify/channels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <deque>

#include "notify/sqlite/sqlite_notify_store.h"
#include "notify/test_dir.h"
#include "store/sqlite/sqlite_account_store.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

namespace json = boost::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr std::string_view kSecret = "s3cret-s3cret-s3cret";
constexpr std::string_view kEndpoint = "https://push.example.net/sub/1";

template <class T>
T Must(Result<T> result) {
  if (!result.ok()) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

// Records what was posted and answers from a script (default 200).
class FakePoster final : public HttpPoster {
 public:
  struct Sent {
    std::string url;
    std::vector<std::string> headers;
    std::string body;
  };
  Result<HttpPostReply> Post(const std::string& url, const std::vector<std::string>& headers,
                             std::string_view body) override {
    sent.push_back({url, headers, std::string(body)});
    if (answers.empty()) return HttpPostReply{200, ""};
    Result<HttpPostReply> answer = answers.front();
    answers.pop_front();
    return answer;
  }
  std::string Header(size_t i, std::string_view name) const {
    for (const std::string& h : sent.at(i).headers) {
      if (h.starts_with(std::string(name) + ": ")) return h.substr(name.size() + 2);
    }
    return "";
  }

  std::vector<Sent> sent;
  std::deque<Result<HttpPostReply>> answers;
};

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string db = dir_.File("parley.db");
    messages_ = Must(SqliteMessageStore::Open(db, sqlite::Durability::kOff, 1));
    accounts_ = Must(SqliteAccountStore::Open(db, sqlite::Durability::kOff));
    store_ = Must(SqliteNotifyStore::Open(db, sqlite::Durability::kOff));
    ASSERT_TRUE(accounts_->CreateUser({"u_alice", "alice", "Alice", "h", kNow}).ok());
    ASSERT_TRUE(accounts_->CreateUser({"u_bob", "bob", "Bob", "h", kNow}).ok());
    // A group of alice and bob in which alice said "hello bob" at seq 2.
    ConversationRecord record{
        .id = "c_1",
        .type = "group",
        .title = "trip",
        .direct_key = "",
        .created_by = "u_alice",
        .created_ms = kNow,
        .last_seq = 1,
        .members = {{"u_alice", Role::kOwner, 1, 0, 1}, {"u_bob", Role::kMember, 0, 0, 1}}};
    LogEntry created;
    created.conv_id = "c_1";
    created.seq = 1;
    created.id = "m_1";
    created.sender = "u_alice";
    created.kind = EntryKind::kMember;
    created.ts = kNow;
    created.member_user = "u_alice";
    created.member_action = "created";
    created.member_role = "owner";
    LogEntry hello = created;
    hello.seq = 2;
    hello.id = "m_2";
    hello.kind = EntryKind::kMessage;
    hello.ts = kNow + 1;
    hello.member_user.clear();
    hello.member_action.clear();
    hello.member_role.clear();
    hello.body = "hello bob";
    ASSERT_TRUE(messages_
                    ->Apply({mutation::InsertConversation{record}, mutation::AppendEntry{created},
                             mutation::AppendEntry{hello}})
                    .ok());
    composer_ = std::make_unique<Composer>(*messages_, *accounts_, *store_);
  }

  Job JobFor(std::string_view kind, std::string endpoint = "") {
    NotifyTarget t{.user_id = "u_bob",
                   .conv_id = "c_1",
                   .conv_type = "group",
                   .title = "trip",
                   .sender = "u_alice",
                   .seq = 2,
                   .ts = kNow + 1,
                   .mention = false,
                   .endpoint = std::move(endpoint)};
    return Job{.id = 7,
               .kind = std::string(kind),
               .payload = t.ToJson(),
               .attempts = 1,
               .created_ms = kNow,
               .lease = 1};
  }

  testing_support::ScratchDir dir_;
  FakeClock clock_{kNow + 5};
  std::unique_ptr<SqliteMessageStore> messages_;
  std::unique_ptr<SqliteAccountStore> accounts_;
  std::unique_ptr<SqliteNotifyStore> store_;
  std::unique_ptr<Composer> composer_;
  FakePoster http_;
};

using WebhookChannelTest = ChannelTest;

TEST_F(WebhookChannelTest, PostsASignedJsonNotification) {
  WebhookChannel channel("http://hooks.example/parley", std::string(kSecret), *composer_, http_,
                         clock_);

  const Delivery d = channel.Deliver(JobFor(kWebhookJob));

  EXPECT_EQ(d.outcome, DeliveryOutcome::kDelivered);
  ASSERT_EQ(http_.sent.size(), 1u);
  EXPECT_EQ(http_.sent[0].url, "http://hooks.example/parley");
  const std::string& body = http_.sent[0].body;
  EXPECT_EQ(http_.Header(0, "X-Parley-Signature"), "sha256=" + push::HmacSha256Hex(kSecret, body));
  EXPECT_EQ(http_.Header(0, "X-Parley-Timestamp"), std::to_string(kNow + 5));
  EXPECT_EQ(http_.Header(0, "Content-Type"), "application/json");
  EXPECT_EQ(json::parse(body), json::parse(R"({"type":"message","id":7,"user_id":"u_bob",
      "conv":"c_1","conv_type":"group","title":"trip","sender":"u_alice",
      "sender_username":"alice","seq":2,"preview":"hello bob","unread":1,"ts":1700000000001,
      "mention":false,"sent_ms":1700000000005})"));
}

TEST_F(WebhookChannelTest, PrivatePreviewsSendNoText) {
  ASSERT_TRUE(
      store_->PutSettings("u_bob", {.private_previews = true, .mentions_when_muted = true}).ok());
  WebhookChannel channel("http://hooks.example/", std::string(kSecret), *composer_, http_, clock_);
  ASSERT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kDelivered);
  EXPECT_TRUE(json::parse(http_.sent.at(0).body).at("preview").is_null());
  EXPECT_THAT(http_.sent[0].body, Not(HasSubstr("hello bob")));
}

TEST_F(WebhookChannelTest, AnythingButA2xxIsRetried) {
  WebhookChannel channel("http://hooks.example/", std::string(kSecret), *composer_, http_, clock_);
  http_.answers = {HttpPostReply{500, "boom"}, Error::Unavailable("connection refused"),
                   HttpPostReply{302, ""}, HttpPostReply{204, ""}};
  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kDelivered);
}

TEST_F(WebhookChannelTest, NothingIsSentForAMessageAlreadyRead) {
  ASSERT_TRUE(messages_->Apply({mutation::SetReadSeq{"c_1", "u_bob", 2}}).ok());
  WebhookChannel channel("http://hooks.example/", std::string(kSecret), *composer_, http_, clock_);

  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kSkipped);
  EXPECT_THAT(http_.sent, IsEmpty());
}

TEST_F(WebhookChannelTest, NothingIsSentToSomeoneWhoLeft) {
  ASSERT_TRUE(messages_->Apply({mutation::RemoveMember{"c_1", "u_bob"}}).ok());
  WebhookChannel channel("http://hooks.example/", std::string(kSecret), *composer_, http_, clock_);
  EXPECT_EQ(channel.Deliver(JobFor(kWebhookJob)).outcome, DeliveryOutcome::kSkipped);
}

using WebPushChannelTest = ChannelTest;

TEST_F(WebPushChannelTest, PostsAnEncryptedPayloadWithVapidHeaders) {
  Result<push::VapidKey> vapid = push::VapidKey::Generate();
  Result<push::VapidKey> browser = push::VapidKey::Generate();
  ASSERT_TRUE(vapid.ok() && browser.ok());
  ASSERT_TRUE(store_
                  ->PutSubscription({std::string(kEndpoint), "u_bob", browser->PublicKeyBase64Url(),
                                     "BTBZMqHH6r4Tts7J_aSIgg", kNow},
                                    5)
                  .ok());
  WebPushChannel channel(*vapid,
                         {.subject = "mailto:a@b.c", .ttl_s = 60, .allowed_hosts = {"example.net"}},
                         *composer_, *store_, http_, clock_);
  http_.answers = {HttpPostReply{201, ""}};

  EXPECT_EQ(channel.Deliver(JobFor(kWebPushJob, std::string(kEndpoint))).outcome,
            DeliveryOutcome::kDelivered);

  ASSERT_EQ(http_.sent.size(), 1u);
  EXPECT_EQ(http_.sent[0].url, kEndpoint);
  EXPECT_EQ(http_.Header(0, "Content-Encoding"), "aes128gcm");
  EXPECT_EQ(http_.Header(0, "TTL"), "60");
  EXPECT_THAT(http_.Header(0, "Authorization"), StartsWith("vapid t="));
  EXPECT_THAT(http_.Header(0, "Authorization"), HasSubstr(", k=" + vapid->PublicKeyBase64Url()));
  // The body starts with the RFC 8188 header: salt, rs = 4096, idlen = 65, the sender's key.
  const std::string& body = http_.sent[0].body;
  ASSERT_GT(body.size(), 86u);
  EXPECT_EQ(body.substr(16, 5), std::string("\x00\x00\x10\x00\x41", 5));
  EXPECT_THAT(body, Not(HasSubstr("hello bob")));
}

TEST_F(WebPushChannelTest, AGoneSubscriptionIsDroppedAndOtherRefusalsAreDead) {
  Result<push::VapidKey> vapid = push::VapidKey::Generate();
  Result<push::VapidKey> browser = push::VapidKey::Generate();
  ASSERT_TRUE(store_
                  ->PutSubscription({std::string(kEndpoint), "u_bob", browser->PublicKeyBase64Url(),
                                     "BTBZMqHH6r4Tts7J_aSIgg", kNow},
                                    5)
                  .ok());
  WebPushChannel channel(
      *vapid, {.subject = "mailto:a@b.c", .ttl_s = 60, .allowed_hosts = {"push.example.net"}},
      *composer_, *store_, http_, clock_);
  http_.answers = {HttpPostReply{429, ""}, HttpPostReply{400, "bad"}, HttpPostReply{410, ""}};

  EXPECT_EQ(channel.Deliver(JobFor(kWebPushJob, std::string(kEndpoint))).outcome,
            DeliveryOutcome::kRetry);
  EXPECT_EQ(channel.Deliver(JobFor(kWebPushJob, std::string(kEndpoint))).outcome,
            DeliveryOutcome::kFailed);
  EXPECT_EQ(channel.Deliver(JobFor(kWebPushJob, std::string(kEndpoint))).outcome,
            DeliveryOutcome::kSkipped);
  EXPECT_EQ(store_->FindSubscription("u_bob", kEndpoint).error().code, ErrorCode::kNotFound);
  // Unsubscribed: the next job for it sends nothing.
  EXPECT_EQ(channel.Deliver(JobFor(kWebPushJob, std::string(kEndpoint))).outcome,
            DeliveryOutcome::kSkipped);
  EXPECT_EQ(http_.sent.size(), 3u);
}

TEST(PushEndpointAllowedTest, HttpsToAllowedHostsAndTheirSubdomainsOnly) {
  const std::vector<std::string> hosts = {"push.apple.com", "127.0.0.1"};
  EXPECT_TRUE(PushEndpointAllowed("https://web.push.apple.com/abc", hosts));
  EXPECT_TRUE(PushEndpointAllowed("https://push.apple.com/abc", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://evilpush.apple.com.attacker.net/", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://notpush.apple.com/", hosts));
  EXPECT_FALSE(PushEndpointAllowed("http://web.push.apple.com/abc", hosts));
  EXPECT_TRUE(PushEndpointAllowed("http://127.0.0.1:9000/push", hosts));
  EXPECT_FALSE(PushEndpointAllowed("http://10.0.0.1/push", {"10.0.0.1"}));
  EXPECT_FALSE(PushEndpointAllowed("https://user@push.apple.com/", hosts));
}

TEST(PushEndpointAllowedTest, PushHostsOnlyOnTheDefaultHttpsPort) {
  const std::vector<std::string> hosts = {"push.apple.com", "127.0.0.1"};
  EXPECT_TRUE(PushEndpointAllowed("https://web.push.apple.com:443/abc", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://web.push.apple.com:8443/abc", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://push.apple.com:22/abc", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://push.apple.com:/abc", hosts));
  EXPECT_FALSE(PushEndpointAllowed("https://push.apple.com:0443/abc", hosts));
  // Loopback only when listed itself, then with any port: the tests' push service.
  EXPECT_TRUE(PushEndpointAllowed("https://127.0.0.1:9443/push", hosts));
  EXPECT_FALSE(PushEndpointAllowed("http://127.0.0.2:9000/push", hosts));
  EXPECT_FALSE(PushEndpointAllowed("http://localhost:9000/push", hosts));
  EXPECT_FALSE(PushEndpointAllowed("http://[::1]:9000/push", hosts));
  EXPECT_TRUE(PushEndpointAllowed("http://[::1]:9000/push", {"::1"}));
}

}  // namespace
}  // namespace parley
