#include "net/http_session.h"

#include <spdlog/spdlog.h>

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

#include "api/json_fields.h"
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
constexpr size_t kMaxHeaderBytes = 16 * 1024;
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

// A browser's cross-site page must not open sockets with the user's cookies or tokens: an
// Origin header, when present, must be allowed or name the host the request was sent to.
bool OriginAllowed(const GatewayOptions& options, const Request& req) {
  const std::string_view origin = req[http::field::origin];
  if (origin.empty()) return true;  // not a browser: nothing for an origin check to protect
  for (const auto& allowed : options.allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  if (!options.allowed_origins.empty()) return false;
  const std::string_view host = req[http::field::host];
  const size_t scheme_end = origin.find("://");
  return scheme_end != std::string_view::npos && !host.empty() &&
         origin.substr(scheme_end + 3) == host;
}

class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket)
      : context_(context), worker_(worker), stream_(std::move(socket)) {
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
    while (!context_.draining) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(context_.options.max_body_bytes);
      parser.header_limit(kMaxHeaderBytes);
      stream_.expires_after(std::chrono::milliseconds(
          first ? context_.options.handshake_timeout_ms : context_.options.http_idle_timeout_ms));
      first = false;
      auto [ec, n] = co_await http::async_read(stream_, buffer, parser, kTuple);
      if (ec == http::error::body_limit) {
        const Error error =
            Error::PayloadTooLarge("request body is larger than " +
                                   std::to_string(context_.options.max_body_bytes) + " bytes");
        co_await WriteError(error, 11);
        break;
      }
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        // The peer sent something that is not HTTP/1.1: tell it once, then hang up.
        const Error error = Error::InvalidRequest("malformed HTTP request: " + ec.message());
        co_await WriteError(error, 11);
        break;
      }
      if (ec) break;  // peer closed, timed out, or the server is draining: nothing to answer

      Request req = parser.release();
      if (beast::websocket::is_upgrade(req)) {
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
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> Upgrade(Request req, std::string early_bytes) {
    const std::string_view target = req.target();
    std::optional<Error> refusal;
    if (target.substr(0, target.find('?')) != "/v1/ws") {
      refusal = Error::NotFound("no WebSocket endpoint at this path");
    } else if (!OriginAllowed(context_.options, req)) {
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
                   early_bytes);
  }

  // Returns whether the connection stays open.
  asio::awaitable<bool> Answer(const Request& req) {
    const auto started = std::chrono::steady_clock::now();
    HttpRequest request = ToHttpRequest(req, client_ip_);
    HttpReply reply;
    Router::Match match = context_.router.Find(request);
    if (match.route == nullptr && match.allowed.empty()) {
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
  bool busy_ = false;
};

}  // namespace

void StartHttpSession(GatewayContext& context, Worker& worker, asio::ip::tcp::socket socket) {
  auto session = std::make_shared<HttpSession>(context, worker, std::move(socket));
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
