#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/parleyd_process.h"

namespace parley::e2e {

/// One request as the receiver read it. Header names are lower-case.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;
  std::string body;

  std::string Header(std::string_view name) const;
};

/// A local HTTP server on 127.0.0.1, port 0, standing in for a webhook receiver or a push
/// service. It records every request and answers as told:
///   HttpReceiver hook;
///   hook.FailNext(2);                      // 500, 500, then the default (200)
///   auto got = hook.WaitFor(3);            // blocks until three requests have arrived
/// Hold() makes it read and record requests without answering until Release(status), so a
/// test can act (mark read, kill parleyd) while a delivery is in flight.
///
/// Each connection is served by a thread of its own and answered with Connection: close.
/// Thread-safe; the destructor closes everything and joins.
class HttpReceiver {
 public:
  explicit HttpReceiver(int default_status = 200);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  std::string Url(std::string_view path) const;

  /// The next `n` requests are answered `status`.
  void FailNext(int n, int status = 500);
  void Hold();
  /// Answers every held request with `status` and stops holding.
  void Release(int status);

  /// Waits until at least `n` requests have arrived and returns all of them so far; throws
  /// std::runtime_error on timeout (with what did arrive).
  std::vector<ReceivedRequest> WaitFor(size_t n,
                                       std::chrono::milliseconds timeout = kDefaultTimeout);
  std::vector<ReceivedRequest> Requests() const;

 private:
  struct Impl;
  void AcceptLoop();
  void Serve(int fd);

  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  int default_status_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ReceivedRequest> requests_;  // guarded by mu_
  int fail_left_ = 0;                      // guarded by mu_
  int fail_status_ = 500;                  // guarded by mu_
  bool hold_ = false;                      // guarded by mu_
  int release_status_ = 200;               // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::vector<int> open_fds_;              // guarded by mu_
  std::vector<std::thread> connections_;   // guarded by mu_
  std::thread acceptor_;
};

}  // namespace parley::e2e
