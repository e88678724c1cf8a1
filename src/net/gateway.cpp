#include "net/gateway.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <thread>

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
      ws_slow_consumers(registry.AddCounter(
          "parley_ws_slow_consumers_total",
          "Connections dropped because their outbound queue passed its bound")) {
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

class Gateway::Impl {
 public:
  Impl(GatewayOptions options, const Router& router, const WsApi& ws_api, AuthService& auth,
       ConnectionHub& hub, MetricsRegistry& metrics, asio::thread_pool& pool)
      : workers_(static_cast<size_t>(std::max(1, options.threads))),
        context_{std::move(options),           router, ws_api, auth, hub,
                 net::GatewayMetrics(metrics), pool,   {},     {},   {}},
        acceptor_(workers_[0].io),
        signals_(workers_[0].io, SIGTERM, SIGINT),
        drain_timer_(workers_[0].io) {
    context_.session_started = [this] { ++live_sessions_; };
    context_.session_ended = [this] {
      if (--live_sessions_ == 0 && context_.draining) StopAll();
    };
  }

  Result<uint16_t> Listen() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(context_.options.host, ec);
    if (ec) return Error::InvalidRequest("cannot parse listen address: " + context_.options.host);
    const tcp::endpoint endpoint(address, context_.options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error::Unavailable("cannot listen on " + context_.options.host + ":" +
                                std::to_string(context_.options.port) + ": " + ec.message());
    }
    return acceptor_.local_endpoint().port();
  }

  void Run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {}: draining", signal);
      Drain();
    });
    asio::co_spawn(workers_[0].io, Accept(), asio::detached);

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
  asio::awaitable<void> Accept() {
    size_t next = 0;
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(workers_[next].io, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (!acceptor_.is_open()) co_return;  // draining
        // EMFILE and friends: log and keep accepting; the connection that failed is gone.
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      net::Worker& worker = workers_[next];
      next = (next + 1) % workers_.size();
      asio::post(worker.io, [this, &worker, socket = std::move(socket)]() mutable {
        net::StartHttpSession(context_, worker, std::move(socket));
      });
    }
  }

  void RunWorker(net::Worker& worker) {
    auto guard = asio::make_work_guard(worker.io);
    worker.io.run();
  }

  void StopAll() {
    for (auto& worker : workers_) worker.io.stop();
  }

  std::vector<net::Worker> workers_;
  net::GatewayContext context_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  std::atomic<int> live_sessions_{0};
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

}  // namespace parley
