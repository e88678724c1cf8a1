#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace parley {

/// A decoded HTTP request, free of any transport type so that handlers are testable without
/// sockets. `params` holds the `{name}` segments the route matched; `query` the decoded
/// query string; `headers` the request's header fields by lower-cased name (a repeated field
/// keeps its last value).
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string bearer_token;  // from "Authorization: Bearer ..."; empty when absent
  std::string client_ip;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Extra header fields. They replace the gateway's defaults of the same name, e.g. a
  /// Cache-Control here replaces the default "no-store".
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpReply Json(int status, std::string body) {
    HttpReply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static HttpReply NoContent() {
    HttpReply r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  /// The contract's error body with the status that matches the code.
  static HttpReply FromError(const Error& error);
};

}  // namespace parley
