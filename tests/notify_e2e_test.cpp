// End-to-end: notifications for members with no connected device. A local HTTP server stands
// in for the webhook receiver and for the push service; the test side checks signatures,
// decrypts Web Push payloads and verifies VAPID with code of its own (support/).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/http_receiver.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/web_push_browser.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::SizeIs;

constexpr std::string_view kSecret = "webhook-secret-for-tests";

std::string HmacHex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

// parleyd flags: the webhook (when given), quick retries, one delivery worker (so that jobs
// due at the same time are delivered in the order they were made), plus `extra`.
std::vector<std::string> NotifyArgs(const HttpReceiver* hook, std::vector<std::string> extra = {}) {
  std::vector<std::string> flags = {
      "--notify-workers",      "1",   "--notify-retry-base-ms", "20",
      "--notify-retry-max-ms", "200", "--notify-push-hosts",    "127.0.0.1"};
  if (hook != nullptr) {
    flags.insert(flags.end(), {"--notify-webhook-url", hook->Url("/hook"),
                               "--notify-webhook-secret", std::string(kSecret)});
  }
  flags.insert(flags.end(), extra.begin(), extra.end());
  return UnlimitedChatArgs(flags);
}

// The value of one series in /metrics, e.g. `parley_notify_sent_total` or
// `parley_notify_jobs{state="queued"}`; -1 when absent.
int64_t Metric(uint16_t port, const std::string& series) {
  const HttpResponse r = HttpClient(port).Get("/metrics", kTestMetricsToken);
  const std::string needle = "\n" + series + " ";
  const size_t at = ("\n" + r.body).find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(r.body.substr(at + needle.size() - 1));
}

// Waits until the server reports `series` == `value`. The server's counters are the only
// place where "a job was skipped" becomes visible; this bounded wait observes that event.
// Each check is a /metrics round trip, which paces the loop: no sleep.
::testing::AssertionResult MetricReaches(uint16_t port, const std::string& series, int64_t value) {
  const auto deadline = std::chrono::steady_clock::now() + kDefaultTimeout;
  int64_t seen = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = Metric(port, series);
    if (seen == value) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << series << " is " << seen << ", expected " << value;
}

json::object Body(const ReceivedRequest& r) { return json::parse(r.body).as_object(); }

MATCHER_P(IsSignedWith, secret, "a POST signed with X-Parley-Signature") {
  return arg.method == "POST" &&
         arg.Header("X-Parley-Signature") == "sha256=" + HmacHex(secret, arg.body) &&
         arg.Header("X-Parley-Timestamp") ==
             std::to_string(json::parse(arg.body).at("sent_ms").as_int64());
}

MATCHER_P(IsFor, user_id, "a notification for " + ::testing::PrintToString(user_id)) {
  return json::parse(arg.body).at("user_id") == json::value(user_id);
}

struct People {
  TestUser alice;
  TestUser bob;
  TestUser carol;
  explicit People(uint16_t port) : alice(port, "alice"), bob(port, "bob"), carol(port, "carol") {
    for (TestUser* u : {&alice, &bob, &carol}) {
      if (u->Register().status != 201) throw std::runtime_error("register failed");
    }
  }
};

TEST(NotifyE2eTest, AnOfflineMemberGetsExactlyOneSignedNotificationPerWindow) {
  HttpReceiver hook;
  ParleydProcess server(NotifyArgs(&hook, {"--notify-window-ms", "60000"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const std::string conv = alice.CreateDirect(people.bob.id());

  for (const char* id : {"c1", "c2", "c3"}) {
    ASSERT_THAT(alice.SendMessage(conv, id, std::string("hello bob ") + id), IsAck());
  }

  const std::vector<ReceivedRequest> got = hook.WaitFor(1);
  EXPECT_EQ(got[0].target, "/hook");
  EXPECT_THAT(got[0], IsSignedWith(std::string(kSecret)));
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  const json::object body = Body(got[0]);
  EXPECT_EQ(body.at("type"), "message");
  EXPECT_EQ(body.at("user_id"), json::value(people.bob.id()));
  EXPECT_EQ(body.at("conv"), json::value(conv));
  EXPECT_EQ(body.at("conv_type"), "direct");
  EXPECT_EQ(body.at("sender"), json::value(people.alice.id()));
  EXPECT_EQ(body.at("sender_username"), "alice");
  EXPECT_EQ(body.at("seq"), 2);
  EXPECT_EQ(body.at("preview"), "hello bob c1");
  EXPECT_GE(body.at("unread").as_int64(), 1);
  EXPECT_FALSE(body.contains("title"));
  // The other two messages wait in one job at the end of the 60 s window: nothing more now.
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 1));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_jobs{state=\"queued\"}", 1));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_jobs{state=\"in_flight\"}", 0));
  EXPECT_EQ(Metric(server.Port(), "parley_notify_enqueued_total"), 2);
  EXPECT_THAT(hook.Requests(), SizeIs(1));
}

TEST(NotifyE2eTest, AWindowOfZeroNotifiesEveryMessageWithItsUnreadCount) {
  HttpReceiver hook;
  ParleydProcess server(NotifyArgs(&hook, {"--notify-window-ms", "0"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const std::string group = alice.CreateGroup("trip", {people.bob.id()});

  ASSERT_THAT(alice.SendMessage(group, "c1", "one"), IsAck());
  hook.WaitFor(1);
  ASSERT_THAT(alice.SendMessage(group, "c2", "two"), IsAck());

  const std::vector<ReceivedRequest> got = hook.WaitFor(2);
  EXPECT_EQ(Body(got[1]).at("preview"), "two");
  EXPECT_EQ(Body(got[1]).at("unread"), 2);
  EXPECT_EQ(Body(got[1]).at("title"), "trip");
  EXPECT_EQ(Body(got[1]).at("conv_type"), "group");
  EXPECT_NE(Body(got[0]).at("id"), Body(got[1]).at("id"));
}

TEST(NotifyE2eTest, AMemberWithAConnectedDeviceIsNotNotified) {
  HttpReceiver hook;
  ParleydProcess server(NotifyArgs(&hook, {"--notify-window-ms", "0"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  ChatClient bob(server.Port(), people.bob);
  const std::string with_bob = alice.CreateDirect(people.bob.id());
  const std::string with_carol = alice.CreateDirect(people.carol.id());

  ASSERT_THAT(alice.SendMessage(with_bob, "b1", "bob is here"), IsAck());
  ASSERT_THAT(alice.SendMessage(with_carol, "c1", "carol is not"), IsAck());

  // Jobs are made and delivered in message order: had bob's existed, it would come first.
  const std::vector<ReceivedRequest> got = hook.WaitFor(1);
  EXPECT_THAT(got[0], IsFor(people.carol.id()));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 1));
  EXPECT_THAT(hook.Requests(), SizeIs(1));
}

TEST(NotifyE2eTest, AReceiverThatFailsThenRecoversStillGetsTheNotification) {
  HttpReceiver hook;
  hook.FailNext(3, 500);
  ParleydProcess server(NotifyArgs(&hook));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const std::string conv = alice.CreateDirect(people.bob.id());

  ASSERT_THAT(alice.SendMessage(conv, "c1", "are you there"), IsAck());

  const std::vector<ReceivedRequest> got = hook.WaitFor(4);
  // The same notification each time (receivers de-duplicate by id), freshly signed.
  EXPECT_THAT(got, Each(AllOf(IsSignedWith(std::string(kSecret)), IsFor(people.bob.id()))));
  for (const ReceivedRequest& r : got) EXPECT_EQ(Body(r).at("id"), Body(got[0]).at("id"));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 1));
  EXPECT_EQ(Metric(server.Port(), "parley_notify_retried_total"), 3);
  EXPECT_EQ(Metric(server.Port(), "parley_notify_dead_total"), 0);
}

TEST(NotifyE2eTest, AReceiverThatNeverRecoversEndsInTheDeadLetterTable) {
  HttpReceiver hook(503);
  ParleydProcess server(NotifyArgs(&hook, {"--notify-max-attempts", "3"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const std::string conv = alice.CreateDirect(people.bob.id());

  ASSERT_THAT(alice.SendMessage(conv, "c1", "hello?"), IsAck());

  hook.WaitFor(3);
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_dead_total", 1));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_jobs{state=\"dead\"}", 1));
  EXPECT_EQ(Metric(server.Port(), "parley_notify_retried_total"), 2);
  EXPECT_THAT(hook.Requests(), SizeIs(3));
}

TEST(NotifyE2eTest, KillNineBetweenEnqueueAndDeliveryLosesNoJob) {
  TempDir data;
  HttpReceiver hook;
  hook.Hold();
  // A short lease, so that the restarted server takes the dead one's job over quickly.
  const std::vector<std::string> args =
      NotifyArgs(&hook, {"--notify-http-timeout-ms", "1500", "--notify-visibility-timeout-ms",
                         "2000", "--durability", "full"});
  std::string bob_id;
  std::string first_id;
  {
    ParleydOptions options;
    options.data_dir = data.path();
    options.args = args;
    ParleydProcess server(options);
    People people(server.Port());
    bob_id = people.bob.id();
    ChatClient alice(server.Port(), people.alice);
    const std::string conv = alice.CreateDirect(bob_id);
    ASSERT_THAT(alice.SendMessage(conv, "c1", "before the crash"), IsAck());

    // The job is enqueued and claimed: its delivery is in flight, unanswered.
    first_id = json::serialize(Body(hook.WaitFor(1)[0]).at("id"));
    server.Kill();
    ASSERT_EQ(server.WaitExit().kind, ExitStatus::Kind::kSignaled);
  }
  hook.Release(200);  // the dead server's request gets its answer into the void

  ParleydOptions options;
  options.data_dir = data.path();
  options.args = args;
  ParleydProcess server(options);

  const std::vector<ReceivedRequest> got = hook.WaitFor(2);
  EXPECT_THAT(got[1], IsFor(bob_id));
  EXPECT_THAT(got[1], IsSignedWith(std::string(kSecret)));
  EXPECT_EQ(json::serialize(Body(got[1]).at("id")), first_id);
  EXPECT_EQ(Body(got[1]).at("preview"), "before the crash");
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 1));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_jobs{state=\"in_flight\"}", 0));
}

TEST(NotifyE2eTest, AMutedConversationNotifiesOnlyForMentionsAndOnlyIfAllowed) {
  HttpReceiver hook;
  ParleydProcess server(NotifyArgs(&hook, {"--notify-window-ms", "0"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const Tokens bob = people.bob.Login("phone");
  const HttpClient http(server.Port());
  const std::string conv = alice.CreateGroup("noisy", {people.bob.id()});
  const std::string with_carol = alice.CreateDirect(people.carol.id());

  const HttpResponse mute = http.Send("PUT", "/v1/conversations/" + conv + "/mute",
                                      R"({"muted":true})", bob.access_token);
  ASSERT_THAT(mute, HasStatus(200));
  EXPECT_EQ(mute.json.at("muted"), true);
  const HttpResponse settings = http.Get("/v1/notifications/settings", bob.access_token);
  EXPECT_EQ(settings.json.at("muted_conversations"), json::array({json::value(conv)}));
  EXPECT_EQ(settings.json.at("mentions_when_muted"), true);

  ASSERT_THAT(alice.SendMessage(conv, "c1", "nothing for bob"), IsAck());
  ASSERT_THAT(alice.SendMessage(conv, "c2", "but this is for @Bob"), IsAck());

  const std::vector<ReceivedRequest> got = hook.WaitFor(1);
  EXPECT_EQ(Body(got[0]).at("seq"), 3);
  EXPECT_EQ(Body(got[0]).at("mention"), true);

  ASSERT_THAT(http.Send("PUT", "/v1/notifications/settings", R"({"mentions_when_muted":false})",
                        bob.access_token),
              HasStatus(200));
  ASSERT_THAT(alice.SendMessage(conv, "c3", "@bob you will not hear this"), IsAck());
  ASSERT_THAT(alice.SendMessage(with_carol, "c4", "carol hears this"), IsAck());

  const std::vector<ReceivedRequest> all = hook.WaitFor(2);
  EXPECT_THAT(all[1], IsFor(people.carol.id()));
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 2));
  EXPECT_THAT(hook.Requests(), SizeIs(2));
  EXPECT_EQ(Metric(server.Port(), "parley_notify_muted_total"), 2);

  // Unmuted, bob hears everything again; someone else's conversation cannot be muted.
  ASSERT_THAT(http.Send("PUT", "/v1/conversations/" + conv + "/mute", R"({"muted":false})",
                        bob.access_token),
              HasStatus(200));
  EXPECT_THAT(http.Send("PUT", "/v1/conversations/" + with_carol + "/mute", R"({"muted":true})",
                        bob.access_token),
              IsHttpError(404, "not_found"));
}

TEST(NotifyE2eTest, NothingIsSentForAMessageReadOnAnotherDevice) {
  HttpReceiver hook;
  hook.Hold();
  ParleydProcess server(NotifyArgs(&hook));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const Tokens bob = people.bob.Login("laptop");
  const std::string conv = alice.CreateDirect(people.bob.id());
  ASSERT_THAT(alice.SendMessage(conv, "c1", "read me"), IsAck());
  hook.WaitFor(1);  // the first attempt is in flight

  // Bob reads it over HTTP (no live connection), then the attempt fails: the retry finds
  // the message read and sends nothing.
  ASSERT_THAT(
      HttpClient(server.Port())
          .Post("/v1/conversations/" + conv + "/read", json::object{{"seq", 2}}, bob.access_token),
      HasStatus(200));
  hook.Release(500);

  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_skipped_total", 1));
  EXPECT_EQ(Metric(server.Port(), "parley_notify_sent_total"), 0);
  EXPECT_THAT(hook.Requests(), SizeIs(1));
}

TEST(NotifyE2eTest, WebPushDeliversAPayloadTheBrowserDecryptsWithAValidVapidJwt) {
  HttpReceiver push(201);
  ParleydProcess server(NotifyArgs(nullptr, {"--notify-window-ms", "0"}));
  People people(server.Port());
  ChatClient alice(server.Port(), people.alice);
  const Tokens bob = people.bob.Login("browser");
  const HttpClient http(server.Port());
  const std::string conv = alice.CreateDirect(people.bob.id());

  const HttpResponse key = http.Get("/v1/push/vapid-public-key");
  ASSERT_THAT(key, HasStatus(200));
  const std::string vapid_key(key.json.at("public_key").as_string());
  FakeBrowser browser;
  const json::object subscription{
      {"endpoint", push.Url("/push/bob-1")},
      {"expirationTime", nullptr},
      {"keys", {{"p256dh", browser.p256dh()}, {"auth", browser.auth()}}}};
  ASSERT_THAT(http.Post("/v1/push/subscriptions", subscription, bob.access_token), HasStatus(201));

  ASSERT_THAT(alice.SendMessage(conv, "c1", "hi bob, via push"), IsAck());

  std::vector<ReceivedRequest> got = push.WaitFor(1);
  EXPECT_EQ(got[0].target, "/push/bob-1");
  EXPECT_EQ(got[0].Header("Content-Encoding"), "aes128gcm");
  EXPECT_EQ(got[0].Header("TTL"), "86400");
  std::string signed_by;
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_EQ(CheckVapid(got[0].Header("Authorization"), push.Url(""), now_s, &signed_by), "");
  EXPECT_EQ(signed_by, vapid_key);
  std::optional<std::string> plain = browser.Decrypt(got[0].body);
  ASSERT_TRUE(plain.has_value());
  const json::value payload = json::parse(*plain);
  EXPECT_EQ(payload.at("sender_username"), "alice");
  EXPECT_EQ(payload.at("preview"), "hi bob, via push");
  EXPECT_EQ(payload.at("conv"), json::value(conv));
  EXPECT_FALSE(payload.as_object().contains("user_id"));

  // Private previews: the browser shows only "new message".
  ASSERT_THAT(http.Send("PUT", "/v1/notifications/settings", R"({"private_previews":true})",
                        bob.access_token),
              HasStatus(200));
  ASSERT_THAT(alice.SendMessage(conv, "c2", "a secret"), IsAck());
  got = push.WaitFor(2);
  plain = browser.Decrypt(got[1].body);
  ASSERT_TRUE(plain.has_value());
  EXPECT_TRUE(json::parse(*plain).at("preview").is_null());
  EXPECT_EQ(plain->find("a secret"), std::string::npos);

  // The push service says the subscription is gone: it is dropped, and nothing more is sent.
  push.FailNext(1, 410);
  ASSERT_THAT(alice.SendMessage(conv, "c3", "are you still there"), IsAck());
  push.WaitFor(3);
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_skipped_total", 1));
  FakeBrowser carol_browser;
  const Tokens carol = people.carol.Login("browser");
  ASSERT_THAT(
      http.Post("/v1/push/subscriptions",
                json::object{
                    {"endpoint", push.Url("/push/carol")},
                    {"keys", {{"p256dh", carol_browser.p256dh()}, {"auth", carol_browser.auth()}}}},
                carol.access_token),
      HasStatus(201));
  const std::string with_carol = alice.CreateDirect(people.carol.id());
  ASSERT_THAT(alice.SendMessage(conv, "c4", "nobody listens"), IsAck());
  ASSERT_THAT(alice.SendMessage(with_carol, "c5", "carol listens"), IsAck());

  // Jobs go out in message order: carol's push arriving next means bob's c4 made none.
  got = push.WaitFor(4);
  EXPECT_EQ(got[3].target, "/push/carol");
  EXPECT_EQ(json::parse(*carol_browser.Decrypt(got[3].body)).at("preview"), "carol listens");
  EXPECT_TRUE(MetricReaches(server.Port(), "parley_notify_sent_total", 3));
  EXPECT_THAT(push.Requests(), SizeIs(4));
}

TEST(NotifyE2eTest, PushSubscriptionsAreValidatedAndCanBeDeleted) {
  ParleydProcess server(NotifyArgs(nullptr));
  People people(server.Port());
  const Tokens bob = people.bob.Login("browser");
  const HttpClient http(server.Port());
  FakeBrowser browser;
  auto sub = [&](std::string endpoint, std::string p256dh) {
    return json::object{{"endpoint", std::move(endpoint)},
                        {"keys", {{"p256dh", std::move(p256dh)}, {"auth", browser.auth()}}}};
  };

  EXPECT_THAT(http.Post("/v1/push/subscriptions", sub("https://internal.corp/x", browser.p256dh()),
                        bob.access_token),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(
      http.Post("/v1/push/subscriptions", sub("http://127.0.0.1:1/x", "AAAA"), bob.access_token),
      IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http.Post("/v1/push/subscriptions", sub("http://127.0.0.1:1/x", browser.p256dh())),
              IsHttpError(401, "unauthorized"));
  ASSERT_THAT(http.Post("/v1/push/subscriptions", sub("http://127.0.0.1:1/x", browser.p256dh()),
                        bob.access_token),
              HasStatus(201));

  EXPECT_THAT(http.Delete("/v1/push/subscriptions?endpoint=http%3A%2F%2F127.0.0.1%3A1%2Fx",
                          bob.access_token),
              HasStatus(204));
  EXPECT_THAT(http.Delete("/v1/push/subscriptions?endpoint=http%3A%2F%2F127.0.0.1%3A1%2Fx",
                          bob.access_token),
              IsHttpError(404, "not_found"));
}

TEST(NotifyE2eTest, TheVapidKeyIsCreatedOnFirstStartAndKeptPrivate) {
  TempDir data;
  std::string first;
  ParleydOptions options;
  options.data_dir = data.path();
  {
    ParleydProcess server(options);
    first = HttpClient(server.Port())
                .Get("/v1/push/vapid-public-key")
                .json.at("public_key")
                .as_string();
  }
  struct stat st {};
  ASSERT_EQ(::stat((data.path() / "vapid.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ParleydProcess server(options);
  EXPECT_EQ(HttpClient(server.Port()).Get("/v1/push/vapid-public-key").json.at("public_key"),
            json::value(first));
  EXPECT_EQ(B64UrlDecode(first)->size(), 65u);
}

}  // namespace
}  // namespace parley::e2e
