#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/auth_api.h"
#include "api/chat_api.h"
#include "api/notify_api.h"
#include "api/ops_api.h"
#include "api/presence_api.h"
#include "api/social_api.h"
#include "auth/auth_service.h"
#include "auth/jwt.h"
#include "auth/login_guard.h"
#include "auth/password.h"
#include "auth/rate_limiter.h"
#include "chat/chat_service.h"
#include "common/random.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "net/gateway.h"
#include "notify/channels.h"
#include "notify/dispatcher.h"
#include "notify/http_post.h"
#include "notify/notifier.h"
#include "notify/sqlite/sqlite_job_queue.h"
#include "notify/sqlite/sqlite_notify_store.h"
#include "presence/local/local_presence_store.h"
#include "presence/presence_service.h"
#include "store/sqlite/sqlite_account_store.h"
#include "store/sqlite/sqlite_last_seen_store.h"
#include "store/sqlite/sqlite_message_store.h"
#include "store/sqlite/sqlite_privacy_store.h"
#include "store/sqlite/store_maintenance.h"
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
  std::unique_ptr<SqlitePrivacyStore> privacy;
  // Purges erased text on a schedule and watches the disk; uses `messages` and `metrics`.
  std::unique_ptr<StoreMaintenance> maintenance;
  std::unique_ptr<PasswordHasher> hasher;
  std::unique_ptr<JwtSigner> signer;
  std::unique_ptr<LoginGuard> login_guard;
  std::unique_ptr<RateLimiter> refresh_limiter;
  std::unique_ptr<RateLimiter> send_limiter;
  std::unique_ptr<RateLimiter> typing_limiter;
  std::unique_ptr<RateLimiter> create_limiter;  // conversations created, per user
  std::unique_ptr<RateLimiter> member_limiter;  // members added, per user
  std::unique_ptr<RateLimiter> search_limiter;
  std::unique_ptr<AuthService> auth;
  ConnectionHub hub;
  // Presence. After the hub it observes, before `chat`: it hears the sequencer's commits
  // (through the message store) until the chat service is gone, and the gateway's last Remove.
  std::unique_ptr<SqliteLastSeenStore> last_seen;
  std::unique_ptr<LocalPresenceStore> presence_store;
  std::unique_ptr<PresenceService> presence;
  // Notifications. Declared before `chat`, whose commit listener feeds the notifier and which
  // finishes its queued commands when destroyed; the dispatcher outlives the notifier that
  // wakes it, and the channels outlive the dispatcher's workers.
  std::unique_ptr<SqliteJobQueue> jobs;
  std::unique_ptr<SqliteNotifyStore> notify_store;
  std::optional<push::VapidKey> vapid;
  std::unique_ptr<CurlPoster> http;
  std::unique_ptr<Composer> composer;
  std::unique_ptr<WebhookChannel> webhook;
  std::unique_ptr<WebPushChannel> webpush;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<Notifier> notifier;
  Router router;
  WsApi ws_api;
  // Storage and Argon2id never run on io threads, and each kind of work has its own pool so
  // that none can starve another (a login flood cannot delay a bystander's reads):
  // `blocking_pool` runs storage reads (and is the gateway's default pool), `write_pool`
  // storage writes, `hash_pool` Argon2id behind a bounded queue (Router::PoolFor). Each
  // Argon2id call takes argon2_mem_limit bytes, so the hashing pool's size caps that memory.
  std::unique_ptr<boost::asio::thread_pool> blocking_pool;
  std::unique_ptr<boost::asio::thread_pool> write_pool;
  std::unique_ptr<boost::asio::thread_pool> hash_pool;
  std::unique_ptr<Gateway> gateway;
  // Group adds and invitations (issue 17 #6); used by `chat`, so declared before it.
  std::unique_ptr<GroupAddPolicy> group_adds;
  // Declared last so that it is destroyed first: ~ChatService finishes the commands still
  // queued and answers them through connections whose io_contexts the gateway owns (stopped,
  // but alive until the gateway goes). Everything it uses is declared above.
  std::unique_ptr<ChatService> chat;
};

namespace {

// Every store shares this one file: one schema version, one WAL.
std::string DatabasePath(const Config& config) { return config.data_dir + "/parley.db"; }

sqlite::Durability ParseDurability(const std::string& name) {
  if (name == "normal") return sqlite::Durability::kNormal;
  if (name == "off") return sqlite::Durability::kOff;
  return sqlite::Durability::kFull;
}

// The durable queue, the rules and the delivery channels; the notifier listens to the chat
// service's commits. See docs/ARCHITECTURE.md, "Notifications". A template only because
// App::Parts is private to App.
template <class Parts>
Status StartNotifications(Parts& p) {
  const Config& config = p.config;
  const std::string db_path = DatabasePath(config);
  const sqlite::Durability durability = ParseDurability(config.durability);
  auto jobs = SqliteJobQueue::Open(db_path, durability);
  if (!jobs.ok()) return std::move(jobs).error();
  p.jobs = std::move(*jobs);
  auto store = SqliteNotifyStore::Open(db_path, durability);
  if (!store.ok()) return std::move(store).error();
  p.notify_store = std::move(*store);
  auto vapid = push::VapidKey::LoadOrCreate(config.data_dir + "/vapid.pem");
  if (!vapid.ok()) return std::move(vapid).error();
  p.vapid = std::move(*vapid);

  DispatcherOptions options;
  options.workers = config.notify_workers;
  options.max_attempts = config.notify_max_attempts;
  options.retry_base_ms = config.notify_retry_base_ms;
  options.retry_max_ms = config.notify_retry_max_ms;
  options.visibility_timeout_ms = config.notify_visibility_timeout_ms;
  p.dispatcher = std::make_unique<Dispatcher>(*p.jobs, p.clock, p.metrics, options);
  p.http = std::make_unique<CurlPoster>(config.notify_http_timeout_ms, &p.dispatcher->stopping());
  p.composer = std::make_unique<Composer>(*p.messages, *p.accounts, *p.notify_store);
  const bool webhook = !config.notify_webhook_url.empty();
  if (webhook) {
    p.webhook = std::make_unique<WebhookChannel>(
        config.notify_webhook_url, config.notify_webhook_secret, *p.composer, *p.http, p.clock);
    p.dispatcher->Register(std::string(kWebhookJob), [channel = p.webhook.get()](const Job& job) {
      return channel->Deliver(job);
    });
  }
  WebPushOptions push_options;
  push_options.subject = config.notify_vapid_subject;
  push_options.allowed_hosts = config.notify_push_hosts;
  p.webpush = std::make_unique<WebPushChannel>(*p.vapid, push_options, *p.composer, *p.notify_store,
                                               *p.http, p.clock);
  p.dispatcher->Register(std::string(kWebPushJob), [channel = p.webpush.get()](const Job& job) {
    return channel->Deliver(job);
  });

  NotifierOptions notifier_options;
  notifier_options.window_ms = config.notify_window_ms;
  notifier_options.webhook = webhook;
  notifier_options.webpush = true;
  Dispatcher* dispatcher = p.dispatcher.get();
  p.notifier =
      std::make_unique<Notifier>(*p.jobs, *p.notify_store, *p.accounts, p.hub, p.clock, p.metrics,
                                 notifier_options, [dispatcher] { dispatcher->Wake(); });
  Notifier* notifier = p.notifier.get();
  p.chat->OnMessageCommitted([notifier](const ChatService::CommittedMessage& committed) {
    notifier->OnCommitted(committed);
  });
  p.dispatcher->Start();
  p.notifier->Start();
  return Status::Ok();
}

// The embedded presence store and the service, which observes the hub and the message
// store's commits. See docs/ARCHITECTURE.md, "Presence".
template <class Parts>
Status StartPresence(Parts& p) {
  const Config& config = p.config;
  auto last_seen =
      SqliteLastSeenStore::Open(DatabasePath(config), ParseDurability(config.durability));
  if (!last_seen.ok()) return std::move(last_seen).error();
  p.last_seen = std::move(*last_seen);
  p.presence_store = std::make_unique<LocalPresenceStore>(*p.last_seen);
  PresenceOptions options;
  options.grace_ms = config.presence_grace_ms;
  options.max_group_size = config.presence_max_group_size;
  options.max_fanout = static_cast<size_t>(config.presence_max_fanout);
  options.max_subscriptions = static_cast<size_t>(config.presence_max_subscriptions);
  p.presence =
      std::make_unique<PresenceService>(*p.presence_store, *p.messages, p.hub, p.clock, p.metrics,
                                        std::make_unique<ThreadTaskRunner>(p.clock), options);
  PresenceService* presence = p.presence.get();
  p.messages->OnApplied(
      [presence](const std::vector<Mutation>& batch) { presence->OnMessagesApplied(batch); });
  return Status::Ok();
}

// The scheduled purge of erased text and the disk watch, with their metrics.
template <class Parts>
void StartMaintenance(Parts& p) {
  const Config& config = p.config;
  MetricsRegistry& m = p.metrics;
  Counter& purged =
      m.AddCounter("parley_store_purges_total",
                   "Purges of erased text (index rewrite + WAL truncation)", {{"result", "ok"}});
  Counter& purge_failed = m.AddCounter("parley_store_purges_total",
                                       "Purges of erased text (index rewrite + WAL truncation)",
                                       {{"result", "failed"}});
  Counter& purged_texts = m.AddCounter(
      "parley_store_purged_texts_total",
      "Removed message texts (deletes, edits) whose traces a purge has erased from the files");
  Gauge& purge_micros = m.AddGauge("parley_store_last_purge_microseconds",
                                   "How long the last purge held the write lock");
  Gauge& db_bytes =
      m.AddGauge("parley_store_file_bytes", "Size of the database files", {{"file", "db"}});
  Gauge& wal_bytes =
      m.AddGauge("parley_store_file_bytes", "Size of the database files", {{"file", "wal"}});
  Gauge& free_bytes =
      m.AddGauge("parley_disk_free_bytes", "Free space on the data dir's file system");
  m.AddGauge("parley_disk_min_free_bytes", "Below this free space writes are refused")
      .Set(static_cast<int64_t>(config.min_free_disk_bytes));
  MaintenanceOptions options;
  options.db_path = DatabasePath(config);
  options.purge_interval = std::chrono::milliseconds(config.purge_interval_ms);
  options.disk_interval = std::chrono::milliseconds(config.disk_check_interval_ms);
  options.min_free_bytes = config.min_free_disk_bytes;
  p.maintenance = std::make_unique<StoreMaintenance>(
      *p.messages, options,
      [&purged, &purge_failed, &purged_texts, &purge_micros](const Result<uint64_t>& result,
                                                             std::chrono::microseconds took) {
        (result.ok() ? purged : purge_failed).Inc();
        if (result.ok()) purged_texts.Inc(*result);
        purge_micros.Set(took.count());
        if (!result.ok()) spdlog::warn("purge of erased text: {}", result.error().message);
      },
      [&db_bytes, &wal_bytes, &free_bytes](const DiskUsage& usage) {
        db_bytes.Set(static_cast<int64_t>(usage.db_bytes));
        wal_bytes.Set(static_cast<int64_t>(usage.wal_bytes));
        free_bytes.Set(static_cast<int64_t>(usage.free_bytes));
      });
}

// Quotas, the disk guard and the search bounds of the chat service, with their metrics.
template <class Parts>
void ConfigureStorageLimits(Parts& p, ChatOptions& options, size_t blocking_threads) {
  const Config& config = p.config;
  MetricsRegistry& m = p.metrics;
  options.quota.max_entries_per_day = config.quota_entries_per_day;
  options.quota.max_bytes_per_day = static_cast<int64_t>(config.quota_bytes_per_day);
  StoreMaintenance* maintenance = p.maintenance.get();
  options.disk_low = [maintenance] { return maintenance->disk_low(); };
  // Half the blocking pool at most, so that searches always leave threads to sync and auth.
  options.search_max_concurrent = config.search_max_concurrent > 0
                                      ? static_cast<size_t>(config.search_max_concurrent)
                                      : std::max<size_t>(1, blocking_threads / 2);
  options.search_deadline_ms = config.search_deadline_ms;
  options.search_max_conversations = static_cast<size_t>(config.search_max_conversations);
  options.counters.quota_refused =
      &m.AddCounter("parley_quota_refused_total",
                    "Messages, edits and reactions refused by the per-user daily quota");
  options.counters.disk_refused = &m.AddCounter("parley_disk_write_refused_total",
                                                "Writes refused because free disk space is low");
  options.counters.search_busy =
      &m.AddCounter("parley_search_refused_total",
                    "Searches refused: rate (per-user rate limit) or busy (concurrency cap)",
                    {{"reason", "busy"}});
  options.counters.search_truncated =
      &m.AddCounter("parley_search_truncated_total",
                    "Searches that stopped at their deadline or conversation cap");
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

  const std::string db_path = DatabasePath(config);
  const sqlite::Durability durability = ParseDurability(config.durability);
  auto accounts = SqliteAccountStore::Open(db_path, durability);
  if (!accounts.ok()) return std::move(accounts).error();
  p.accounts = std::move(*accounts);
  auto messages = SqliteMessageStore::Open(db_path, durability);
  if (!messages.ok()) return std::move(messages).error();
  p.messages = std::move(*messages);
  auto privacy = SqlitePrivacyStore::Open(db_path, durability);
  if (!privacy.ok()) return std::move(privacy).error();
  p.privacy = std::move(*privacy);
  StartMaintenance(p);

  auto key = LoadOrCreateKey(config.data_dir + "/jwt.key");
  if (!key.ok()) return std::move(key).error();
  p.signer = std::make_unique<JwtSigner>(*key, p.clock);
  p.hasher = std::make_unique<PasswordHasher>(
      PasswordParams{config.argon2_ops_limit, static_cast<size_t>(config.argon2_mem_limit)});
  LoginGuardParams guard_params{
      .ip = {config.rate_auth_ip_per_min, config.rate_auth_ip_burst},
      .user = {config.rate_auth_user_per_min, config.rate_auth_user_burst},
      .user_fresh = {config.rate_auth_user_fresh_per_min, config.rate_auth_user_fresh_burst},
      .user_ip = {config.rate_auth_user_ip_per_min, config.rate_auth_user_ip_burst}};
  p.login_guard = std::make_unique<LoginGuard>(guard_params, p.clock, p.metrics);
  p.refresh_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_refresh_per_min, config.rate_refresh_burst}, p.clock);
  p.auth = std::make_unique<AuthService>(
      *p.accounts, *p.hasher, *p.signer, *p.login_guard, *p.refresh_limiter, p.clock,
      AuthService::Options{config.access_token_ttl_s, config.refresh_token_ttl_s,
                           config.max_devices_per_user},
      p.metrics);

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
  options.public_origins = config.public_origin;
  options.allowed_origins = config.allowed_origins;
  options.max_connections_per_ip = config.max_connections_per_ip;
  options.max_unauthenticated = config.max_unauthenticated;
  options.max_unauthenticated_per_ip = config.max_unauthenticated_per_ip;
  options.metrics_token = config.metrics_token;
  if (!config.metrics_listen.empty()) {
    auto metrics_listen = ParseHostPort(config.metrics_listen);
    if (!metrics_listen.ok()) return std::move(metrics_listen).error();
    options.metrics_host = metrics_listen->host == "localhost" ? "127.0.0.1" : metrics_listen->host;
    options.metrics_port = metrics_listen->port;
  }
  options.frames_per_min = config.rate_frames_per_min;
  options.frames_burst = config.rate_frames_burst;
  options.control_frames_per_min = config.rate_control_frames_per_min;
  options.control_frames_burst = config.rate_control_frames_burst;
  options.max_message_fragments = config.max_message_fragments;
  options.max_ws_per_user = static_cast<size_t>(config.max_ws_per_user);
  options.max_ws_per_device = static_cast<size_t>(config.max_ws_per_device);

  ChatOptions chat_options;
  chat_options.max_body_bytes = config.max_message_bytes;
  chat_options.max_group_members = config.max_group_members;
  chat_options.receipt_fanout_max_members = config.receipt_fanout_max_members;
  chat_options.conversations_page_size = config.conversations_page_size;
  chat_options.max_reactions_per_message = static_cast<size_t>(config.max_reactions_per_message);
  chat_options.max_reactions_per_user_message =
      static_cast<size_t>(config.max_reactions_per_user_message);
  // One series per limit of issue 17's social defects, so an operator sees which one bites.
  auto refused = std::make_shared<std::unordered_map<std::string, Counter*>>();
  for (const char* limit : {"reactions_per_message", "reactions_per_user_message",
                            "conversation_create_rate", "member_add_rate"}) {
    (*refused)[limit] = &p.metrics.AddCounter(
        "parley_social_refused_total", "Requests refused by a per-user social limit (issue 17)",
        {{"limit", limit}});
  }
  auto count_refusal = [refused](std::string_view limit) {
    if (auto it = refused->find(std::string(limit)); it != refused->end()) it->second->Inc();
  };
  chat_options.on_refused = count_refusal;
  const size_t blocking_threads = static_cast<size_t>(std::max(2, cores));
  ConfigureStorageLimits(p, chat_options, blocking_threads);
  if (Status s = StartPresence(p); !s.ok()) return s.error();
  p.chat = std::make_unique<ChatService>(*p.messages, *p.accounts, p.hub, p.clock, chat_options);
  p.group_adds = std::make_unique<GroupAddPolicy>(
      *p.privacy, *p.messages, p.hub, p.clock,
      ParseGroupAdds(config.default_group_adds).value_or(GroupAdds::kAnyone),
      static_cast<size_t>(config.max_pending_invitations));
  p.chat->UseGroupAddPolicy(p.group_adds.get());
  if (Status s = StartNotifications(p); !s.ok()) return s.error();
  p.send_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_send_per_min, config.rate_send_burst}, p.clock);
  p.typing_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_typing_per_min, config.rate_typing_burst}, p.clock);
  p.create_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_conversations_per_min, config.rate_conversations_burst}, p.clock);
  p.member_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_member_adds_per_min, config.rate_member_adds_burst}, p.clock);
  p.search_limiter = std::make_unique<RateLimiter>(
      BucketParams{config.rate_search_per_min, config.rate_search_burst}, p.clock);
  p.blocking_pool = std::make_unique<boost::asio::thread_pool>(blocking_threads);
  p.write_pool = std::make_unique<boost::asio::thread_pool>(2);
  const int hash_threads =
      config.auth_hash_threads > 0 ? config.auth_hash_threads : std::max(1, cores / 2);
  p.hash_pool = std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(hash_threads));
  HandlerPools pools;
  pools.reads = p.blocking_pool.get();
  pools.writes = p.write_pool.get();
  pools.hashing = p.hash_pool.get();
  pools.hashing_max_pending = static_cast<size_t>(config.auth_hash_queue);
  pools.hashing_pending = &p.metrics.AddGauge(
      "parley_auth_hash_pending", "Password checks (Argon2id) running or waiting for a thread");
  pools.hashing_refused =
      &p.metrics.AddCounter("parley_auth_hash_refused_total",
                            "Register, login and password requests refused: auth_hash_queue full");
  p.metrics.AddGauge("parley_auth_hash_queue_limit", "auth_hash_queue: the cap on hash_pending")
      .Set(config.auth_hash_queue);
  p.router.SetPools(pools);

  boost::asio::thread_pool* pool = p.blocking_pool.get();
  ChatApiDeps chat_deps{
      *p.chat,
      *p.auth,
      *p.send_limiter,
      *p.typing_limiter,
      [pool](std::function<void()> job) { boost::asio::post(*pool, std::move(job)); },
      p.create_limiter.get(),
      p.member_limiter.get(),
      count_refusal};
  chat_deps.search_limiter = p.search_limiter.get();
  chat_deps.search_rate_refused = &p.metrics.AddCounter(
      "parley_search_refused_total",
      "Searches refused: rate (per-user rate limit) or busy (concurrency cap)",
      {{"reason", "rate"}});
  // Logout, device revocation and refresh-token reuse end the device's session: its open
  // sockets go too.
  ConnectionHub* hub = &p.hub;
  p.auth->OnSessionRevoked([hub](const std::string& user_id, const std::string& device_id) {
    hub->CloseDevice(user_id, device_id, kCloseUnauthorized, "session revoked");
  });
  AddAuthRoutes(p.router, *p.auth);
  AddChatRoutes(p.router, chat_deps);
  AddNotifyRoutes(p.router, NotifyApiDeps{*p.notify_store, *p.chat, *p.auth, *p.vapid,
                                          config.notify_push_hosts, p.clock});
  AddSessionRequests(p.ws_api);
  AddChatRequests(p.ws_api, chat_deps);
  AddPresenceRoutes(p.router, *p.presence, *p.auth);
  AddSocialRoutes(p.router, *p.chat, *p.auth, *p.group_adds);
  AddPresenceRequests(p.ws_api, *p.presence);
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
std::optional<uint16_t> App::MetricsPort() const { return parts_->gateway->MetricsPort(); }
void App::Run() {
  parts_->gateway->Run();
  // Every connection is gone: record their last_seen and stop announcing.
  parts_->presence->Shutdown();
  // Jobs still on the pools finish before the services they call are destroyed.
  parts_->hash_pool->join();
  parts_->write_pool->join();
  parts_->blocking_pool->join();
}

}  // namespace parley
