#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <optional>
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
  // WebSocket Origin check (net/origin.h): the server's own origins (empty: derived from the
  // listen address and the bound port) and other pages' origins allowed to connect.
  std::vector<std::string> public_origins;
  std::vector<std::string> allowed_origins;
  double frames_per_min = 6000;  // per connection; refused frames get rate_limited
  double frames_burst = 200;
  double control_frames_per_min = 600;  // pings and pongs per connection; refused: no pong
  double control_frames_burst = 30;
  int max_message_fragments = 64;  // frames of one fragmented message; more closes with 1008
  size_t max_ws_per_user = 50;     // authenticated WebSockets of one user on this node (0: any)
  size_t max_ws_per_device = 10;   // ... of one device (its browser tabs share it)
  // Connection caps (net/connection_limits.h); 0 = unlimited.
  size_t max_connections_per_ip = 256;
  size_t max_unauthenticated = 2048;
  size_t max_unauthenticated_per_ip = 64;
  // /metrics: served on its own listener when metrics_port is set (metrics_host:metrics_port,
  // port 0 picks one), and on the public listener only with `Authorization: Bearer
  // <metrics_token>` when a token is set; otherwise the public listener answers 404.
  std::string metrics_host;
  std::optional<uint16_t> metrics_port;
  std::string metrics_token;
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

  /// Binds and listens (and the metrics listener, when configured). Returns the bound port
  /// (useful with port 0).
  Result<uint16_t> Listen();
  /// The metrics listener's bound port; nullopt when there is none. After Listen().
  std::optional<uint16_t> MetricsPort() const;
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
