// End-to-end: the gateway's RFC 6455 framing (src/net/ws_session.cpp, src/net/ws_codec.cpp)
// against a real parleyd, byte by byte: control frames, fragmentation, protocol errors and
// their close codes, the closing handshake, the opening handshake, frames split over or
// packed into TCP writes, and frames that arrive while the auth token is being checked.
//
// A conforming client library cannot send most of this, so these tests use RawWsClient
// (tests/support/raw_ws_client.h). Every wait is a read with a deadline; nothing sleeps.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/raw_ws_client.h"
#include "support/test_user.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::UnorderedElementsAre;

// parleyd's default --max-frame-bytes (GatewayOptions::max_frame_bytes): the bound on a
// message, fragmented or not.
constexpr size_t kFrameLimit = 64 * 1024;

/// A well-formed server frame: final, no RSV bits, unmasked (RFC 6455 section 5.1).
bool WellFormed(const RawServerFrame& frame) {
  return frame.kind == RawServerFrame::Kind::kFrame && frame.fin && frame.rsv == 0 && !frame.masked;
}

/// A JSON reply of `type` whose `re` is the request id `re`.
MATCHER_P2(IsRawReply, type, re,
           "is a well-formed " + ::testing::PrintToString(type) +
               " text frame with re=" + ::testing::PrintToString(re)) {
  if (!WellFormed(arg) || !arg.IsText() || arg.Type() != std::string(type)) return false;
  const json::value v = arg.Json();
  const auto* got = v.as_object().if_contains("re");
  return got != nullptr && *got == json::value(re);
}

/// A JSON error frame with error.code `code`.
MATCHER_P(IsRawError, code, "is an error text frame with code " + ::testing::PrintToString(code)) {
  if (!WellFormed(arg) || !arg.IsText() || arg.Type() != "error") return false;
  const json::value v = arg.Json();
  const auto* error = v.as_object().if_contains("error");
  const auto* c = error && error->is_object() ? error->as_object().if_contains("code") : nullptr;
  return c != nullptr && *c == json::value(code);
}

/// A WebSocket pong (control frame) carrying `payload`.
MATCHER_P(IsPong, payload, "is a well-formed pong carrying " + ::testing::PrintToString(payload)) {
  return WellFormed(arg) && arg.opcode == ws_op::kPong && arg.payload == std::string(payload);
}

/// What ExpectCloseThenEof returns when the server sent a close frame with `code` (and a
/// valid close payload), nothing after it, and then ended the TCP stream.
MATCHER_P(IsCloseThenEof, code,
          "is a close frame with code " + ::testing::PrintToString(code) +
              ", nothing after it, then the end of the stream") {
  return WellFormed(arg) && arg.IsClose() && arg.CloseCode() == code && arg.error.empty() &&
         arg.payload.size() <= 125;
}

/// The end of the stream, with no frame before it.
MATCHER(IsEof, "is the end of the stream") { return arg.kind == RawServerFrame::Kind::kEof; }

// error.code of an HTTP error body, or "".
std::string ErrorCode(const json::value& body) {
  const auto* object = body.if_object();
  const auto* error = object ? object->if_contains("error") : nullptr;
  const auto* code = error && error->is_object() ? error->as_object().if_contains("code") : nullptr;
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

std::string JsonPing(const json::value& id) {
  return json::serialize(json::object{{"type", "ping"}, {"id", id}});
}

// A ping request padded to exactly `bytes` bytes.
std::string PaddedPing(int id, size_t bytes) {
  const std::string empty =
      json::serialize(json::object{{"type", "ping"}, {"id", id}, {"pad", ""}});
  return json::serialize(
      json::object{{"type", "ping"}, {"id", id}, {"pad", std::string(bytes - empty.size(), 'x')}});
}

class WsFramingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(alice_.Register(), HasStatus(201));
    token_ = alice_.Login().access_token;
    bystander_ = std::make_unique<RawWsClient>(Authenticated());
  }

  // Upgraded, not yet authenticated.
  RawWsClient Upgraded() {
    RawWsClient ws(server_.Port());
    ws.Upgrade();
    return ws;
  }

  // Upgraded and past `ready`.
  RawWsClient Authenticated() {
    RawWsClient ws = Upgraded();
    ws.Authenticate(token_);
    return ws;
  }

  std::string AuthJson() const {
    return json::serialize(json::object{{"type", "auth"}, {"token", token_}});
  }
  std::string AuthFrame() const { return TextFrame(AuthJson()); }

  // The connection that was open all along still answers, and new ones are accepted.
  void ExpectStillServing(int id) {
    bystander_->SendJsonPing(id);
    EXPECT_THAT(bystander_->Next(), IsRawReply("pong", id));
    RawWsClient fresh = Authenticated();
    fresh.SendJsonPing(id);
    EXPECT_THAT(fresh.Next(), IsRawReply("pong", id));
  }

  ParleydProcess server_;
  TestUser alice_{server_.Port(), "alice"};
  std::string token_;
  std::unique_ptr<RawWsClient> bystander_;
};

// ---- control frames ----------------------------------------------------------------------------

TEST_F(WsFramingE2eTest, APingIsAnsweredWithAPongCarryingItsPayload) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(PingFrame("abc"));
  EXPECT_THAT(ws.Next(), IsPong("abc"));
  ws.SendRaw(PingFrame(""));
  EXPECT_THAT(ws.Next(), IsPong(""));
  const std::string longest(125, 'p');
  ws.SendRaw(PingFrame(longest));
  EXPECT_THAT(ws.Next(), IsPong(longest));

  ws.SendJsonPing(1);
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
}

TEST_F(WsFramingE2eTest, AnUnsolicitedPongIsIgnored) {
  RawWsClient ws = Authenticated();

  ws.SendFrame({.opcode = ws_op::kPong, .payload = "unasked"});
  ws.SendJsonPing(2);

  // The pong request's reply is the very next frame: nothing answered the pong.
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 2));
}

// ---- fragmentation -----------------------------------------------------------------------------

TEST_F(WsFramingE2eTest, AFragmentedTextMessageIsReassembled) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(TextFrame(R"({"type":)", /*fin=*/false));
  ws.SendRaw(ContinuationFrame(R"("ping","id")", /*fin=*/false));
  ws.SendRaw(ContinuationFrame(R"(:7})", /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsRawReply("pong", 7));
  ws.SendJsonPing(8);
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 8));
}

TEST_F(WsFramingE2eTest, OneByteFragmentsAndEmptyFragmentsAreReassembled) {
  RawWsClient ws = Authenticated();
  const std::string message = JsonPing("tiny");

  ws.SendRaw(TextFrame("", /*fin=*/false));
  for (char c : message) {
    ws.SendRaw(ContinuationFrame(std::string(1, c), /*fin=*/false));
    ws.SendRaw(ContinuationFrame("", /*fin=*/false));
  }
  ws.SendRaw(ContinuationFrame("", /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsRawReply("pong", "tiny"));
}

TEST_F(WsFramingE2eTest, APingBetweenFragmentsIsAnsweredAndDoesNotBreakReassembly) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(TextFrame(R"({"type":)", /*fin=*/false));
  ws.SendRaw(PingFrame("between"));
  // The control frame is answered while the message is still incomplete.
  EXPECT_THAT(ws.Next(), IsPong("between"));
  ws.SendRaw(ContinuationFrame(R"("ping","id")", /*fin=*/false));
  ws.SendRaw(PingFrame("again"));
  ws.SendRaw(ContinuationFrame(R"(:7})", /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsPong("again"));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 7));
}

TEST_F(WsFramingE2eTest, AUtf8CharacterSplitAcrossFragmentsIsAccepted) {
  RawWsClient ws = Authenticated();
  const std::string message = R"({"type":"ping","id":"caf)"
                              "\xc3\xa9"
                              R"("})";
  const size_t split = message.find('\xc3') + 1;  // between the two bytes of U+00E9

  ws.SendRaw(TextFrame(message.substr(0, split), /*fin=*/false));
  ws.SendRaw(ContinuationFrame(message.substr(split), /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsRawReply("pong", "caf\xc3\xa9"));
}

TEST_F(WsFramingE2eTest, AFragmentedMessageOfExactlyTheLimitIsServed) {
  RawWsClient ws = Authenticated();
  const std::string message = PaddedPing(9, kFrameLimit);
  const size_t third = message.size() / 3;

  ws.SendRaw(TextFrame(message.substr(0, third), /*fin=*/false));
  ws.SendRaw(ContinuationFrame(message.substr(third, third), /*fin=*/false));
  ws.SendRaw(ContinuationFrame(message.substr(2 * third), /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsRawReply("pong", 9));
}

TEST_F(WsFramingE2eTest, AFragmentedBinaryMessageGetsAnErrorAndTheSocketStaysOpen) {
  RawWsClient ws = Authenticated();

  ws.SendFrame({.opcode = ws_op::kBinary, .payload = std::string("\x00\x01", 2), .fin = false});
  ws.SendRaw(ContinuationFrame(std::string("\x02\x03", 2), /*fin=*/true));

  EXPECT_THAT(ws.Next(), IsRawError("invalid_request"));
  ws.SendJsonPing(10);
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 10));
}

// ---- protocol errors ---------------------------------------------------------------------------

struct BadInput {
  std::string what;
  std::string bytes;
  int close_code;
};

std::vector<BadInput> BadInputs() {
  const std::string ping = JsonPing(1);
  const std::string chunk(kFrameLimit / 2 - 100, 'x');
  return {
      {"unmasked text frame", EncodeClientFrame({.payload = ping, .masked = false}), 1002},
      {"RSV1 set", EncodeClientFrame({.payload = ping, .rsv = 4}), 1002},
      {"RSV2 set", EncodeClientFrame({.payload = ping, .rsv = 2}), 1002},
      {"RSV3 set", EncodeClientFrame({.payload = ping, .rsv = 1}), 1002},
      {"RSV1 on a ping", EncodeClientFrame({.opcode = ws_op::kPing, .payload = "x", .rsv = 4}),
       1002},
      {"continuation with no message started", ContinuationFrame(ping, /*fin=*/true), 1002},
      {"unfinished continuation with no message started", ContinuationFrame(ping, false), 1002},
      {"unknown data opcode 0x3", EncodeClientFrame({.opcode = 0x3, .payload = ping}), 1002},
      {"unknown control opcode 0xB", EncodeClientFrame({.opcode = 0xB, .payload = "x"}), 1002},
      {"a new text frame inside a fragmented message",
       TextFrame(R"({"type":)", false) + TextFrame(ping), 1002},
      {"a fragmented ping",
       EncodeClientFrame({.opcode = ws_op::kPing, .payload = "x", .fin = false}), 1002},
      {"a ping with 126 payload bytes", PingFrame(std::string(126, 'p')), 1002},
      {"16-bit length for a short payload",
       EncodeClientFrame({.payload = ping, .force_16bit_length = true}), 1002},
      {"close frame with a 1-byte payload",
       EncodeClientFrame({.opcode = ws_op::kClose, .payload = "\x03"}), 1002},
      {"close frame with code 1005", CloseFrame(1005), 1002},
      {"close frame with code 999", CloseFrame(999), 1002},
      {"close frame with an invalid UTF-8 reason", CloseFrame(1000, "\xff"), 1002},
      {"invalid UTF-8 in a text frame", TextFrame("{\"type\":\"ping\",\"id\":\"\xff\xfe\"}"), 1007},
      {"a truncated UTF-8 sequence at the end of a text frame", TextFrame("caf\xc3"), 1007},
      {"invalid UTF-8 in a fragmented message",
       TextFrame("{\"type\":\"ping\",", false) +
           ContinuationFrame("\"id\":\"\xed\xa0\x80\"}", true),
       1007},
      {"a fragmented message over the limit",
       TextFrame(chunk, false) + ContinuationFrame(chunk, false) + ContinuationFrame(chunk, true),
       1009},
      {"a single frame over the limit", TextFrame(std::string(kFrameLimit + 1, 'x')), 1009},
  };
}

TEST_F(WsFramingE2eTest, ProtocolErrorsCloseWithTheirCodeAndTheServerKeepsServing) {
  int id = 100;
  for (const BadInput& input : BadInputs()) {
    SCOPED_TRACE(input.what);
    RawWsClient ws = Authenticated();

    ws.SendRaw(input.bytes);

    EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(input.close_code));
    ExpectStillServing(++id);
  }
}

TEST_F(WsFramingE2eTest, AProtocolErrorBeforeAuthIsClosedWith1002) {
  RawWsClient ws = Upgraded();

  ws.SendFrame({.payload = AuthJson(), .masked = false});

  EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(1002));
  ExpectStillServing(200);
}

TEST_F(WsFramingE2eTest, FramesAfterAProtocolErrorAreIgnored) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(EncodeClientFrame({.opcode = 0x3, .payload = "x"}) + PingFrame("late") +
             TextFrame(JsonPing(1)));

  // Only the close: no pong, no reply.
  EXPECT_THAT(ws.Next(), IsCloseThenEof(1002));
  EXPECT_THAT(ws.Next(), IsEof());
}

// ---- closing handshake -------------------------------------------------------------------------

TEST_F(WsFramingE2eTest, AClientCloseIsEchoedWithItsCodeThenTcpCloses) {
  for (int code : {1000, 1001, 3000, 4000, 4999}) {
    SCOPED_TRACE(code);
    RawWsClient ws = Authenticated();

    ws.SendRaw(CloseFrame(code, "bye"));

    EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(code));
  }
  ExpectStillServing(300);
}

TEST_F(WsFramingE2eTest, AnEmptyClientCloseIsAnsweredWith1000) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(CloseFrame(-1));

  // RFC 6455 5.5.1: an empty close has no status; parleyd answers "normal closure".
  EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(1000));
}

TEST_F(WsFramingE2eTest, NothingAfterTheClientCloseIsAnswered) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(CloseFrame(1000) + PingFrame("late") + TextFrame(JsonPing(1)));

  // The echo is the first frame, and the stream ends after it.
  EXPECT_THAT(ws.Next(), IsCloseThenEof(1000));
  EXPECT_THAT(ws.Next(), IsEof());
}

// ---- opening handshake -------------------------------------------------------------------------

TEST_F(WsFramingE2eTest, TheRfcSampleKeyGetsTheRfcSampleAccept) {
  RawWsClient ws(server_.Port());

  const RawHandshake response =
      ws.SendHandshake(RawWsClient::UpgradeRequest(server_.Port(), kRfcSampleKey));

  ASSERT_EQ(response.status, 101) << ::testing::PrintToString(response);
  EXPECT_EQ(response.Header("Sec-WebSocket-Accept"), kRfcSampleAccept);
  EXPECT_EQ(ExpectedAcceptKey(kRfcSampleKey), kRfcSampleAccept);  // the test's own SHA-1
  EXPECT_TRUE(response.Header("Upgrade") == "websocket" ||
              response.Header("Upgrade") == "WebSocket")
      << ::testing::PrintToString(response);
  EXPECT_EQ(response.Header("Sec-WebSocket-Extensions"), "");  // none negotiated
  ws.Authenticate(token_);
}

TEST_F(WsFramingE2eTest, OtherKeysGetTheirAccept) {
  for (const std::string key :
       {"AAAAAAAAAAAAAAAAAAAAAA==", "/////////////////////w==", "x3JJHMbDL1EzLkh9GBhXDw=="}) {
    SCOPED_TRACE(key);
    RawWsClient ws(server_.Port());

    const RawHandshake response =
        ws.SendHandshake(RawWsClient::UpgradeRequest(server_.Port(), key));

    ASSERT_EQ(response.status, 101) << ::testing::PrintToString(response);
    EXPECT_EQ(response.Header("Sec-WebSocket-Accept"), ExpectedAcceptKey(key));
  }
}

TEST_F(WsFramingE2eTest, BadUpgradeRequestsGet400) {
  struct Case {
    std::string what;
    std::string request;
  };
  const uint16_t port = server_.Port();
  const std::vector<Case> cases = {
      {"no Sec-WebSocket-Key", RawWsClient::UpgradeRequest(port, "")},
      {"Sec-WebSocket-Version: 8", RawWsClient::UpgradeRequest(port, kRfcSampleKey, "8")},
      {"no Sec-WebSocket-Version",
       "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
      {"a key of 15 bytes", RawWsClient::UpgradeRequest(port, "AAAAAAAAAAAAAAAAAAAA")},
      {"a key that is not base64", RawWsClient::UpgradeRequest(port, "!!!!!!!!!!!!!!!!!!!!!!==")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RawWsClient ws(port);

    const RawHandshake response = ws.SendHandshake(c.request);

    EXPECT_EQ(response.status, 400) << ::testing::PrintToString(response);
    EXPECT_EQ(response.Header("Sec-WebSocket-Accept"), "");
    if (c.what.find("Version") != std::string::npos) {
      // RFC 6455 section 4.2.2: a refused version names the one the server speaks.
      EXPECT_EQ(response.Header("Sec-WebSocket-Version"), "13");
    }
    EXPECT_EQ(ErrorCode(response.json), "invalid_request") << ::testing::PrintToString(response);
  }
  ExpectStillServing(400);
}

// ---- TCP segmentation --------------------------------------------------------------------------

TEST_F(WsFramingE2eTest, FramesWrittenOneBytePerWriteAreParsed) {
  RawWsClient ws = Upgraded();

  // While awaiting auth too.
  ws.SendInPieces(AuthFrame(), 1);
  ASSERT_EQ(ws.Next().Type(), "ready");

  ws.SendInPieces(TextFrame(JsonPing(1)), 1);  // 7-bit length
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
  ws.SendInPieces(PingFrame("abc"), 1);
  EXPECT_THAT(ws.Next(), IsPong("abc"));
  ws.SendInPieces(TextFrame(PaddedPing(2, 300)), 1);  // 16-bit length
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 2));
  // 64-bit length: the header one byte per write, the payload in 4 KiB writes.
  const std::string big = TextFrame(PaddedPing(3, kFrameLimit));
  ws.SendInPieces(big.substr(0, 14), 1);
  ws.SendInPieces(big.substr(14), 4096);
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 3));
  ws.SendInPieces(TextFrame(R"({"type":"ping",)", false) + ContinuationFrame(R"("id":4})", true),
                  1);
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 4));
}

TEST_F(WsFramingE2eTest, SeveralFramesInOneWriteAreAllHandled) {
  RawWsClient ws = Authenticated();

  ws.SendRaw(TextFrame(JsonPing(1)) + TextFrame(JsonPing(2)));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 2));

  // Whole frames and the start of one more, then its rest with another frame.
  const std::string third = TextFrame(PaddedPing(5, 200));
  ws.SendRaw(TextFrame(JsonPing(3)) + TextFrame(JsonPing(4)) + third.substr(0, 3));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 3));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 4));
  ws.SendRaw(third.substr(3) + TextFrame(JsonPing(6)));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 5));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 6));

  // A whole fragmented message with a ping inside, in one write.
  ws.SendRaw(TextFrame(R"({"type":)", false) + PingFrame("in") +
             ContinuationFrame(R"("ping","id":7})", true));
  EXPECT_THAT(ws.Next(), IsPong("in"));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 7));
}

// ---- frames that arrive during authentication ---------------------------------------------------

TEST_F(WsFramingE2eTest, APingInTheSameWriteAsTheAuthFrameIsAnsweredAfterReady) {
  RawWsClient ws = Upgraded();

  ws.SendRaw(AuthFrame() + TextFrame(JsonPing(1)));

  EXPECT_EQ(ws.Next().Type(), "ready");
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
}

TEST_F(WsFramingE2eTest, FramesSentRightBehindTheUpgradeRequestAreServed) {
  // A client that does not wait for the 101 (RFC 6455 says it must, some do not): the frames
  // arrive in the same TCP write as the request, and the HTTP session reads them with it.
  RawWsClient ws(server_.Port());

  const RawHandshake response = ws.SendHandshake(RawWsClient::UpgradeRequest(server_.Port()) +
                                                 AuthFrame() + TextFrame(JsonPing(1)));

  ASSERT_EQ(response.status, 101) << ::testing::PrintToString(response);
  EXPECT_EQ(ws.Next().Type(), "ready");
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
}

TEST_F(WsFramingE2eTest, EverythingQueuedBehindTheAuthFrameIsKept) {
  RawWsClient ws = Upgraded();
  const std::string fourth = TextFrame(JsonPing(4));

  // Requests, a control frame, a fragmented message and the start of one more frame.
  ws.SendRaw(AuthFrame() + TextFrame(JsonPing(1)) + PingFrame("ctl") + TextFrame(JsonPing(2)) +
             TextFrame(R"({"type":"ping",)", false) + ContinuationFrame(R"("id":3})", true) +
             fourth.substr(0, 5));

  EXPECT_EQ(ws.Next().Type(), "ready");
  // Control frames are answered at once; request replies keep their order among themselves.
  std::vector<std::string> replies;
  for (int i = 0; i < 4; ++i) {
    const RawServerFrame frame = ws.Next();
    ASSERT_TRUE(WellFormed(frame)) << ::testing::PrintToString(frame);
    replies.push_back(frame.opcode == ws_op::kPong ? "control pong " + frame.payload
                                                   : json::serialize(frame.Json().at("re")));
  }
  EXPECT_THAT(replies, UnorderedElementsAre("control pong ctl", "1", "2", "3"));
  std::vector<std::string> requests;
  for (const std::string& reply : replies) {
    if (reply.rfind("control", 0) != 0) requests.push_back(reply);
  }
  EXPECT_EQ(requests, (std::vector<std::string>{"1", "2", "3"}));

  ws.SendRaw(fourth.substr(5));
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 4));
}

TEST_F(WsFramingE2eTest, AFragmentedAuthMessageAuthenticates) {
  RawWsClient ws = Upgraded();
  const std::string auth = AuthJson();

  ws.SendRaw(TextFrame(auth.substr(0, 10), /*fin=*/false) + PingFrame("early") +
             ContinuationFrame(auth.substr(10), /*fin=*/true) + TextFrame(JsonPing(1)));

  EXPECT_THAT(ws.Next(), IsPong("early"));
  EXPECT_EQ(ws.Next().Type(), "ready");
  EXPECT_THAT(ws.Next(), IsRawReply("pong", 1));
}

TEST_F(WsFramingE2eTest, ACloseInTheSameWriteAsTheAuthFrameIsEchoedAfterReady) {
  RawWsClient ws = Upgraded();

  ws.SendRaw(AuthFrame() + CloseFrame(1000));

  EXPECT_EQ(ws.Next().Type(), "ready");
  EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(1000));
}

TEST_F(WsFramingE2eTest, AProtocolErrorInTheSameWriteAsTheAuthFrameClosesAfterReady) {
  RawWsClient ws = Upgraded();

  ws.SendRaw(AuthFrame() + EncodeClientFrame({.payload = JsonPing(1), .rsv = 4}));

  EXPECT_EQ(ws.Next().Type(), "ready");
  EXPECT_THAT(ws.ExpectCloseThenEof(), IsCloseThenEof(1002));
}

}  // namespace
}  // namespace parley::e2e
