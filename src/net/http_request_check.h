#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace parley::net {

/// The strict reading of HTTP/1.1 requests (RFC 9112) that the gateway applies before Beast
/// parses a request, and after it has parsed the head but before the body is read. Anything a
/// proxy in front of parleyd could frame or route differently is refused with a 400 and the
/// connection is closed, so no bytes behind a refused request are ever read as a request.
/// The HTTP session and the fuzz target (fuzz/http_request_fuzz.cpp) call the same functions.

inline constexpr size_t kMaxRequestHeadBytes = 16 * 1024;

/// Finds the end of a request head in bytes received so far, checking each line as it
/// completes: CRLF line ends only (no bare CR or LF), no NUL or other control characters,
/// a request line of exactly `METHOD SP TARGET SP HTTP/1.x`, no whitespace before the
/// request line's fields or at the start of a field line (obs-fold), field names of token
/// characters directly followed by ':'. Empty lines before the request line are skipped
/// (RFC 9112 section 2.2). Keeps its place between calls; one scanner per request.
class RequestHeadScanner {
 public:
  enum class State { kIncomplete, kComplete, kInvalid };

  /// `bytes`: everything received for this request so far (the same prefix each call,
  /// growing). kComplete: head_length() bytes are the head, CRLFCRLF included.
  State Feed(std::string_view bytes);
  size_t head_length() const { return head_length_; }
  /// Bytes of empty lines before the request line: the caller drops them before parsing.
  size_t leading_empty_bytes() const { return request_start_; }
  /// Why the head was refused (kInvalid).
  const Error& error() const { return error_; }

 private:
  State Fail(std::string message);

  size_t line_start_ = 0;  // first byte of the line being read
  size_t scan_pos_ = 0;    // bytes before this were checked
  bool have_request_line_ = false;
  size_t request_start_ = 0;
  size_t head_length_ = 0;
  Error error_;
};

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// The parser limits parleyd uses: `body_limit` for the body, kMaxRequestHeadBytes for the head.
void ConfigureRequestParser(RequestParser& parser, uint64_t body_limit);

/// The checks on a parsed head: one Host (HTTP/1.1: exactly one, non-empty, a valid
/// host[:port]); Transfer-Encoding only as the single coding `chunked` on HTTP/1.1 and never
/// with Content-Length; at most one Content-Length, of digits only; no repeated Authorization,
/// Origin, Content-Type or WebSocket handshake field; an origin-form target (starting with
/// '/', a valid path and query, no fragment). nullopt when the request may be served.
std::optional<Error> CheckRequestHeader(
    const boost::beast::http::request_header<boost::beast::http::fields>& header);

/// The whole path on a buffer: scan, Beast parse with ConfigureRequestParser, CheckRequestHeader,
/// then the body. Returns the first refusal, or nullopt for a request that would be served
/// (also when the bytes end before the request does). For the fuzz target and unit tests.
std::optional<Error> CheckRequestBytes(std::string_view bytes, uint64_t body_limit);

}  // namespace parley::net
