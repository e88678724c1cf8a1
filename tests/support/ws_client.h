#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "support/parleyd_process.h"

namespace parley::e2e {

/// One outcome of reading a WebSocket: a message, the end of the connection, or nothing
/// before the timeout.
struct WsFrame {
  enum class Kind { kText, kBinary, kClosed, kTimeout };
  Kind kind = Kind::kTimeout;
  std::string payload;      // the message bytes (kText, kBinary)
  boost::json::value json;  // kText parsed as JSON; null when it does not parse
  /// kClosed: the code of the peer's close frame; 1005 when it had none, 1006 when the
  /// connection ended without a close frame (then `error` says how).
  int close_code = 0;
  std::string close_reason;
  std::string error;

  /// `type` of a JSON object frame, or "".
  std::string Type() const;
};
void PrintTo(const WsFrame& frame, std::ostream* os);

/// A synchronous WebSocket client speaking Parley's JSON frames, for tests.
///
/// Every wait is bounded. A Next() that times out leaves its read pending, so the stream
/// stays usable and a later Next() gets the frame when it comes. Send* throw
/// std::runtime_error when the frame cannot be written (the test then fails with the
/// reason). Once the connection has ended, Next() keeps returning the kClosed outcome.
/// Not thread-safe: one test thread uses it. Movable.
class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(WsClient&& other) noexcept;
  WsClient& operator=(WsClient&& other) noexcept;

  /// Opens ws://127.0.0.1:port/path. Returns "" on success, else why not (e.g. the HTTP
  /// status of a refused upgrade).
  std::string TryConnect(uint16_t port, std::string_view path = "/v1/ws",
                         std::chrono::milliseconds timeout = kDefaultTimeout);
  /// TryConnect that throws on failure.
  void Connect(uint16_t port, std::string_view path = "/v1/ws");

  void SendText(std::string_view text);
  void SendBinary(std::string_view bytes);
  void SendJson(const boost::json::value& frame);
  /// Same as SendJson; reads like the protocol: `alice.Send({{"type", "ping"}, ...})`.
  void Send(const boost::json::value& frame) { SendJson(frame); }

  /// The next message, the close, or kTimeout.
  WsFrame Next(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Reads until the connection ends, skipping messages. Returns the kClosed outcome (match
  /// it with IsClosed(code)), or kTimeout if the connection is still open after `timeout`.
  WsFrame ExpectClose(std::chrono::milliseconds timeout = kDefaultTimeout);

  /// Sends {"type":"auth","token":token} and returns the reply. A `ready` reply is kept
  /// (see ready()).
  WsFrame Authenticate(std::string_view token);
  /// Sends {"type":"ping","id":id} and returns the next frame (expected: the pong). Useful
  /// as a barrier: everything the server sent before the pong has been read.
  WsFrame Ping(const boost::json::value& id);

  /// Starts the closing handshake with `code` and waits (bounded) for it to finish.
  void Close(int code = 1000);

  bool IsOpen() const;
  /// The `ready` frame Authenticate received; empty before.
  const boost::json::object& ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::e2e
