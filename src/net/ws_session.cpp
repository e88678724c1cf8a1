#include "net/ws_session.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <vector>

#include "api/auth_api.h"
#include "api/ws_frames.h"
#include "common/random.h"
#include "common/utf8.h"
#include "net/ws_codec.h"

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
// Frames per gathered send (two iovecs each: header and payload).
constexpr size_t kFramesPerSend = 64;
// Bytes of a partial frame a connection keeps between reads before it lets the buffer go.
constexpr size_t kKeepRxCapacity = 512;

/// A token bucket for one connection's frames. Touched only on the session's thread, so it
/// needs no lock (unlike the shared, keyed RateLimiter).
class FrameBudget {
 public:
  FrameBudget(double per_min, double burst)
      : per_ms_(per_min / 60'000.0), burst_(burst), tokens_(burst) {}

  /// 0 when the frame may pass, else the ms until it would.
  int64_t Take(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      const double elapsed = std::chrono::duration<double, std::milli>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * per_ms_);
    }
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return 0;
    }
    return std::max<int64_t>(1, static_cast<int64_t>((1.0 - tokens_) / per_ms_));
  }

 private:
  double per_ms_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

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
        budget_(context.options.frames_per_min, context.options.frames_burst) {}

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
    queued_bytes_ += response.size();
    queue_.push_back({MakeFrame(std::move(response)), kRawBytes});
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
  // Queue entries that are bytes to send as they are (the handshake response), not a frame.
  static constexpr uint8_t kRawBytes = 0xFF;

  struct Outgoing {
    Frame bytes;
    uint8_t opcode;  // an ws::Opcode, or kRawBytes
  };

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
    for (;;) {
      if (ended_) return;
      boost::system::error_code ec;
      const size_t n = socket_.read_some(asio::buffer(scratch, kReadScratchBytes), ec);
      if (ec == asio::error::would_block) break;
      if (ec) return End();  // closed, reset
      if (!discard_input_) {
        if (rx_.empty()) {
          const size_t used = Parse(scratch, n);
          if (used < n) rx_.assign(reinterpret_cast<const char*>(scratch) + used, n - used);
        } else {
          rx_.append(reinterpret_cast<const char*>(scratch), n);
          ParseKept();
        }
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
        if (!closing_) EnqueueFrame(MakeFrame(std::string(bytes)), Opcode::kPong);
        return;
      case Opcode::kPong:
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
        return;
      case Opcode::kContinuation:
        if (!in_message_) return Fail(1002, "continuation without a message");
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
    if (closing_) return;
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
    if (last_activity_ - window_start_ > kRefusalWindow) {
      window_start_ = last_activity_;
      refusals_ = 0;
    }
    if (++refusals_ >= kMaxRefusalsPerWindow) {
      StartClose(kCloseRateLimited, "rate limited");
    } else {
      json::value id;  // answer the request by its id, so the client can retry it
      (void)DecodeClientFrame(text, id);
      Enqueue(ErrorFrame(id, Error::RateLimited(wait)));
    }
    return false;
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
    asio::post(context_.blocking_pool,
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
    stage_ = Stage::kReady;
    ticket_.Authenticated();
    context_.hub.Add(shared_from_this());
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
    if (stage_ == Stage::kAwaitingAuth)
      return StartClose(kCloseAuthTimeout, "authentication timeout");
    StartClose(kCloseHeartbeat, "heartbeat timeout");
  }

  // ---- writing -------------------------------------------------------------------------------

  void EnqueueFrame(Frame frame, Opcode opcode, bool force = false) {
    if (ended_ || (closing_ && !force)) return;
    // Checked before adding, so that one frame larger than the bound (a big history page)
    // still goes to a client that keeps up; only a backlog marks a client as slow.
    const bool backlogged = queued_bytes_ > context_.options.max_write_queue_bytes;
    if (backlogged) {
      // Slow-client policy: a client that does not read its socket would make the server hold
      // its backlog forever. Drop the connection; it will reconnect and sync what it missed.
      spdlog::warn("closing slow client {} (device {}): {} bytes queued", session_id_, device_id_,
                   queued_bytes_);
      context_.metrics.ws_slow_consumers.Inc();
      return End();
    }
    queued_bytes_ += frame->size();
    queue_.push_back({std::move(frame), static_cast<uint8_t>(opcode)});
    ScheduleFlush();
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
    while (!ended_ && !write_waiting_ && head_ < queue_.size()) {
      iovec iov[2 * kFramesPerSend];
      uint8_t headers[kFramesPerSend][ws::kMaxHeaderBytes];
      size_t iovs = 0;
      size_t total = 0;
      size_t skip = head_sent_;
      for (size_t i = head_; i < queue_.size() && i - head_ < kFramesPerSend; ++i) {
        const Outgoing& out = queue_[i];
        const size_t frame_index = i - head_;
        size_t header_bytes = 0;
        if (out.opcode != kRawBytes) {
          header_bytes = ws::EncodeHeader(static_cast<Opcode>(out.opcode), out.bytes->size(),
                                          headers[frame_index]);
        }
        std::string_view head(reinterpret_cast<const char*>(headers[frame_index]), header_bytes);
        std::string_view body(*out.bytes);
        // The first frame may be partly sent already.
        const size_t from_head = std::min(skip, head.size());
        head.remove_prefix(from_head);
        body.remove_prefix(skip - from_head);
        skip = 0;
        for (std::string_view part : {head, body}) {
          if (part.empty()) continue;
          iov[iovs++] = {const_cast<char*>(part.data()), part.size()};
          total += part.size();
        }
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = iovs;
      const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return WaitWritable();
        return End();  // reset by the peer: the read side ends too
      }
      Advance(static_cast<size_t>(sent));
      if (static_cast<size_t>(sent) < total) return WaitWritable();
    }
    if (head_ == queue_.size() && !queue_.empty()) {
      queue_.clear();
      head_ = 0;
      if (queue_.capacity() > kFramesPerSend) std::vector<Outgoing>().swap(queue_);
    }
  }

  // Drops the `sent` bytes from the front of the queue.
  void Advance(size_t sent) {
    while (sent > 0) {
      const Outgoing& out = queue_[head_];
      const size_t frame_bytes =
          out.bytes->size() + (out.opcode == kRawBytes ? 0 : ws::HeaderBytes(out.bytes->size()));
      const size_t left = frame_bytes - head_sent_;
      if (sent < left) {
        head_sent_ += sent;
        return;
      }
      sent -= left;
      head_sent_ = 0;
      queued_bytes_ -= out.bytes->size();
      const uint8_t opcode = out.opcode;
      queue_[head_].bytes.reset();
      ++head_;
      if (opcode == static_cast<uint8_t>(Opcode::kClose)) {
        close_sent_ = true;
        if (close_received_ || failed_) return Teardown();
      } else if (opcode != kRawBytes) {
        context_.metrics.ws_frames_out.Inc();
      }
    }
    // A slow reader: keep the queue from growing at the front.
    if (head_ >= kFramesPerSend && head_ * 2 >= queue_.size()) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
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
    queue_.clear();
    queued_bytes_ = 0;
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
  bool failed_ = false;     // closing because the peer broke the protocol: no handshake
  bool shut_down_ = false;  // our FIN is sent
  bool flush_scheduled_ = false;
  bool write_waiting_ = false;

  std::string rx_;       // a partial frame carried over between reads
  std::string message_;  // a fragmented message being put together
  std::vector<Outgoing> queue_;
  size_t head_ = 0;       // first unsent entry of queue_
  size_t head_sent_ = 0;  // bytes of it already sent
  size_t queued_bytes_ = 0;

  Clock::time_point last_activity_{};
  Clock::time_point auth_deadline_{};
  Clock::time_point close_deadline_{};
  FrameBudget budget_;
  Clock::time_point window_start_{};
  int refusals_ = 0;
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
