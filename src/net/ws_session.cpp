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

class WsSession final : public Connection,
                        public Session,
                        public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket)
      : context_(context), worker_(worker), ws_(std::move(socket)), timer_(worker.io) {}

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
      last_activity_ = Clock::now();
      auth_deadline_ = last_activity_ + std::chrono::milliseconds(context_.options.auth_timeout_ms);
      asio::co_spawn(worker_.io, WatchDeadlines(shared_from_this()), asio::detached);
      co_await ReadLoop();
    }

    stage_ = Stage::kEnded;
    timer_.cancel();
    if (in_hub_) context_.hub.Remove(*this);
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
      if (stage_ == Stage::kAwaitingAuth) {
        const bool ok = ws_.got_text() && co_await Authenticate(text);
        if (!ok) {
          StartClose(kCloseAuthFailed, "unauthorized");
        }
      } else if (!ws_.got_text()) {
        Enqueue(ErrorFrame(nullptr, Error::InvalidRequest("binary frames are not supported; send JSON text")));
      } else if (!closing_) {
        context_.ws_api.Dispatch(text, shared_from_this());
      }
      buffer.consume(buffer.size());
    }
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
    auto claims = co_await Offload<Result<AccessClaims>>(
        context_.blocking_pool,
        [&auth, access_token = std::move(access_token)] { return auth.Authenticate(access_token); });
    if (!claims.ok() || closing_) co_return false;

    user_id_ = claims->user_id;
    device_id_ = claims->device_id;
    session_id_ = NewId('s');
    stage_ = Stage::kReady;
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
                  : self->last_activity_ + 2 * std::chrono::milliseconds(self->context_.options.heartbeat_ms);
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
    queued_bytes_ += frame->size();
    if (queued_bytes_ > context_.options.max_write_queue_bytes) {
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

  void StartClose(int code, std::string reason) {
    if (closing_ || stage_ == Stage::kEnded) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) WriteNext();
  }

  // Exactly one write (or the close) in flight; the close goes after what is already queued.
  void WriteNext() {
    if (!queue_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(asio::buffer(*queue_.front()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnWritten(ec);
                      });
      return;
    }
    if (close_reason_) {
      writing_ = true;
      ws_.async_close(*close_reason_, [self = shared_from_this()](beast::error_code) {
        self->writing_ = false;
      });
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
  bool in_hub_ = false;
  bool closing_ = false;
  bool writing_ = false;
  std::deque<Frame> queue_;
  size_t queued_bytes_ = 0;
  std::optional<websocket::close_reason> close_reason_;
  Clock::time_point last_activity_{};
  Clock::time_point auth_deadline_{};
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
