#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net {

/// A web origin (RFC 6454): scheme, host and port, normalised so that equal origins compare
/// equal: scheme and host in lower case, the port always explicit (80 for http, 443 for https
/// when the text gives none), IPv6 hosts in brackets.
struct Origin {
  std::string scheme;
  std::string host;
  uint16_t port = 0;

  bool operator==(const Origin&) const = default;
  std::string ToString() const;  // e.g. "http://localhost:8080"
};

/// Parses "scheme://host[:port]" with scheme http or https, as browsers send in the Origin
/// header (a single trailing '/' is tolerated, for hand-written config). Anything else (a
/// path, a query, userinfo, "null", an empty or malformed host or port) is nullopt.
std::optional<Origin> ParseOrigin(std::string_view text);

/// The origins a browser shows for a server bound to `listen_host`:`port` when no public
/// origin is configured. Loopback and wildcard addresses give the loopback names
/// (http://127.0.0.1:P, http://localhost:P, and http://[::1]:P for IPv6 or a wildcard);
/// any other address gives http://ADDRESS:P.
std::vector<std::string> DefaultPublicOrigins(std::string_view listen_host, uint16_t port);

/// Decides whether a WebSocket upgrade's Origin header may open a socket. The page's origin
/// must equal (scheme, host and port) one of the server's public origins or an entry of the
/// allow-list; "*" in the allow-list admits any origin. The Host header is never consulted:
/// a DNS-rebound page sends the attacker's name in Origin and the server's in Host.
/// A request without Origin is not from a browser and is allowed. Immutable after
/// construction, so any thread may call Allows().
class OriginPolicy {
 public:
  OriginPolicy() = default;
  /// Entries that do not parse are ignored here; ValidateConfig reports them at start-up.
  OriginPolicy(const std::vector<std::string>& public_origins,
               const std::vector<std::string>& allowed_origins);

  bool Allows(std::string_view origin_header) const;
  const std::vector<Origin>& origins() const { return origins_; }

 private:
  std::vector<Origin> origins_;
  bool any_ = false;
  bool null_allowed_ = false;  // "null" listed explicitly (sandboxed pages, file://)
};

}  // namespace parley::net
