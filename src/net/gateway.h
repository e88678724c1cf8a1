#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "common/status.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"

namespace parley {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 1;  // io_context threads, one io_context each
  uint64_t max_body_bytes = 64 * 1024;
  uint64_t max_frame_bytes = 64 * 1024;
  uint64_t max_write_queue_bytes = 4 << 20;
  int handshake_timeout_ms = 10'000;
  int auth_timeout_ms = 10'000;
  int http_idle_timeout_ms = 60'000;
  int heartbeat_ms = 30'000;
  int drain_timeout_ms = 5'000;
  std::vector<std::string> allowed_origins;  // empty: same host (or no Origin) only
  double frames_per_min = 6000;              // per connection; refused frames get rate_limited
  double frames_burst = 200;
  double control_frames_per_min = 600;  // pings and pongs per connection; refused: no pong
  double control_frames_burst = 30;
  int max_message_fragments = 64;  // frames of one fragmented message; more closes with 1008
  size_t max_ws_per_user = 50;     // authenticated WebSockets of one user on this node (0: any)
  size_t max_ws_per_device = 10;   // ... of one device (its browser tabs share it)
};

/// The HTTP + WebSocket front door: one port, one io_context per thread, each connection
/// owned by the io_context it was handed to (round robin) and touched only on that thread. Requests
/// go to the Router (HTTP) or, after `auth`, to the WsApi.
///
/// Lifecycle: construct, Listen() (binds; start-up errors come back here), Run() (blocks
/// until drained or stopped). SIGTERM/SIGINT, or Drain() from any thread, stop accepting,
/// close WebSockets with 1001, let in-flight HTTP requests finish, and return from Run()
/// once every connection is gone or drain_timeout_ms has passed.
class Gateway {
 public:
  /// `blocking_pool` runs the handlers that touch storage or hash passwords; its owner joins
  /// it after Run() returns.
  Gateway(GatewayOptions options, const Router& router, const WsApi& ws_api, AuthService& auth,
          ConnectionHub& hub, MetricsRegistry& metrics, boost::asio::thread_pool& blocking_pool);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Binds and listens. Returns the bound port (useful with port 0).
  Result<uint16_t> Listen();
  /// Serves until drained. Call once, after Listen().
  void Run();
  /// Starts a graceful shutdown. Thread-safe, idempotent.
  void Drain();
  /// True until a drain starts: /readyz reports it.
  bool Ready() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley
