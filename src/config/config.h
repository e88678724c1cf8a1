#pragma once

#include <cstdint>
#include <string>
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
  int threads = 0;                         // io_context threads; 0 = one per core
  std::string log_level = "info";          // trace, debug, info, warn, error, off
  std::string web_root;                    // static web client folder; empty = none
  std::string tls_cert;                    // PEM file; TLS is on when cert and key are set
  std::string tls_key;

  // [limits]
  uint64_t max_body_bytes = 64 * 1024;       // HTTP request body
  uint64_t max_frame_bytes = 64 * 1024;      // WebSocket message; larger closes with 1009
  uint64_t max_write_queue_bytes = 4 << 20;  // per connection; past it the client is too slow
  int handshake_timeout_ms = 10'000;         // TCP accept -> HTTP request head / WS upgrade
  int auth_timeout_ms = 10'000;              // WS upgrade -> auth frame (then close 4408)
  int http_idle_timeout_ms = 60'000;         // keep-alive connection with no request
  int heartbeat_ms = 30'000;                 // advertised in `ready`; silence > 2x closes
  int drain_timeout_ms = 5'000;              // SIGTERM: deadline to close and flush

  // [auth]
  int access_token_ttl_s = 15 * 60;
  int refresh_token_ttl_s = 30 * 24 * 3600;
  uint64_t argon2_ops_limit = 3;             // OWASP: t>=2 with m>=19 MiB; we use t=3, 64 MiB
  uint64_t argon2_mem_limit = 64ull << 20;
  std::vector<std::string> allowed_origins;  // WebSocket Origin allow-list; empty = same host only

  // [rate_limits] token buckets: sustained rate per minute and burst size.
  double rate_auth_ip_per_min = 30;          // register + login, per client IP
  double rate_auth_ip_burst = 20;
  double rate_auth_user_per_min = 10;        // login, per username
  double rate_auth_user_burst = 10;
};

/// Why loading failed, for a start-up error message. Loading is start-up code: it returns
/// errors rather than throwing, and parleyd exits with the message.
Result<Config> LoadConfigFile(const std::string& path, Config base);

/// Applies PARLEY_* variables from `environ`-style "KEY=VALUE" strings over `base`.
Result<Config> ApplyEnvironment(const std::vector<std::string>& env, Config base);

/// Checks ranges and consistency (e.g. both TLS files or neither; listen parses).
Status ValidateConfig(const Config& config);

}  // namespace parley
