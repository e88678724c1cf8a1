#include "net/origin.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace parley::net {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 3986 reg-name without percent-encoding (browsers send IDNA names in ASCII), or an
// IPv4 address: letters, digits, '-', '.', '_'.
bool ValidRegName(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

bool ValidIpv6Literal(std::string_view inside) {
  return inside.find(':') != std::string_view::npos &&
         std::all_of(inside.begin(), inside.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
         });
}

std::string WithPort(std::string_view host, uint16_t port) {
  return "http://" + std::string(host) + ":" + std::to_string(port);
}

}  // namespace

std::string Origin::ToString() const { return scheme + "://" + host + ":" + std::to_string(port); }

std::optional<Origin> ParseOrigin(std::string_view text) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Origin origin;
  origin.scheme = Lower(text.substr(0, sep));
  uint16_t default_port = 0;
  if (origin.scheme == "http") {
    default_port = 80;
  } else if (origin.scheme == "https") {
    default_port = 443;
  } else {
    return std::nullopt;
  }
  std::string_view rest = text.substr(sep + 3);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || !ValidIpv6Literal(rest.substr(1, close - 1))) {
      return std::nullopt;
    }
    host = rest.substr(0, close + 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (!ValidRegName(host)) return std::nullopt;
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  origin.host = Lower(host);
  origin.port = default_port;
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    unsigned value = 0;
    std::from_chars(port.data(), port.data() + port.size(), value);
    if (value == 0 || value > 65535) return std::nullopt;
    origin.port = static_cast<uint16_t>(value);
  }
  return origin;
}

std::vector<std::string> DefaultPublicOrigins(std::string_view listen_host, uint16_t port) {
  const bool v6 = listen_host.find(':') != std::string_view::npos;
  if (listen_host == "0.0.0.0" || listen_host == "::") {
    return {WithPort("127.0.0.1", port), WithPort("localhost", port), WithPort("[::1]", port)};
  }
  if (listen_host.starts_with("127.") || listen_host == "localhost") {
    return {WithPort(listen_host, port), WithPort("localhost", port)};
  }
  if (listen_host == "::1") return {WithPort("[::1]", port), WithPort("localhost", port)};
  return {WithPort(v6 ? "[" + std::string(listen_host) + "]" : std::string(listen_host), port)};
}

OriginPolicy::OriginPolicy(const std::vector<std::string>& public_origins,
                           const std::vector<std::string>& allowed_origins) {
  for (const auto* list : {&public_origins, &allowed_origins}) {
    for (const std::string& entry : *list) {
      if (entry == "*") {
        any_ = true;
      } else if (entry == "null") {
        null_allowed_ = true;
      } else if (auto origin = ParseOrigin(entry)) {
        origins_.push_back(std::move(*origin));
      }
    }
  }
}

bool OriginPolicy::Allows(std::string_view origin_header) const {
  if (origin_header.empty()) return true;  // not a browser: nothing for the check to protect
  if (any_) return true;
  if (origin_header == "null") return null_allowed_;
  const std::optional<Origin> origin = ParseOrigin(origin_header);
  return origin && std::find(origins_.begin(), origins_.end(), *origin) != origins_.end();
}

}  // namespace parley::net
