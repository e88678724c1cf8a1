#include "net/http_session.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <chrono>
#include <optional>
#include <tuple>

#include "api/json_fields.h"
#include "net/http_request_check.h"
#include "net/offload.h"
#include "net/ws_codec.h"
#include "net/ws_session.h"

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kWriteTimeout{30};

HttpRequest ToHttpRequest(const Request& req, const std::string& client_ip) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.client_ip = client_ip;
  out.body = req.body();
  const std::string_view target = req.target();
  auto url = boost::urls::parse_origin_form(target);
  if (url) {
    out.path = std::string(url->encoded_path());
    for (auto param : url->params()) out.query[param.key] = param.value;
  } else {
    out.path = std::string(target.substr(0, target.find('?')));
  }
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[std::move(name)] = std::string(field.value());
  }
  const std::string_view authorization = req[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    out.bearer_token = std::string(authorization.substr(kBearer.size()));
  }
  return out;
}

Response ToResponse(const HttpReply& reply, unsigned version, bool keep_alive) {
  Response res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, "parleyd");
  if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
  res.set(http::field::cache_control, "no-store");
  // set() replaces a field of the same name: a handler's Cache-Control wins over no-store.
  for (const auto& [name, value] : reply.headers) res.set(name, value);
  res.body() = reply.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Constant-time, so that the time to refuse a wrong metrics token tells nothing about it.
bool TokenMatches(std::string_view given, std::string_view expected) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

// The routes an internal (metrics) listener serves; everything else is for the public one.
bool IsOpsPath(std::string_view path) {
  return path == "/metrics" || path == "/healthz" || path == "/readyz";
}

class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket,
              ConnectionLimits::Ticket ticket, bool internal)
      : context_(context),
        worker_(worker),
        stream_(std::move(socket)),
        ticket_(std::move(ticket)),
        internal_(internal) {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ip_ = remote.address().to_string();
  }

  void Shutdown() override {
    // Between requests: end now. Mid-request: the reply goes out with Connection: close.
    if (!busy_) {
      beast::error_code ec;
      stream_.socket().cancel(ec);
    }
  }

  // `self` keeps the session alive for as long as the coroutine runs.
  static asio::awaitable<void> Run(std::shared_ptr<HttpSession> self) { co_await self->Serve(); }

 private:
  asio::awaitable<void> Serve() {
    worker_.sessions.insert(this);
    context_.session_started();
    context_.metrics.http_connections.Add(1);
    co_await ServeRequests();
    context_.metrics.http_connections.Add(-1);
    worker_.sessions.erase(this);
    context_.session_ended();
  }

  asio::awaitable<void> ServeRequests() {
    beast::flat_buffer buffer;
    bool first = true;
    bool refused = false;  // refusal_ is to be answered, then the connection closes
    while (!context_.draining) {
      stream_.expires_after(std::chrono::milliseconds(
          first ? context_.options.handshake_timeout_ms : context_.options.http_idle_timeout_ms));
      first = false;
      // The head is checked byte by byte before Beast sees it, and its fields before the
      // body is read (net/http_request_check.h): a refusal closes the connection, so nothing
      // behind a request framed in a way a proxy could read differently is ever served.
      const HeadResult head = co_await ReadHead(buffer);
      if (head == HeadResult::kGone) break;
      RequestParser parser;
      beast::error_code ec;
      if (head == HeadResult::kComplete) {
        ConfigureRequestParser(parser, context_.options.max_body_bytes);
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(stream_, buffer, parser, kTuple);
        if (!ec) {
          if (auto refusal = CheckRequestHeader(parser.get().base())) {
            refusal_ = std::move(*refusal);
            refused = true;
          } else {
            std::tie(ec, std::ignore) = co_await http::async_read(stream_, buffer, parser, kTuple);
          }
        }
      } else {
        refused = true;
      }
      if (ec == http::error::body_limit) {
        refusal_ =
            Error::PayloadTooLarge("request body is larger than " +
                                   std::to_string(context_.options.max_body_bytes) + " bytes");
        refused = true;
      } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        // The peer sent something that is not HTTP/1.1: tell it once, then hang up.
        refusal_ = Error::InvalidRequest("malformed HTTP request: " + ec.message());
        refused = true;
      }
      if (refused) break;
      if (ec) break;  // peer closed, timed out, or the server is draining: nothing to answer

      Request req = parser.release();
      if (beast::websocket::is_upgrade(req) && !internal_) {
        // Bytes read past the request belong to the WebSocket (a client that did not wait for
        // the 101): they go with the socket.
        const std::string_view early(static_cast<const char*>(buffer.data().data()), buffer.size());
        co_await Upgrade(std::move(req), std::string(early));
        co_return;
      }
      busy_ = true;
      const bool keep_alive = co_await Answer(req);
      busy_ = false;
      if (!keep_alive) break;
    }
    if (refused) {
      co_await RefuseAndClose();
      co_return;
    }
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }

  enum class HeadResult { kComplete, kRefused, kGone };

  // Reads until `buffer` holds a whole request head that passes RequestHeadScanner. kGone: the
  // peer closed or timed out first (nothing to answer); kRefused: refusal_ says why.
  asio::awaitable<HeadResult> ReadHead(beast::flat_buffer& buffer) {
    RequestHeadScanner scanner;
    for (;;) {
      const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
      switch (scanner.Feed(bytes)) {
        case RequestHeadScanner::State::kComplete:
          buffer.consume(scanner.leading_empty_bytes());
          co_return HeadResult::kComplete;
        case RequestHeadScanner::State::kInvalid:
          refusal_ = scanner.error();
          co_return HeadResult::kRefused;
        case RequestHeadScanner::State::kIncomplete:
          break;
      }
      auto [ec, n] = co_await stream_.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) co_return HeadResult::kGone;
      buffer.commit(n);
    }
  }

  // Answers refusal_ with Connection: close, then closes without reading another request:
  // stops sending, and reads and drops what the client still sends for at most a second (or
  // 64 KiB), so that the close is a FIN and not a reset that could destroy the reply.
  asio::awaitable<void> RefuseAndClose() {
    co_await WriteError(refusal_, 11);
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> scratch;
    for (size_t drained = 0; drained < 64 * 1024;) {
      auto [read_ec, n] = co_await stream_.async_read_some(asio::buffer(scratch), kTuple);
      if (read_ec) break;
      drained += n;
    }
  }

  asio::awaitable<void> Upgrade(Request req, std::string early_bytes) {
    const std::string_view target = req.target();
    std::optional<Error> refusal;
    if (target.substr(0, target.find('?')) != "/v1/ws") {
      refusal = Error::NotFound("no WebSocket endpoint at this path");
    } else if (!context_.origins.Allows(req[http::field::origin])) {
      refusal = Error::Forbidden("origin not allowed");
    } else if (req[http::field::sec_websocket_version] != "13") {
      refusal =
          Error::InvalidRequest("unsupported WebSocket version: send Sec-WebSocket-Version: 13");
    } else if (!ws::ValidClientKey(req[http::field::sec_websocket_key])) {
      refusal = Error::InvalidRequest("missing or malformed Sec-WebSocket-Key");
    } else if (context_.draining) {
      refusal = Error::Unavailable("server is shutting down");
    }
    if (refusal) {
      // RFC 6455 section 4.2.2: a refused version is answered with the versions we speak.
      const bool bad_version = req[http::field::sec_websocket_version] != "13";
      co_await WriteError(*refusal, req.version(), bad_version ? "13" : "");
      co_return;
    }
    stream_.expires_never();
    StartWsSession(context_, worker_, stream_.release_socket(), req[http::field::sec_websocket_key],
                   early_bytes, std::move(ticket_));
  }

  // Returns whether the connection stays open.
  asio::awaitable<bool> Answer(const Request& req) {
    const auto started = std::chrono::steady_clock::now();
    HttpRequest request = ToHttpRequest(req, client_ip_);
    HttpReply reply;
    Router::Match match = context_.router.Find(request);
    if (!MayServe(request)) {
      reply = HttpReply::FromError(Error::NotFound("no such route: " + request.path));
    } else if (match.route == nullptr && match.allowed.empty()) {
      reply = HttpReply::FromError(Error::NotFound("no such route: " + request.path));
    } else if (match.route == nullptr) {
      reply = HttpReply::FromError(
          Error::InvalidRequest("method " + request.method + " is not allowed here"));
      reply.status = 405;
      reply.headers.emplace_back("Allow", match.allowed);
    } else if (match.route->kind == HandlerKind::kInline) {
      reply = match.route->handler(request);
    } else {
      const Router::Route* route = match.route;
      // Named, not a temporary in the co_await expression: see Offload.
      std::function<HttpReply()> work = [route, &request] { return route->handler(request); };
      reply = co_await Offload<HttpReply>(context_.router.PoolFor(*route, context_.blocking_pool),
                                          std::move(work));
    }
    context_.metrics.http_requests.Inc();
    if (reply.status >= 400) context_.metrics.CountError(CodeForStatus(reply.status));

    const bool keep_alive = req.keep_alive() && !context_.draining;
    Response res = ToResponse(reply, req.version(), keep_alive);
    if (req.method() == http::verb::head) {
      // Same headers as GET, Content-Length included, but no body.
      res.body().clear();
      res.content_length(reply.body.size());
    }
    stream_.expires_after(kWriteTimeout);
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    context_.metrics.http_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    co_return !ec && keep_alive;
  }

  asio::awaitable<void> WriteError(const Error& error, unsigned version,
                                   std::string_view websocket_version = "") {
    context_.metrics.CountError(error.code);
    Response res = ToResponse(HttpReply::FromError(error), version, false);
    if (!websocket_version.empty()) res.set(http::field::sec_websocket_version, websocket_version);
    stream_.expires_after(kWriteTimeout);
    co_await http::async_write(stream_, res, kTuple);
  }

  // The internal listener serves only the ops routes; the public one serves /metrics only to
  // a request with the operator's token (API.md: never to anyone on the public listener).
  bool MayServe(const HttpRequest& request) const {
    if (internal_) return IsOpsPath(request.path);
    if (request.path != "/metrics") return true;
    const std::string& token = context_.options.metrics_token;
    return !token.empty() && TokenMatches(request.bearer_token, token);
  }

  static ErrorCode CodeForStatus(int status) {
    switch (status) {
      case 401:
        return ErrorCode::kUnauthorized;
      case 403:
        return ErrorCode::kForbidden;
      case 404:
        return ErrorCode::kNotFound;
      case 409:
        return ErrorCode::kConflict;
      case 413:
        return ErrorCode::kPayloadTooLarge;
      case 429:
        return ErrorCode::kRateLimited;
      case 503:
        return ErrorCode::kUnavailable;
      default:
        return status >= 500 ? ErrorCode::kInternal : ErrorCode::kInvalidRequest;
    }
  }

  GatewayContext& context_;
  Worker& worker_;
  beast::tcp_stream stream_;
  std::string client_ip_;
  ConnectionLimits::Ticket ticket_;  // released with the session, or handed to the WsSession
  const bool internal_;
  Error refusal_;
  bool busy_ = false;
};

}  // namespace

void StartHttpSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket,
                      ConnectionLimits::Ticket ticket, bool internal) {
  auto session = std::make_shared<HttpSession>(context, worker, std::move(socket),
                                               std::move(ticket), internal);
  asio::co_spawn(worker.io, HttpSession::Run(std::move(session)), [](std::exception_ptr error) {
    // Request paths return errors as values; reaching here means a bug or bad_alloc. Log it
    // and drop this one connection: the server keeps serving.
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("http session ended by exception: {}", e.what());
    }
  });
}

}  // namespace parley::net
