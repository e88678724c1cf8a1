#pragma once

#include <memory>
#include <string>

namespace parley {

/// An outgoing frame, encoded once and shared by every connection it is sent to.
using Frame = std::shared_ptr<const std::string>;

inline Frame MakeFrame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

/// One authenticated client connection as the services see it: a place to deliver frames.
/// Implemented by the WebSocket session in net/; services never see a socket.
///
/// Thread-safety: Deliver and Close may be called from any thread; they hand the work to the
/// connection's own thread and return at once. The identity accessors are immutable.
class Connection {
 public:
  virtual ~Connection() = default;

  /// Queues a text frame. If the connection's outbound queue is over its bound the client is
  /// too slow: the connection is closed instead (see docs/ARCHITECTURE.md, slow clients).
  /// Must not block or call into the ConnectionHub: the hub calls it under a lock.
  virtual void Deliver(Frame frame) = 0;
  /// Sends a close frame with `code` after what is already queued, then ends the connection.
  virtual void Close(int code, std::string reason) = 0;

  virtual const std::string& user_id() const = 0;
  virtual const std::string& device_id() const = 0;
  virtual const std::string& session_id() const = 0;
};

}  // namespace parley
