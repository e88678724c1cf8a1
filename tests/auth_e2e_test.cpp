// End-to-end: accounts, devices and tokens (register, login, refresh, logout, users) against
// a real parleyd, as a client sees them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;

class AuthE2eTest : public ::testing::Test {
 protected:
  HttpResponse Refresh(const std::string& refresh_token) {
    return http_.Post("/v1/auth/refresh", {{"refresh_token", refresh_token}});
  }
  HttpResponse GetUser(const std::string& id, const std::string& access_token) {
    return http_.Get("/v1/users/" + id, access_token);
  }
  HttpResponse Logout(const std::string& access_token) {
    return http_.Send("POST", "/v1/auth/logout", "", access_token);
  }
  HttpResponse RegisterRaw(const json::value& body) {
    return http_.Post("/v1/auth/register", body);
  }

  ParleydProcess server_;
  HttpClient http_{server_.Port()};
};

TEST_F(AuthE2eTest, RegisterAnswersTheNewUser) {
  TestUser alice(server_.Port(), "alice");

  const HttpResponse registered = alice.Register("Alice A.");

  ASSERT_THAT(registered, HasStatus(201));
  EXPECT_TRUE(registered.json.at("user_id").is_string());
  EXPECT_FALSE(registered.json.at("user_id").as_string().empty());
  EXPECT_EQ(registered.json.at("username"), "alice");
  EXPECT_EQ(registered.json.at("display_name"), "Alice A.");
}

TEST_F(AuthE2eTest, RegisterLoginAndWebSocketAuthReachReady) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));

  const HttpResponse login = alice.TryLogin("phone");
  ASSERT_THAT(login, HasStatus(200));
  const std::optional<Tokens> tokens = Tokens::FromJson(login.json);
  ASSERT_TRUE(tokens.has_value()) << ::testing::PrintToString(login);
  EXPECT_EQ(tokens->user_id, alice.id());
  EXPECT_FALSE(tokens->device_id.empty());
  EXPECT_FALSE(tokens->access_token.empty());
  EXPECT_FALSE(tokens->refresh_token.empty());
  EXPECT_GT(tokens->expires_in, 0);

  WsClient ws;
  ws.Connect(server_.Port());
  const WsFrame ready = ws.Authenticate(tokens->access_token);

  ASSERT_THAT(ready, IsFrame("ready"));
  EXPECT_EQ(ready.json.at("user_id"), json::value(alice.id()));
  EXPECT_EQ(ready.json.at("device_id"), json::value(tokens->device_id));
  EXPECT_TRUE(ready.json.at("session_id").is_string());
  EXPECT_TRUE(ready.json.at("heartbeat_ms").is_number());
  EXPECT_THAT(ws.Ping(1), IsReply("pong", 1));
}

TEST_F(AuthE2eTest, ReadyAdvertisesTheConfiguredHeartbeat) {
  ParleydProcess server({"--heartbeat-ms", "12345"});
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));

  WsClient ws = alice.ConnectWs(alice.Login());

  EXPECT_EQ(ws.ready().at("heartbeat_ms"), json::value(12345));
}

TEST_F(AuthE2eTest, EachLoginIsANewDevice) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));

  const Tokens phone = alice.Login("phone");
  const Tokens laptop = alice.Login("laptop");

  EXPECT_EQ(phone.user_id, laptop.user_id);
  EXPECT_NE(phone.device_id, laptop.device_id);
  EXPECT_NE(phone.access_token, laptop.access_token);
  EXPECT_NE(phone.refresh_token, laptop.refresh_token);
}

TEST_F(AuthE2eTest, GetUserAnswersTheProfile) {
  TestUser alice(server_.Port(), "alice");
  TestUser bob(server_.Port(), "bob");
  ASSERT_THAT(alice.Register("Alice"), HasStatus(201));
  ASSERT_THAT(bob.Register("Bob"), HasStatus(201));
  const Tokens tokens = alice.Login();

  const HttpResponse user = GetUser(bob.id(), tokens.access_token);

  ASSERT_THAT(user, HasStatus(200));
  EXPECT_EQ(user.json.at("user_id"), json::value(bob.id()));
  EXPECT_EQ(user.json.at("username"), "bob");
  EXPECT_EQ(user.json.at("display_name"), "Bob");
}

TEST_F(AuthE2eTest, GetUnknownUserIsNotFound) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens tokens = alice.Login();

  EXPECT_THAT(GetUser("no-such-user", tokens.access_token), IsHttpError(404, "not_found"));
}

TEST_F(AuthE2eTest, GetUserNeedsAValidAccessToken) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));

  EXPECT_THAT(http_.Get("/v1/users/" + alice.id()), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(GetUser(alice.id(), "not-a-token"), IsHttpError(401, "unauthorized"));
}

TEST_F(AuthE2eTest, GetUserByUsernameFindsThemIgnoringCase) {
  TestUser alice(server_.Port(), "alice");
  TestUser bob(server_.Port(), "bob");
  ASSERT_THAT(alice.Register("Alice"), HasStatus(201));
  ASSERT_THAT(bob.Register("Bob B."), HasStatus(201));
  const Tokens tokens = alice.Login();

  for (const std::string name : {"bob", "BoB"}) {
    SCOPED_TRACE(name);
    const HttpResponse user = http_.Get("/v1/users/by-username/" + name, tokens.access_token);
    ASSERT_THAT(user, HasStatus(200));
    EXPECT_EQ(user.json.at("user_id"), json::value(bob.id()));
    EXPECT_EQ(user.json.at("username"), "bob");
    EXPECT_EQ(user.json.at("display_name"), "Bob B.");
  }
}

TEST_F(AuthE2eTest, GetUserByUnknownOrInvalidUsernameIsNotFound) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens tokens = alice.Login();

  EXPECT_THAT(http_.Get("/v1/users/by-username/nobody", tokens.access_token),
              IsHttpError(404, "not_found"));
  EXPECT_THAT(http_.Get("/v1/users/by-username/x", tokens.access_token),
              IsHttpError(404, "not_found"));
  EXPECT_THAT(http_.Get("/v1/users/by-username/alice"), IsHttpError(401, "unauthorized"));
}

TEST_F(AuthE2eTest, UsernamesAreUniqueIgnoringCase) {
  ASSERT_THAT(TestUser(server_.Port(), "alice").Register(), HasStatus(201));

  EXPECT_THAT(TestUser(server_.Port(), "alice").Register(), IsHttpError(409, "conflict"));
  EXPECT_THAT(TestUser(server_.Port(), "Alice").Register(), IsHttpError(409, "conflict"));
  EXPECT_THAT(TestUser(server_.Port(), "ALICE", "another password").Register(),
              IsHttpError(409, "conflict"));
}

TEST_F(AuthE2eTest, InvalidUsernamesAreRejected) {
  const std::string too_long(33, 'a');
  for (const std::string& username :
       {std::string(""), std::string("ab"), too_long, std::string("has space"),
        std::string("slash/name"), std::string("at@sign"), std::string("\xc3\xa9mile"),
        std::string("tab\tname")}) {
    SCOPED_TRACE("username \"" + username + "\"");
    EXPECT_THAT(TestUser(server_.Port(), username).Register(), IsHttpError(400, "invalid_request"));
  }
}

TEST_F(AuthE2eTest, UsernameLengthAndCharacterBoundariesAreAccepted) {
  for (const std::string& username :
       {std::string("abc"), std::string(32, 'z'), std::string("a.b-c_d9"), std::string("MiXeD")}) {
    SCOPED_TRACE("username \"" + username + "\"");
    EXPECT_THAT(TestUser(server_.Port(), username).Register(), HasStatus(201));
  }
}

TEST_F(AuthE2eTest, PasswordsOutsideEightTo256BytesAreRejected) {
  EXPECT_THAT(TestUser(server_.Port(), "short", "1234567").Register(),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(TestUser(server_.Port(), "empty", "").Register(),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(TestUser(server_.Port(), "long", std::string(257, 'p')).Register(),
              IsHttpError(400, "invalid_request"));

  EXPECT_THAT(TestUser(server_.Port(), "eight", "12345678").Register(), HasStatus(201));
  TestUser longest(server_.Port(), "longest", std::string(256, 'p'));
  EXPECT_THAT(longest.Register(), HasStatus(201));
  EXPECT_THAT(longest.TryLogin(), HasStatus(200));
}

TEST_F(AuthE2eTest, RegisterRejectsMissingAndMistypedFields) {
  EXPECT_THAT(RegisterRaw(json::object{}), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(RegisterRaw({{"username", "alice"}}), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(RegisterRaw({{"password", "long enough"}}), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(RegisterRaw({{"username", 42}, {"password", "long enough"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(RegisterRaw({{"username", "alice"}, {"password", json::array{1, 2}}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(
      RegisterRaw({{"username", "alice"}, {"password", "long enough"}, {"display_name", 7}}),
      IsHttpError(400, "invalid_request"));
  EXPECT_THAT(RegisterRaw(json::array{"alice", "long enough"}),
              IsHttpError(400, "invalid_request"));
}

TEST_F(AuthE2eTest, LoginRejectsMissingFields) {
  EXPECT_THAT(http_.Post("/v1/auth/login", json::object{}), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Post("/v1/auth/login", {{"username", "alice"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Post("/v1/auth/refresh", json::object{}), IsHttpError(400, "invalid_request"));
}

TEST_F(AuthE2eTest, WrongPasswordAndUnknownUserAreIndistinguishable) {
  ASSERT_THAT(TestUser(server_.Port(), "alice").Register(), HasStatus(201));

  const HttpResponse wrong_password =
      TestUser(server_.Port(), "alice", "not alice's password").TryLogin();
  const HttpResponse unknown_user = TestUser(server_.Port(), "nobody").TryLogin();

  EXPECT_THAT(wrong_password, IsHttpError(401, "unauthorized"));
  EXPECT_THAT(unknown_user, IsHttpError(401, "unauthorized"));
  EXPECT_EQ(wrong_password.body, unknown_user.body);
}

TEST_F(AuthE2eTest, RefreshRotatesTheRefreshToken) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens first = alice.Login();

  const HttpResponse refreshed = Refresh(first.refresh_token);

  ASSERT_THAT(refreshed, HasStatus(200));
  const std::optional<Tokens> second = Tokens::FromJson(refreshed.json);
  ASSERT_TRUE(second.has_value()) << ::testing::PrintToString(refreshed);
  EXPECT_EQ(second->user_id, first.user_id);
  EXPECT_EQ(second->device_id, first.device_id);
  EXPECT_NE(second->refresh_token, first.refresh_token);
  EXPECT_THAT(GetUser(alice.id(), second->access_token), HasStatus(200));
  EXPECT_EQ(alice.ConnectWs(*second).ready().at("device_id"), json::value(first.device_id));
}

TEST_F(AuthE2eTest, RefreshTokenReuseRevokesTheDevice) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens phone = alice.Login("phone");
  const Tokens laptop = alice.Login("laptop");
  const HttpResponse refreshed = Refresh(phone.refresh_token);
  ASSERT_THAT(refreshed, HasStatus(200));
  const Tokens rotated = *Tokens::FromJson(refreshed.json);
  WsClient phone_ws = alice.ConnectWs(rotated);
  WsClient laptop_ws = alice.ConnectWs(laptop);

  // The old refresh token presented again: a stolen token is in use.
  EXPECT_THAT(Refresh(phone.refresh_token), IsHttpError(401, "unauthorized"));
  // The device's open socket goes with its session; the laptop's stays.
  EXPECT_THAT(phone_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(laptop_ws.Ping("still-here"), IsReply("pong", "still-here"));

  // The whole device session is gone, the newest tokens included.
  EXPECT_THAT(Refresh(rotated.refresh_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(GetUser(alice.id(), rotated.access_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(GetUser(alice.id(), phone.access_token), IsHttpError(401, "unauthorized"));
  // Another device of the same user is not affected.
  EXPECT_THAT(GetUser(alice.id(), laptop.access_token), HasStatus(200));
  EXPECT_THAT(Refresh(laptop.refresh_token), HasStatus(200));
}

TEST_F(AuthE2eTest, RefreshWithAnUnknownTokenIsUnauthorized) {
  EXPECT_THAT(Refresh("not-a-refresh-token"), IsHttpError(401, "unauthorized"));
}

TEST_F(AuthE2eTest, AccessTokenIsNotARefreshTokenAndViceVersa) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens tokens = alice.Login();

  EXPECT_THAT(Refresh(tokens.access_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(GetUser(alice.id(), tokens.refresh_token), IsHttpError(401, "unauthorized"));
}

TEST_F(AuthE2eTest, LogoutClosesThatDevicesSocketsAndRevokesItsTokens) {
  TestUser alice(server_.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens phone = alice.Login("phone");
  const Tokens laptop = alice.Login("laptop");
  WsClient phone_ws = alice.ConnectWs(phone);
  WsClient phone_ws2 = alice.ConnectWs(phone);
  WsClient laptop_ws = alice.ConnectWs(laptop);

  EXPECT_THAT(Logout(phone.access_token), HasStatus(204));

  EXPECT_THAT(phone_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(phone_ws2.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(GetUser(alice.id(), phone.access_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Refresh(phone.refresh_token), IsHttpError(401, "unauthorized"));
  WsClient again;
  again.Connect(server_.Port());
  again.Send({{"type", "auth"}, {"token", phone.access_token}});
  EXPECT_THAT(again.ExpectClose(), IsClosed(4401));

  // The other device of the same user is still connected and authorised.
  EXPECT_THAT(laptop_ws.Ping("still-here"), IsReply("pong", "still-here"));
  EXPECT_THAT(GetUser(alice.id(), laptop.access_token), HasStatus(200));
}

TEST_F(AuthE2eTest, LogoutWithoutATokenIsUnauthorized) {
  EXPECT_THAT(Logout(""), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Logout("garbage"), IsHttpError(401, "unauthorized"));
}

// Successful logins do not count (issue 17: they used to, so that anyone could lock a user
// out); wrong passwords for one username are limited.
TEST(AuthRateLimitE2eTest, WrongPasswordsForOneUsernameAreRateLimited) {
  // The (username, IP) bucket at its default: after one failure this IP no longer counts as
  // a fresh source for alice, so it gets no checks beyond the username's budget.
  ParleydProcess server({"--rate-auth-user-per-min", "1", "--rate-auth-user-burst", "2",
                         "--rate-auth-user-ip-per-min", "0.2", "--rate-auth-user-ip-burst", "5"});
  TestUser alice(server.Port(), "alice");
  TestUser guesser(server.Port(), "alice", "not alice's password");
  TestUser bob(server.Port(), "bob");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  ASSERT_THAT(bob.Register(), HasStatus(201));

  EXPECT_THAT(alice.TryLogin(), HasStatus(200));
  EXPECT_THAT(alice.TryLogin(), HasStatus(200));
  EXPECT_THAT(alice.TryLogin(), HasStatus(200));
  EXPECT_THAT(guesser.TryLogin(), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(guesser.TryLogin(), IsHttpError(401, "unauthorized"));
  const HttpResponse limited = guesser.TryLogin();

  ASSERT_THAT(limited, IsHttpError(429, "rate_limited"));
  const json::value* retry_after =
      limited.json.at("error").as_object().if_contains("retry_after_ms");
  ASSERT_NE(retry_after, nullptr) << ::testing::PrintToString(limited);
  ASSERT_TRUE(retry_after->is_number()) << ::testing::PrintToString(limited);
  EXPECT_GT(retry_after->to_number<double>(), 0);
  // The limit is per username: another user still logs in.
  EXPECT_THAT(bob.TryLogin(), HasStatus(200));
}

}  // namespace
}  // namespace parley::e2e
