#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <unordered_set>

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "net/gateway.h"

namespace parley::net {

/// Something a drain must end: an HTTP keep-alive connection or a WebSocket session.
class Session {
 public:
  virtual ~Session() = default;
  /// Called on the session's own thread when the server drains.
  virtual void Shutdown() = 0;
};

/// One io_context, its thread, and the sessions it owns. `sessions` is touched only on this
/// worker's thread, which is what lets a drain reach every connection without a lock.
struct Worker {
  boost::asio::io_context io{1};
  std::unordered_set<Session*> sessions;
};

/// The gateway's counters, registered once at start-up.
struct GatewayMetrics {
  explicit GatewayMetrics(MetricsRegistry& registry);

  Counter& http_requests;
  Histogram& http_seconds;
  Gauge& http_connections;
  Gauge& ws_connections;
  Counter& ws_frames_in;
  Counter& ws_frames_out;
  Counter& ws_slow_consumers;
  Counter* errors[9];  // by ErrorCode

  void CountError(ErrorCode code) { errors[static_cast<int>(code)]->Inc(); }
};

/// What every session needs from the gateway. Lives as long as the gateway; all members are
/// safe to use from any thread (the references are to thread-safe or read-only objects).
struct GatewayContext {
  GatewayOptions options;
  const Router& router;
  const WsApi& ws_api;
  AuthService& auth;
  ConnectionHub& hub;
  GatewayMetrics metrics;
  boost::asio::thread_pool& blocking_pool;
  std::atomic<bool> draining{false};
  /// Called on a session's thread when it begins and ends; the gateway counts live sessions
  /// to know when a drain is complete.
  std::function<void()> session_started;
  std::function<void()> session_ended;
};

}  // namespace parley::net
