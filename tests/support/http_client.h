#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/parleyd_process.h"

namespace parley::e2e {

/// What came back for one HTTP exchange. `status` is 0 when no complete response arrived;
/// `transport_error` then says why ("end of stream", "timeout", ...).
struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  boost::json::value json;  // the body parsed as JSON; null when empty or not JSON
  std::string transport_error;
  bool timed_out = false;

  /// The first header of that name (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  /// `error.code` of an error body, or "" when the body is not one.
  std::string ErrorCode() const;
};
void PrintTo(const HttpResponse& response, std::ostream* os);

/// A synchronous HTTP/1.1 client for 127.0.0.1:port. Every call opens its own connection,
/// so calls are independent; every call is bounded by the timeout and never throws: a
/// failure shows up as status 0 with `transport_error`.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = kDefaultTimeout)
      : port_(port), timeout_(timeout) {}
  /// Connects from `source_ip`, a loopback address such as "127.0.0.7", so that the server
  /// sees that client IP (tests of per-IP limits). Empty: the kernel's choice (127.0.0.1).
  HttpClient(uint16_t port, std::chrono::milliseconds timeout, std::string source_ip)
      : port_(port), timeout_(timeout), source_ip_(std::move(source_ip)) {}

  HttpResponse Get(std::string_view target, std::string_view bearer = {}) const;
  HttpResponse Delete(std::string_view target, std::string_view bearer = {}) const;
  HttpResponse Post(std::string_view target, const boost::json::value& body,
                    std::string_view bearer = {}) const;
  /// Any method with a body sent exactly as given, e.g. malformed JSON.
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view bearer = {},
                    std::string_view content_type = "application/json") const;
  /// Writes `bytes` as they are (not necessarily HTTP) and reads one response. A server that
  /// closes without answering gives status 0 and transport_error "end of stream" (or a reset).
  HttpResponse SendRaw(std::string_view bytes) const;

  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::string source_ip_;
};

}  // namespace parley::e2e
