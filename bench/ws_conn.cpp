#include "ws_conn.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cstring>

#include "base64.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; not in glibc's netinet/in.h
#endif

namespace parley::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr size_t kInitialBuffer = 4096;
constexpr size_t kMinReadSpace = 2048;
constexpr size_t kMaxHandshake = size_t{16} * 1024;
constexpr uint64_t kMaxMessage = 64ull << 20;  // history and sync replies can be large

uint64_t NextRandom(uint64_t& state) {  // xorshift64*: masks only need to vary, not be secret
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

asio::ip::address_v4 SourceAddress(uint32_t i, uint32_t count) {
  if (count <= 1) return asio::ip::address_v4::loopback();
  return asio::ip::address_v4((127u << 24) | (1u + i % count));
}

WsConn::WsConn(asio::io_context& io, WsHandler& handler, uint32_t index, int thread)
    : io_(io),
      handler_(handler),
      socket_(io),
      index_(index),
      thread_(thread),
      mask_state_(0x9E3779B97F4A7C15ull ^ (uint64_t{index} * 0xBF58476D1CE4E5B9ull) ^ 1) {}

void WsConn::Start(const tcp::endpoint& server, const asio::ip::address_v4& source,
                   const std::string& target, const std::string& host, std::string_view protocol) {
  state_ = State::kConnecting;
  in_.assign(kInitialBuffer, 0);
  in_begin_ = in_end_ = 0;
  boost::system::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec) {
    const int one = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket_.bind(tcp::endpoint(source, 0), ec);
  }
  if (ec) {
    // Fail asynchronously so that handlers never run inside the caller's Start.
    asio::post(io_, [self = shared_from_this()] { self->Fail("socket"); });
    return;
  }
  uint8_t key[16];
  for (int i = 0; i < 16; i += 8) {
    const uint64_t r = NextRandom(mask_state_);
    std::memcpy(key + i, &r, 8);
  }
  out_pending_ = "GET " + target + " HTTP/1.1\r\nHost: " + host +
                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                 Base64(std::string_view(reinterpret_cast<const char*>(key), 16)) +
                 "\r\nSec-WebSocket-Version: 13\r\n";
  if (!protocol.empty())
    out_pending_.append("Sec-WebSocket-Protocol: ").append(protocol).append("\r\n");
  out_pending_.append("\r\n");
  socket_.async_connect(server, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->state_ != State::kConnecting) return;
    if (ec) return self->Fail("connect");
    boost::system::error_code ignored;
    self->socket_.set_option(tcp::no_delay(true), ignored);
    self->state_ = State::kHandshake;
    self->Flush();
    self->ReadHandshake();
  });
}

void WsConn::EnsureTail(size_t want) {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_.size() - in_end_ >= want) return;
  if (in_begin_ > 0) {
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  if (in_.size() - in_end_ < want) in_.resize(std::max(in_.size() * 2, in_end_ + want));
}

void WsConn::ReadHandshake() {
  EnsureTail(kMinReadSpace);
  socket_.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            if (self->state_ != State::kHandshake) return;
                            if (ec) return self->Fail("handshake");
                            self->in_end_ += n;
                            const std::string_view head(self->in_.data(), self->in_end_);
                            const size_t end = head.find("\r\n\r\n");
                            if (end == std::string_view::npos) {
                              if (self->in_end_ > kMaxHandshake) return self->Fail("handshake");
                              return self->ReadHandshake();
                            }
                            if (!StartsWithNoCase(head, "HTTP/1.1 101"))
                              return self->Fail("upgrade refused");
                            self->in_begin_ = end + 4;
                            self->state_ = State::kOpen;
                            self->handler_.OnOpen(*self);
                            if (self->state_ != State::kOpen) return;
                            if (!self->ParseFrames()) return;
                            self->ReadFrames();
                          });
}

void WsConn::ReadFrames() {
  EnsureTail(kMinReadSpace);
  socket_.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            if (self->state_ != State::kOpen && self->state_ != State::kClosing) {
                              return;
                            }
                            if (ec) {
                              return self->Fail(ec == asio::error::eof ? "eof" : "read");
                            }
                            self->in_end_ += n;
                            if (!self->ParseFrames()) return;
                            self->ReadFrames();
                          });
}

bool WsConn::ParseFrames() {
  for (;;) {
    if (state_ != State::kOpen && state_ != State::kClosing) return false;
    const size_t avail = in_end_ - in_begin_;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + in_begin_);
    const bool fin = (p[0] & 0x80) != 0;
    const uint8_t opcode = p[0] & 0x0f;
    if ((p[1] & 0x80) != 0) {  // servers never mask (RFC 6455 5.1)
      Fail("protocol");
      return false;
    }
    uint64_t len = p[1] & 0x7f;
    size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
    }
    if (len > kMaxMessage) {
      Fail("too big");
      return false;
    }
    if (avail < header + len) {
      EnsureTail(header + len - avail);  // room for the rest of this frame
      break;
    }
    const std::string_view payload(in_.data() + in_begin_ + header, len);
    in_begin_ += header + len;
    switch (opcode) {
      case 0x1:  // text
      case 0x2:  // binary: the bench never expects one; hand it over like text
        if (fin) {
          handler_.OnText(*this, payload);
        } else {
          fragments_.assign(payload);
          in_fragment_ = true;
        }
        break;
      case 0x0:  // continuation
        if (!in_fragment_) {
          Fail("protocol");
          return false;
        }
        fragments_.append(payload);
        if (fin) {
          in_fragment_ = false;
          handler_.OnText(*this, fragments_);
        }
        break;
      case 0x8: {  // close
        int code = 1005;
        if (payload.size() >= 2) {
          code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
        }
        Fail("closed " + std::to_string(code));
        return false;
      }
      case 0x9:  // ping
        AppendFrame(0xA, payload);
        Flush();
        break;
      default:  // pong, or reserved: ignored
        break;
    }
  }
  return state_ == State::kOpen || state_ == State::kClosing;
}

void WsConn::AppendFrame(uint8_t opcode, std::string_view payload) {
  const size_t n = payload.size();
  uint8_t header[14];
  size_t h = 0;
  header[h++] = static_cast<uint8_t>(0x80 | opcode);
  if (n < 126) {
    header[h++] = static_cast<uint8_t>(0x80 | n);
  } else if (n < 65536) {
    header[h++] = 0x80 | 126;
    header[h++] = static_cast<uint8_t>(n >> 8);
    header[h++] = static_cast<uint8_t>(n);
  } else {
    header[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) header[h++] = static_cast<uint8_t>(uint64_t{n} >> (8 * i));
  }
  const auto mask = static_cast<uint32_t>(NextRandom(mask_state_));
  std::memcpy(header + h, &mask, 4);
  h += 4;
  const size_t at = out_pending_.size();
  out_pending_.append(reinterpret_cast<const char*>(header), h);
  out_pending_.append(payload);
  // XOR the payload in place, eight bytes at a time.
  char* data = out_pending_.data() + at + h;
  const uint64_t mask64 = (uint64_t{mask} << 32) | mask;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= mask64;
    std::memcpy(data + i, &word, 8);
  }
  const auto* mask_bytes = reinterpret_cast<const uint8_t*>(&mask);
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ mask_bytes[i & 3]);
}

void WsConn::SendText(std::string_view text) {
  if (state_ != State::kOpen) return;
  AppendFrame(0x1, text);
  Flush();
}

void WsConn::Close() {
  if (state_ != State::kOpen) return;
  const char code[2] = {static_cast<char>(1000 >> 8), static_cast<char>(1000 & 0xff)};
  AppendFrame(0x8, std::string_view(code, 2));
  state_ = State::kClosing;
  Flush();
}

void WsConn::Drop() {
  state_ = State::kEnded;
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void WsConn::Flush() {
  if (writing_ || out_pending_.empty()) return;
  writing_ = true;
  std::swap(out_pending_, out_inflight_);
  out_pending_.clear();
  asio::async_write(socket_, asio::buffer(out_inflight_),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      self->writing_ = false;
                      if (self->state_ == State::kEnded) return;
                      if (ec) return self->Fail("write");
                      self->Flush();
                    });
}

void WsConn::Fail(std::string_view why) {
  if (state_ == State::kEnded) return;
  state_ = State::kEnded;
  boost::system::error_code ignored;
  socket_.close(ignored);
  handler_.OnClosed(*this, why);
}

}  // namespace parley::bench
