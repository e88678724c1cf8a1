// End-to-end: presence as clients see it: online with the first device, offline once the
// last one has gone (closed, silent or cut) and the grace period has passed, only to the
// users who may see it; away and status text; queries; last_seen across a restart.
//
// Waits are on the events themselves (bounded reads), never on sleeps. To show that an
// event did NOT come, a request that the server answers on its presence thread (a
// `presence_subscribe`) is the barrier: anything announced before it was handed to the
// connection before its reply.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using ::testing::IsEmpty;

/// A presence event about `user` with `status`, and `fields` if given.
auto IsPresence(const std::string& user, std::string_view status, json::object fields = {}) {
  fields["user"] = user;
  fields["status"] = status;
  return IsEvent("presence", std::move(fields));
}

/// One registered user, with HTTP calls made with their latest device's token.
class Person {
 public:
  Person(uint16_t port, std::string name) : user_(port, std::move(name)), http_(port) {
    const HttpResponse registered = user_.Register();
    if (registered.status != 201) throw std::runtime_error("register failed: " + registered.body);
  }

  /// Logs in a new device and opens its authenticated WebSocket.
  WsClient Connect(std::string_view device = "phone") {
    tokens_ = user_.Login(device);
    return user_.ConnectWs(tokens_);
  }
  /// A new WebSocket for the device that logged in last.
  WsClient Reconnect() const { return user_.ConnectWs(tokens_); }
  /// Logs a device in without opening its WebSocket (Reconnect opens it, quickly).
  void LogIn(std::string_view device = "http") { tokens_ = user_.Login(device); }

  const std::string& id() const { return user_.id(); }
  HttpResponse Get(std::string_view target) const {
    return http_.Get(target, tokens_.access_token);
  }
  HttpResponse Post(std::string_view target, const json::value& body) const {
    return http_.Post(target, body, tokens_.access_token);
  }
  void Share(std::string_view type, const std::vector<const Person*>& others) const {
    json::array members;
    for (const Person* other : others) members.emplace_back(other->id());
    json::object body{{"type", type}, {"members", members}};
    if (type == "group") body["title"] = "presence";
    const HttpResponse created = Post("/v1/conversations", body);
    if (created.status != 201) throw std::runtime_error("create failed: " + created.body);
  }

 private:
  TestUser user_;
  HttpClient http_;
  Tokens tokens_;
};

/// The next presence event on `ws`; other events (conversations, messages) are skipped.
WsFrame NextPresence(WsClient& ws, milliseconds timeout = kDefaultTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    WsFrame frame = ws.Next(std::max(left, milliseconds(0)));
    if (frame.kind != WsFrame::Kind::kText || frame.Type() == "presence") return frame;
  }
}

/// The presence events the server sent `ws` before it answered a `presence_subscribe` sent
/// now (which ends this connection's subscriptions).
std::vector<WsFrame> PresenceBefore(WsClient& ws) {
  static int next_id = 0;
  const std::string id = "barrier-" + std::to_string(++next_id);
  ws.Send({{"type", "presence_subscribe"}, {"id", id}, {"users", json::array{}}});
  std::vector<WsFrame> presence;
  while (true) {
    WsFrame frame = ws.Next();
    if (frame.kind != WsFrame::Kind::kText) {
      ADD_FAILURE() << "no reply to the barrier: " << ::testing::PrintToString(frame);
      return presence;
    }
    if (frame.Type() == "presence") {
      presence.push_back(std::move(frame));
      continue;
    }
    const json::value* re =
        frame.json.is_object() ? frame.json.as_object().if_contains("re") : nullptr;
    if (re != nullptr && *re == json::value(id)) return presence;
  }
}

/// Sends a request and returns its reply. A presence event on the way is a test failure
/// (callers expect none then); other events are skipped.
WsFrame Request(WsClient& ws, json::object frame) {
  static int next_id = 0;
  const std::string id = "req-" + std::to_string(++next_id);
  frame["id"] = id;
  ws.Send(frame);
  while (true) {
    WsFrame reply = ws.Next();
    if (reply.kind != WsFrame::Kind::kText) return reply;
    if (reply.Type() == "presence") {
      ADD_FAILURE() << "unexpected " << ::testing::PrintToString(reply);
      continue;
    }
    const json::value* re = reply.json.as_object().if_contains("re");
    if (re != nullptr && *re == json::value(id)) return reply;
  }
}

std::vector<std::string> Args(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--presence-grace-ms", "200"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class PresenceE2eTest : public ::testing::Test {
 protected:
  explicit PresenceE2eTest(std::vector<std::string> args = Args()) : server_(std::move(args)) {}

  ParleydProcess server_;
  Person alice_{server_.Port(), "alice"};
  Person bob_{server_.Port(), "bob"};
  Person carol_{server_.Port(), "carol"};
};

TEST_F(PresenceE2eTest, TwoDevicesOfOneUserAreOneOnlineThenOneOffline) {
  alice_.LogIn();
  alice_.Share("direct", {&bob_});
  WsClient bob = bob_.Connect();

  WsClient phone = alice_.Connect("phone");
  const WsFrame online = NextPresence(bob);
  EXPECT_THAT(online, IsPresence(alice_.id(), "online"));
  EXPECT_GT(IntField(online.json, "last_seen"), 0);

  WsClient laptop = alice_.Connect("laptop");
  phone.Close();
  EXPECT_THAT(PresenceBefore(bob), IsEmpty());  // the laptop keeps alice online
  laptop.Close();

  // The next event is the offline, once the grace period is over: nothing came between.
  const WsFrame offline = NextPresence(bob);
  EXPECT_THAT(offline, IsPresence(alice_.id(), "offline"));
  EXPECT_GE(IntField(offline.json, "last_seen"), IntField(online.json, "last_seen"));
}

class PresenceHeartbeatE2eTest : public PresenceE2eTest {
 protected:
  PresenceHeartbeatE2eTest() : PresenceE2eTest(Args({"--heartbeat-ms", "300"})) {}
};

TEST_F(PresenceHeartbeatE2eTest, ADeviceThatStopsAnsweringGoesOffline) {
  alice_.LogIn();
  bob_.LogIn();
  alice_.Share("direct", {&bob_});
  // Logged in beforehand, so that both sockets open quickly: bob's own 600 ms start now.
  WsClient bob = bob_.Reconnect();
  WsClient alice = alice_.Reconnect();  // and then silent
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));

  // Bob keeps his own connection alive (a ping whenever 100 ms pass without a frame) while
  // he waits; alice says nothing.
  const auto deadline = std::chrono::steady_clock::now() + kDefaultTimeout;
  WsFrame offline;
  int pings = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    offline = bob.Next(milliseconds(100));
    if (offline.Type() == "presence" || offline.kind == WsFrame::Kind::kClosed) break;
    if (offline.kind == WsFrame::Kind::kTimeout) bob.Send({{"type", "ping"}, {"id", ++pings}});
  }
  EXPECT_THAT(offline, IsPresence(alice_.id(), "offline"));
  EXPECT_THAT(alice.ExpectClose(), IsClosed(4000));
}

TEST_F(PresenceE2eTest, ACutConnectionGoesOfflineAndAReconnectInTimeSendsNothing) {
  alice_.LogIn();
  alice_.Share("direct", {&bob_});
  WsClient bob = bob_.Connect();
  auto alice = std::make_unique<WsClient>(alice_.Connect());
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));

  alice.reset();  // the socket goes without a closing handshake
  const WsFrame offline = NextPresence(bob);
  EXPECT_THAT(offline, IsPresence(alice_.id(), "offline"));
  // Reconnecting after the offline is announced online again (after the hold-down).
  WsClient again = alice_.Reconnect();
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));
}

class PresenceFlapE2eTest : public PresenceE2eTest {
 protected:
  // Long enough that reconnecting always beats it, even on a loaded machine.
  PresenceFlapE2eTest() : PresenceE2eTest({"--presence-grace-ms", "2000"}) {}
};

TEST_F(PresenceFlapE2eTest, AFlappingDeviceCostsItsContactsNothing) {
  alice_.LogIn();
  alice_.Share("direct", {&bob_});
  WsClient bob = bob_.Connect();
  WsClient alice = alice_.Connect();
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));

  for (int i = 0; i < 5; ++i) {
    alice.Close();
    alice = alice_.Reconnect();
  }
  alice.Close();

  // Nothing for the flaps: the next event is the final offline.
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "offline"));
}

class PresenceVisibilityE2eTest : public PresenceE2eTest {
 protected:
  PresenceVisibilityE2eTest() : PresenceE2eTest(Args({"--presence-max-group-size", "2"})) {}
  Person dave_{server_.Port(), "dave"};
};

TEST_F(PresenceVisibilityE2eTest, OnlyTheUsersWhoMaySeeItHearOfIt) {
  alice_.LogIn();
  alice_.Share("direct", {&bob_});
  alice_.Share("group", {&dave_, &carol_});  // 3 members: above the push limit of 2
  WsClient bob = bob_.Connect();
  WsClient dave = dave_.Connect();
  Person stranger{server_.Port(), "stranger"};
  WsClient outsider = stranger.Connect();

  WsClient alice = alice_.Connect();

  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));
  // Bob has heard, so the announcement is over; the barriers show the others got nothing.
  EXPECT_THAT(PresenceBefore(dave), IsEmpty());
  EXPECT_THAT(PresenceBefore(outsider), IsEmpty());

  // Dave has the big group on screen: he subscribes, and learns alice's state at once.
  const WsFrame subscribed =
      Request(dave, {{"type", "presence_subscribe"}, {"users", {alice_.id(), stranger.id()}}});
  ASSERT_THAT(subscribed, IsFrameWith("ok"));
  const json::array& states = subscribed.json.at("presence").as_array();
  ASSERT_EQ(states.size(), 1u);  // the stranger shares nothing with dave: left out
  EXPECT_THAT(states[0], EntryHas({{"user_id", alice_.id()}, {"status", "online"}}));
  // The outsider cannot watch alice.
  const WsFrame refused =
      Request(outsider, {{"type", "presence_subscribe"}, {"users", {alice_.id()}}});
  EXPECT_THAT(refused.json.at("presence").as_array(), IsEmpty());

  ASSERT_THAT(Request(alice, {{"type", "presence"}, {"status", "away"}, {"text", "lunch"}}),
              IsFrameWith("ok"));
  EXPECT_THAT(NextPresence(dave),
              IsPresence(alice_.id(), "online", {{"away", true}, {"text", "lunch"}}));
  EXPECT_THAT(NextPresence(bob),
              IsPresence(alice_.id(), "online", {{"away", true}, {"text", "lunch"}}));
  EXPECT_THAT(PresenceBefore(outsider), IsEmpty());
}

TEST_F(PresenceE2eTest, StatusRequestsAreChecked) {
  WsClient alice = alice_.Connect();
  EXPECT_THAT(Request(alice, {{"type", "presence"}, {"status", "busy"}}),
              IsWsError("invalid_request"));
  EXPECT_THAT(
      Request(alice, {{"type", "presence"}, {"status", "away"}, {"text", std::string(65, 'x')}}),
      IsWsError("invalid_request"));
  EXPECT_THAT(Request(alice, {{"type", "presence"}, {"status", "away"}, {"txt", "typo"}}),
              IsWsError("invalid_request"));
  EXPECT_THAT(Request(alice, {{"type", "presence_subscribe"}, {"users", "u_x"}}),
              IsWsError("invalid_request"));
  json::array many;
  for (int i = 0; i < 201; ++i) many.emplace_back("u_" + std::to_string(i));
  EXPECT_THAT(Request(alice, {{"type", "presence_subscribe"}, {"users", many}}),
              IsWsError("invalid_request"));
  EXPECT_THAT(Request(alice, {{"type", "presence"}, {"status", "online"}}), IsFrameWith("ok"));
}

TEST_F(PresenceE2eTest, PresenceCanBeQueriedOverHttp) {
  alice_.LogIn();
  carol_.LogIn();
  alice_.Share("direct", {&bob_});
  WsClient bob = bob_.Connect();
  WsClient alice = alice_.Connect();
  EXPECT_THAT(NextPresence(bob), IsPresence(alice_.id(), "online"));

  const HttpResponse one = bob_.Get("/v1/users/" + alice_.id() + "/presence");
  ASSERT_THAT(one, HasStatus(200));
  EXPECT_THAT(one.json, EntryHas({{"user_id", alice_.id()}, {"status", "online"}}));
  EXPECT_GT(IntField(one.json, "last_seen"), 0);
  EXPECT_THAT(carol_.Get("/v1/users/" + alice_.id() + "/presence"), IsHttpError(404, "not_found"));
  EXPECT_THAT(bob_.Get("/v1/users/u_nobody/presence"), IsHttpError(404, "not_found"));
  EXPECT_THAT(HttpClient(server_.Port()).Get("/v1/users/" + alice_.id() + "/presence"),
              IsHttpError(401, "unauthorized"));

  const HttpResponse bulk = bob_.Post(
      "/v1/presence/query", {{"user_ids", {alice_.id(), carol_.id(), bob_.id(), "u_nobody"}}});
  ASSERT_THAT(bulk, HasStatus(200));
  const json::array& states = bulk.json.at("presence").as_array();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_THAT(states[0], EntryHas({{"user_id", alice_.id()}, {"status", "online"}}));
  EXPECT_THAT(states[1], EntryHas({{"user_id", bob_.id()}, {"status", "online"}}));

  json::array many;
  for (int i = 0; i < 201; ++i) many.emplace_back("u_" + std::to_string(i));
  EXPECT_THAT(bob_.Post("/v1/presence/query", {{"user_ids", many}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(bob_.Post("/v1/presence/query", {{"users", json::array{}}}),
              IsHttpError(400, "invalid_request"));
}

TEST(PresenceRestartE2eTest, LastSeenSurvivesARestart) {
  TempDir data;
  ParleydOptions options;
  options.args = Args();
  options.data_dir = data.path();
  int64_t last_seen = 0;
  std::string alice_id;
  {
    ParleydProcess server(options);
    Person alice(server.Port(), "alice");
    Person bob(server.Port(), "bob");
    alice.LogIn();
    alice.Share("direct", {&bob});
    WsClient bob_ws = bob.Connect();
    WsClient alice_ws = alice.Connect();
    EXPECT_THAT(NextPresence(bob_ws), IsPresence(alice.id(), "online"));
    alice_ws.Close();
    const WsFrame offline = NextPresence(bob_ws);
    ASSERT_THAT(offline, IsPresence(alice.id(), "offline"));
    last_seen = IntField(offline.json, "last_seen");
    alice_id = alice.id();
    server.Terminate();
    ASSERT_THAT(server.WaitExit(), ExitedWith(0));
  }

  ParleydProcess server(options);
  TestUser bob(server.Port(), "bob");
  HttpClient http(server.Port());
  const Tokens tokens = bob.Login();
  const HttpResponse seen = http.Get("/v1/users/" + alice_id + "/presence", tokens.access_token);
  ASSERT_THAT(seen, HasStatus(200));
  EXPECT_THAT(seen.json, EntryHas({{"status", "offline"}, {"last_seen", last_seen}}));
}

}  // namespace
}  // namespace parley::e2e
