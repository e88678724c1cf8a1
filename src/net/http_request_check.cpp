#include "net/http_request_check.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <iterator>
#include <string>

namespace parley::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

bool IsTchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return IsTchar(static_cast<unsigned char>(c));
  });
}

// field-value characters (RFC 9110 section 5.5): VCHAR, obs-text, SP and HTAB.
bool IsFieldValueChar(unsigned char c) { return c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f); }

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool AllDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Host = uri-host [ ":" port ] (RFC 9110 section 7.2), without userinfo or percent-encoding.
bool ValidHost(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    const std::string_view inside = host.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return false;
    }
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (!AllDigits(port) || port.size() > 5) return false;
    }
    return true;
  }
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (!AllDigits(port) || port.size() > 5) return false;
  }
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~';
  });
}

// Request line: method SP request-target SP HTTP-version, single spaces, nothing else.
std::optional<std::string> CheckRequestLine(std::string_view line) {
  const size_t first = line.find(' ');
  if (first == std::string_view::npos) return "request line has no target";
  const size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return "request line has no HTTP version";
  if (line.find(' ', second + 1) != std::string_view::npos) {
    return "request line has more than two spaces";
  }
  if (!IsToken(line.substr(0, first))) return "request method is not a token";
  const std::string_view target = line.substr(first + 1, second - first - 1);
  if (target.empty()) return "request target is empty";
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return "request target has a character that must be encoded";
  }
  const std::string_view version = line.substr(second + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return "only HTTP/1.1 and HTTP/1.0 are served";
  return std::nullopt;
}

std::optional<std::string> CheckFieldLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return "a field line starts with whitespace (obs-fold or whitespace after the request "
           "line)";
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return "a field line has no ':'";
  if (!IsToken(line.substr(0, colon))) {
    return "a field name is not a token (no whitespace before ':')";
  }
  for (char c : line.substr(colon + 1)) {
    if (!IsFieldValueChar(static_cast<unsigned char>(c))) {
      return "a field value has a control character";
    }
  }
  return std::nullopt;
}

size_t CountFields(const http::fields& fields, http::field name) {
  const auto range = fields.equal_range(name);
  return static_cast<size_t>(std::distance(range.first, range.second));
}

}  // namespace

RequestHeadScanner::State RequestHeadScanner::Fail(std::string message) {
  error_ = Error::InvalidRequest("malformed HTTP request: " + std::move(message));
  return State::kInvalid;
}

RequestHeadScanner::State RequestHeadScanner::Feed(std::string_view bytes) {
  for (;;) {
    const size_t lf = bytes.find('\n', scan_pos_);
    const size_t end = lf == std::string_view::npos ? bytes.size() : lf;
    // Each byte is looked at once, however the head is split into reads. Bare CR and NUL are
    // refused as soon as they arrive, not when their line completes.
    for (size_t i = scan_pos_; i < end; ++i) {
      if (bytes[i] == '\0') return Fail("NUL byte in the request head");
      if (bytes[i] == '\r' && i + 1 < end) return Fail("bare CR in the request head");
    }
    if (lf == std::string_view::npos) {
      // A CR at the very end may yet be followed by its LF: look at it again next time.
      scan_pos_ = end > line_start_ && bytes[end - 1] == '\r' ? end - 1 : end;
      if (bytes.size() > kMaxRequestHeadBytes) return Fail("request head is too large");
      return State::kIncomplete;
    }
    const std::string_view raw = bytes.substr(line_start_, end - line_start_);
    if (raw.empty() || raw.back() != '\r') return Fail("bare LF in the request head (use CRLF)");
    const std::string_view line = raw.substr(0, raw.size() - 1);
    line_start_ = scan_pos_ = lf + 1;
    if (line_start_ > kMaxRequestHeadBytes) return Fail("request head is too large");
    if (!have_request_line_) {
      if (line.empty()) {  // RFC 9112 section 2.2: ignore empty lines before it
        request_start_ = line_start_;
        continue;
      }
      if (auto problem = CheckRequestLine(line)) return Fail(*problem);
      have_request_line_ = true;
      continue;
    }
    if (line.empty()) {
      head_length_ = line_start_;
      return State::kComplete;
    }
    if (auto problem = CheckFieldLine(line)) return Fail(*problem);
  }
}

void ConfigureRequestParser(RequestParser& parser, uint64_t body_limit) {
  parser.body_limit(body_limit);
  parser.header_limit(static_cast<std::uint32_t>(kMaxRequestHeadBytes));
}

std::optional<Error> CheckRequestHeader(const http::request_header<http::fields>& header) {
  const auto bad = [](std::string message) {
    return Error::InvalidRequest("malformed HTTP request: " + std::move(message));
  };
  if (header.version() != 11 && header.version() != 10) {
    return bad("only HTTP/1.1 and HTTP/1.0 are served");
  }

  const size_t hosts = CountFields(header, http::field::host);
  if (hosts > 1) return bad("more than one Host field");
  if (hosts == 0 && header.version() == 11) return bad("an HTTP/1.1 request needs a Host field");
  if (hosts == 1 && !ValidHost(TrimOws(header[http::field::host]))) {
    return bad("Host is not a valid host[:port]");
  }

  for (http::field once :
       {http::field::authorization, http::field::origin, http::field::content_type,
        http::field::sec_websocket_key, http::field::sec_websocket_version, http::field::upgrade}) {
    if (CountFields(header, once) > 1) {
      return bad("more than one " + std::string(http::to_string(once)) + " field");
    }
  }

  const size_t lengths = CountFields(header, http::field::content_length);
  if (lengths > 1) return bad("more than one Content-Length field");
  if (lengths == 1) {
    const std::string_view length = TrimOws(header[http::field::content_length]);
    if (!AllDigits(length) || length.size() > 18) return bad("Content-Length is not a number");
  }
  const size_t codings = CountFields(header, http::field::transfer_encoding);
  if (codings > 0) {
    if (codings > 1) return bad("more than one Transfer-Encoding field");
    if (!beast::iequals(TrimOws(header[http::field::transfer_encoding]), "chunked")) {
      return bad("the only Transfer-Encoding served is chunked");
    }
    if (header.version() != 11) return bad("Transfer-Encoding needs HTTP/1.1");
    if (lengths > 0) return bad("Transfer-Encoding together with Content-Length");
  }

  const std::string_view target = header.target();
  if (!target.starts_with('/')) {
    return bad("the request target must be a path starting with '/' (origin-form)");
  }
  if (!boost::urls::parse_origin_form(target)) return bad("the request target is not a valid path");
  return std::nullopt;
}

std::optional<Error> CheckRequestBytes(std::string_view bytes, uint64_t body_limit) {
  RequestHeadScanner scanner;
  // Feed in two steps, as a socket might deliver it, so that the resumable path is exercised.
  if (scanner.Feed(bytes.substr(0, bytes.size() / 2)) == RequestHeadScanner::State::kInvalid) {
    return scanner.error();
  }
  switch (scanner.Feed(bytes)) {
    case RequestHeadScanner::State::kInvalid:
      return scanner.error();
    case RequestHeadScanner::State::kIncomplete:
      return std::nullopt;
    case RequestHeadScanner::State::kComplete:
      break;
  }
  bytes.remove_prefix(scanner.leading_empty_bytes());
  RequestParser parser;
  ConfigureRequestParser(parser, body_limit);
  parser.eager(false);
  beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec && ec != http::error::need_more) {
    return Error::InvalidRequest("malformed HTTP request: " + ec.message());
  }
  if (!parser.is_header_done()) return std::nullopt;
  if (auto refusal = CheckRequestHeader(parser.get().base())) return refusal;
  parser.eager(true);
  std::string_view rest = bytes.substr(used);
  while (!rest.empty() && !parser.is_done()) {
    used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit) return Error::PayloadTooLarge("request body too large");
    if (ec) return Error::InvalidRequest("malformed HTTP request: " + ec.message());
    if (used == 0) break;
    rest.remove_prefix(used);
  }
  return std::nullopt;
}

}  // namespace parley::net
