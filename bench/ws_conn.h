#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley::bench {

class WsConn;

/// What a connection reports. Every call comes on the connection's io_context thread.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  /// The upgrade succeeded; frames may be sent.
  virtual void OnOpen(WsConn& conn) = 0;
  /// One complete text message (fragments already joined). `text` is valid during the call.
  virtual void OnText(WsConn& conn, std::string_view text) = 0;
  /// The connection failed or ended; called exactly once per Start, never after Drop's
  /// own call. `why` is short and fixed ("connect", "handshake", "closed 4401", "eof", ...).
  virtual void OnClosed(WsConn& conn, std::string_view why) = 0;
};

/// A lean RFC 6455 client connection for load generation, on plain Asio.
///
/// Why not Beast's websocket::stream: a load generator must spend less CPU per frame than the
/// server it measures. This reads whatever the socket has into one buffer and parses every
/// complete frame in it (one syscall for many frames), and appends outgoing frames (masked, as
/// RFC 6455 requires of clients) to one buffer written with a single write while the previous
/// write is in flight, so a burst of sends costs one syscall. It speaks only what the bench
/// needs: text frames out; text, continuation, ping (answered), pong and close in. It does not
/// check Sec-WebSocket-Accept (the server is ours and local).
///
/// Threading: every member is called on the io_context's thread (the one that runs `io`),
/// including Start. Lifetime: owned by shared_ptr; pending operations keep it alive.
class WsConn : public std::enable_shared_from_this<WsConn> {
 public:
  WsConn(boost::asio::io_context& io, WsHandler& handler, uint32_t index, int thread);

  /// Connects from `source` (port chosen at connect time: IP_BIND_ADDRESS_NO_PORT, so that
  /// many source addresses multiply the ~28k ephemeral ports of one), sends the upgrade for
  /// `target` (e.g. "/v1/ws?room=p1"), asking for subprotocol `protocol` when not empty (e.g.
  /// "xmpp", RFC 7395), and reports OnOpen or OnClosed.
  void Start(const boost::asio::ip::tcp::endpoint& server,
             const boost::asio::ip::address_v4& source, const std::string& target,
             const std::string& host, std::string_view protocol = {});

  /// Queues one text message. Ignored unless open.
  void SendText(std::string_view text);
  /// Sends a close frame (1000) after what is queued; the server's answer ends the connection.
  void Close();
  /// Closes the socket at once, as a network failure would. No OnClosed follows.
  void Drop();

  bool is_open() const { return state_ == State::kOpen; }
  uint32_t index() const { return index_; }
  int thread() const { return thread_; }
  /// Bytes queued and not yet handed to the kernel.
  size_t pending_bytes() const { return out_pending_.size(); }

 private:
  enum class State { kIdle, kConnecting, kHandshake, kOpen, kClosing, kEnded };

  void ReadHandshake();
  void ReadFrames();
  bool ParseFrames();  // false: the connection ended
  void AppendFrame(uint8_t opcode, std::string_view payload);
  void Flush();
  void Fail(std::string_view why);
  void EnsureTail(size_t want);

  boost::asio::io_context& io_;
  WsHandler& handler_;
  boost::asio::ip::tcp::socket socket_;
  uint32_t index_;
  int thread_;
  State state_ = State::kIdle;

  std::vector<char> in_;  // [in_begin_, in_end_) holds unparsed bytes
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::string fragments_;  // a fragmented message being joined
  bool in_fragment_ = false;

  std::string out_pending_;   // frames queued since the write in flight began
  std::string out_inflight_;  // the bytes of the write in flight
  bool writing_ = false;
  uint64_t mask_state_;
};

/// "127.0.0.1" .. "127.0.0.N": the i-th connection's source address, spreading connections over
/// `count` loopback addresses.
boost::asio::ip::address_v4 SourceAddress(uint32_t i, uint32_t count);

}  // namespace parley::bench
