#include "support/raw_ws_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

template <typename T>
std::string Describe(const T& value) {
  std::ostringstream os;
  PrintTo(value, &os);
  return os.str();
}

// Tries to take one frame off the front of `rx`; false when it is not all there yet.
bool TakeServerFrame(std::string& rx, RawServerFrame& out) {
  if (rx.size() < 2) return false;
  const auto b0 = static_cast<uint8_t>(rx[0]);
  const auto b1 = static_cast<uint8_t>(rx[1]);
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (len == 126) {
    if (rx.size() < 4) return false;
    len = (uint64_t{static_cast<uint8_t>(rx[2])} << 8) | static_cast<uint8_t>(rx[3]);
    pos = 4;
  } else if (len == 127) {
    if (rx.size() < 10) return false;
    len = 0;
    for (size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(rx[i]);
    pos = 10;
  }
  const bool masked = (b1 & 0x80) != 0;
  uint8_t mask[4] = {0, 0, 0, 0};
  if (masked) {
    if (rx.size() < pos + 4) return false;
    std::memcpy(mask, rx.data() + pos, 4);
    pos += 4;
  }
  if (rx.size() - pos < len) return false;
  out = RawServerFrame{};
  out.kind = RawServerFrame::Kind::kFrame;
  out.fin = (b0 & 0x80) != 0;
  out.rsv = static_cast<uint8_t>((b0 >> 4) & 0x7);
  out.opcode = b0 & 0x0F;
  out.masked = masked;
  out.payload = rx.substr(pos, static_cast<size_t>(len));
  if (masked) {
    for (size_t i = 0; i < out.payload.size(); ++i)
      out.payload[i] ^= static_cast<char>(mask[i % 4]);
  }
  rx.erase(0, pos + static_cast<size_t>(len));
  return true;
}

}  // namespace

// ---- frames ------------------------------------------------------------------------------------

std::string EncodeClientFrame(const RawFrameSpec& spec) {
  std::string out;
  out.push_back(
      static_cast<char>((spec.fin ? 0x80 : 0) | ((spec.rsv & 0x7) << 4) | (spec.opcode & 0x0F)));
  const uint8_t mask_bit = spec.masked ? 0x80 : 0;
  const uint64_t len = spec.payload.size();
  if (len < 126 && !spec.force_16bit_length) {
    out.push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  }
  if (!spec.masked) return out + spec.payload;
  out.append(reinterpret_cast<const char*>(spec.mask.data()), spec.mask.size());
  const size_t start = out.size();
  out += spec.payload;
  for (size_t i = 0; i < spec.payload.size(); ++i) {
    out[start + i] = static_cast<char>(out[start + i] ^ spec.mask[i % 4]);
  }
  return out;
}

std::string TextFrame(std::string_view text, bool fin) {
  return EncodeClientFrame({.opcode = ws_op::kText, .payload = std::string(text), .fin = fin});
}

std::string ContinuationFrame(std::string_view bytes, bool fin) {
  return EncodeClientFrame(
      {.opcode = ws_op::kContinuation, .payload = std::string(bytes), .fin = fin});
}

std::string PingFrame(std::string_view payload) {
  return EncodeClientFrame({.opcode = ws_op::kPing, .payload = std::string(payload)});
}

std::string CloseFrame(int code, std::string_view reason) {
  std::string payload;
  if (code >= 0) {
    payload.push_back(static_cast<char>((code >> 8) & 0xFF));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload += reason;
  }
  return EncodeClientFrame({.opcode = ws_op::kClose, .payload = std::move(payload)});
}

std::string ExpectedAcceptKey(std::string_view key) {
  const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 failed");
  }
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

// ---- outcomes ----------------------------------------------------------------------------------

int RawServerFrame::CloseCode() const {
  if (!IsClose()) return -1;
  if (payload.size() < 2) return 1005;
  return (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
}

boost::json::value RawServerFrame::Json() const {
  if (!IsText()) return nullptr;
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(payload, ec);
  return ec ? boost::json::value() : v;
}

std::string RawServerFrame::Type() const {
  const boost::json::value v = Json();
  const auto* object = v.if_object();
  const auto* type = object ? object->if_contains("type") : nullptr;
  return type && type->is_string() ? std::string(type->as_string()) : "";
}

void PrintTo(const RawServerFrame& frame, std::ostream* os) {
  switch (frame.kind) {
    case RawServerFrame::Kind::kTimeout:
      *os << "nothing before the deadline";
      if (!frame.error.empty()) *os << " (" << frame.error << ")";
      return;
    case RawServerFrame::Kind::kEof:
      *os << "end of stream (" << frame.error << ")";
      return;
    case RawServerFrame::Kind::kFrame:
      break;
  }
  *os << "frame opcode 0x" << std::hex << int{frame.opcode} << std::dec << " fin=" << frame.fin
      << " rsv=" << int{frame.rsv} << " masked=" << frame.masked;
  if (frame.IsClose()) {
    *os << " close code " << frame.CloseCode();
    if (frame.payload.size() > 2) *os << " reason \"" << frame.payload.substr(2) << "\"";
  } else if (frame.opcode == ws_op::kBinary) {
    *os << " (" << frame.payload.size() << " bytes)";
  } else {
    constexpr size_t kMaxShown = 500;
    *os << " payload \"" << frame.payload.substr(0, kMaxShown)
        << (frame.payload.size() > kMaxShown ? "...\"" : "\"");
  }
}

std::string RawHandshake::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (IEquals(key, name)) return value;
  }
  return "";
}

void PrintTo(const RawHandshake& handshake, std::ostream* os) {
  *os << "HTTP " << handshake.status;
  if (!handshake.error.empty()) *os << " (" << handshake.error << ")";
  for (const auto& [key, value] : handshake.headers) *os << "\n  " << key << ": " << value;
  if (!handshake.body.empty()) *os << "\n  " << handshake.body;
}

// ---- the client --------------------------------------------------------------------------------

RawWsClient::RawWsClient(uint16_t port) : port_(port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A loopback connect to a listening port completes at once (or is refused): no hang.
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect to port " + std::to_string(port) + ": " + error);
  }
}

RawWsClient::~RawWsClient() {
  if (fd_ >= 0) ::close(fd_);
}

RawWsClient::RawWsClient(RawWsClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      port_(other.port_),
      rx_(std::move(other.rx_)),
      eof_(other.eof_),
      eof_error_(std::move(other.eof_error_)) {}

std::string RawWsClient::UpgradeRequest(uint16_t port, std::string_view key,
                                        std::string_view version) {
  std::string request = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (!key.empty()) request += "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
  request += "Sec-WebSocket-Version: " + std::string(version) + "\r\n\r\n";
  return request;
}

RawHandshake RawWsClient::SendHandshake(std::string_view request,
                                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  SendRaw(request);
  RawHandshake out;
  size_t head_end = std::string::npos;
  while ((head_end = rx_.find("\r\n\r\n")) == std::string::npos) {
    if (eof_) {
      out.error = "stream ended before the response head: " + eof_error_;
      return out;
    }
    std::string error;
    if (ReadSome(deadline, error) == -1) {
      out.error = "timeout waiting for the response head";
      return out;
    }
  }
  const std::string head = rx_.substr(0, head_end);
  rx_.erase(0, head_end + 4);
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  // "HTTP/1.1 101 Switching Protocols"
  const size_t space = line.find(' ');
  if (line.rfind("HTTP/1.", 0) != 0 || space == std::string::npos) {
    out.error = "not an HTTP status line: " + line;
    return out;
  }
  out.status = std::atoi(line.c_str() + space + 1);
  while (std::getline(lines, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    out.headers.emplace_back(Trim(std::string_view(line).substr(0, colon)),
                             Trim(std::string_view(line).substr(colon + 1)));
  }
  if (out.status == 101) return out;  // what follows is WebSocket frames
  const size_t body_bytes = static_cast<size_t>(std::atoll(out.Header("Content-Length").c_str()));
  while (rx_.size() < body_bytes && !eof_) {
    std::string error;
    if (ReadSome(deadline, error) == -1) {
      out.error = "timeout waiting for the response body";
      break;
    }
  }
  out.body = rx_.substr(0, std::min(body_bytes, rx_.size()));
  rx_.erase(0, out.body.size());
  boost::json::error_code ec;
  out.json = boost::json::parse(out.body, ec);
  if (ec) out.json = nullptr;
  return out;
}

void RawWsClient::Upgrade(std::string_view key) {
  const RawHandshake response = SendHandshake(UpgradeRequest(port_, key));
  if (response.status != 101 || response.Header("Sec-WebSocket-Accept") != ExpectedAcceptKey(key)) {
    throw std::runtime_error("WebSocket upgrade refused or wrong: " + Describe(response));
  }
}

void RawWsClient::Authenticate(std::string_view token) {
  SendRaw(
      TextFrame(boost::json::serialize(boost::json::object{{"type", "auth"}, {"token", token}})));
  const RawServerFrame reply = Next();
  if (reply.Type() != "ready") throw std::runtime_error("auth got " + Describe(reply));
}

void RawWsClient::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void RawWsClient::SendInPieces(std::string_view bytes, size_t piece) {
  while (!bytes.empty()) {
    const size_t n = std::min(piece, bytes.size());
    SendRaw(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

void RawWsClient::SendJsonPing(const boost::json::value& id) {
  SendRaw(TextFrame(boost::json::serialize(boost::json::object{{"type", "ping"}, {"id", id}})));
}

int RawWsClient::ReadSome(Clock::time_point deadline, std::string& error) {
  char buffer[kReadChunk];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return -1;
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return -1;
    if (ready < 0) {
      error = std::string("poll: ") + std::strerror(errno);
      eof_ = true;
      eof_error_ = error;
      return -2;
    }
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("recv: ") + std::strerror(errno);
      eof_ = true;
      eof_error_ = error;
      return -2;
    }
    if (n == 0) {
      eof_ = true;
      eof_error_ = "end of stream";
      return 0;
    }
    rx_.append(buffer, static_cast<size_t>(n));
    return 1;
  }
}

RawServerFrame RawWsClient::Next(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  RawServerFrame out;
  for (;;) {
    if (TakeServerFrame(rx_, out)) return out;
    if (eof_) {
      out = RawServerFrame{};
      out.kind = RawServerFrame::Kind::kEof;
      out.error = eof_error_;
      if (!rx_.empty()) out.error += " (after " + std::to_string(rx_.size()) + " stray bytes)";
      return out;
    }
    std::string error;
    if (ReadSome(deadline, error) == -1) {
      out = RawServerFrame{};
      out.kind = RawServerFrame::Kind::kTimeout;
      if (!rx_.empty()) out.error = std::to_string(rx_.size()) + " bytes of a partial frame";
      return out;
    }
  }
}

RawServerFrame RawWsClient::ExpectCloseThenEof(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  RawServerFrame close;
  bool seen_close = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    RawServerFrame frame = Next(std::max(left, std::chrono::milliseconds(0)));
    switch (frame.kind) {
      case RawServerFrame::Kind::kFrame:
        if (!seen_close && frame.IsClose()) {
          seen_close = true;
          close = std::move(frame);
        } else if (seen_close && close.error.empty()) {
          close.error = "a frame after the close frame: " + Describe(frame);
        }
        continue;
      case RawServerFrame::Kind::kEof:
        return seen_close ? close : frame;
      case RawServerFrame::Kind::kTimeout:
        if (seen_close) frame.error = "a close frame came but the stream did not end";
        return frame;
    }
  }
}

}  // namespace parley::e2e
