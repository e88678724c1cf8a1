// End-to-end: the gateway's handling of what clients send, well-formed or not, over
// WebSocket and HTTP. Every failure case ends by proving that the server still serves.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr size_t kFrameLimit = 1024;
constexpr size_t kBodyLimit = 1024;

class GatewayE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(alice_.Register(), HasStatus(201)); }

  // A new device of alice, connected and past `ready`.
  WsClient AuthenticatedClient() { return alice_.ConnectWs(alice_.Login()); }

  // A connection that has not authenticated yet.
  WsClient FreshClient() {
    WsClient ws;
    ws.Connect(server_.Port());
    return ws;
  }

  // The server still accepts, authenticates and answers.
  void ExpectStillServing() {
    EXPECT_THAT(http_.Get("/healthz"), HasStatus(200));
    WsClient ws = AuthenticatedClient();
    EXPECT_THAT(ws.Ping("alive"), IsReply("pong", "alive"));
  }

  ParleydProcess server_{{"--max-frame-bytes", std::to_string(kFrameLimit), "--max-body-bytes",
                          std::to_string(kBodyLimit)}};
  HttpClient http_{server_.Port()};
  TestUser alice_{server_.Port(), "alice"};
};

// ---- WebSocket: authentication ----

TEST_F(GatewayE2eTest, BadTokensAreClosedWith4401) {
  std::string tampered = alice_.Login().access_token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  const std::string refresh_token = alice_.Login().refresh_token;
  const std::vector<json::value> auth_frames = {
      {{"type", "auth"}, {"token", "garbage"}}, {{"type", "auth"}, {"token", ""}},
      {{"type", "auth"}, {"token", tampered}},  {{"type", "auth"}, {"token", refresh_token}},
      {{"type", "auth"}, {"token", 12345}},     {{"type", "auth"}},
  };

  for (const json::value& frame : auth_frames) {
    SCOPED_TRACE(json::serialize(frame));
    WsClient ws = FreshClient();
    ws.Send(frame);
    EXPECT_THAT(ws.ExpectClose(), IsClosed(4401));
  }
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, AFirstFrameThatIsNotAuthIsClosedWith4401) {
  WsClient ping_first = FreshClient();
  ping_first.Send({{"type", "ping"}, {"id", 1}});
  EXPECT_THAT(ping_first.ExpectClose(), IsClosed(4401));

  WsClient garbage_first = FreshClient();
  garbage_first.SendText("{this is not json");
  EXPECT_THAT(garbage_first.ExpectClose(), IsClosed(4401));

  ExpectStillServing();
}

TEST(GatewayAuthTimeoutE2eTest, NoAuthFrameIsClosedWith4408) {
  ParleydProcess server({"--auth-timeout-ms", "300"});

  WsClient silent;
  silent.Connect(server.Port());

  EXPECT_THAT(silent.ExpectClose(), IsClosed(4408));
}

// ---- WebSocket: requests after ready ----

TEST_F(GatewayE2eTest, PingIsAnsweredWithPongCarryingTheRequestId) {
  WsClient ws = AuthenticatedClient();

  EXPECT_THAT(ws.Ping(7), IsReply("pong", 7));
  EXPECT_THAT(ws.Ping("seven"), IsReply("pong", "seven"));
  EXPECT_THAT(ws.Ping(-3), IsReply("pong", -3));
}

TEST_F(GatewayE2eTest, UnknownTypeGetsAnErrorAndTheSocketStaysOpen) {
  WsClient ws = AuthenticatedClient();

  ws.Send({{"type", "teleport"}, {"id", 41}});

  EXPECT_THAT(ws.Next(), IsWsErrorFor(41, "invalid_request"));
  EXPECT_THAT(ws.Ping(42), IsReply("pong", 42));
}

TEST_F(GatewayE2eTest, MalformedJsonGetsAnErrorAndTheSocketStaysOpen) {
  WsClient ws = AuthenticatedClient();

  ws.SendText(R"({"type": "ping", "id": )");

  EXPECT_THAT(ws.Next(), IsWsError("invalid_request"));
  EXPECT_THAT(ws.Ping(1), IsReply("pong", 1));
}

TEST_F(GatewayE2eTest, InvalidUtf8TextIsRejectedAndTheServerKeepsServing) {
  WsClient ws = AuthenticatedClient();

  // RFC 6455 requires text frames to be UTF-8; a strict endpoint fails the connection (1007).
  ws.SendText("{\"type\":\"ping\",\"id\":\"\xff\xfe\"}");

  const WsFrame reply = ws.Next();
  EXPECT_THAT(reply, AnyOf(IsClosed(1007), IsWsError("invalid_request")));
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, WrongTypesAndMissingFieldsGetErrorsAndTheSocketStaysOpen) {
  WsClient ws = AuthenticatedClient();
  const std::vector<std::string> frames = {
      R"([1, 2, 3])",
      R"("just a string")",
      R"(42)",
      R"(null)",
      R"({})",
      R"({"id": 5})",
      R"({"type": 42, "id": 6})",
      R"({"type": null, "id": 7})",
      R"({"type": "ping", "id": {"nested": true}})",
      R"({"type": "ping", "id": [1]})",
  };

  for (const std::string& frame : frames) {
    SCOPED_TRACE(frame);
    ws.SendText(frame);
    EXPECT_THAT(ws.Next(), IsWsError("invalid_request"));
  }
  EXPECT_THAT(ws.Ping("after"), IsReply("pong", "after"));
}

TEST_F(GatewayE2eTest, AFrameJustUnderTheLimitIsServed) {
  WsClient ws = AuthenticatedClient();
  const std::string overhead = R"({"type":"ping","id":1,"pad":""})";

  ws.Send({{"type", "ping"}, {"id", 1}, {"pad", std::string(kFrameLimit - overhead.size(), 'x')}});

  EXPECT_THAT(ws.Next(), IsReply("pong", 1));
}

TEST_F(GatewayE2eTest, AFrameOverTheLimitIsClosedWith1009) {
  WsClient ws = AuthenticatedClient();

  ws.Send({{"type", "ping"}, {"id", 1}, {"pad", std::string(2 * kFrameLimit, 'x')}});

  EXPECT_THAT(ws.ExpectClose(), IsClosed(1009));
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, ABinaryFrameGetsAnErrorOrClose1003) {
  WsClient ws = AuthenticatedClient();

  ws.SendBinary(std::string("\x00\x01\x02\x03", 4));

  const WsFrame reply = ws.Next();
  EXPECT_THAT(reply, AnyOf(IsWsError("invalid_request"), IsClosed(1003)));
  if (reply.kind == WsFrame::Kind::kText) {
    EXPECT_THAT(ws.Ping(2), IsReply("pong", 2));
  }
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, AClientCloseIsAnsweredAndTheServerKeepsServing) {
  WsClient ws = AuthenticatedClient();

  ws.Close(1000);

  EXPECT_FALSE(ws.IsOpen());
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, UpgradeOnAnUnknownPathIsRefused) {
  WsClient ws;
  EXPECT_NE(ws.TryConnect(server_.Port(), "/v1/nowhere"), "");
  ExpectStillServing();
}

// ---- HTTP ----

TEST_F(GatewayE2eTest, MalformedJsonBodyIsInvalidRequest) {
  EXPECT_THAT(http_.Send("POST", "/v1/auth/register", "{\"username\": \"bob\", "),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Send("POST", "/v1/auth/login", "not json at all"),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Send("POST", "/v1/auth/login", ""), IsHttpError(400, "invalid_request"));
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, WrongFieldTypesAreInvalidRequest) {
  EXPECT_THAT(http_.Post("/v1/auth/login", {{"username", true}, {"password", "long enough"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Post("/v1/auth/login", {{"username", "alice"}, {"password", 12345678}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Post("/v1/auth/refresh", {{"refresh_token", json::object{}}}),
              IsHttpError(400, "invalid_request"));
}

TEST_F(GatewayE2eTest, ABodyOverTheLimitIsPayloadTooLarge) {
  const json::value body = {{"username", "bob"},
                            {"password", "long enough"},
                            {"display_name", std::string(2 * kBodyLimit, 'b')}};

  EXPECT_THAT(http_.Post("/v1/auth/register", body), IsHttpError(413, "payload_too_large"));
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, UnknownRouteIsNotFound) {
  EXPECT_THAT(http_.Get("/v1/nowhere"), IsHttpError(404, "not_found"));
  EXPECT_THAT(http_.Post("/v2/auth/login", json::object{}), IsHttpError(404, "not_found"));
  EXPECT_THAT(http_.Get("/"), IsHttpError(404, "not_found"));
}

TEST_F(GatewayE2eTest, KnownRouteWithWrongMethodIs405WithAllow) {
  const HttpResponse get_login = http_.Get("/v1/auth/login");
  EXPECT_THAT(get_login, IsHttpError(405, "invalid_request"));
  EXPECT_THAT(get_login.Header("Allow"), HasSubstr("POST"));

  const HttpResponse delete_register = http_.Delete("/v1/auth/register");
  EXPECT_THAT(delete_register, IsHttpError(405, "invalid_request"));
  EXPECT_THAT(delete_register.Header("Allow"), HasSubstr("POST"));

  const HttpResponse post_healthz = http_.Post("/healthz", json::object{});
  EXPECT_THAT(post_healthz, IsHttpError(405, "invalid_request"));
  EXPECT_THAT(post_healthz.Header("Allow"), HasSubstr("GET"));
}

TEST_F(GatewayE2eTest, GarbageInsteadOfHttpIsRefusedAndTheServerKeepsServing) {
  // The start of a TLS ClientHello, then bytes that are no HTTP either.
  const std::string tls_hello("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n", 22);
  const std::string bad_request_line = "THIS IS NOT HTTP\r\n\r\n";
  const std::string bad_length =
      "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n{}";

  for (const std::string& bytes : {tls_hello, bad_request_line, bad_length}) {
    SCOPED_TRACE(bytes);
    const HttpResponse response = http_.SendRaw(bytes);
    // Either a 400 or a closed connection; never a hang, never a success.
    EXPECT_FALSE(response.timed_out) << ::testing::PrintToString(response);
    EXPECT_THAT(response.status, AnyOf(0, 400)) << ::testing::PrintToString(response);
  }
  ExpectStillServing();
}

TEST_F(GatewayE2eTest, ErrorsHaveTheContractShape) {
  const HttpResponse response = http_.Get("/v1/nowhere");

  ASSERT_TRUE(response.json.is_object()) << ::testing::PrintToString(response);
  const json::object& error = response.json.at("error").as_object();
  EXPECT_EQ(error.at("code"), "not_found");
  EXPECT_TRUE(error.at("message").is_string());
  EXPECT_THAT(response.Header("Content-Type"), HasSubstr("application/json"));
}

}  // namespace
}  // namespace parley::e2e
