#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace parley {

/// Everything parleyd can be told. Defaults are the embedded single-node product.
/// Precedence, lowest first: built-in defaults < TOML file (--config) < environment
/// (PARLEY_<KEY>, e.g. PARLEY_LISTEN, PARLEY_RATE_LOGIN_PER_MIN) < command-line flags.
struct Config {
  // [server]
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  std::string data_dir = "./data";
  int threads = 0;                 // io_context threads; 0 = one per core
  std::string log_level = "info";  // trace, debug, info, warn, error, off
  std::string web_root;            // static web client folder; empty = none
  std::string tls_cert;            // PEM file; TLS is on when cert and key are set
  std::string tls_key;
  std::string metrics_listen;  // HOST:PORT of a listener for /metrics only; empty = none
  std::string metrics_token;   // Bearer token for /metrics on the public listener; empty = none

  // [limits]
  uint64_t max_body_bytes = 64 * 1024;       // HTTP request body
  uint64_t max_frame_bytes = 64 * 1024;      // WebSocket message; larger closes with 1009
  uint64_t max_write_queue_bytes = 4 << 20;  // per connection; past it the client is too slow
  int handshake_timeout_ms = 10'000;         // TCP accept -> HTTP request head / WS upgrade
  int auth_timeout_ms = 10'000;              // WS upgrade -> auth frame (then close 4408)
  int http_idle_timeout_ms = 60'000;         // keep-alive connection with no request
  int heartbeat_ms = 30'000;                 // advertised in `ready`; silence > 2x closes
  int drain_timeout_ms = 5'000;              // SIGTERM: deadline to close and flush
  int max_message_fragments = 64;            // frames of one fragmented WS message (then 1008)
  int max_ws_per_user = 50;                  // authenticated WebSockets per user (0: no bound)
  int max_ws_per_device = 10;                // ... per device (browser tabs share one)
  uint64_t max_connections_per_ip = 256;     // open connections from one IP; 0 = unlimited
  uint64_t max_unauthenticated = 2048;       // plain HTTP + WS before `ready`, all IPs; 0 = off
  uint64_t max_unauthenticated_per_ip = 64;  // the same, per IP; 0 = unlimited

  // [auth]
  int access_token_ttl_s = 15 * 60;
  int refresh_token_ttl_s = 30 * 24 * 3600;
  uint64_t argon2_ops_limit = 3;  // OWASP: t>=2 with m>=19 MiB; we use t=3, 64 MiB
  uint64_t argon2_mem_limit = 64ull << 20;
  std::vector<std::string> public_origin;    // the server's origins; empty = from listen
  std::vector<std::string> allowed_origins;  // other origins whose pages may open WebSockets
  int max_devices_per_user = 100;  // live devices; a login past it revokes the least recently used
  int auth_hash_threads = 0;       // Argon2id threads; 0 = half the cores, at least 1
  int auth_hash_queue = 16;        // password checks running or waiting; past it 503

  // [chat]
  std::string durability = "full";         // full: fsync every commit (group commit); normal; off
  uint64_t max_message_bytes = 16 * 1024;  // message body
  int max_group_members = 10'000;
  int receipt_fanout_max_members = 256;     // larger groups get no pushed read receipts
  int max_reactions_per_message = 50;       // distinct emoji on one message
  int max_reactions_per_user_message = 20;  // emoji one user puts on one message
  int conversations_page_size = 500;        // GET /v1/conversations and sync: default and max page
  std::string default_group_adds = "anyone";  // who may add a user to a group until they choose
  int max_pending_invitations = 100;          // per invitee; the oldest is dropped past it

  // [presence] who is online, and who is told (docs/ARCHITECTURE.md, Presence)
  int presence_grace_ms = 5'000;         // offline announced only after this; one change per period
  int presence_max_group_size = 100;     // groups up to this size push presence to members
  int presence_max_fanout = 1'000;       // users told of one change, at most
  int presence_max_subscriptions = 200;  // users one connection may subscribe to or query

  // [rate_limits] token buckets: sustained rate per minute and burst size.
  double rate_auth_ip_per_min = 30;  // register + login, per client IP
  double rate_auth_ip_burst = 20;
  double rate_auth_user_per_min = 6;  // password checks per username, from any IP
  double rate_auth_user_burst = 10;
  double rate_auth_user_fresh_per_min = 12;  // more, per username, for IPs that have not failed
  double rate_auth_user_fresh_burst = 20;
  double rate_auth_user_ip_per_min = 0.2;  // password checks per (username, IP)
  double rate_auth_user_ip_burst = 5;
  double rate_refresh_per_min = 6;  // token refreshes per device
  double rate_refresh_burst = 10;
  double rate_send_per_min = 1200;  // messages (and edits, reactions) per user: 20/s
  double rate_send_burst = 50;
  double rate_typing_per_min = 60;  // typing notices per user
  double rate_typing_burst = 10;
  double rate_frames_per_min = 6000;  // WebSocket frames per connection: 100/s
  double rate_frames_burst = 200;
  double rate_control_frames_per_min = 600;  // WebSocket pings and pongs per connection: 10/s
  double rate_control_frames_burst = 30;
  double rate_conversations_per_min = 30;  // conversations created per user
  double rate_conversations_burst = 30;
  double rate_member_adds_per_min = 300;  // members added to groups per user
  double rate_member_adds_burst = 100;

  // [notify] notifications for members with no connected device (docs/ARCHITECTURE.md)
  std::string notify_webhook_url;     // server-wide webhook; empty = none
  std::string notify_webhook_secret;  // HMAC-SHA256 key for X-Parley-Signature
  int notify_window_ms = 30'000;      // per user and conversation: one notification per window
  int notify_workers = 2;             // delivery threads
  int notify_max_attempts = 8;        // then the job goes to the dead-letter table
  int notify_retry_base_ms = 1'000;   // exponential backoff with full jitter, from this...
  int notify_retry_max_ms = 300'000;  // ...up to this
  int notify_visibility_timeout_ms = 60'000;  // a claimed job is redelivered after this
  int notify_http_timeout_ms = 10'000;        // one webhook or push POST
  std::vector<std::string> notify_push_hosts = {"fcm.googleapis.com", "push.services.mozilla.com",
                                                "notify.windows.com", "push.apple.com"};
  std::string notify_vapid_subject = "mailto:admin@localhost";  // VAPID `sub`: how to reach you

  // [chat] what one user may store, and the disk (docs/PROTOCOL.md, "Limits")
  int quota_entries_per_day = 10'000;           // messages + edits + reactions per user per day
  uint64_t quota_bytes_per_day = 10ull << 20;   // bytes of message text per user per day; 0 = none
  uint64_t min_free_disk_bytes = 256ull << 20;  // below this free space, writes are refused
  int disk_check_interval_ms = 1'000;           // how often free space and file sizes are read
  int purge_interval_ms = 60'000;               // erased text leaves the files within this

  // [chat] search bounds
  int search_deadline_ms = 500;          // a search answers what it found by then, `truncated`
  int search_max_concurrent = 0;         // searches at once; 0 = half the blocking pool, at least 1
  int search_max_conversations = 1'000;  // most recently active conversations one search visits
  double rate_search_per_min = 60;       // [rate_limits] searches per user
  double rate_search_burst = 10;
};

/// One Config field as the outside world names it. ConfigFields() is the single table that
/// drives the TOML loader, the environment layer and the command line, so a new setting is
/// a member with its default in Config plus one row in that table, nothing more.
struct ConfigField {
  using Member = std::variant<std::string Config::*, int Config::*, uint64_t Config::*,
                              double Config::*, std::vector<std::string> Config::*>;

  std::string_view name;     // snake_case: the TOML key, PARLEY_<NAME>, --<name-with-dashes>
  std::string_view section;  // the TOML table holding the key, e.g. "server"
  std::string_view help;     // one line for --help
  Member member;
};

/// Every field of Config, in declaration order. The table is static and immutable.
std::span<const ConfigField> ConfigFields();

/// "PARLEY_" + the field name in upper case, e.g. PARLEY_MAX_FRAME_BYTES.
std::string EnvVarName(const ConfigField& field);

/// "--" + the field name with dashes, e.g. --max-frame-bytes.
std::string FlagName(const ConfigField& field);

/// The field's value in the text form that SetFieldFromText accepts (lists comma-joined).
std::string FieldToText(const Config& config, const ConfigField& field);

/// Sets one field from text, as environment variables and flags carry it: integers in
/// decimal, numbers as decimal or exponent floats, lists comma-separated (items trimmed,
/// empty items dropped, so an empty text clears the list). `source` names where the text
/// came from (e.g. "PARLEY_THREADS") and leads the error message.
Status SetFieldFromText(Config& config, const ConfigField& field, std::string_view text,
                        std::string_view source);

/// A parsed `listen` address. `host` has IPv6 brackets removed ("[::1]:80" -> "::1").
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

/// Parses HOST:PORT with a non-empty host and a port of 0-65535; an IPv6 host must be
/// bracketed ("[::1]:8080"). Does no name resolution.
Result<HostPort> ParseHostPort(std::string_view text);

/// Reads a TOML file whose keys override `base`. Every key must be a known field in its own
/// section: unknown keys and sections are errors that name them, so a typo cannot pass
/// silently. Errors carry the file name and line:column and are all reported at once, in
/// file order. Loading is start-up code: it returns errors (kInvalidRequest) rather than
/// throwing, and parleyd exits with the message.
Result<Config> LoadConfigFile(const std::string& path, Config base);

/// Applies PARLEY_* variables from `environ`-style "KEY=VALUE" strings over `base`.
/// Variables that name no field (including other PARLEY_* ones) are ignored; a value that
/// does not parse is an error naming the variable. When a variable repeats, the last wins.
Result<Config> ApplyEnvironment(const std::vector<std::string>& env, Config base);

/// Checks ranges and consistency (e.g. both TLS files or neither; listen parses). Reports
/// every problem found, not just the first, in one message.
Status ValidateConfig(const Config& config);

}  // namespace parley
