#include "support/ws_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace parley::e2e {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string Describe(const WsFrame& frame) {
  std::ostringstream os;
  PrintTo(frame, &os);
  return os.str();
}

}  // namespace

std::string WsFrame::Type() const {
  const auto* object = json.if_object();
  const auto* type = object ? object->if_contains("type") : nullptr;
  return type && type->is_string() ? std::string(type->as_string()) : "";
}

void PrintTo(const WsFrame& frame, std::ostream* os) {
  constexpr size_t kMaxPayload = 2000;
  switch (frame.kind) {
    case WsFrame::Kind::kText:
      *os << "text frame "
          << (frame.payload.size() > kMaxPayload ? frame.payload.substr(0, kMaxPayload) + "..."
                                                 : frame.payload);
      break;
    case WsFrame::Kind::kBinary:
      *os << "binary frame of " << frame.payload.size() << " bytes";
      break;
    case WsFrame::Kind::kClosed:
      *os << "connection closed with code " << frame.close_code;
      if (!frame.close_reason.empty()) *os << " reason \"" << frame.close_reason << "\"";
      if (!frame.error.empty()) *os << " (" << frame.error << ")";
      break;
    case WsFrame::Kind::kTimeout:
      *os << "nothing received before the timeout";
      break;
  }
}

// All I/O runs on a private io_context, driven only from the calling thread: every call
// runs it until its own operation completes or its deadline passes. At most one read is
// pending at a time; its result waits in `read_result` for the next Next().
struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
  bool read_pending = false;
  std::optional<WsFrame> read_result;
  std::optional<WsFrame> closed;  // once the connection has ended, for good
  boost::json::object ready;

  // Runs handlers until `done()` or the deadline; returns done().
  bool RunUntil(const std::function<bool()>& done, Clock::time_point deadline) {
    ioc.restart();
    while (!done()) {
      if (ioc.run_one_until(deadline) == 0) break;
    }
    return done();
  }

  // Like RunUntil, but on timeout aborts the connection and waits for the operation to end:
  // for operations whose handlers refer to the caller's stack.
  bool RunOrAbort(const bool& done, Clock::time_point deadline) {
    if (RunUntil([&] { return done; }, deadline)) return true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    RunUntil([&] { return done; }, Clock::time_point::max());
    return false;
  }

  void StartRead() {
    if (read_pending || read_result || closed) return;
    read_pending = true;
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      read_pending = false;
      WsFrame frame;
      if (!ec) {
        frame.kind = ws.got_text() ? WsFrame::Kind::kText : WsFrame::Kind::kBinary;
        frame.payload = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (frame.kind == WsFrame::Kind::kText) {
          boost::json::error_code json_ec;
          auto parsed = boost::json::parse(frame.payload, json_ec);
          if (!json_ec) frame.json = std::move(parsed);
        }
      } else if (ec == websocket::error::closed ||
                 ws.reason().code != websocket::close_code::none) {
        // A peer that fails the connection (1009, 4401) may drop TCP right after its close
        // frame, so our close reply or the teardown can fail; the close frame still arrived
        // and its code is what the peer said.
        frame.kind = WsFrame::Kind::kClosed;
        frame.close_code = ws.reason().code == websocket::close_code::none
                               ? 1005
                               : static_cast<int>(ws.reason().code);
        frame.close_reason = std::string(ws.reason().reason.c_str());
        if (ec != websocket::error::closed) frame.error = "then " + ec.message();
      } else {
        frame.kind = WsFrame::Kind::kClosed;
        frame.close_code = 1006;
        frame.error = ec.message();
      }
      read_result = std::move(frame);
    });
  }

  WsFrame Next(std::chrono::milliseconds timeout) {
    if (closed) return *closed;
    if (!connected) throw std::runtime_error("WebSocket read before Connect");
    StartRead();
    RunUntil([&] { return read_result.has_value(); }, Clock::now() + timeout);
    if (!read_result) return WsFrame{};
    WsFrame frame = std::move(*read_result);
    read_result.reset();
    if (frame.kind == WsFrame::Kind::kClosed) closed = frame;
    return frame;
  }

  void Write(std::string_view data, bool text) {
    if (!connected) throw std::runtime_error("WebSocket send before Connect");
    if (closed) throw std::runtime_error("WebSocket send after the " + Describe(*closed));
    ws.text(text);
    bool done = false;
    beast::error_code result;
    ws.async_write(net::buffer(data.data(), data.size()), [&](beast::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    if (!RunOrAbort(done, Clock::now() + kDefaultTimeout)) {
      throw std::runtime_error("WebSocket send timed out");
    }
    if (result) {
      std::string why = "WebSocket send failed: " + result.message();
      if (read_result && read_result->kind == WsFrame::Kind::kClosed) {
        why += " (" + Describe(*read_result) + ")";
      }
      throw std::runtime_error(why);
    }
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() = default;
WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;

std::string WsClient::TryConnect(uint16_t port, std::string_view path,
                                 std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.connected) return "already connected";
  const auto deadline = Clock::now() + timeout;
  auto& tcp_layer = beast::get_lowest_layer(s.ws);

  bool done = false;
  beast::error_code result;
  tcp_layer.async_connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port),
                          [&](beast::error_code ec) {
                            result = ec;
                            done = true;
                          });
  if (!s.RunOrAbort(done, deadline)) return "connect timed out";
  if (result) return "connect: " + result.message();

  // From here the websocket stream keeps its own handshake/close timeouts; reads are
  // bounded per call by Next().
  tcp_layer.expires_never();
  websocket::stream_base::timeout options{};
  options.handshake_timeout = timeout;
  options.idle_timeout = websocket::stream_base::none();
  options.keep_alive_pings = false;
  s.ws.set_option(options);
  s.ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "parley-e2e"); }));
  // One message is one frame, so a frame-size limit sees exactly what the test sent.
  s.ws.auto_fragment(false);

  done = false;
  websocket::response_type response;
  s.ws.async_handshake(response, "127.0.0.1:" + std::to_string(port), path,
                       [&](beast::error_code ec) {
                         result = ec;
                         done = true;
                       });
  if (!s.RunOrAbort(done, deadline)) return "WebSocket handshake timed out";
  if (result) {
    return "WebSocket handshake: " + result.message() + " (HTTP " +
           std::to_string(response.result_int()) + " " + response.body() + ")";
  }
  s.connected = true;
  return "";
}

void WsClient::Connect(uint16_t port, std::string_view path) {
  if (std::string error = TryConnect(port, path); !error.empty()) {
    throw std::runtime_error("cannot open ws://127.0.0.1:" + std::to_string(port) +
                             std::string(path) + ": " + error);
  }
}

void WsClient::SendText(std::string_view text) { impl_->Write(text, true); }

void WsClient::SendBinary(std::string_view bytes) { impl_->Write(bytes, false); }

void WsClient::SendJson(const boost::json::value& frame) {
  impl_->Write(boost::json::serialize(frame), true);
}

WsFrame WsClient::Next(std::chrono::milliseconds timeout) { return impl_->Next(timeout); }

WsFrame WsClient::ExpectClose(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    WsFrame frame = Next(std::max(left, std::chrono::milliseconds(0)));
    if (frame.kind == WsFrame::Kind::kClosed || frame.kind == WsFrame::Kind::kTimeout) {
      return frame;
    }
  }
}

WsFrame WsClient::Authenticate(std::string_view token) {
  SendJson({{"type", "auth"}, {"token", token}});
  WsFrame reply = Next();
  if (reply.Type() == "ready") impl_->ready = reply.json.as_object();
  return reply;
}

WsFrame WsClient::Ping(const boost::json::value& id) {
  SendJson({{"type", "ping"}, {"id", id}});
  return Next();
}

void WsClient::Close(int code) {
  Impl& s = *impl_;
  if (!s.connected || s.closed) return;
  bool done = false;
  s.ws.async_close(static_cast<uint16_t>(code), [&](beast::error_code) { done = true; });
  s.RunOrAbort(done, Clock::now() + kDefaultTimeout);
  WsFrame frame;
  frame.kind = WsFrame::Kind::kClosed;
  frame.close_code = code;
  frame.error = "closed by the client";
  s.closed = frame;
}

bool WsClient::IsOpen() const { return impl_->connected && !impl_->closed; }

const boost::json::object& WsClient::ready() const { return impl_->ready; }

}  // namespace parley::e2e
