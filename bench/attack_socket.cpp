#include "attack_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; not in glibc's netinet/in.h
#endif

namespace parley::bench {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ErrnoName(int e) {
  switch (e) {
    case ECONNREFUSED:
      return "refused";
    case ECONNRESET:
      return "reset";
    case EPIPE:
      return "reset";
    case EADDRNOTAVAIL:
      return "no port";
    case ETIMEDOUT:
      return "timeout";
    default:
      return std::strerror(e);
  }
}

int StartConnect(const AttackEnv& env, std::string& why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = ErrnoName(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  to.sin_port = htons(env.port);
  ::inet_pton(AF_INET, env.source.c_str(), &from.sin_addr);
  ::inet_pton(AF_INET, env.host.c_str(), &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)) {
    why = ErrnoName(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

/// StartConnect and wait (bounded) for it to complete.
int Connect(const AttackEnv& env, std::string& why) {
  const int fd = StartConnect(env, why);
  if (fd < 0) return -1;
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, kAttackTimeoutMs) != 1) {
    why = "connect timeout";
  } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    why = ErrnoName(err);
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

std::string UpgradeRequest(const AttackEnv& env) {
  return "GET /v1/ws HTTP/1.1\r\nHost: " + env.host + ":" + std::to_string(env.port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

/// A masked client frame with mask 0 (a valid mask: the payload goes as it is).
std::string Frame(uint8_t first_byte, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  f.append(4, '\0');
  f.append(payload);
  return f;
}

/// Writes all of `data` (bounded by kAttackTimeoutMs of no progress). False on error.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, kAttackTimeoutMs) != 1) return false;
    } else {
      return false;
    }
  }
  return true;
}

/// Reads what the socket holds now (without waiting), at most 1 MiB.
std::string Drain(int fd) {
  std::string in;
  char buf[16384];
  while (in.size() < (1u << 20)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

/// How the server's frames in `in` (after the HTTP head, if there is one) ended: "close CODE"
/// for a close frame, else `otherwise`.
std::string CloseCode(std::string_view in, const std::string& otherwise) {
  size_t at = 0;
  if (in.rfind("HTTP/", 0) == 0) {
    at = in.find("\r\n\r\n");
    if (at == std::string_view::npos) return otherwise;
    at += 4;
  }
  while (at + 2 <= in.size()) {
    const auto* p = reinterpret_cast<const uint8_t*>(in.data() + at);
    uint64_t len = p[1] & 0x7f;
    size_t header = 2;
    if (len == 126) {
      if (at + 4 > in.size()) break;
      len = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (at + 10 > in.size()) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
    }
    if ((p[0] & 0x0f) == 0x8 && len >= 2 && at + header + 2 <= in.size()) {
      return "close " + std::to_string((p[header] << 8) | p[header + 1]);
    }
    at += header + len;
  }
  return otherwise;
}

/// What followed the HTTP head in `head`.
std::string HeadRest(const std::string& head) {
  const size_t at = head.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : head.substr(at + 4);
}

}  // namespace parley::bench
