#include "net/gateway.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <thread>

#include "api/json_fields.h"
#include "net/gateway_context.h"
#include "net/http_session.h"

namespace parley {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace net {

GatewayMetrics::GatewayMetrics(MetricsRegistry& registry)
    : http_requests(registry.AddCounter("parley_http_requests_total", "HTTP requests answered")),
      http_seconds(registry.AddHistogram("parley_http_request_seconds",
                                         "Time from a request's arrival to its reply written",
                                         LatencyBuckets())),
      http_connections(
          registry.AddGauge("parley_connections", "Open client connections", {{"kind", "http"}})),
      ws_connections(
          registry.AddGauge("parley_connections", "Open client connections", {{"kind", "ws"}})),
      ws_frames_in(registry.AddCounter("parley_ws_frames_received_total",
                                       "WebSocket messages received from clients")),
      ws_frames_out(
          registry.AddCounter("parley_ws_frames_sent_total", "WebSocket messages sent to clients")),
      ws_slow_consumers(
          registry.AddCounter("parley_ws_slow_consumers_total",
                              "Connections dropped because their outbound queue passed its bound")),
      unauthenticated(registry.AddGauge(
          "parley_connections_unauthenticated",
          "Open connections not (yet) authenticated: plain HTTP, and WebSockets before ready")),
      refused_per_ip(registry.AddCounter("parley_connections_refused_total",
                                         "Connections refused at accept, by the cap they hit",
                                         {{"reason", "per_ip"}})),
      refused_unauthenticated(registry.AddCounter(
          "parley_connections_refused_total", "Connections refused at accept, by the cap they hit",
          {{"reason", "unauthenticated"}})),
      refused_unauthenticated_per_ip(registry.AddCounter(
          "parley_connections_refused_total", "Connections refused at accept, by the cap they hit",
          {{"reason", "unauthenticated_per_ip"}})),
      refused_fd_exhausted(registry.AddCounter("parley_connections_refused_total",
                                               "Connections refused at accept, by the cap they hit",
                                               {{"reason", "fd_exhausted"}})),
      log_lines_suppressed(registry.AddCounter(
          "parley_log_lines_suppressed_total",
          "Repeated warnings (accept errors, refusals) held back by the log rate limit")) {
  for (int code = 0; code < 9; ++code) {
    errors[code] =
        &registry.AddCounter("parley_errors_total", "Errors answered to clients, by code",
                             {{"code", std::string(CodeName(static_cast<ErrorCode>(code)))}});
  }
  constexpr const char* kPolicyReasons[] = {"control_before_auth", "fragments", "rate_limited",
                                            "too_many_for_user", "too_many_for_device"};
  static_assert(std::size(kPolicyReasons) == static_cast<size_t>(PolicyClose::kCount));
  for (size_t i = 0; i < std::size(kPolicyReasons); ++i) {
    policy_closes[i] = &registry.AddCounter(
        "parley_ws_policy_closes_total",
        "WebSocket connections closed for breaking a limit of the gateway, by reason",
        {{"reason", kPolicyReasons[i]}});
  }
}

}  // namespace net

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kMinAcceptBackoff{10};
constexpr std::chrono::milliseconds kMaxAcceptBackoff{1000};

// A refusal written at accept time, before reading anything: one non-blocking send of bytes
// built once. The connection is closed right after, so a client that did not read it sees a
// closed connection, which is an acceptable answer too.
std::string CannedReply(int status, std::string_view reason, const Error& error) {
  const std::string body = ErrorBody(error);
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nServer: parleyd\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string& CapReply() {
  static const std::string reply = [] {
    Error error = Error::RateLimited(1000);
    error.message = "too many connections from this address; retry later";
    return CannedReply(429, "Too Many Requests", error);
  }();
  return reply;
}

const std::string& BusyReply() {
  static const std::string reply = CannedReply(
      503, "Service Unavailable", Error::Unavailable("server is out of connections; retry later"));
  return reply;
}

// Answers and closes a connection we will not serve: takes what the client sent already (so
// that the close is a FIN, not a reset that could destroy the reply), sends `reply`, closes.
void RefuseNow(int fd, const std::string& reply) {
  char scratch[4096];
  [[maybe_unused]] const ssize_t got = ::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
}

bool OutOfResources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// The key the client's connections count under (ConnectionLimits::KeyFor: the IPv4 address,
// or the IPv6 /64).
template <class Socket>
std::string ClientKey(const Socket& socket, boost::system::error_code& ec) {
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return {};
  return net::ConnectionLimits::KeyFor(remote.address().to_string());
}

Result<tcp::endpoint> Bind(tcp::acceptor& acceptor, const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Error::InvalidRequest("cannot parse listen address: " + host);
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  // Non-blocking, so that shedding a connection with ::accept4 can never block the thread.
  if (!ec) acceptor.non_blocking(true, ec);
  if (ec) {
    return Error::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                              ec.message());
  }
  return acceptor.local_endpoint();
}

}  // namespace

class Gateway::Impl {
 public:
  Impl(GatewayOptions options, const Router& router, const WsApi& ws_api, AuthService& auth,
       ConnectionHub& hub, MetricsRegistry& metrics, asio::thread_pool& pool)
      : workers_(static_cast<size_t>(std::max(1, options.threads))),
        context_{std::move(options),
                 router,
                 ws_api,
                 auth,
                 hub,
                 net::GatewayMetrics(metrics),
                 pool,
                 {},
                 {},
                 {},
                 {},
                 nullptr,
                 net::LogThrottle()},
        acceptor_(workers_[0].io),
        metrics_acceptor_(workers_[0].io),
        signals_(workers_[0].io, SIGTERM, SIGINT),
        drain_timer_(workers_[0].io) {
    context_.session_started = [this] { ++live_sessions_; };
    context_.session_ended = [this] {
      if (--live_sessions_ == 0 && context_.draining) StopAll();
    };
    const GatewayOptions& o = context_.options;
    limits_ = std::make_unique<net::ConnectionLimits>(
        net::ConnectionCaps{o.max_connections_per_ip, o.max_unauthenticated,
                            o.max_unauthenticated_per_ip},
        &context_.metrics.unauthenticated);
    context_.limits = limits_.get();
    for (const auto& [cap, value] :
         {std::pair{"per_ip", o.max_connections_per_ip},
          std::pair{"unauthenticated", o.max_unauthenticated},
          std::pair{"unauthenticated_per_ip", o.max_unauthenticated_per_ip}}) {
      metrics
          .AddGauge("parley_connection_cap", "Connection caps in force (0 = unlimited)",
                    {{"cap", cap}})
          .Set(static_cast<int64_t>(value));
    }
  }

  ~Impl() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }

  Result<uint16_t> Listen() {
    const GatewayOptions& o = context_.options;
    auto bound = Bind(acceptor_, o.host, o.port);
    if (!bound.ok()) return std::move(bound).error();
    // The Origin check compares against the port actually bound, so port 0 works too.
    context_.origins = net::OriginPolicy(o.public_origins.empty()
                                             ? net::DefaultPublicOrigins(o.host, bound->port())
                                             : o.public_origins,
                                         o.allowed_origins);
    if (o.metrics_port) {
      auto metrics_bound = Bind(metrics_acceptor_, o.metrics_host, *o.metrics_port);
      if (!metrics_bound.ok()) return std::move(metrics_bound).error();
      metrics_port_ = metrics_bound->port();
    }
    // Kept free so that, with every descriptor taken, the acceptor can still take a pending
    // connection off the queue and close it (see Shed) instead of seeing it again and again.
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return bound->port();
  }

  std::optional<uint16_t> MetricsPort() const { return metrics_port_; }

  void Run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {}: draining", signal);
      Drain();
    });
    asio::co_spawn(workers_[0].io, Accept(acceptor_, false), asio::detached);
    if (metrics_port_)
      asio::co_spawn(workers_[0].io, Accept(metrics_acceptor_, true), asio::detached);

    std::vector<std::thread> threads;
    for (size_t i = 1; i < workers_.size(); ++i) {
      threads.emplace_back([this, i] { RunWorker(workers_[i]); });
    }
    RunWorker(workers_[0]);
    for (auto& t : threads) t.join();
  }

  void Drain() {
    if (context_.draining.exchange(true)) return;
    asio::post(workers_[0].io, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      metrics_acceptor_.close(ec);
      signals_.cancel(ec);
      drain_timer_.expires_after(std::chrono::milliseconds(context_.options.drain_timeout_ms));
      drain_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (wait_ec) return;
        spdlog::warn("drain deadline passed with {} connections left; stopping",
                     live_sessions_.load());
        StopAll();
      });
      for (auto& worker : workers_) {
        asio::post(worker.io, [&worker] {
          // Copy: Shutdown may end a session, which erases it from the set.
          std::vector<net::Session*> sessions(worker.sessions.begin(), worker.sessions.end());
          for (net::Session* session : sessions) {
            if (worker.sessions.contains(session)) session->Shutdown();
          }
        });
      }
      if (live_sessions_ == 0) StopAll();
    });
  }

  bool Ready() const { return !context_.draining; }

 private:
  // `internal`: the metrics listener, which serves only the ops routes and is not subject to
  // the connection caps (it is for the operator, on an address the public cannot reach).
  asio::awaitable<void> Accept(tcp::acceptor& acceptor, bool internal) {
    size_t next = 0;
    std::chrono::milliseconds backoff = kMinAcceptBackoff;
    asio::steady_timer pause(workers_[0].io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(workers_[next].io, kTuple);
      if (ec) {
        if (!acceptor.is_open()) co_return;  // draining
        // Without a descriptor the pending connection stays queued and the next accept fails
        // at once: that loop was a core at 100% and a log line per turn. Shed it with the
        // reserve descriptor; when even that fails, wait (10 ms doubling to 1 s) for
        // descriptors to come back.
        const bool shed = OutOfResources(ec) && Shed(acceptor);
        if (OutOfResources(ec)) context_.metrics.refused_fd_exhausted.Inc();
        Warn(accept_log_, [&] {
          return "accept failed: " + ec.message() +
                 (shed ? " (a pending connection was shed with the reserve descriptor)" : "");
        });
        if (ec == asio::error::connection_aborted || shed) continue;
        pause.expires_after(backoff);
        co_await pause.async_wait(kTuple);
        backoff = std::min(backoff * 2, kMaxAcceptBackoff);
        continue;
      }
      backoff = kMinAcceptBackoff;
      net::ConnectionLimits::Ticket ticket;
      if (!internal) {
        const std::string ip = ClientKey(socket, ec);
        if (ec) continue;  // already gone
        net::ConnectionLimits::Refusal refusal = net::ConnectionLimits::Refusal::kNone;
        ticket = context_.limits->TryAcquire(ip, &refusal);
        if (!ticket) {
          CountRefusal(refusal);
          Warn(context_.refusal_log, [&] {
            return "refused a connection from " + ip + ": " +
                   std::string(net::ConnectionLimits::RefusalName(refusal)) + " cap reached";
          });
          RefuseNow(socket.release(), CapReply());
          continue;
        }
      }
      socket.set_option(tcp::no_delay(true), ec);
      net::Worker& worker = workers_[next];
      next = (next + 1) % workers_.size();
      asio::post(worker.io, [this, &worker, internal, socket = std::move(socket),
                             ticket = std::move(ticket)]() mutable {
        net::StartHttpSession(context_, worker, std::move(socket), std::move(ticket), internal);
      });
    }
  }

  // Frees the reserve descriptor, takes one pending connection and refuses it, and takes the
  // reserve back. On the acceptor's thread only.
  bool Shed(tcp::acceptor& acceptor) {
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (reserve_fd_ < 0) return false;
    ::close(reserve_fd_);
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) RefuseNow(fd, BusyReply());
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
  }

  void CountRefusal(net::ConnectionLimits::Refusal refusal) {
    using Refusal = net::ConnectionLimits::Refusal;
    switch (refusal) {
      case Refusal::kPerIp:
        context_.metrics.refused_per_ip.Inc();
        break;
      case Refusal::kUnauthenticated:
        context_.metrics.refused_unauthenticated.Inc();
        break;
      case Refusal::kUnauthenticatedPerIp:
        context_.metrics.refused_unauthenticated_per_ip.Inc();
        break;
      case Refusal::kNone:
        break;
    }
  }

  // Writes the line `message()` builds, unless the throttle holds it back (then it is only
  // counted, and not even built).
  template <class MakeMessage>
  void Warn(net::LogThrottle& throttle, MakeMessage message) {
    const std::optional<uint64_t> held_back = throttle.Allow();
    if (!held_back) {
      context_.metrics.log_lines_suppressed.Inc();
      return;
    }
    std::string line = message();
    if (*held_back > 0) line += " (" + std::to_string(*held_back) + " similar lines held back)";
    spdlog::warn("{}", line);
  }

  void RunWorker(net::Worker& worker) {
    auto guard = asio::make_work_guard(worker.io);
    worker.io.run();
  }

  void StopAll() {
    for (auto& worker : workers_) worker.io.stop();
  }

  // Before the workers: sessions that handlers still hold when the io_contexts are destroyed
  // release their tickets then.
  std::unique_ptr<net::ConnectionLimits> limits_;
  std::vector<net::Worker> workers_;
  net::GatewayContext context_;
  tcp::acceptor acceptor_;
  tcp::acceptor metrics_acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  std::atomic<int> live_sessions_{0};
  std::optional<uint16_t> metrics_port_;
  int reserve_fd_ = -1;  // the acceptors' thread only
  net::LogThrottle accept_log_;
};

Gateway::Gateway(GatewayOptions options, const Router& router, const WsApi& ws_api,
                 AuthService& auth, ConnectionHub& hub, MetricsRegistry& metrics,
                 asio::thread_pool& blocking_pool)
    : impl_(std::make_unique<Impl>(std::move(options), router, ws_api, auth, hub, metrics,
                                   blocking_pool)) {}

Gateway::~Gateway() = default;

Result<uint16_t> Gateway::Listen() { return impl_->Listen(); }
void Gateway::Run() { impl_->Run(); }
void Gateway::Drain() { impl_->Drain(); }
bool Gateway::Ready() const { return impl_->Ready(); }
std::optional<uint16_t> Gateway::MetricsPort() const { return impl_->MetricsPort(); }

}  // namespace parley
