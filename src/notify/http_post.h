#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley {

struct HttpPostReply {
  long status = 0;   // the HTTP status code
  std::string body;  // the first few KiB of the answer, for error messages
};

/// Sends one HTTP POST and waits for the answer. An interface so that the channels can be
/// tested without a network.
///
/// Thread-safety: Post may be called from several threads at once.
class HttpPoster {
 public:
  virtual ~HttpPoster() = default;
  /// kUnavailable when no answer came (connection refused, timeout, TLS failure); any answer,
  /// whatever its status, is a value.
  virtual Result<HttpPostReply> Post(const std::string& url,
                                     const std::vector<std::string>& headers,
                                     std::string_view body) = 0;
};

/// HttpPoster on libcurl. Only http and https, no redirects (a redirect is an answer: the
/// channel treats it as a failure), no proxy from the environment, bounded by `timeout_ms`;
/// a transfer in progress is abandoned as soon as `*abort` becomes true (shutdown).
class CurlPoster final : public HttpPoster {
 public:
  CurlPoster(int timeout_ms, const std::atomic<bool>* abort);
  Result<HttpPostReply> Post(const std::string& url, const std::vector<std::string>& headers,
                             std::string_view body) override;

 private:
  int timeout_ms_;
  const std::atomic<bool>* abort_;
};

}  // namespace parley
