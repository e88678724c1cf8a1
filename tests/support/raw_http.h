#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "support/parleyd_process.h"

namespace parley::e2e {

/// A plain TCP connection to 127.0.0.1:port from a chosen loopback source address (127.0.0.x
/// are all local on Linux, so each stands for a different client IP), for bytes that the
/// HTTP clients would never send and for connections that just sit there. Every read is
/// bounded by a timeout. Not thread-safe.
class RawHttpConnection {
 public:
  /// Connects; connected() says whether that worked (errno text in error()).
  explicit RawHttpConnection(uint16_t port, std::string_view source = "127.0.0.1");
  ~RawHttpConnection();
  RawHttpConnection(RawHttpConnection&& other) noexcept;
  RawHttpConnection& operator=(RawHttpConnection&&) = delete;
  RawHttpConnection(const RawHttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }

  /// Writes all of `bytes`; false if the connection is gone.
  bool Send(std::string_view bytes);
  /// Reads until the peer closes (FIN or reset) or `timeout` passes; returns what arrived.
  /// closed() then says which it was.
  std::string ReadUntilClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Reads until what was received holds a complete response head ("\r\n\r\n"), the peer closes,
  /// or `timeout` passes; returns everything read.
  std::string ReadHead(std::chrono::milliseconds timeout = kDefaultTimeout);
  bool closed() const { return closed_; }
  void Close();

 private:
  // Reads until `done(received_)` holds, the peer closes, or `timeout` passes.
  template <class Done>
  std::string ReadUntil(std::chrono::milliseconds timeout, Done done);
  int fd_ = -1;
  bool closed_ = false;
  std::string error_;
  std::string received_;
};

/// The status code of the first response in `bytes` ("HTTP/1.1 400 ..." -> 400), 0 if none.
int StatusOf(std::string_view bytes);
/// How many responses `bytes` holds (counts status lines, wherever they start).
int CountResponses(std::string_view bytes);

/// CPU seconds (user + system) that process `pid` has used, from /proc/PID/stat.
double CpuSeconds(int pid);

}  // namespace parley::e2e
