#include "net/ws_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "api/auth_api.h"
#include "api/ws_frames.h"
#include "common/random.h"
#include "common/utf8.h"
#include "net/frame_budget.h"
#include "net/ws_codec.h"
#include "net/ws_outbox.h"

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ws::Opcode;

// Sustained abuse: this many refused frames within one window closes the connection.
constexpr int kMaxRefusalsPerWindow = 50;
constexpr auto kRefusalWindow = std::chrono::seconds(10);
// One read takes at most this much; a worker's sessions share one buffer of this size.
constexpr size_t kReadScratchBytes = 64 * 1024;
// Reads per readiness event: past this a session yields to the other handlers of its worker
// (other sessions, timers) and continues in a posted handler, so one socket that streams as
// fast as it can gets its share of a thread, not all of it.
constexpr int kReadsPerTurn = 1;
// Bytes of a partial frame a connection keeps between reads before it lets the buffer go.
constexpr size_t kKeepRxCapacity = 512;
// Before `ready`, a socket may send this many control frames (each ping is answered); the
// next one closes it. An unauthenticated peer gets the 101, at most this many pongs, and a
// close frame: nothing it can multiply.
constexpr int kControlFramesBeforeAuth = 4;
// After a protocol error or once the connection is closing, the server reads (and drops, or
// only looks for the peer's close frame) until the peer closes; a peer that keeps streaming
// instead is cut off after this much.
constexpr size_t kMaxDiscardBytes = 256 * 1024;
// A connection closed for its rate (4429) first gets the replies to the requests it had
// admitted, for at most this long: a client that retries after reconnecting must not resend
// what was stored but not acknowledged. (It would be deduplicated, but it would not know.)
constexpr auto kRepliesBeforeRateClose = std::chrono::milliseconds(2'000);

void DrainInbox(Worker& worker);
void FlushAll(Worker& worker);

/// A WebSocket connection after the HTTP upgrade. Callback-driven, no coroutine frames and no
/// buffers while idle: it waits for readability, then reads into its worker's shared buffer;
/// only a partial frame is copied into the connection's own `rx_`. Outgoing frames are queued
/// and written by Flush with one sendmsg per burst (see Worker).
///
/// Everything runs on the worker's thread; other threads reach it only through Deliver/Close.
class WsSession final : public Connection,
                        public Session,
                        public FrameSink,
                        public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(GatewayContext& context, Worker& worker, tcp::socket socket,
            ConnectionLimits::Ticket ticket)
      : context_(context),
        worker_(worker),
        socket_(std::move(socket)),
        ticket_(std::move(ticket)),
        timer_(worker.io),
        budget_(context.options.frames_per_min, context.options.frames_burst),
        control_budget_(context.options.control_frames_per_min,
                        context.options.control_frames_burst) {}

  void Start(std::string_view client_key, std::string_view early_bytes) {
    worker_.sessions.insert(this);
    context_.session_started();
    context_.metrics.ws_connections.Add(1);
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return End();
    std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        ws::AcceptKey(client_key) + "\r\nServer: parleyd\r\n\r\n";
    outbox_.Push(MakeFrame(std::move(response)), WsOutbox::kRawBytes);
    last_activity_ = Clock::now();
    auth_deadline_ = last_activity_ + std::chrono::milliseconds(context_.options.auth_timeout_ms);
    ScheduleFlush();
    ArmTimer();
    rx_.assign(early_bytes);
    ResumeReading();
  }

  // Connection: callable from any thread.
  void Deliver(Frame frame) override {
    Worker& worker = worker_;
    bool post = false;
    {
      std::lock_guard lock(worker.inbox_mu);
      worker.inbox.emplace_back(shared_from_this(), std::move(frame));
      post = !worker.inbox_posted;
      worker.inbox_posted = true;
    }
    if (post) asio::post(worker.io, [&worker] { DrainInbox(worker); });
  }
  void Close(int code, std::string reason) override {
    asio::post(worker_.io, [self = shared_from_this(), code, reason = std::move(reason)] {
      self->StartClose(code, reason);
    });
  }
  const std::string& user_id() const override { return user_id_; }
  const std::string& device_id() const override { return device_id_; }
  const std::string& session_id() const override { return session_id_; }

  // Session: on this session's thread.
  void Shutdown() override { StartClose(kCloseGoingAway, "server shutting down"); }

  // FrameSink: on this session's thread.
  void Enqueue(Frame frame) override { EnqueueFrame(std::move(frame), Opcode::kText); }
  void Flush() override {
    flush_scheduled_ = false;
    WriteNow();
  }

 private:
  enum class Stage { kAwaitingAuth, kReady };

  // ---- reading -------------------------------------------------------------------------------

  void WaitReadable() {
    if (ended_ || paused_ || read_waiting_) return;
    read_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         self->read_waiting_ = false;
                         if (ec) return self->End();
                         self->OnReadable();
                       });
  }

  void OnReadable() {
    if (!worker_.read_scratch) worker_.read_scratch.reset(new uint8_t[kReadScratchBytes]);
    uint8_t* scratch = worker_.read_scratch.get();
    for (int reads = 0;; ++reads) {
      if (ended_) return;
      if (reads == kReadsPerTurn) {
        // Maybe more to read: let the worker's other handlers run first, then go on.
        asio::post(worker_.io, [self = shared_from_this()] {
          if (!self->paused_) self->OnReadable();
        });
        return;
      }
      boost::system::error_code ec;
      const size_t n = socket_.read_some(asio::buffer(scratch, kReadScratchBytes), ec);
      if (ec == asio::error::would_block) break;
      if (ec) return End();  // closed, reset
      // Once the connection is closing (or a close is decided), what the peer still sends is
      // only what was in flight; a peer that keeps streaming is cut off rather than parsed
      // until the close deadline.
      if (discard_input_ || closing_ || close_pending_) {
        discarded_bytes_ += n;
        if (discarded_bytes_ > kMaxDiscardBytes) return End();
      }
      if (!discard_input_ && rx_.empty()) {
        const size_t used = Parse(scratch, n);
        if (used < n) rx_.assign(reinterpret_cast<const char*>(scratch) + used, n - used);
      } else if (!discard_input_) {
        rx_.append(reinterpret_cast<const char*>(scratch), n);
        ParseKept();
      }
      if (ended_ || paused_) return;  // resumed by whoever paused
      if (n < kReadScratchBytes) break;
    }
    WaitReadable();
  }

  // Parses the bytes kept from earlier reads.
  void ParseKept() {
    const size_t used = Parse(reinterpret_cast<uint8_t*>(rx_.data()), rx_.size());
    rx_.erase(0, used);
    if (rx_.empty() && rx_.capacity() > kKeepRxCapacity) std::string().swap(rx_);
  }

  // Handles every whole frame at the start of `data` (unmasking in place); returns the bytes
  // used. Stops early when the session pauses for authentication or stops reading.
  size_t Parse(uint8_t* data, size_t size) {
    size_t pos = 0;
    while (pos < size && !paused_ && !discard_input_ && !ended_) {
      ws::ClientFrameHeader header;
      const uint64_t room = context_.options.max_frame_bytes - message_.size();
      switch (ws::ParseClientFrame(data + pos, size - pos, room, header)) {
        case ws::ParseStatus::kNeedMore:
          return pos;
        case ws::ParseStatus::kTooBig:
          Fail(1009, "message too big");
          return size;
        case ws::ParseStatus::kProtocolError:
          Fail(1002, "protocol error");
          return size;
        case ws::ParseStatus::kFrame:
          break;
      }
      uint8_t* payload = data + pos + header.header_bytes;
      const size_t payload_bytes = static_cast<size_t>(header.payload_bytes);
      ws::Unmask(payload, payload_bytes, header.mask);
      pos += header.header_bytes + payload_bytes;
      OnFrame(header, payload, payload_bytes);
    }
    return pos;
  }

  void OnFrame(const ws::ClientFrameHeader& header, uint8_t* payload, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(payload), size);
    switch (header.opcode) {
      case Opcode::kPing:
        if (!AdmitControlFrame()) return;
        // Coalesced: only the latest ping is answered if several wait (RFC 6455 5.5.3).
        if (!closing_) {
          outbox_.SetPong(bytes);
          if (!Backlogged()) ScheduleFlush();
        }
        return;
      case Opcode::kPong:
        (void)AdmitControlFrame();
        return;
      case Opcode::kClose:
        return OnCloseFrame(payload, size);
      case Opcode::kText:
      case Opcode::kBinary:
        if (in_message_) return Fail(1002, "a new message began inside a fragmented one");
        if (header.fin) return OnMessage(header.opcode == Opcode::kText, bytes);
        in_message_ = true;
        message_text_ = header.opcode == Opcode::kText;
        message_.assign(bytes);
        fragments_ = 1;
        return;
      case Opcode::kContinuation:
        if (!in_message_) return Fail(1002, "continuation without a message");
        // Empty fragments cost nothing in bytes but a parse each: bound their number too.
        if (++fragments_ > context_.options.max_message_fragments) {
          context_.metrics.CountPolicyClose(PolicyClose::kFragments);
          return Fail(1008, "too many fragments in one message");
        }
        message_.append(bytes);
        if (!header.fin) return;
        in_message_ = false;
        OnMessage(message_text_, message_);
        message_.clear();
        if (message_.capacity() > kKeepRxCapacity) std::string().swap(message_);
        return;
    }
  }

  void OnCloseFrame(const uint8_t* payload, size_t size) {
    int code = 0;
    if (!ws::ParseClosePayload(payload, size, code)) return Fail(1002, "malformed close frame");
    close_received_ = true;
    discard_input_ = true;
    if (close_sent_) return Teardown();
    if (!closing_) {
      // Echo the peer's close, then hang up once it is written (the server closes TCP first).
      closing_ = true;
      LeaveHub();
      EnqueueFrame(MakeFrame(ws::ClosePayload(code == 1005 ? 1000 : code, "")), Opcode::kClose,
                   /*force=*/true);
      close_deadline_ =
          Clock::now() + std::chrono::milliseconds(context_.options.handshake_timeout_ms);
      ArmTimer();
    }
  }

  // A whole data message. Only these count as activity for the heartbeat (PROTOCOL.md §6.8):
  // a client that only answers control pings is not a live client of the API.
  void OnMessage(bool text, std::string_view bytes) {
    last_activity_ = Clock::now();
    context_.metrics.ws_frames_in.Inc();
    if (closing_ || close_pending_) return;
    if (text && !IsValidUtf8(bytes)) return Fail(1007, "text frame is not valid UTF-8");
    if (stage_ == Stage::kAwaitingAuth) {
      if (!text) return StartClose(kCloseAuthFailed, "unauthorized");
      return StartAuth(bytes);
    }
    if (!AdmitFrame(bytes)) return;
    if (!text) {
      return Enqueue(ErrorFrame(
          nullptr, Error::InvalidRequest("binary frames are not supported; send JSON text")));
    }
    // Request paths return errors rather than throw; should one throw all the same, it ends
    // this connection (1011), not the worker thread and every connection on it.
    try {
      context_.ws_api.Dispatch(bytes, shared_from_this());
    } catch (const std::exception& e) {
      spdlog::error("websocket request failed with an exception: {}", e.what());
      StartClose(1011, "internal error");
    }
  }

  // Per-connection frame rate. A refused frame is answered `rate_limited` and dropped; a
  // client that keeps at it is closed with 4429.
  bool AdmitFrame(std::string_view text) {
    const int64_t wait = budget_.Take(last_activity_);
    if (wait == 0) return true;
    if (!Refused()) {
      json::value id;  // answer the request by its id, so the client can retry it
      (void)DecodeClientFrame(text, id);
      Enqueue(ErrorFrame(id, Error::RateLimited(wait)));
    }
    return false;
  }

  // Pings and pongs have a budget of their own, and an unauthenticated socket almost none: a
  // refused ping is not answered, and a flood of them closes the connection.
  bool AdmitControlFrame() {
    if (stage_ == Stage::kAwaitingAuth && ++control_before_auth_ > kControlFramesBeforeAuth) {
      context_.metrics.CountPolicyClose(PolicyClose::kControlBeforeAuth);
      Fail(1008, "too many control frames before authentication");
      return false;
    }
    if (control_budget_.Take(Clock::now()) == 0) return true;
    (void)Refused();
    return false;
  }

  // Counts a refused frame; true (and the connection closing with 4429) when there have been
  // too many in the current window.
  bool Refused() {
    const Clock::time_point now = Clock::now();
    if (now - window_start_ > kRefusalWindow) {
      window_start_ = now;
      refusals_ = 0;
    }
    if (++refusals_ < kMaxRefusalsPerWindow) return false;
    context_.metrics.CountPolicyClose(PolicyClose::kRateLimited);
    CloseAfterReplies(kCloseRateLimited, "rate limited");
    return true;
  }

  // Serves no more requests, lets the replies to admitted ones out (they come through
  // Deliver), and sends the close frame once kRepliesBeforeRateClose has passed. Control
  // frames are still read: a client that closes meanwhile gets its close echoed.
  void CloseAfterReplies(int code, std::string reason) {
    if (closing_ || close_pending_) return;
    close_pending_ = true;
    pending_close_code_ = code;
    pending_close_reason_ = std::move(reason);
    pending_close_at_ = Clock::now() + kRepliesBeforeRateClose;
    ArmTimer();
  }

  // A peer that broke the protocol: tell it why, read nothing more of what it sends.
  void Fail(int code, std::string_view reason) {
    discard_input_ = true;
    failed_ = true;
    in_message_ = false;
    StartClose(code, std::string(reason));
  }

  // ---- authentication ------------------------------------------------------------------------

  // The first frame must be {"type":"auth","token":..}. Reading pauses while the token is
  // checked on the blocking pool; on success the session joins the hub and gets `ready`.
  void StartAuth(std::string_view text) {
    json::value id;
    auto frame = DecodeClientFrame(text, id);
    if (!frame.ok() || frame->type != "auth") return StartClose(kCloseAuthFailed, "unauthorized");
    const json::value* token = frame->fields.if_contains("token");
    if (token == nullptr || !token->is_string())
      return StartClose(kCloseAuthFailed, "unauthorized");
    paused_ = true;
    asio::post(context_.router.ReadPool(context_.blocking_pool),
               [self = shared_from_this(), token = std::string(token->get_string()),
                id = std::move(frame->id)]() mutable {
                 auto claims = self->context_.auth.Authenticate(token);
                 asio::post(self->worker_.io,
                            [self, claims = std::move(claims), id = std::move(id)]() mutable {
                              self->FinishAuth(std::move(claims), id);
                            });
               });
  }

  void FinishAuth(Result<AccessClaims> claims, const json::value& id) {
    paused_ = false;
    if (ended_) return;
    if (closing_) return ResumeReading();
    if (!claims.ok()) {
      StartClose(kCloseAuthFailed, "unauthorized");
      return ResumeReading();
    }
    user_id_ = claims->user_id;
    device_id_ = claims->device_id;
    session_id_ = NewId('s');
    const ConnectionHub::Caps caps{context_.options.max_ws_per_user,
                                   context_.options.max_ws_per_device};
    switch (context_.hub.TryAdd(shared_from_this(), caps)) {
      case ConnectionHub::AddResult::kAdded:
        break;
      case ConnectionHub::AddResult::kTooManyForUser:
        context_.metrics.CountPolicyClose(PolicyClose::kTooManyForUser);
        StartClose(kCloseRateLimited, "too many connections for this user");
        return ResumeReading();
      case ConnectionHub::AddResult::kTooManyForDevice:
        context_.metrics.CountPolicyClose(PolicyClose::kTooManyForDevice);
        StartClose(kCloseRateLimited, "too many connections for this device");
        return ResumeReading();
    }
    stage_ = Stage::kReady;
    ticket_.Authenticated();
    in_hub_ = true;
    json::object ready{{"user_id", user_id_},
                       {"device_id", device_id_},
                       {"session_id", session_id_},
                       {"heartbeat_ms", context_.options.heartbeat_ms}};
    Enqueue(ReplyFrame("ready", id, std::move(ready)));
    ArmTimer();  // the heartbeat deadline may be sooner than the auth deadline it replaces
    ResumeReading();
  }

  void ResumeReading() {
    if (!rx_.empty()) ParseKept();
    if (!paused_) WaitReadable();
  }

  // ---- deadlines -----------------------------------------------------------------------------

  // One timer covers the auth deadline, the heartbeat and the closing handshake: activity only
  // records a time stamp, and the timer re-arms itself for the later deadline when it wakes.
  Clock::time_point Deadline() const {
    if (closing_) return close_deadline_;
    if (close_pending_) return pending_close_at_;
    if (stage_ == Stage::kAwaitingAuth) return auth_deadline_;
    return last_activity_ + 2 * std::chrono::milliseconds(context_.options.heartbeat_ms);
  }

  void ArmTimer() {
    if (ended_) return;
    timer_.expires_at(Deadline());  // cancels a wait for an older deadline
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->OnTimer();
    });
  }

  void OnTimer() {
    if (ended_) return;
    if (Clock::now() < Deadline()) return ArmTimer();
    if (closing_) return End();  // the peer never finished the closing handshake
    if (close_pending_) return StartClose(pending_close_code_, pending_close_reason_);
    if (stage_ == Stage::kAwaitingAuth)
      return StartClose(kCloseAuthTimeout, "authentication timeout");
    StartClose(kCloseHeartbeat, "heartbeat timeout");
  }

  // ---- writing -------------------------------------------------------------------------------

  void EnqueueFrame(Frame frame, Opcode opcode, bool force = false) {
    if (ended_ || (closing_ && !force)) return;
    // Checked before adding, so that one frame larger than the bound (a big history page)
    // still goes to a client that keeps up; only a backlog marks a client as slow.
    if (Backlogged()) return;
    outbox_.Push(std::move(frame), static_cast<uint8_t>(opcode));
    ScheduleFlush();
  }

  // Slow-client policy: a client that does not read its socket would make the server hold
  // its backlog forever. Drop the connection; it will reconnect and sync what it missed.
  bool Backlogged() {
    if (outbox_.queued_bytes() <= context_.options.max_write_queue_bytes) return false;
    spdlog::warn("closing slow client {} (device {}): {} bytes queued", session_id_, device_id_,
                 outbox_.queued_bytes());
    context_.metrics.ws_slow_consumers.Inc();
    End();
    return true;
  }

  void ScheduleFlush() {
    if (flush_scheduled_ || write_waiting_) return;
    flush_scheduled_ = true;
    worker_.to_flush.push_back(shared_from_this());
    if (!worker_.flush_posted) {
      worker_.flush_posted = true;
      Worker& worker = worker_;
      asio::post(worker.io, [&worker] { FlushAll(worker); });
    }
  }

  // Sends what is queued with as few sendmsg calls as the socket allows; waits for the socket
  // to drain when it is full.
  void WriteNow() {
    if (ended_ || write_waiting_) return;
    const auto result = outbox_.Send(socket_.native_handle(), [this](uint8_t opcode) {
      if (opcode == static_cast<uint8_t>(Opcode::kClose)) {
        close_sent_ = true;
        if (close_received_ || failed_) {
          Teardown();
          return false;
        }
      } else if (opcode != WsOutbox::kRawBytes) {
        context_.metrics.ws_frames_out.Inc();
      }
      return true;
    });
    if (result == WsOutbox::SendResult::kWouldBlock) return WaitWritable();
    if (result == WsOutbox::SendResult::kFailed) return End();  // reset: the read side ends too
  }

  void WaitWritable() {
    write_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_write,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         self->write_waiting_ = false;
                         if (ec) return self->End();
                         self->WriteNow();
                       });
  }

  // ---- closing -------------------------------------------------------------------------------

  // A closing connection is sent nothing more (EnqueueFrame drops it), so it leaves the hub at
  // once rather than when the close handshake ends: a peer that stopped answering heartbeats
  // will not answer that either, and its user's presence must not wait for the timeout.
  void LeaveHub() {
    if (!in_hub_) return;
    in_hub_ = false;
    context_.hub.Remove(*this);
  }

  // Sends a close frame after what is already queued and waits (at most handshake_timeout_ms)
  // for the peer's.
  void StartClose(int code, std::string reason) {
    if (closing_ || ended_) return;
    closing_ = true;
    LeaveHub();
    EnqueueFrame(MakeFrame(ws::ClosePayload(code, reason)), Opcode::kClose, /*force=*/true);
    close_deadline_ =
        Clock::now() + std::chrono::milliseconds(context_.options.handshake_timeout_ms);
    ArmTimer();
  }

  // The closing handshake is done, or the peer broke the protocol: send FIN after what is
  // queued, then read (and drop) until the peer closes too, or the close deadline ends it.
  // Closing at once with unread input would send a reset, which can destroy the close frame
  // before the peer reads it.
  void Teardown() {
    if (shut_down_ || ended_) return;
    shut_down_ = true;
    discard_input_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return End();
    WaitReadable();
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    socket_.close(ec);  // pending waits complete with operation_aborted and find ended_
    LeaveHub();
    outbox_.Clear();
    ticket_.Release();
    context_.metrics.ws_connections.Add(-1);
    worker_.sessions.erase(this);
    context_.session_ended();
  }

  GatewayContext& context_;
  Worker& worker_;
  tcp::socket socket_;
  ConnectionLimits::Ticket ticket_;  // this connection's place in the connection caps
  asio::steady_timer timer_;

  std::string user_id_;  // set once, before the session joins the hub; immutable after
  std::string device_id_;
  std::string session_id_;

  Stage stage_ = Stage::kAwaitingAuth;
  bool in_hub_ = false;
  bool ended_ = false;
  bool paused_ = false;  // authenticating: frames wait in rx_
  bool read_waiting_ = false;
  bool discard_input_ = false;  // after a protocol error or the peer's close
  bool in_message_ = false;     // between the first and the last fragment of a message
  bool message_text_ = false;
  bool closing_ = false;  // our close frame is queued (or the peer's echoed)
  bool close_sent_ = false;
  bool close_received_ = false;
  bool failed_ = false;         // closing because the peer broke the protocol: no handshake
  bool close_pending_ = false;  // CloseAfterReplies: replies still going out, close at the time
  int pending_close_code_ = 0;
  std::string pending_close_reason_;
  Clock::time_point pending_close_at_{};
  bool shut_down_ = false;  // our FIN is sent
  bool flush_scheduled_ = false;
  bool write_waiting_ = false;

  std::string rx_;       // a partial frame carried over between reads
  std::string message_;  // a fragmented message being put together
  WsOutbox outbox_;

  Clock::time_point last_activity_{};
  Clock::time_point auth_deadline_{};
  Clock::time_point close_deadline_{};
  FrameBudget budget_;          // whole data messages, after auth
  FrameBudget control_budget_;  // pings and pongs
  Clock::time_point window_start_{};
  int refusals_ = 0;
  int control_before_auth_ = 0;
  int fragments_ = 0;  // of the message being put together
  size_t discarded_bytes_ = 0;
};

void DrainInbox(Worker& worker) {
  {
    std::lock_guard lock(worker.inbox_mu);
    worker.inbox_taken.swap(worker.inbox);
    worker.inbox_posted = false;
  }
  for (auto& [sink, frame] : worker.inbox_taken) sink->Enqueue(std::move(frame));
  worker.inbox_taken.clear();
}

void FlushAll(Worker& worker) {
  worker.flush_posted = false;
  std::vector<std::shared_ptr<FrameSink>> sinks;
  sinks.swap(worker.to_flush);
  for (auto& sink : sinks) sink->Flush();
  // Give the (now empty) vector's capacity back for the next burst.
  sinks.clear();
  if (worker.to_flush.empty()) worker.to_flush.swap(sinks);
}

}  // namespace

void StartWsSession(GatewayContext& context, Worker& worker, tcp::socket socket,
                    std::string_view client_key, std::string_view early_bytes,
                    ConnectionLimits::Ticket ticket) {
  std::make_shared<WsSession>(context, worker, std::move(socket), std::move(ticket))
      ->Start(client_key, early_bytes);
}

}  // namespace parley::net
