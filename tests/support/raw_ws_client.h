#pragma once

#include <array>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/parleyd_process.h"

namespace parley::e2e {

/// The key of the RFC 6455 (section 1.3) example handshake, and the accept value it implies.
inline constexpr std::string_view kRfcSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view kRfcSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// WebSocket opcodes, as bytes: tests send unknown ones too.
namespace ws_op {
inline constexpr uint8_t kContinuation = 0x0;
inline constexpr uint8_t kText = 0x1;
inline constexpr uint8_t kBinary = 0x2;
inline constexpr uint8_t kClose = 0x8;
inline constexpr uint8_t kPing = 0x9;
inline constexpr uint8_t kPong = 0xA;
}  // namespace ws_op

/// Everything about one client frame, valid or not.
struct RawFrameSpec {
  uint8_t opcode = ws_op::kText;
  std::string payload;
  bool fin = true;
  uint8_t rsv = 0;  // the three RSV bits, 0..7 (RSV1 is 4)
  bool masked = true;
  std::array<uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d};
  /// Use the 16-bit length form even for a payload under 126 bytes (not minimal).
  bool force_16bit_length = false;
};

/// The wire bytes of `spec`: header, (masking key,) payload masked with it.
std::string EncodeClientFrame(const RawFrameSpec& spec);
/// Shorthands for the frames a well-behaved client sends.
std::string TextFrame(std::string_view text, bool fin = true);
std::string ContinuationFrame(std::string_view bytes, bool fin);
std::string PingFrame(std::string_view payload);
/// A close frame with `code` (and `reason`); code < 0 sends an empty payload.
std::string CloseFrame(int code, std::string_view reason = {});

/// Sec-WebSocket-Accept for `key`, computed here (SHA-1 + base64) independently of parleyd.
std::string ExpectedAcceptKey(std::string_view key);

/// One outcome of reading the socket: a server frame, the end of the stream (EOF or reset),
/// or nothing before the deadline.
struct RawServerFrame {
  enum class Kind { kFrame, kEof, kTimeout };
  Kind kind = Kind::kTimeout;
  bool fin = false;
  uint8_t rsv = 0;
  uint8_t opcode = 0;
  bool masked = false;
  std::string payload;
  std::string error;  // kEof: "end of stream" or the socket error; kFrame: a malformed frame

  bool IsText() const { return kind == Kind::kFrame && opcode == ws_op::kText; }
  bool IsClose() const { return kind == Kind::kFrame && opcode == ws_op::kClose; }
  /// The close code of a close frame (1005 when its payload is empty), else -1.
  int CloseCode() const;
  /// A text frame's payload parsed as JSON; null when it does not parse.
  boost::json::value Json() const;
  /// `type` of a JSON object text frame, or "".
  std::string Type() const;
};
void PrintTo(const RawServerFrame& frame, std::ostream* os);

/// The server's answer to an upgrade request.
struct RawHandshake {
  int status = 0;  // 0: no complete response head arrived (see `error`)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // for a refusal: the body its Content-Length announces
  boost::json::value json;
  std::string error;

  /// The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};
void PrintTo(const RawHandshake& handshake, std::ostream* os);

/// A WebSocket client on a blocking POSIX socket that sends whatever bytes a test asks for:
/// masked or not, any opcode or RSV bits, a frame split over many writes or several frames in
/// one. For the wire-level tests that a conforming client library cannot express.
///
/// TCP_NODELAY is set, so each Send* is its own write (and, on loopback, its own segment).
/// Every read is bounded by a deadline (poll); nothing waits by sleeping. Send* throw
/// std::runtime_error when the bytes cannot be written. Not thread-safe.
class RawWsClient {
 public:
  /// Connects to 127.0.0.1:port; throws std::runtime_error on failure.
  explicit RawWsClient(uint16_t port);
  ~RawWsClient();
  RawWsClient(RawWsClient&& other) noexcept;
  RawWsClient& operator=(RawWsClient&& other) = delete;
  RawWsClient(const RawWsClient&) = delete;
  RawWsClient& operator=(const RawWsClient&) = delete;

  /// Sends `request` as it is and reads the response head (and a refusal's body). Bytes after
  /// a 101's head stay buffered for Next().
  RawHandshake SendHandshake(std::string_view request,
                             std::chrono::milliseconds timeout = kDefaultTimeout);
  /// A GET /v1/ws upgrade request with `key` and `version`; an empty `key` leaves the
  /// Sec-WebSocket-Key header out.
  static std::string UpgradeRequest(uint16_t port, std::string_view key = kRfcSampleKey,
                                    std::string_view version = "13");
  /// Upgrades with `key`; throws unless the answer is 101 with the right accept value.
  void Upgrade(std::string_view key = kRfcSampleKey);
  /// Sends the auth frame and returns the next frame; throws unless it is `ready`.
  void Authenticate(std::string_view token);

  /// Writes `bytes` in one send call (all of them, however many calls that takes).
  void SendRaw(std::string_view bytes);
  /// Writes `bytes` `piece` bytes per send call.
  void SendInPieces(std::string_view bytes, size_t piece);
  void SendFrame(const RawFrameSpec& spec) { SendRaw(EncodeClientFrame(spec)); }
  /// A JSON ping request {"type":"ping","id":id}, as one text frame.
  void SendJsonPing(const boost::json::value& id);

  /// The next server frame, kEof, or kTimeout (the partial frame read so far stays buffered).
  RawServerFrame Next(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Reads frames until the stream ends; returns the first close frame seen on the way (its
  /// `error` says so if any frame followed it), kind kEof when there was none, kTimeout when
  /// the stream was still open at the deadline.
  RawServerFrame ExpectCloseThenEof(std::chrono::milliseconds timeout = kDefaultTimeout);

  /// The socket, for tests that write to it directly (floods: see load_probe.h).
  int native_handle() const { return fd_; }

 private:
  // Reads once (bounded by `deadline`) into rx_: >0 bytes read, 0 EOF, -1 timeout, -2 error.
  int ReadSome(std::chrono::steady_clock::time_point deadline, std::string& error);

  int fd_ = -1;
  uint16_t port_ = 0;
  std::string rx_;
  bool eof_ = false;
  std::string eof_error_;
};

}  // namespace parley::e2e
