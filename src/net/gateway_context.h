#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>
#include <vector>

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "net/connection_limits.h"
#include "net/gateway.h"
#include "net/log_throttle.h"
#include "net/origin.h"

namespace parley::net {

/// Something a drain must end: an HTTP keep-alive connection or a WebSocket session.
class Session {
 public:
  virtual ~Session() = default;
  /// Called on the session's own thread when the server drains.
  virtual void Shutdown() = 0;
};

/// A connection that takes outgoing frames on its worker's thread (the WebSocket session).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  /// Queues a frame; it goes out with the next flush.
  virtual void Enqueue(Frame frame) = 0;
  /// Writes everything queued, in one gathered send where the socket takes it.
  virtual void Flush() = 0;
};

/// One io_context, its thread, and the sessions it owns. `sessions` is touched only on this
/// worker's thread, which is what lets a drain reach every connection without a lock.
///
/// Frames from other threads (Connection::Deliver) wait in `inbox` and are taken by one
/// handler per burst, so a fan-out costs one thread hop per worker, not one per recipient.
/// Sessions with frames queued wait in `to_flush` until the end of the current burst of
/// handlers, so everything queued for a connection meanwhile leaves in one send.
struct Worker {
  boost::asio::io_context io{1};
  std::unordered_set<Session*> sessions;

  std::mutex inbox_mu;
  std::vector<std::pair<std::shared_ptr<FrameSink>, Frame>> inbox;  // GUARDED_BY(inbox_mu)
  bool inbox_posted = false;                                        // GUARDED_BY(inbox_mu)

  // This worker's thread only.
  std::vector<std::pair<std::shared_ptr<FrameSink>, Frame>> inbox_taken;
  std::vector<std::shared_ptr<FrameSink>> to_flush;
  bool flush_posted = false;
  std::unique_ptr<uint8_t[]> read_scratch;  // shared by the sessions: one read at a time
};

/// Why the gateway closed a WebSocket that broke one of its limits (parley_ws_policy_closes_total).
enum class PolicyClose {
  kControlBeforeAuth,  // more control frames before `ready` than an honest client sends
  kFragments,          // more fragments in one message than max_message_fragments
  kRateLimited,        // kept sending far over its frame budgets (4429)
  kTooManyForUser,     // past max_ws_per_user (4429)
  kTooManyForDevice,   // past max_ws_per_device (4429)
  kCount
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
  Counter* policy_closes[static_cast<int>(PolicyClose::kCount)];
  Gauge& unauthenticated;
  Counter& refused_per_ip;
  Counter& refused_unauthenticated;
  Counter& refused_unauthenticated_per_ip;
  Counter& refused_fd_exhausted;
  Counter& log_lines_suppressed;

  void CountError(ErrorCode code) { errors[static_cast<int>(code)]->Inc(); }
  void CountPolicyClose(PolicyClose why) { policy_closes[static_cast<int>(why)]->Inc(); }
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
  /// Set by Listen(), before any session starts; immutable after.
  OriginPolicy origins;
  ConnectionLimits* limits = nullptr;  // owned by the gateway; outlives every session
  /// Repeated per-connection warnings (refusals, accept errors) go through this.
  LogThrottle refusal_log;
};

}  // namespace parley::net
