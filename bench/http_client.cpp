#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace parley::bench {
namespace {

constexpr size_t kMaxHeader = size_t{64} * 1024;
constexpr size_t kMaxBody = 256ull << 20;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpClient::HttpClient(std::string host, uint16_t port, int timeout_ms, std::string source)
    : host_(std::move(host)), port_(port), source_(std::move(source)), timeout_ms_(timeout_ms) {}

HttpClient::~HttpClient() { Disconnect(); }

void HttpClient::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool HttpClient::Connect(std::string& error) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    error = "not an IPv4 address: " + host_;
    Disconnect();
    return false;
  }
  if (!source_.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, sizeof one);
    if (::inet_pton(AF_INET, source_.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      error = "bind " + source_ + ": " + std::strerror(errno);
      Disconnect();
      return false;
    }
  }
  // Loopback connects complete at once or fail at once; no timeout needed.
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    Disconnect();
    return false;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool HttpClient::SendAll(std::string_view data, std::string& error) const {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool HttpClient::ReadResponse(HttpResponse& out) {
  auto read_more = [&]() -> bool {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms_);
    if (r == 0) {
      out.error = "timeout";
      return false;
    }
    if (r < 0) {
      out.error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      out.error = n == 0 ? "connection closed" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  };

  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > kMaxHeader) {
      out.error = "response header too large";
      return false;
    }
    if (!read_more()) return false;
  }
  const std::string_view head(buffer_.data(), header_end);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
    out.error = "malformed response";
    return false;
  }
  out.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  size_t content_length = 0;
  bool close_after = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string_view line = head.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string name = Lower(line.substr(0, colon));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length")
        content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      if (name == "connection" && Lower(value) == "close") close_after = true;
      if (name == "transfer-encoding") {
        out.error = "chunked responses are not supported";
        return false;
      }
    }
    pos = next;
  }
  if (content_length > kMaxBody) {
    out.error = "response body too large";
    return false;
  }
  const size_t body_start = header_end + 4;
  while (buffer_.size() < body_start + content_length) {
    if (!read_more()) return false;
  }
  out.body = buffer_.substr(body_start, content_length);
  buffer_.erase(0, body_start + content_length);
  if (close_after) Disconnect();
  return true;
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view target,
                                 std::string_view body, std::string_view token) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  request.append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  if (!token.empty()) request.append("Authorization: Bearer ").append(token).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  request.append("\r\n").append(body);

  HttpResponse out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    out = HttpResponse{};
    const bool fresh = fd_ < 0;
    if (fresh && !Connect(out.error)) return out;
    if (SendAll(request, out.error) && ReadResponse(out)) return out;
    Disconnect();
    // A kept-alive connection the server had closed fails before any answer: try once more
    // on a new one. A fresh connection failing is a real error.
    if (fresh || out.status != 0) return out;
  }
  return out;
}

}  // namespace parley::bench
