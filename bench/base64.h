#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

/// Standard base64 with padding: the WebSocket key (ws_conn) and SASL PLAIN (xmpp_codec).
inline std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  const auto* d = reinterpret_cast<const uint8_t*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b = (uint32_t{d[i]} << 16) | (i + 1 < n ? uint32_t{d[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{d[i + 2]} : 0);
    out += kAlphabet[(b >> 18) & 63];
    out += kAlphabet[(b >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[b & 63] : '=';
  }
  return out;
}

}  // namespace parley::bench
