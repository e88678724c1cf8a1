#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <thread>

#include "api/auth_api.h"
#include "api/ops_api.h"
#include "auth/auth_service.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/rate_limiter.h"
#include "common/random.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "net/gateway.h"
#include "store/sqlite/sqlite_account_store.h"

namespace parley {

struct App::Parts {
  Config config;
  SystemClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<SqliteAccountStore> accounts;
  std::unique_ptr<PasswordHasher> hasher;
  std::unique_ptr<JwtSigner> signer;
  std::unique_ptr<RateLimiter> ip_limiter;
  std::unique_ptr<RateLimiter> username_limiter;
  std::unique_ptr<AuthService> auth;
  ConnectionHub hub;
  Router router;
  WsApi ws_api;
  std::unique_ptr<Gateway> gateway;
};

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Error::InvalidRequest("listen must be HOST:PORT, got " + listen);
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  const char* begin = listen.data() + colon + 1;
  const char* end = listen.data() + listen.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || begin == end || port > 65535) {
    return Error::InvalidRequest("listen must be HOST:PORT, got " + listen);
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<std::unique_ptr<App>> App::Create(const Config& config) {
  InitCrypto();
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  Parts& p = *parts;

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    return Error::Internal("cannot create data dir " + config.data_dir + ": " + fs_error.message());
  }
  ::chmod(config.data_dir.c_str(), 0700);  // accounts and keys live here

  auto accounts = SqliteAccountStore::Open(config.data_dir + "/parley.db");
  if (!accounts.ok()) return std::move(accounts).error();
  p.accounts = std::move(*accounts);

  auto key = LoadOrCreateKey(config.data_dir + "/jwt.key");
  if (!key.ok()) return std::move(key).error();
  p.signer = std::make_unique<JwtSigner>(*key, p.clock);
  p.hasher = std::make_unique<PasswordHasher>(
      PasswordParams{config.argon2_ops_limit, static_cast<size_t>(config.argon2_mem_limit)});
  p.ip_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_auth_ip_per_min, config.rate_auth_ip_burst}, p.clock);
  p.username_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_auth_user_per_min, config.rate_auth_user_burst}, p.clock);
  p.auth = std::make_unique<AuthService>(
      *p.accounts, *p.hasher, *p.signer, *p.ip_limiter, *p.username_limiter, p.clock,
      AuthService::Options{config.access_token_ttl_s, config.refresh_token_ttl_s});

  auto listen = SplitHostPort(config.listen);
  if (!listen.ok()) return std::move(listen).error();
  GatewayOptions options;
  options.host = listen->first;
  options.port = listen->second;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.threads = config.threads > 0 ? config.threads : cores;
  options.blocking_threads = std::max(2, cores);
  options.max_body_bytes = config.max_body_bytes;
  options.max_frame_bytes = config.max_frame_bytes;
  options.max_write_queue_bytes = config.max_write_queue_bytes;
  options.handshake_timeout_ms = config.handshake_timeout_ms;
  options.auth_timeout_ms = config.auth_timeout_ms;
  options.http_idle_timeout_ms = config.http_idle_timeout_ms;
  options.heartbeat_ms = config.heartbeat_ms;
  options.drain_timeout_ms = config.drain_timeout_ms;
  options.allowed_origins = config.allowed_origins;

  AddAuthRoutes(p.router, *p.auth, p.hub);
  AddSessionRequests(p.ws_api);
  p.gateway = std::make_unique<Gateway>(options, p.router, p.ws_api, *p.auth, p.hub, p.metrics);
  Gateway* gateway = p.gateway.get();
  AddOpsRoutes(p.router, p.metrics, [gateway] { return gateway->Ready(); });
  return std::unique_ptr<App>(new App(std::move(parts)));
}

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
App::~App() = default;

Result<uint16_t> App::Listen() { return parts_->gateway->Listen(); }
void App::Run() { parts_->gateway->Run(); }

}  // namespace parley
