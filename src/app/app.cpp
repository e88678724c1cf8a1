#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/auth_api.h"
#include "api/chat_api.h"
#include "api/ops_api.h"
#include "auth/auth_service.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/rate_limiter.h"
#include "common/random.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "net/gateway.h"
#include "chat/chat_service.h"
#include "store/sqlite/sqlite_account_store.h"
#include "store/sqlite/sqlite_message_store.h"
#include "web/static_files.h"

namespace parley {

// Declaration order is construction order; destruction runs backwards, so everything is
// destroyed before what it uses: the gateway first, the stores last.
struct App::Parts {
  Config config;
  SystemClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<SqliteAccountStore> accounts;
  std::unique_ptr<SqliteMessageStore> messages;
  std::unique_ptr<PasswordHasher> hasher;
  std::unique_ptr<JwtSigner> signer;
  std::unique_ptr<RateLimiter> ip_limiter;
  std::unique_ptr<RateLimiter> username_limiter;
  std::unique_ptr<RateLimiter> send_limiter;
  std::unique_ptr<RateLimiter> typing_limiter;
  std::unique_ptr<AuthService> auth;
  ConnectionHub hub;
  std::unique_ptr<ChatService> chat;
  Router router;
  WsApi ws_api;
  // Storage reads and Argon2id never run on io threads. Each Argon2id call takes
  // argon2_mem_limit bytes, so the pool size also caps that memory.
  std::unique_ptr<boost::asio::thread_pool> blocking_pool;
  std::unique_ptr<Gateway> gateway;
};

namespace {

sqlite::Durability ParseDurability(const std::string& name) {
  if (name == "normal") return sqlite::Durability::kNormal;
  if (name == "off") return sqlite::Durability::kOff;
  return sqlite::Durability::kFull;
}

}  // namespace

Result<std::unique_ptr<App>> App::Create(const Config& config) {
  InitCrypto();
  if (!config.tls_cert.empty()) {
    // Refuse rather than silently serve plaintext to someone who asked for TLS.
    return Error::InvalidRequest(
        "tls_cert is set, but this build of parleyd does not terminate TLS yet: terminate TLS in "
        "a reverse proxy (nginx) in front of it and leave tls_cert and tls_key empty");
  }
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  Parts& p = *parts;

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    return Error::Internal("cannot create data dir " + config.data_dir + ": " + fs_error.message());
  }
  ::chmod(config.data_dir.c_str(), 0700);  // accounts and keys live here

  const std::string db_path = config.data_dir + "/parley.db";
  const sqlite::Durability durability = ParseDurability(config.durability);
  auto accounts = SqliteAccountStore::Open(db_path, durability);
  if (!accounts.ok()) return std::move(accounts).error();
  p.accounts = std::move(*accounts);
  auto messages = SqliteMessageStore::Open(db_path, durability);
  if (!messages.ok()) return std::move(messages).error();
  p.messages = std::move(*messages);

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

  auto listen = ParseHostPort(config.listen);
  if (!listen.ok()) return std::move(listen).error();
  GatewayOptions options;
  options.host = listen->host == "localhost" ? "127.0.0.1" : listen->host;
  options.port = listen->port;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.threads = config.threads > 0 ? config.threads : cores;
  options.max_body_bytes = config.max_body_bytes;
  options.max_frame_bytes = config.max_frame_bytes;
  options.max_write_queue_bytes = config.max_write_queue_bytes;
  options.handshake_timeout_ms = config.handshake_timeout_ms;
  options.auth_timeout_ms = config.auth_timeout_ms;
  options.http_idle_timeout_ms = config.http_idle_timeout_ms;
  options.heartbeat_ms = config.heartbeat_ms;
  options.drain_timeout_ms = config.drain_timeout_ms;
  options.allowed_origins = config.allowed_origins;
  options.frames_per_min = config.rate_frames_per_min;
  options.frames_burst = config.rate_frames_burst;

  ChatOptions chat_options;
  chat_options.max_body_bytes = config.max_message_bytes;
  chat_options.max_group_members = config.max_group_members;
  chat_options.receipt_fanout_max_members = config.receipt_fanout_max_members;
  p.chat = std::make_unique<ChatService>(*p.messages, *p.accounts, p.hub, p.clock, chat_options);
  p.send_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_send_per_min, config.rate_send_burst}, p.clock);
  p.typing_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_typing_per_min, config.rate_typing_burst}, p.clock);
  p.blocking_pool = std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(std::max(2, cores)));

  boost::asio::thread_pool* pool = p.blocking_pool.get();
  ChatApiDeps chat_deps{*p.chat, *p.auth, *p.send_limiter, *p.typing_limiter,
                        [pool](std::function<void()> job) { boost::asio::post(*pool, std::move(job)); }};
  // Logout and refresh-token reuse end the device's session: its open sockets go too.
  ConnectionHub* hub = &p.hub;
  p.auth->OnSessionRevoked([hub](const std::string& user_id, const std::string& device_id) {
    hub->CloseDevice(user_id, device_id, kCloseUnauthorized, "session revoked");
  });
  AddAuthRoutes(p.router, *p.auth);
  AddChatRoutes(p.router, chat_deps);
  AddSessionRequests(p.ws_api);
  AddChatRequests(p.ws_api, chat_deps);
  p.gateway = std::make_unique<Gateway>(options, p.router, p.ws_api, *p.auth, p.hub, p.metrics,
                                        *p.blocking_pool);
  Gateway* gateway = p.gateway.get();
  AddOpsRoutes(p.router, p.metrics, [gateway] { return gateway->Ready(); });
  if (!config.web_root.empty()) AddStaticFiles(p.router, config.web_root);
  return std::unique_ptr<App>(new App(std::move(parts)));
}

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
App::~App() = default;

Result<uint16_t> App::Listen() { return parts_->gateway->Listen(); }
void App::Run() {
  parts_->gateway->Run();
  // Jobs still on the pool finish before the services they call are destroyed.
  parts_->blocking_pool->join();
}

}  // namespace parley
