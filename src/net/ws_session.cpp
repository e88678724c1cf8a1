#include "net/ws_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <optional>

#include "api/auth_api.h"
#include "api/ws_frames.h"
#include "common/random.h"
#include "net/offload.h"

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Sustained abuse: this many refused frames within one window closes the connection.
constexpr int kMaxRefusalsPerWindow = 50;
constexpr auto kRefusalWindow = std::chrono::seconds(10);

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

class WsSession final : public Connection,
                        public Session,
                        public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket)
      : context_(context),
        worker_(worker),
        ws_(std::move(socket)),
        timer_(worker.io),
        budget_(context.options.frames_per_min, context.options.frames_burst) {}

  static asio::awaitable<void> Run(std::shared_ptr<WsSession> self,
                                   beast::http::request<beast::http::string_body> upgrade) {
    co_await self->Serve(std::move(upgrade));
  }

  // Connection: callable from any thread; the work hops to this session's thread.
  void Deliver(Frame frame) override {
    asio::post(worker_.io, [self = shared_from_this(), frame = std::move(frame)]() mutable {
      self->Enqueue(std::move(frame));
    });
  }
  void Close(int code, std::string reason) override {
    asio::post(worker_.io, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->StartClose(code, std::move(reason));
    });
  }
  const std::string& user_id() const override { return user_id_; }
  const std::string& device_id() const override { return device_id_; }
  const std::string& session_id() const override { return session_id_; }

  // Session: on this session's thread.
  void Shutdown() override { StartClose(kCloseGoingAway, "server shutting down"); }

 private:
  enum class Stage { kAwaitingAuth, kReady, kEnded };

  asio::awaitable<void> Serve(beast::http::request<beast::http::string_body> upgrade) {
    worker_.sessions.insert(this);
    context_.session_started();
    context_.metrics.ws_connections.Add(1);

    ws_.read_message_max(context_.options.max_frame_bytes);
    ws_.auto_fragment(false);
    // Beast times the opening and closing handshakes; liveness after that is our heartbeat.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::milliseconds(context_.options.handshake_timeout_ms);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "parleyd"); }));

    auto [ec] = co_await ws_.async_accept(upgrade, kTuple);
    if (!ec) {
      accepted_ = true;
      last_activity_ = Clock::now();
      auth_deadline_ = last_activity_ + std::chrono::milliseconds(context_.options.auth_timeout_ms);
      if (closing_) {
        WriteNext();  // a drain asked to close while the handshake was being written
      } else {
        asio::co_spawn(worker_.io, WatchDeadlines(shared_from_this()), asio::detached);
      }
      co_await ReadLoop();
    }

    stage_ = Stage::kEnded;
    timer_.cancel();
    LeaveHub();
    context_.metrics.ws_connections.Add(-1);
    worker_.sessions.erase(this);
    context_.session_ended();
  }

  asio::awaitable<void> ReadLoop() {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
      if (ec) co_return;  // closed, reset, too big (Beast already sent 1009), or shut down
      last_activity_ = Clock::now();
      context_.metrics.ws_frames_in.Inc();
      const std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (stage_ == Stage::kReady && !AdmitFrame(text)) {
        buffer.consume(buffer.size());
        continue;
      }
      if (stage_ == Stage::kAwaitingAuth) {
        const bool ok = ws_.got_text() && co_await Authenticate(text);
        if (!ok) {
          StartClose(kCloseAuthFailed, "unauthorized");
        }
      } else if (!ws_.got_text()) {
        Enqueue(ErrorFrame(
            nullptr, Error::InvalidRequest("binary frames are not supported; send JSON text")));
      } else if (!closing_) {
        context_.ws_api.Dispatch(text, shared_from_this());
      }
      buffer.consume(buffer.size());
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

  // The first frame must be {"type":"auth","token":..}. On success the session joins the hub
  // and gets `ready`.
  asio::awaitable<bool> Authenticate(std::string_view text) {
    json::value id;
    auto frame = DecodeClientFrame(text, id);
    if (!frame.ok() || frame->type != "auth") co_return false;
    const json::value* token = frame->fields.if_contains("token");
    if (token == nullptr || !token->is_string()) co_return false;
    std::string access_token(token->get_string());
    AuthService& auth = context_.auth;
    // Named, not a temporary in the co_await expression: see Offload.
    std::function<Result<AccessClaims>()> work = [&auth, token = std::move(access_token)] {
      return auth.Authenticate(token);
    };
    auto claims = co_await Offload<Result<AccessClaims>>(context_.blocking_pool, std::move(work));
    if (!claims.ok() || closing_) co_return false;

    user_id_ = claims->user_id;
    device_id_ = claims->device_id;
    session_id_ = NewId('s');
    stage_ = Stage::kReady;
    // The deadline watcher sleeps until the auth deadline; wake it to follow the heartbeat
    // instead, which may be due sooner (2 x heartbeat_ms < auth_timeout_ms).
    timer_.cancel();
    context_.hub.Add(shared_from_this());
    in_hub_ = true;
    json::object ready{{"user_id", user_id_},
                       {"device_id", device_id_},
                       {"session_id", session_id_},
                       {"heartbeat_ms", context_.options.heartbeat_ms}};
    Enqueue(ReplyFrame("ready", frame->id, std::move(ready)));
    co_return true;
  }

  // One timer covers both the auth deadline and the heartbeat: activity only records a time
  // stamp, and the timer re-arms itself for the later deadline when it wakes early.
  static asio::awaitable<void> WatchDeadlines(std::shared_ptr<WsSession> self) {
    while (self->stage_ != Stage::kEnded && !self->closing_) {
      const bool authing = self->stage_ == Stage::kAwaitingAuth;
      const auto deadline =
          authing ? self->auth_deadline_
                  : self->last_activity_ +
                        2 * std::chrono::milliseconds(self->context_.options.heartbeat_ms);
      if (Clock::now() >= deadline) {
        if (authing) {
          self->StartClose(kCloseAuthTimeout, "authentication timeout");
        } else {
          self->StartClose(kCloseHeartbeat, "heartbeat timeout");
        }
        co_return;
      }
      self->timer_.expires_at(deadline);
      co_await self->timer_.async_wait(kTuple);
    }
  }

  void Enqueue(Frame frame) {
    if (closing_ || stage_ == Stage::kEnded) return;
    // Checked before adding, so that one frame larger than the bound (a big history page)
    // still goes to a client that keeps up; only a backlog marks a client as slow.
    const bool backlogged = queued_bytes_ > context_.options.max_write_queue_bytes;
    queued_bytes_ += frame->size();
    if (backlogged) {
      // Slow-client policy: a client that does not read its socket would make the server hold
      // its backlog forever. Drop the connection; it will reconnect and sync what it missed.
      spdlog::warn("closing slow client {} (device {}): {} bytes queued", session_id_, device_id_,
                   queued_bytes_);
      context_.metrics.ws_slow_consumers.Inc();
      closing_ = true;  // the in-flight write still reads queue_.front(): OnWritten clears
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);
      return;
    }
    queue_.push_back(std::move(frame));
    if (!writing_) WriteNext();
  }

  // A closing connection is sent nothing more (Enqueue drops it), so it leaves the hub at once
  // rather than when the close handshake ends: a peer that stopped answering heartbeats will
  // not answer that either, and its user's presence must not wait for Beast's handshake
  // timeout.
  void LeaveHub() {
    if (!in_hub_) return;
    in_hub_ = false;
    context_.hub.Remove(*this);
  }

  void StartClose(int code, std::string reason) {
    if (closing_ || stage_ == Stage::kEnded) return;
    closing_ = true;
    LeaveHub();
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) WriteNext();
  }

  // Exactly one write (or the close) in flight; the close goes after what is already queued.
  void WriteNext() {
    // Until the handshake's own write is done, nothing else may be written: Beast allows one
    // write at a time, and a close frame is a write.
    if (!accepted_) return;
    if (!queue_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(
          asio::buffer(*queue_.front()),
          [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
      return;
    }
    if (close_reason_) {
      writing_ = true;
      ws_.async_close(*close_reason_,
                      [self = shared_from_this()](beast::error_code) { self->writing_ = false; });
      close_reason_.reset();
    }
  }

  void OnWritten(beast::error_code ec) {
    writing_ = false;
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (ec || (closing_ && !close_reason_)) {
      queue_.clear();  // the socket is gone (or dropped as a slow client): nothing more to send
      return;
    }
    context_.metrics.ws_frames_out.Inc();
    WriteNext();
  }

  GatewayContext& context_;
  Worker& worker_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer timer_;

  std::string user_id_;  // set once, before the session joins the hub; immutable after
  std::string device_id_;
  std::string session_id_;

  Stage stage_ = Stage::kAwaitingAuth;
  bool accepted_ = false;  // the opening handshake has completed
  bool in_hub_ = false;
  bool closing_ = false;
  bool writing_ = false;
  std::deque<Frame> queue_;
  size_t queued_bytes_ = 0;
  std::optional<websocket::close_reason> close_reason_;
  Clock::time_point last_activity_{};
  Clock::time_point auth_deadline_{};
  FrameBudget budget_;
  Clock::time_point window_start_{};
  int refusals_ = 0;
};

}  // namespace

void StartWsSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket,
                    beast::http::request<beast::http::string_body> upgrade) {
  auto session = std::make_shared<WsSession>(context, worker, std::move(socket));
  asio::co_spawn(worker.io, WsSession::Run(std::move(session), std::move(upgrade)),
                 [](std::exception_ptr error) {
                   if (!error) return;
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     spdlog::error("websocket session ended by exception: {}", e.what());
                   }
                 });
}

}  // namespace parley::net
