#include "support/http_client.h"

#include <strings.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <sstream>

namespace parley::e2e {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Connects, writes `bytes` and reads one response, with the write and the read running
// together: a server may answer (413, 400) and close before it has read the whole request,
// and the answer is what the test wants to see. Everything is bounded by `timeout`.
HttpResponse Exchange(uint16_t port, std::chrono::milliseconds timeout, const std::string& bytes,
                      const std::string& source_ip = {}) {
  HttpResponse out;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  if (!source_ip.empty()) {
    beast::error_code bind_ec;
    stream.socket().open(tcp::v4(), bind_ec);
    if (!bind_ec)
      stream.socket().bind(tcp::endpoint(net::ip::make_address_v4(source_ip), 0), bind_ec);
    if (bind_ec) {
      out.transport_error = "bind " + source_ip + ": " + bind_ec.message();
      return out;
    }
  }

  beast::error_code connect_ec;
  stream.async_connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port),
                       [&](beast::error_code ec) { connect_ec = ec; });
  ioc.run();
  if (connect_ec) {
    out.timed_out = connect_ec == beast::error::timeout;
    out.transport_error = "connect: " + connect_ec.message();
    return out;
  }
  ioc.restart();

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  parser.header_limit(64u << 10);
  beast::error_code read_ec;
  beast::error_code write_ec;
  bool read_done = false;
  net::async_write(stream, net::buffer(bytes),
                   [&](beast::error_code ec, std::size_t) { write_ec = ec; });
  http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
    read_ec = ec;
    read_done = true;
    // A server that answered without reading everything would leave the write pending.
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  });
  ioc.run();

  if (!read_done || read_ec) {
    out.timed_out = read_ec == beast::error::timeout;
    out.transport_error = "read: " + read_ec.message();
    if (write_ec) out.transport_error += "; write: " + write_ec.message();
    return out;
  }
  const auto& response = parser.get();
  out.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = response.body();
  boost::json::error_code json_ec;
  auto parsed = boost::json::parse(out.body, json_ec);
  if (!json_ec) out.json = std::move(parsed);
  return out;
}

std::string Serialize(std::string_view method, std::string_view target, uint16_t port,
                      std::string_view body, std::string_view bearer, std::string_view content_type,
                      bool with_body) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::user_agent, "parley-e2e");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + std::string(bearer));
  if (with_body) {
    req.set(http::field::content_type, content_type);
    req.body() = std::string(body);
  }
  req.prepare_payload();
  std::ostringstream os;
  os << req;
  return os.str();
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return "";
}

std::string HttpResponse::ErrorCode() const {
  const auto* object = json.if_object();
  const auto* error = object ? object->if_contains("error") : nullptr;
  const auto* error_object = error ? error->if_object() : nullptr;
  const auto* code = error_object ? error_object->if_contains("code") : nullptr;
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

void PrintTo(const HttpResponse& response, std::ostream* os) {
  if (response.status == 0) {
    *os << "no HTTP response (" << response.transport_error << ")";
    return;
  }
  *os << "HTTP " << response.status;
  if (const std::string allow = response.Header("Allow"); !allow.empty()) {
    *os << " [Allow: " << allow << "]";
  }
  if (const std::string type = response.Header("Content-Type"); !type.empty()) {
    *os << " [Content-Type: " << type << "]";
  }
  constexpr size_t kMaxBody = 2000;
  *os << " body: "
      << (response.body.size() > kMaxBody ? response.body.substr(0, kMaxBody) + "..."
                                          : response.body);
}

HttpResponse HttpClient::Get(std::string_view target, std::string_view bearer) const {
  return Exchange(port_, timeout_, Serialize("GET", target, port_, {}, bearer, {}, false),
                  source_ip_);
}

HttpResponse HttpClient::Delete(std::string_view target, std::string_view bearer) const {
  return Exchange(port_, timeout_, Serialize("DELETE", target, port_, {}, bearer, {}, false),
                  source_ip_);
}

HttpResponse HttpClient::Post(std::string_view target, const boost::json::value& body,
                              std::string_view bearer) const {
  return Send("POST", target, boost::json::serialize(body), bearer);
}

HttpResponse HttpClient::Send(std::string_view method, std::string_view target,
                              std::string_view body, std::string_view bearer,
                              std::string_view content_type) const {
  return Exchange(port_, timeout_,
                  Serialize(method, target, port_, body, bearer, content_type, true), source_ip_);
}

HttpResponse HttpClient::SendRaw(std::string_view bytes) const {
  return Exchange(port_, timeout_, std::string(bytes), source_ip_);
}

}  // namespace parley::e2e
