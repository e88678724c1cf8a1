#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

struct HttpResponse {
  int status = 0;  // 0: no answer (see error)
  std::string body;
  std::string error;  // transport failure, empty on an answer of any status
};

/// A minimal blocking HTTP/1.1 client over one keep-alive connection, for seeding and
/// checks (not for load). Every wait is bounded by `timeout_ms`. Bodies must come with
/// Content-Length (parleyd always sends it). Not thread-safe: one per seeding thread.
/// `source`, when not empty, is the IPv4 address to connect from (the abuse workload's
/// attackers come from an address of their own).
class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, int timeout_ms = 30'000, std::string source = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends one request; `token` non-empty adds a Bearer header. Reconnects once if the
  /// kept-alive connection turns out to be closed.
  HttpResponse Request(std::string_view method, std::string_view target, std::string_view body,
                       std::string_view token = {});

 private:
  bool Connect(std::string& error);
  void Disconnect();
  bool SendAll(std::string_view data, std::string& error) const;
  bool ReadResponse(HttpResponse& out);

  std::string host_;
  uint16_t port_;
  std::string source_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the previous response
};

}  // namespace parley::bench
