#include "support/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace parley::e2e {

RawHttpConnection::RawHttpConnection(uint16_t port, std::string_view source) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::strerror(errno);
    return;
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  const std::string source_text(source);
  inet_pton(AF_INET, source_text.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    error_ = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

RawHttpConnection::~RawHttpConnection() { Close(); }

RawHttpConnection::RawHttpConnection(RawHttpConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      closed_(other.closed_),
      error_(std::move(other.error_)),
      received_(std::move(other.received_)) {}

void RawHttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawHttpConnection::Send(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return bytes.empty();
}

template <class Done>
std::string RawHttpConnection::ReadUntil(std::chrono::milliseconds timeout, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0 && !closed_ && !done(received_)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    std::array<char, 4096> chunk{};
    const ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;
      break;
    }
    received_.append(chunk.data(), static_cast<size_t>(n));
  }
  return received_;
}

std::string RawHttpConnection::ReadUntilClosed(std::chrono::milliseconds timeout) {
  return ReadUntil(timeout, [](const std::string&) { return false; });
}

std::string RawHttpConnection::ReadHead(std::chrono::milliseconds timeout) {
  return ReadUntil(timeout, [](const std::string& received) {
    return received.find("\r\n\r\n") != std::string::npos;
  });
}

int StatusOf(std::string_view bytes) {
  if (!bytes.starts_with("HTTP/1.") || bytes.size() < 12) return 0;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (bytes[i] < '0' || bytes[i] > '9') return 0;
    status = status * 10 + (bytes[i] - '0');
  }
  return status;
}

int CountResponses(std::string_view bytes) {
  // A status line is "HTTP/1.x NNN "; error messages may mention HTTP/1.1, never with a code.
  int count = 0;
  for (size_t at = bytes.find("HTTP/1."); at != std::string_view::npos;
       at = bytes.find("HTTP/1.", at + 1)) {
    if (StatusOf(bytes.substr(at)) != 0 && bytes.size() > at + 12 && bytes[at + 8] == ' ' &&
        bytes[at + 12] == ' ') {
      ++count;
    }
  }
  return count;
}

double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const size_t name_end = text.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > text.size()) return -1;
  std::istringstream rest(text.substr(name_end + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based 11, 12).
  if (fields.size() < 13) return -1;
  const double ticks = static_cast<double>(std::stoull(fields[11]) + std::stoull(fields[12]));
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace parley::e2e
