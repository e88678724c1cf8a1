// End-to-end: what one hostile account can do to others through the social features (issue 17):
// flood someone with groups (#6), keep watching someone's presence after the shared
// conversation ended (#7), impersonate with invisible or bidi characters (#14), take over a
// push endpoint (#15), pile reactions on a message (#16).
//
// Waits are bounded reads of the events themselves; to show that an event did NOT come, a
// request answered on the same server thread after the change is the barrier.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/http_receiver.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/web_push_browser.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::IsEmpty;

TestUser Registered(uint16_t port, std::string name) {
  TestUser user(port, std::move(name));
  const HttpResponse r = user.Register();
  if (r.status != 201) throw std::runtime_error("register failed: " + r.body);
  return user;
}

// The value of one series in /metrics; -1 when absent.
int64_t Metric(uint16_t port, const std::string& series) {
  const HttpResponse r = HttpClient(port).Get("/metrics", kTestMetricsToken);
  const std::string needle = "\n" + series + " ";
  const size_t at = ("\n" + r.body).find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(r.body.substr(at + needle.size() - 1));
}

json::object Group(std::string_view title, const std::vector<std::string>& members) {
  json::array ids;
  for (const auto& m : members) ids.emplace_back(m);
  return {{"type", "group"}, {"title", title}, {"members", std::move(ids)}};
}

// ---------------------------------------------------------------------------------------------
// #6: creating conversations and adding members are rate-limited per user.

TEST(SocialAbuseE2eTest, GroupFloodIsRateLimitedPerUser) {
  ParleydProcess server(
      UnlimitedChatArgs({"--rate-conversations-per-min", "1", "--rate-conversations-burst", "5",
                         "--rate-member-adds-per-min", "1", "--rate-member-adds-burst", "3"}));
  const uint16_t port = server.Port();
  TestUser victim = Registered(port, "victim");
  TestUser mallory_user = Registered(port, "mallory");
  TestUser bystander_user = Registered(port, "bystander");
  ChatClient mallory(port, mallory_user);
  ChatClient bystander(port, bystander_user);

  constexpr int kAttempts = 200;
  int created = 0;
  int refused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kAttempts; ++i) {
    const HttpResponse r =
        mallory.Post("/v1/conversations", Group("spam " + std::to_string(i), {victim.id()}));
    if (r.status == 201) {
      ++created;
      continue;
    }
    ASSERT_THAT(r, IsHttpError(429, "rate_limited"));
    const json::value& retry = r.json.at("error").at("retry_after_ms");
    ASSERT_TRUE(retry.is_int64());
    EXPECT_GT(retry.as_int64(), 0);
    ++refused;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "group flood: " << kAttempts << " attempts in " << seconds << " s, " << created
            << " created, " << refused << " refused (429)\n";
  EXPECT_EQ(created, 5);
  EXPECT_EQ(refused, kAttempts - 5);

  // The victim's list holds what got through, and the bucket is mallory's alone.
  ChatClient victim_client(port, victim);
  const HttpResponse list = victim_client.Get("/v1/conversations");
  ASSERT_THAT(list, HasStatus(200));
  EXPECT_EQ(list.json.at("conversations").as_array().size(), 5u);
  std::cout << "victim's conversation list after the flood: " << list.body.size() << " bytes\n";
  EXPECT_THAT(bystander.Post("/v1/conversations", Group("fine", {victim.id()})), HasStatus(201));

  // Member adds have their own bucket.
  const std::string conv = bystander.CreateGroup("club", {});
  int added = 0;
  int add_refused = 0;
  for (int i = 0; i < 8; ++i) {
    TestUser extra = Registered(port, "extra" + std::to_string(i));
    const HttpResponse r =
        bystander.Post("/v1/conversations/" + conv + "/members", {{"user_id", extra.id()}});
    if (r.status == 200) {
      ++added;
    } else {
      EXPECT_THAT(r, IsHttpError(429, "rate_limited"));
      ++add_refused;
    }
  }
  std::cout << "member adds: 8 attempts, " << added << " added, " << add_refused << " refused\n";
  EXPECT_EQ(added, 3);
  EXPECT_EQ(Metric(port, "parley_social_refused_total{limit=\"conversation_create_rate\"}"),
            kAttempts - 5);
  EXPECT_EQ(Metric(port, "parley_social_refused_total{limit=\"member_add_rate\"}"), 5);
}

// ---------------------------------------------------------------------------------------------
// #16: reactions per message are bounded, in distinct emoji and per user.

TEST(SocialAbuseE2eTest, ReactionsPerMessageAreCapped) {
  ParleydProcess server(UnlimitedChatArgs(
      {"--max-reactions-per-message", "3", "--max-reactions-per-user-message", "2"}));
  const uint16_t port = server.Port();
  TestUser alice_user = Registered(port, "alice");
  TestUser bob_user = Registered(port, "bob");
  ChatClient alice(port, alice_user);
  ChatClient bob(port, bob_user);
  const std::string conv = alice.CreateDirect(bob_user.id());
  const WsFrame sent = alice.SendMessage(conv, "m1", "react to this");
  ASSERT_THAT(sent, IsAck());
  const int64_t seq = IntField(sent.json, "seq");

  EXPECT_THAT(alice.React(conv, seq, "\xF0\x9F\x91\x8D"), IsAck());  // thumbs up
  EXPECT_THAT(alice.React(conv, seq, "\xE2\x9D\xA4"), IsAck());      // heart
  const WsFrame third = alice.React(conv, seq, "\xF0\x9F\x98\x82");  // a third, by alice
  EXPECT_THAT(third, IsWsError("conflict"));
  EXPECT_NE(StringField(third.json.at("error"), "message").find("max_reactions_per_user_message"),
            std::string::npos);
  EXPECT_THAT(bob.React(conv, seq, "\xF0\x9F\x98\x82"), IsAck());   // third distinct emoji
  const WsFrame fourth = bob.React(conv, seq, "\xF0\x9F\x8E\x89");  // a fourth distinct one
  EXPECT_THAT(fourth, IsWsError("conflict"));
  EXPECT_NE(StringField(fourth.json.at("error"), "message").find("max_reactions_per_message"),
            std::string::npos);
  // Joining an emoji already there is not a new one, and taking one back is always allowed.
  EXPECT_THAT(bob.React(conv, seq, "\xF0\x9F\x91\x8D"), IsAck());
  EXPECT_THAT(alice.React(conv, seq, "\xF0\x9F\x91\x8D"), IsAck());  // toggled off

  const HttpResponse history = alice.Get(
      "/v1/conversations/" + conv + "/messages?after_seq=" + std::to_string(seq - 1) + "&limit=1");
  ASSERT_THAT(history, HasStatus(200));
  EXPECT_EQ(history.json.at("messages").at(0).at("reactions").as_object().size(), 3u);
  EXPECT_EQ(Metric(port, "parley_social_refused_total{limit=\"reactions_per_message\"}"), 1);
  EXPECT_EQ(Metric(port, "parley_social_refused_total{limit=\"reactions_per_user_message\"}"), 1);
}

// ---------------------------------------------------------------------------------------------
// #14: names, titles and status texts refuse bidi controls, invisible and control characters.

TEST(SocialAbuseE2eTest, NamesTitlesAndStatusTextRefuseInvisibleAndBidiCharacters) {
  ParleydProcess server(UnlimitedChatArgs());
  const uint16_t port = server.Port();
  int n = 0;
  for (const std::string bad : {"alice\u202Egpj.exe", "al\u200Bice", "alice\u2066", "\uFEFFalice",
                                "ali\xC2\x85"
                                "ce",
                                "\uFE0F", "ali\u00ADce"}) {
    TestUser impostor(port, "impostor" + std::to_string(++n));
    const HttpResponse r = impostor.Register(bad);
    EXPECT_THAT(r, IsHttpError(400, "invalid_request")) << json::serialize(json::value(bad));
  }
  TestUser fine(port, "jose");
  EXPECT_THAT(fine.Register("Jos\u00E9 \U0001F468\u200D\U0001F373"), HasStatus(201));

  TestUser alice_user = Registered(port, "alice");
  ChatClient alice(port, alice_user);
  EXPECT_THAT(alice.Post("/v1/conversations", Group("admins\u202E", {fine.id()})),
              IsHttpError(400, "invalid_request"));
  const std::string conv = alice.CreateGroup("ok", {fine.id()});
  const HttpResponse renamed = alice.Patch("/v1/conversations/" + conv, {{"title", "o\u200Dk"}});
  EXPECT_THAT(renamed, IsHttpError(400, "invalid_request"));
  EXPECT_NE(StringField(renamed.json.at("error"), "message").find("invisible"), std::string::npos);
  EXPECT_THAT(alice.Request({{"type", "presence"}, {"status", "away"}, {"text", "brb\u2067"}}),
              IsWsError("invalid_request"));
  EXPECT_THAT(alice.Request({{"type", "presence"}, {"status", "away"}, {"text", "brb \u2615"}}),
              IsFrameWith("ok"));

  // Nobody may take another user's username as their display name; their own is fine.
  TestUser lookalike(port, "mallory");
  const HttpResponse taken = lookalike.Register("ALICE");
  EXPECT_THAT(taken, IsHttpError(400, "invalid_request"));
  TestUser self_named(port, "carol");
  EXPECT_THAT(self_named.Register("Carol"), HasStatus(201));
}

// ---------------------------------------------------------------------------------------------
// #7: a presence subscription ends with the last shared conversation.

// The next presence event on `ws`, other frames skipped.
WsFrame NextPresence(WsClient& ws) {
  while (true) {
    WsFrame frame = ws.Next();
    if (frame.kind != WsFrame::Kind::kText || frame.Type() == "presence") return frame;
  }
}

// The reply to `frame` (sent with `id`); presence events on the way are collected in `seen`.
WsFrame RequestOn(WsClient& ws, json::object frame, std::vector<WsFrame>& seen) {
  static int next_id = 0;
  const std::string id = "r" + std::to_string(++next_id);
  frame["id"] = id;
  ws.Send(frame);
  while (true) {
    WsFrame reply = ws.Next();
    if (reply.kind != WsFrame::Kind::kText) return reply;
    if (reply.Type() == "presence") {
      seen.push_back(std::move(reply));
      continue;
    }
    const json::value* re = reply.json.as_object().if_contains("re");
    if (re != nullptr && *re == json::value(id)) return reply;
  }
}

TEST(SocialAbuseE2eTest, PresenceStopsReachingAStrangerOnceTheSharedGroupEnds) {
  ParleydProcess server(UnlimitedChatArgs({"--presence-grace-ms", "0"}));
  const uint16_t port = server.Port();
  TestUser victim = Registered(port, "victim");
  TestUser stranger = Registered(port, "stranger");
  const Tokens victim_tokens = victim.Login("phone");
  const Tokens stranger_tokens = stranger.Login("laptop");
  const HttpClient http(port);

  const HttpResponse created = http.Post("/v1/conversations", Group("free stuff", {victim.id()}),
                                         stranger_tokens.access_token);
  ASSERT_THAT(created, HasStatus(201));
  const std::string conv(created.json.at("conversation").at("id").as_string());
  WsClient victim_ws = victim.ConnectWs(victim_tokens);
  WsClient stranger_ws = stranger.ConnectWs(stranger_tokens);

  std::vector<WsFrame> seen;
  const WsFrame subscribed =
      RequestOn(stranger_ws, {{"type", "presence_subscribe"}, {"users", {victim.id()}}}, seen);
  ASSERT_THAT(subscribed, IsFrameWith("ok"));
  ASSERT_EQ(subscribed.json.at("presence").as_array().size(), 1u);

  // While they share the group, the stranger sees the victim's status: the setup works.
  std::vector<WsFrame> unused;
  ASSERT_THAT(
      RequestOn(victim_ws, {{"type", "presence"}, {"status", "away"}, {"text", "gym"}}, unused),
      IsFrameWith("ok"));
  EXPECT_THAT(NextPresence(stranger_ws),
              IsEvent("presence", {{"user", victim.id()}, {"away", true}, {"text", "gym"}}));
  EXPECT_THAT(http.Get("/v1/users/" + victim.id() + "/presence", stranger_tokens.access_token),
              HasStatus(200));

  // The victim leaves. From then on nothing about them reaches the stranger.
  ASSERT_THAT(http.Delete("/v1/conversations/" + conv + "/members/" + victim.id(),
                          victim_tokens.access_token),
              HasStatus(204));
  ASSERT_THAT(RequestOn(victim_ws,
                        {{"type", "presence"}, {"status", "away"}, {"text", "home alone"}}, unused),
              IsFrameWith("ok"));
  ASSERT_THAT(RequestOn(victim_ws, {{"type", "presence"}, {"status", "online"}}, unused),
              IsFrameWith("ok"));
  // The barrier: answered on the presence thread after both changes were announced.
  const WsFrame barrier =
      RequestOn(stranger_ws, {{"type", "presence_subscribe"}, {"users", {victim.id()}}}, seen);
  ASSERT_THAT(barrier, IsFrameWith("ok"));
  EXPECT_THAT(seen, IsEmpty()) << "presence reached the stranger after the group ended";
  EXPECT_THAT(barrier.json.at("presence").as_array(), IsEmpty());
  EXPECT_THAT(http.Get("/v1/users/" + victim.id() + "/presence", stranger_tokens.access_token),
              IsHttpError(404, "not_found"));
  EXPECT_EQ(Metric(port, "parley_presence_subscriptions_revoked_total"), 1);
}

// ---------------------------------------------------------------------------------------------
// #15: a push endpoint registered by one user cannot be taken over by another.

TEST(SocialAbuseE2eTest, AnotherUserCannotTakeOverAPushEndpoint) {
  HttpReceiver push(201);
  ParleydProcess server(UnlimitedChatArgs(
      {"--notify-workers", "1", "--notify-window-ms", "0", "--notify-push-hosts", "127.0.0.1"}));
  const uint16_t port = server.Port();
  TestUser alice_user = Registered(port, "alice");
  TestUser bob_user = Registered(port, "bob");
  TestUser mallory_user = Registered(port, "mallory");
  ChatClient alice(port, alice_user);
  const Tokens bob = bob_user.Login("browser");
  const Tokens mallory = mallory_user.Login("browser");
  const HttpClient http(port);
  FakeBrowser bob_browser;
  FakeBrowser mallory_keys;
  const std::string endpoint = push.Url("/push/bob");
  auto sub = [&](const FakeBrowser& keys) {
    return json::object{{"endpoint", endpoint},
                        {"keys", {{"p256dh", keys.p256dh()}, {"auth", keys.auth()}}}};
  };
  ASSERT_THAT(http.Post("/v1/push/subscriptions", sub(bob_browser), bob.access_token),
              HasStatus(201));
  // Mallory learned bob's endpoint and registers it with keys of her own.
  ASSERT_THAT(http.Post("/v1/push/subscriptions", sub(mallory_keys), mallory.access_token),
              HasStatus(201));

  // Bob is still notified, with his keys.
  const std::string conv = alice.CreateDirect(bob_user.id());
  ASSERT_THAT(alice.SendMessage(conv, "c1", "still yours"), IsAck());
  const std::vector<ReceivedRequest> got = push.WaitFor(1);
  EXPECT_EQ(got[0].target, "/push/bob");
  const std::optional<std::string> plain = bob_browser.Decrypt(got[0].body);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(json::parse(*plain).at("preview"), "still yours");

  // Each deletes only their own registration; bob can delete his.
  const std::string target = "/v1/push/subscriptions?endpoint=http%3A%2F%2F127.0.0.1%3A" +
                             std::to_string(push.port()) + "%2Fpush%2Fbob";
  EXPECT_THAT(http.Delete(target, mallory.access_token), HasStatus(204));
  EXPECT_THAT(http.Delete(target, mallory.access_token), IsHttpError(404, "not_found"));
  EXPECT_THAT(http.Delete(target, bob.access_token), HasStatus(204));
}

TEST(SocialAbuseE2eTest, PushEndpointsMustUseTheDefaultHttpsPort) {
  ParleydProcess server(UnlimitedChatArgs({"--notify-push-hosts", "fcm.googleapis.com,127.0.0.1"}));
  const uint16_t port = server.Port();
  TestUser bob_user = Registered(port, "bob");
  const Tokens bob = bob_user.Login("browser");
  const HttpClient http(port);
  FakeBrowser browser;
  auto sub = [&](std::string endpoint) {
    return json::object{{"endpoint", std::move(endpoint)},
                        {"keys", {{"p256dh", browser.p256dh()}, {"auth", browser.auth()}}}};
  };
  for (const char* bad :
       {"https://fcm.googleapis.com:8443/fcm/send/x", "https://fcm.googleapis.com:25/fcm/send/x",
        "http://fcm.googleapis.com/fcm/send/x", "http://127.0.0.2:9000/x"}) {
    EXPECT_THAT(http.Post("/v1/push/subscriptions", sub(bad), bob.access_token),
                IsHttpError(400, "invalid_request"))
        << bad;
  }
  EXPECT_THAT(http.Post("/v1/push/subscriptions", sub("https://fcm.googleapis.com/fcm/send/x"),
                        bob.access_token),
              HasStatus(201));
  EXPECT_THAT(http.Post("/v1/push/subscriptions", sub("https://fcm.googleapis.com:443/fcm/send/y"),
                        bob.access_token),
              HasStatus(201));
  EXPECT_THAT(http.Post("/v1/push/subscriptions", sub("http://127.0.0.1:9000/x"), bob.access_token),
              HasStatus(201));
}

}  // namespace
}  // namespace parley::e2e
