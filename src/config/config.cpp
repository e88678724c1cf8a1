#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace parley {
namespace {

// The one table. Order is Config's declaration order, which is also the --help order.
const std::array kFields = {
    // [server]
    ConfigField{"listen", "server",
                "Address to listen on, HOST:PORT ([::1]:8080 for IPv6); port 0 picks a free port",
                &Config::listen},
    ConfigField{"data_dir", "server", "Folder for the database and other state", &Config::data_dir},
    ConfigField{"threads", "server", "I/O threads, 0-256; 0 means one per core", &Config::threads},
    ConfigField{"log_level", "server", "One of trace, debug, info, warn, error, off",
                &Config::log_level},
    ConfigField{"web_root", "server", "Folder of the static web client to serve; empty serves none",
                &Config::web_root},
    ConfigField{"tls_cert", "server",
                "PEM certificate chain; TLS is on when cert and key are both set",
                &Config::tls_cert},
    ConfigField{"tls_key", "server", "PEM private key for --tls-cert", &Config::tls_key},
    ConfigField{"metrics_listen", "server",
                "HOST:PORT of a listener serving only /metrics, /healthz, /readyz; empty = none",
                &Config::metrics_listen},
    ConfigField{"metrics_token", "server",
                "Bearer token (16+ chars) that opens /metrics on the public listener; empty = "
                "/metrics is not served there",
                &Config::metrics_token},
    // [limits]
    ConfigField{"max_body_bytes", "limits", "Largest HTTP request body accepted",
                &Config::max_body_bytes},
    ConfigField{"max_frame_bytes", "limits",
                "Largest WebSocket message accepted; larger closes with 1009",
                &Config::max_frame_bytes},
    ConfigField{"max_write_queue_bytes", "limits",
                "Unsent bytes per connection before the client is dropped as too slow",
                &Config::max_write_queue_bytes},
    ConfigField{"handshake_timeout_ms", "limits",
                "Time from TCP accept to a complete HTTP request head or WebSocket upgrade",
                &Config::handshake_timeout_ms},
    ConfigField{"auth_timeout_ms", "limits",
                "Time from WebSocket upgrade to the auth frame (then close 4408)",
                &Config::auth_timeout_ms},
    ConfigField{"http_idle_timeout_ms", "limits",
                "Idle time before a keep-alive HTTP connection closes",
                &Config::http_idle_timeout_ms},
    ConfigField{"heartbeat_ms", "limits",
                "Heartbeat interval advertised to clients; silence for twice this closes",
                &Config::heartbeat_ms},
    ConfigField{"drain_timeout_ms", "limits",
                "On SIGTERM, how long to wait for connections to close and data to flush",
                &Config::drain_timeout_ms},
    ConfigField{"max_message_fragments", "limits",
                "Frames one fragmented WebSocket message may have; more closes with 1008",
                &Config::max_message_fragments},
    ConfigField{"max_ws_per_user", "limits",
                "Authenticated WebSockets one user may hold; more close with 4429 (0: no bound)",
                &Config::max_ws_per_user},
    ConfigField{"max_ws_per_device", "limits",
                "Authenticated WebSockets one device may hold; more close with 4429 (0: no bound)",
                &Config::max_ws_per_device},
    ConfigField{"max_connections_per_ip", "limits",
                "Open connections from one client IP; more are refused with 429; 0 = unlimited",
                &Config::max_connections_per_ip},
    ConfigField{"max_unauthenticated", "limits",
                "Unauthenticated connections (plain HTTP, WebSocket before ready) in total; 0 = "
                "unlimited",
                &Config::max_unauthenticated},
    ConfigField{"max_unauthenticated_per_ip", "limits",
                "Unauthenticated connections from one client IP; 0 = unlimited",
                &Config::max_unauthenticated_per_ip},
    // [auth]
    ConfigField{"access_token_ttl_s", "auth", "Lifetime of an access token (JWT), seconds",
                &Config::access_token_ttl_s},
    ConfigField{"refresh_token_ttl_s", "auth", "Lifetime of a refresh token, seconds",
                &Config::refresh_token_ttl_s},
    ConfigField{"argon2_ops_limit", "auth", "Argon2id passes (t); at least 2",
                &Config::argon2_ops_limit},
    ConfigField{"argon2_mem_limit", "auth", "Argon2id memory in bytes; at least 19 MiB (19922944)",
                &Config::argon2_mem_limit},
    ConfigField{"max_devices_per_user", "auth",
                "Live devices (sessions) per user; a login past it revokes the least recently used",
                &Config::max_devices_per_user},
    ConfigField{"auth_hash_threads", "auth",
                "Threads for Argon2id (register, login, password change); 0 = half the cores",
                &Config::auth_hash_threads},
    ConfigField{"auth_hash_queue", "auth",
                "Password checks running or waiting at once; past it 503 with retry_after_ms",
                &Config::auth_hash_queue},
    ConfigField{"public_origin", "auth",
                "The server's own origins as browsers see them, e.g. https://chat.example.com; "
                "empty = http://127.0.0.1:PORT and http://localhost:PORT for a loopback listen",
                &Config::public_origin},
    ConfigField{"allowed_origins", "auth",
                "Other origins whose pages may open WebSockets (comma-separated; * = any)",
                &Config::allowed_origins},
    // [chat]
    ConfigField{"durability", "chat",
                "full: an ack means fsynced (many messages per fsync); normal: survives a crash "
                "of parleyd but maybe not of the machine; off: tests only",
                &Config::durability},
    ConfigField{"max_message_bytes", "chat", "Largest message body, bytes of UTF-8",
                &Config::max_message_bytes},
    ConfigField{"max_group_members", "chat", "Most members a group may have",
                &Config::max_group_members},
    ConfigField{"receipt_fanout_max_members", "chat",
                "Groups up to this size get read receipts pushed to every member",
                &Config::receipt_fanout_max_members},
    ConfigField{"max_reactions_per_message", "chat",
                "Most different emoji one message may carry; more is refused conflict",
                &Config::max_reactions_per_message},
    ConfigField{"max_reactions_per_user_message", "chat",
                "Most emoji one user may put on one message",
                &Config::max_reactions_per_user_message},
    ConfigField{"conversations_page_size", "chat",
                "Conversations per page of GET /v1/conversations and sync: the default and the "
                "largest limit",
                &Config::conversations_page_size},
    ConfigField{"default_group_adds", "chat",
                "Who may add a user to a group until the user chooses: anyone, contacts, nobody",
                &Config::default_group_adds},
    ConfigField{"max_pending_invitations", "chat",
                "Group invitations waiting per user; past it the oldest is dropped",
                &Config::max_pending_invitations},
    // [presence]
    ConfigField{"presence_grace_ms", "presence",
                "An offline is announced only after lasting this long, and a user's presence at "
                "most once per this period",
                &Config::presence_grace_ms},
    ConfigField{"presence_max_group_size", "presence",
                "Groups up to this size push presence to their members; larger ones subscribe",
                &Config::presence_max_group_size},
    ConfigField{"presence_max_fanout", "presence", "Most users told of one presence change",
                &Config::presence_max_fanout},
    ConfigField{"presence_max_subscriptions", "presence",
                "Most users one connection may subscribe to, or one query may ask about",
                &Config::presence_max_subscriptions},
    // [rate_limits]
    ConfigField{"rate_auth_ip_per_min", "rate_limits",
                "Register and login attempts per minute per client IP (sustained)",
                &Config::rate_auth_ip_per_min},
    ConfigField{"rate_auth_ip_burst", "rate_limits", "Burst size for rate_auth_ip_per_min",
                &Config::rate_auth_ip_burst},
    ConfigField{"rate_auth_user_per_min", "rate_limits",
                "Password checks per minute per username from any IP (sustained); refunded on "
                "success",
                &Config::rate_auth_user_per_min},
    ConfigField{"rate_auth_user_burst", "rate_limits", "Burst size for rate_auth_user_per_min",
                &Config::rate_auth_user_burst},
    ConfigField{"rate_auth_user_fresh_per_min", "rate_limits",
                "Further password checks per minute per username, only for IPs with no failure "
                "for it",
                &Config::rate_auth_user_fresh_per_min},
    ConfigField{"rate_auth_user_fresh_burst", "rate_limits",
                "Burst size for rate_auth_user_fresh_per_min", &Config::rate_auth_user_fresh_burst},
    ConfigField{"rate_auth_user_ip_per_min", "rate_limits",
                "Password checks per minute per (username, client IP); refunded on success",
                &Config::rate_auth_user_ip_per_min},
    ConfigField{"rate_auth_user_ip_burst", "rate_limits",
                "Burst size for rate_auth_user_ip_per_min", &Config::rate_auth_user_ip_burst},
    ConfigField{"rate_refresh_per_min", "rate_limits", "Token refreshes per minute per device",
                &Config::rate_refresh_per_min},
    ConfigField{"rate_refresh_burst", "rate_limits", "Burst size for rate_refresh_per_min",
                &Config::rate_refresh_burst},
    ConfigField{"rate_send_per_min", "rate_limits",
                "Messages, edits and reactions per minute per user (sustained)",
                &Config::rate_send_per_min},
    ConfigField{"rate_send_burst", "rate_limits", "Burst size for rate_send_per_min",
                &Config::rate_send_burst},
    ConfigField{"rate_typing_per_min", "rate_limits", "Typing notices per minute per user",
                &Config::rate_typing_per_min},
    ConfigField{"rate_typing_burst", "rate_limits", "Burst size for rate_typing_per_min",
                &Config::rate_typing_burst},
    ConfigField{"rate_frames_per_min", "rate_limits",
                "WebSocket frames per minute per connection; sustained excess closes with 4429",
                &Config::rate_frames_per_min},
    ConfigField{"rate_frames_burst", "rate_limits", "Burst size for rate_frames_per_min",
                &Config::rate_frames_burst},
    ConfigField{"rate_control_frames_per_min", "rate_limits",
                "WebSocket pings and pongs per minute per connection; over it pings go unanswered",
                &Config::rate_control_frames_per_min},
    ConfigField{"rate_control_frames_burst", "rate_limits",
                "Burst size for rate_control_frames_per_min", &Config::rate_control_frames_burst},
    ConfigField{"rate_conversations_per_min", "rate_limits",
                "Conversations a user may create per minute (POST /v1/conversations)",
                &Config::rate_conversations_per_min},
    ConfigField{"rate_conversations_burst", "rate_limits",
                "Burst size for rate_conversations_per_min", &Config::rate_conversations_burst},
    ConfigField{"rate_member_adds_per_min", "rate_limits",
                "Members a user may add to groups per minute", &Config::rate_member_adds_per_min},
    ConfigField{"rate_member_adds_burst", "rate_limits", "Burst size for rate_member_adds_per_min",
                &Config::rate_member_adds_burst},
    // [notify]
    ConfigField{"notify_webhook_url", "notify",
                "Server-wide webhook (http or https URL) for notifications; empty means none",
                &Config::notify_webhook_url},
    ConfigField{"notify_webhook_secret", "notify",
                "HMAC-SHA256 key that signs webhook bodies (X-Parley-Signature)",
                &Config::notify_webhook_secret},
    ConfigField{"notify_window_ms", "notify",
                "Per user and conversation, at most one notification per this many ms; 0 = every "
                "message",
                &Config::notify_window_ms},
    ConfigField{"notify_workers", "notify", "Notification delivery threads, 1-64",
                &Config::notify_workers},
    ConfigField{"notify_max_attempts", "notify",
                "Delivery attempts before a notification goes to the dead-letter table",
                &Config::notify_max_attempts},
    ConfigField{"notify_retry_base_ms", "notify",
                "First retry delay bound; doubles per attempt (with full jitter)",
                &Config::notify_retry_base_ms},
    ConfigField{"notify_retry_max_ms", "notify", "Largest retry delay",
                &Config::notify_retry_max_ms},
    ConfigField{"notify_visibility_timeout_ms", "notify",
                "A claimed notification not finished within this is delivered again; must exceed "
                "notify_http_timeout_ms",
                &Config::notify_visibility_timeout_ms},
    ConfigField{"notify_http_timeout_ms", "notify", "Timeout of one webhook or Web Push request",
                &Config::notify_http_timeout_ms},
    ConfigField{"notify_push_hosts", "notify",
                "Push service hosts (and their subdomains) that Web Push subscriptions may use",
                &Config::notify_push_hosts},
    ConfigField{"notify_vapid_subject", "notify",
                "VAPID contact (mailto: or https: URL) sent to push services",
                &Config::notify_vapid_subject},
    // [chat] storage bounds
    ConfigField{"quota_entries_per_day", "chat",
                "Messages, edits and reactions one user may store per UTC day; 0 means no limit",
                &Config::quota_entries_per_day},
    ConfigField{
        "quota_bytes_per_day", "chat",
        "Bytes of message text (messages, edits, reactions) one user may store per UTC day; "
        "0 means no limit",
        &Config::quota_bytes_per_day},
    ConfigField{"min_free_disk_bytes", "chat",
                "When the data dir's file system has less free space, writes are refused (503)",
                &Config::min_free_disk_bytes},
    ConfigField{"disk_check_interval_ms", "chat",
                "How often free disk space and the database file sizes are measured",
                &Config::disk_check_interval_ms},
    ConfigField{"purge_interval_ms", "chat",
                "Deleted and edited-away text is purged from the files (index rewrite, WAL "
                "truncation) at this interval, when there was any",
                &Config::purge_interval_ms},
    // [chat] search bounds
    ConfigField{"search_deadline_ms", "chat",
                "A search stops after this long and answers what it found, marked truncated",
                &Config::search_deadline_ms},
    ConfigField{"search_max_concurrent", "chat",
                "Searches running at once in the server (one per user); 0 means half the "
                "blocking pool, at least 1",
                &Config::search_max_concurrent},
    ConfigField{"search_max_conversations", "chat",
                "A search visits at most this many of the user's most recently active "
                "conversations",
                &Config::search_max_conversations},
    ConfigField{"rate_search_per_min", "rate_limits", "Searches per minute per user",
                &Config::rate_search_per_min},
    ConfigField{"rate_search_burst", "rate_limits", "Burst size for rate_search_per_min",
                &Config::rate_search_burst},
};

constexpr uint64_t kMinArgon2OpsLimit = 2;
constexpr uint64_t kMinArgon2MemLimit = 19ull << 20;  // OWASP password storage cheat sheet
constexpr int kMaxThreads = 256;
constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};

// Joins with "; " so that several problems read as one start-up message.
std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string Quote(std::string_view text) {
  std::string out = "'";
  out += text;
  out += "'";
  return out;
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

// Parses the whole of `text` as T; no surrounding spaces, no sign on unsigned types.
template <class T>
bool ParseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  // from_chars takes no '+', but "+5" is a reasonable thing to write for a signed value.
  if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
    if (*first == '+' && last - first > 1 && first[1] != '-') ++first;
  }
  T value{};
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last) return false;
  out = value;
  return true;
}

std::string FormatDouble(double value) {
  std::array<char, 64> buffer;
  const auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc() ? std::string(buffer.data(), ptr) : std::string("?");
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang before 17 has no aggregate deduction, and the fuzz build uses clang.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string_view TomlTypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string Where(const std::string& path, const toml::source_region& region) {
  std::string out = path;
  if (region.begin.line > 0) {
    out += ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
  }
  return out;
}

const ConfigField* FindField(std::string_view section, std::string_view name) {
  for (const ConfigField& field : kFields) {
    if (field.section == section && field.name == name) return &field;
  }
  return nullptr;
}

// For "unknown key" messages: a key that exists in another section is a likely misplacement.
std::string SectionHint(std::string_view name) {
  for (const ConfigField& field : kFields) {
    if (field.name == name) return " (it belongs in [" + std::string(field.section) + "])";
  }
  return "";
}

bool IsKnownSection(std::string_view section) {
  return std::any_of(kFields.begin(), kFields.end(),
                     [&](const ConfigField& field) { return field.section == section; });
}

// Sets `field` from a TOML value, or returns why the value has the wrong type or range.
std::optional<std::string> SetFieldFromToml(Config& config, const ConfigField& field,
                                            const toml::node& node) {
  const auto expected = [&](std::string_view what) -> std::optional<std::string> {
    return "expected " + std::string(what) + ", got " + std::string(TomlTypeName(node.type()));
  };
  return std::visit(
      Overloaded{
          [&](std::string Config::*member) -> std::optional<std::string> {
            const auto* value = node.as_string();
            if (value == nullptr) return expected("a string");
            config.*member = value->get();
            return std::nullopt;
          },
          [&](int Config::*member) -> std::optional<std::string> {
            const auto* value = node.as_integer();
            if (value == nullptr) return expected("an integer");
            const int64_t v = value->get();
            if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
              return std::string("integer out of range");
            }
            config.*member = static_cast<int>(v);
            return std::nullopt;
          },
          [&](uint64_t Config::*member) -> std::optional<std::string> {
            const auto* value = node.as_integer();
            if (value == nullptr) return expected("a non-negative integer");
            if (value->get() < 0) return std::string("expected a non-negative integer");
            config.*member = static_cast<uint64_t>(value->get());
            return std::nullopt;
          },
          [&](double Config::*member) -> std::optional<std::string> {
            // `30` and `30.0` both read naturally as a rate, so accept either.
            if (const auto* value = node.as_floating_point()) {
              config.*member = value->get();
            } else if (const auto* integer = node.as_integer()) {
              config.*member = static_cast<double>(integer->get());
            } else {
              return expected("a number");
            }
            return std::nullopt;
          },
          [&](std::vector<std::string> Config::*member) -> std::optional<std::string> {
            const auto* array = node.as_array();
            if (array == nullptr) return expected("an array of strings");
            std::vector<std::string> items;
            for (const toml::node& element : *array) {
              const auto* item = element.as_string();
              if (item == nullptr) {
                return "expected an array of strings, got an element that is " +
                       std::string(TomlTypeName(element.type()));
              }
              items.push_back(item->get());
            }
            config.*member = std::move(items);
            return std::nullopt;
          },
      },
      field.member);
}

// scheme://host[:port] with an http or https scheme and no path (a trailing '/' is fine); the
// gateway parses it fully (net/origin.h).
bool LooksLikeOrigin(std::string_view text) {
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else {
    return false;
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  return !rest.empty() && rest.find_first_of("/?#@ ") == std::string_view::npos;
}

}  // namespace

std::span<const ConfigField> ConfigFields() { return kFields; }

std::string EnvVarName(const ConfigField& field) {
  std::string name = "PARLEY_";
  for (char c : field.name) {
    name += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return name;
}

std::string FlagName(const ConfigField& field) {
  std::string name = "--";
  for (char c : field.name) name += c == '_' ? '-' : c;
  return name;
}

std::string FieldToText(const Config& config, const ConfigField& field) {
  return std::visit(
      Overloaded{
          [&](std::string Config::*member) { return config.*member; },
          [&](int Config::*member) { return std::to_string(config.*member); },
          [&](uint64_t Config::*member) { return std::to_string(config.*member); },
          [&](double Config::*member) { return FormatDouble(config.*member); },
          [&](std::vector<std::string> Config::*member) { return Join(config.*member, ","); },
      },
      field.member);
}

Status SetFieldFromText(Config& config, const ConfigField& field, std::string_view text,
                        std::string_view source) {
  const auto bad = [&](std::string_view what) -> Status {
    return Error::InvalidRequest(std::string(source) + ": " + Quote(text) + " is not " +
                                 std::string(what));
  };
  return std::visit(Overloaded{
                        [&](std::string Config::*member) -> Status {
                          config.*member = std::string(text);
                          return Status::Ok();
                        },
                        [&](int Config::*member) -> Status {
                          int value = 0;
                          if (!ParseNumber(text, value)) return bad("an integer");
                          config.*member = value;
                          return Status::Ok();
                        },
                        [&](uint64_t Config::*member) -> Status {
                          uint64_t value = 0;
                          if (!ParseNumber(text, value)) return bad("a non-negative integer");
                          config.*member = value;
                          return Status::Ok();
                        },
                        [&](double Config::*member) -> Status {
                          double value = 0;
                          if (!ParseNumber(text, value)) return bad("a number");
                          config.*member = value;
                          return Status::Ok();
                        },
                        [&](std::vector<std::string> Config::*member) -> Status {
                          config.*member = SplitList(text);
                          return Status::Ok();
                        },
                    },
                    field.member);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  const auto bad = [&](std::string_view why) -> Error {
    return Error::InvalidRequest("listen: " + Quote(text) + " " + std::string(why));
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("has '[' without ']'");
    host = text.substr(1, close - 1);
    if (text.substr(close + 1, 1) != ":") return bad("needs :PORT after the IPv6 address");
    port = text.substr(close + 2);
    const bool ipv6_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    if (host.find(':') == std::string_view::npos || !ipv6_chars) {
      return bad("has no IPv6 address between the brackets");
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("is not HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad("has an IPv6 host without brackets; write [HOST]:PORT");
    }
    const bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!name_chars) return bad("has characters that cannot be in a host name");
  }
  if (host.empty()) return bad("has an empty host; use 0.0.0.0 or [::] for all interfaces");
  // Digits only: from_chars alone would accept a sign on some types and we want no surprises.
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  uint32_t port_number = 0;
  if (!digits || !ParseNumber(port, port_number) || port_number > 65535) {
    return bad("needs a port from 0 to 65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port_number)};
}

Result<Config> LoadConfigFile(const std::string& path, Config base) {
  toml::table root;
  // toml++ reports syntax errors by throwing; this is start-up code, and the exception
  // stops here so that callers see a Result like everywhere else.
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return Error::InvalidRequest("config file " + Where(path, error.source()) + ": " +
                                 std::string(error.description()));
  }

  // toml++ iterates keys in sorted order; problems are reported in file order instead.
  std::vector<std::pair<toml::source_position, std::string>> problems;
  const auto problem = [&](const toml::source_region& where, std::string what) {
    problems.emplace_back(where.begin, Where(path, where) + ": " + std::move(what));
  };
  for (const auto& [section_key, section_node] : root) {
    const std::string_view section = section_key.str();
    if (!IsKnownSection(section)) {
      problem(section_key.source(),
              section_node.is_table()
                  ? "unknown section [" + std::string(section) + "]"
                  : "unknown key '" + std::string(section) + "'" + SectionHint(section));
      continue;
    }
    const toml::table* table = section_node.as_table();
    if (table == nullptr) {
      problem(section_key.source(), "'" + std::string(section) + "' must be a section, got " +
                                        std::string(TomlTypeName(section_node.type())));
      continue;
    }
    for (const auto& [key, node] : *table) {
      const std::string dotted = std::string(section) + "." + std::string(key.str());
      const ConfigField* field = FindField(section, key.str());
      if (field == nullptr) {
        problem(key.source(), "unknown key '" + dotted + "'" + SectionHint(key.str()));
      } else if (std::optional<std::string> wrong = SetFieldFromToml(base, *field, node)) {
        problem(node.source(), dotted + ": " + *wrong);
      }
    }
  }
  if (!problems.empty()) {
    std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
      return std::pair(a.first.line, a.first.column) < std::pair(b.first.line, b.first.column);
    });
    std::vector<std::string> messages;
    messages.reserve(problems.size());
    for (auto& [where, message] : problems) messages.push_back(std::move(message));
    return Error::InvalidRequest(Join(messages, "; "));
  }
  return base;
}

Result<Config> ApplyEnvironment(const std::vector<std::string>& env, Config base) {
  std::vector<std::string> problems;
  for (const std::string& entry : env) {
    const size_t equals = entry.find('=');
    if (equals == std::string::npos) continue;
    const std::string_view name = std::string_view(entry).substr(0, equals);
    const std::string_view value = std::string_view(entry).substr(equals + 1);
    if (!name.starts_with("PARLEY_")) continue;
    for (const ConfigField& field : kFields) {
      if (EnvVarName(field) != name) continue;
      if (Status status = SetFieldFromText(base, field, value, name); !status) {
        problems.push_back(status.error().message);
      }
      break;
    }
  }
  if (!problems.empty()) return Error::InvalidRequest(Join(problems, "; "));
  return base;
}

Status ValidateConfig(const Config& config) {
  std::vector<std::string> problems;
  const auto require = [&](bool ok, std::string problem) {
    if (!ok) problems.push_back(std::move(problem));
  };

  if (Result<HostPort> listen = ParseHostPort(config.listen); !listen) {
    problems.push_back(listen.error().message);
  }
  require(!config.data_dir.empty(), "data_dir: must not be empty");
  require(config.threads >= 0 && config.threads <= kMaxThreads,
          "threads: " + std::to_string(config.threads) + " is not between 0 and " +
              std::to_string(kMaxThreads));
  require(std::find(kLogLevels.begin(), kLogLevels.end(), config.log_level) != kLogLevels.end(),
          "log_level: " + Quote(config.log_level) +
              " is not one of trace, debug, info, warn, error, off");
  require(config.tls_cert.empty() == config.tls_key.empty(),
          "tls_cert and tls_key: set both to enable TLS, or neither");

  for (const auto& [name, value] :
       {std::pair{"max_body_bytes", config.max_body_bytes},
        std::pair{"max_frame_bytes", config.max_frame_bytes},
        std::pair{"max_write_queue_bytes", config.max_write_queue_bytes}}) {
    require(value > 0, std::string(name) + ": must be greater than 0");
  }
  for (const auto& [name, value] : {std::pair{"handshake_timeout_ms", config.handshake_timeout_ms},
                                    std::pair{"auth_timeout_ms", config.auth_timeout_ms},
                                    std::pair{"http_idle_timeout_ms", config.http_idle_timeout_ms},
                                    std::pair{"heartbeat_ms", config.heartbeat_ms},
                                    std::pair{"drain_timeout_ms", config.drain_timeout_ms},
                                    std::pair{"access_token_ttl_s", config.access_token_ttl_s},
                                    std::pair{"refresh_token_ttl_s", config.refresh_token_ttl_s}}) {
    require(value > 0,
            std::string(name) + ": must be greater than 0, got " + std::to_string(value));
  }

  require(config.argon2_ops_limit >= kMinArgon2OpsLimit,
          "argon2_ops_limit: " + std::to_string(config.argon2_ops_limit) +
              " is below the OWASP minimum of 2");
  require(config.argon2_mem_limit >= kMinArgon2MemLimit,
          "argon2_mem_limit: " + std::to_string(config.argon2_mem_limit) +
              " bytes is below the OWASP minimum of 19 MiB (" + std::to_string(kMinArgon2MemLimit) +
              ")");
  require(config.max_devices_per_user >= 1, "max_devices_per_user: must be at least 1");
  require(config.auth_hash_threads >= 0 && config.auth_hash_threads <= 256,
          "auth_hash_threads: must be between 0 and 256");
  require(config.auth_hash_queue >= 1, "auth_hash_queue: must be at least 1");
  require(
      config.durability == "full" || config.durability == "normal" || config.durability == "off",
      "durability: " + Quote(config.durability) + " is not one of full, normal, off");
  require(config.max_message_bytes > 0, "max_message_bytes: must be greater than 0");
  require(config.max_group_members >= 2, "max_group_members: must be at least 2");
  require(config.max_message_fragments >= 1, "max_message_fragments: must be at least 1");
  require(config.max_ws_per_user >= 0, "max_ws_per_user: must be >= 0");
  require(config.max_ws_per_device >= 0, "max_ws_per_device: must be >= 0");
  require(config.receipt_fanout_max_members >= 0, "receipt_fanout_max_members: must be >= 0");
  require(config.presence_grace_ms >= 0, "presence_grace_ms: must be >= 0");
  require(config.presence_max_group_size >= 0, "presence_max_group_size: must be >= 0");
  require(config.presence_max_fanout >= 1, "presence_max_fanout: must be at least 1");
  require(config.presence_max_subscriptions >= 1 && config.presence_max_subscriptions <= 10'000,
          "presence_max_subscriptions: must be between 1 and 10000");
  require(config.max_reactions_per_message >= 1, "max_reactions_per_message: must be at least 1");
  require(config.max_reactions_per_user_message >= 1,
          "max_reactions_per_user_message: must be at least 1");
  require(config.conversations_page_size >= 1 && config.conversations_page_size <= 10'000,
          "conversations_page_size: must be between 1 and 10000");
  require(config.default_group_adds == "anyone" || config.default_group_adds == "contacts" ||
              config.default_group_adds == "nobody",
          "default_group_adds: " + Quote(config.default_group_adds) +
              " is not one of anyone, contacts, nobody");
  require(config.max_pending_invitations >= 1, "max_pending_invitations: must be at least 1");
  for (const std::string& origin : config.allowed_origins) {
    require(origin == "*" || origin == "null" || LooksLikeOrigin(origin),
            "allowed_origins: " + Quote(origin) + " is not *, null or an http(s)://host[:port]");
  }
  for (const std::string& origin : config.public_origin) {
    require(LooksLikeOrigin(origin),
            "public_origin: " + Quote(origin) + " is not an http(s)://host[:port] origin");
  }
  if (!config.metrics_listen.empty()) {
    Result<HostPort> metrics = ParseHostPort(config.metrics_listen);
    require(metrics.ok(), "metrics_" + (metrics.ok() ? "" : metrics.error().message));
  }
  require(config.metrics_token.empty() || config.metrics_token.size() >= 16,
          "metrics_token: use at least 16 characters");

  // A bucket that refills at rate 0 or holds less than one token would refuse every request.
  for (const auto& [name, value, minimum] :
       {std::tuple{"rate_auth_ip_per_min", config.rate_auth_ip_per_min, 0.0},
        std::tuple{"rate_auth_ip_burst", config.rate_auth_ip_burst, 1.0},
        std::tuple{"rate_auth_user_per_min", config.rate_auth_user_per_min, 0.0},
        std::tuple{"rate_auth_user_burst", config.rate_auth_user_burst, 1.0},
        std::tuple{"rate_auth_user_fresh_per_min", config.rate_auth_user_fresh_per_min, 0.0},
        std::tuple{"rate_auth_user_fresh_burst", config.rate_auth_user_fresh_burst, 1.0},
        std::tuple{"rate_auth_user_ip_per_min", config.rate_auth_user_ip_per_min, 0.0},
        std::tuple{"rate_auth_user_ip_burst", config.rate_auth_user_ip_burst, 1.0},
        std::tuple{"rate_refresh_per_min", config.rate_refresh_per_min, 0.0},
        std::tuple{"rate_refresh_burst", config.rate_refresh_burst, 1.0},
        std::tuple{"rate_send_per_min", config.rate_send_per_min, 0.0},
        std::tuple{"rate_send_burst", config.rate_send_burst, 1.0},
        std::tuple{"rate_typing_per_min", config.rate_typing_per_min, 0.0},
        std::tuple{"rate_typing_burst", config.rate_typing_burst, 1.0},
        std::tuple{"rate_frames_per_min", config.rate_frames_per_min, 0.0},
        std::tuple{"rate_frames_burst", config.rate_frames_burst, 1.0},
        std::tuple{"rate_control_frames_per_min", config.rate_control_frames_per_min, 0.0},
        std::tuple{"rate_control_frames_burst", config.rate_control_frames_burst, 1.0},
        std::tuple{"rate_conversations_per_min", config.rate_conversations_per_min, 0.0},
        std::tuple{"rate_conversations_burst", config.rate_conversations_burst, 1.0},
        std::tuple{"rate_member_adds_per_min", config.rate_member_adds_per_min, 0.0},
        std::tuple{"rate_member_adds_burst", config.rate_member_adds_burst, 1.0},
        std::tuple{"rate_search_per_min", config.rate_search_per_min, 0.0},
        std::tuple{"rate_search_burst", config.rate_search_burst, 1.0}}) {
    const bool ok = std::isfinite(value) && (minimum == 0.0 ? value > 0.0 : value >= minimum);
    require(ok, std::string(name) + ": " + FormatDouble(value) +
                    (minimum == 0.0 ? " must be greater than 0" : " must be at least 1"));
  }

  if (!config.notify_webhook_url.empty()) {
    require(config.notify_webhook_url.starts_with("http://") ||
                config.notify_webhook_url.starts_with("https://"),
            "notify_webhook_url: " + Quote(config.notify_webhook_url) +
                " is not an http:// or https:// URL");
    require(!config.notify_webhook_secret.empty(),
            "notify_webhook_secret: must be set when notify_webhook_url is");
  }
  require(config.notify_window_ms >= 0, "notify_window_ms: must be >= 0");
  require(config.notify_workers >= 1 && config.notify_workers <= 64,
          "notify_workers: must be between 1 and 64");
  require(config.notify_max_attempts >= 1, "notify_max_attempts: must be at least 1");
  require(config.notify_retry_base_ms >= 0, "notify_retry_base_ms: must be >= 0");
  require(config.notify_retry_max_ms >= config.notify_retry_base_ms,
          "notify_retry_max_ms: must be >= notify_retry_base_ms");
  require(config.notify_http_timeout_ms > 0, "notify_http_timeout_ms: must be greater than 0");
  require(config.notify_visibility_timeout_ms > config.notify_http_timeout_ms,
          "notify_visibility_timeout_ms: must be greater than notify_http_timeout_ms, or a slow "
          "delivery would be sent twice");
  require(config.notify_vapid_subject.starts_with("mailto:") ||
              config.notify_vapid_subject.starts_with("https:"),
          "notify_vapid_subject: must be a mailto: or https: URL (RFC 8292)");
  require(config.quota_entries_per_day >= 0, "quota_entries_per_day: must be >= 0");
  require(config.disk_check_interval_ms > 0, "disk_check_interval_ms: must be greater than 0");
  require(config.purge_interval_ms > 0, "purge_interval_ms: must be greater than 0");
  require(config.search_deadline_ms > 0, "search_deadline_ms: must be greater than 0");
  require(config.search_max_concurrent >= 0, "search_max_concurrent: must be >= 0");
  require(config.search_max_conversations >= 1, "search_max_conversations: must be at least 1");

  if (!problems.empty()) return Error::InvalidRequest(Join(problems, "; "));
  return Status::Ok();
}

}  // namespace parley
