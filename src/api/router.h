#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace parley {

/// Where a handler should run. kInline handlers are cheap and never block (the io thread runs
/// them); kBlocking handlers touch storage or hash passwords and run on the blocking pool.
enum class HandlerKind { kInline, kBlocking };

using HttpHandler = std::function<HttpReply(HttpRequest&)>;

/// Maps (method, path pattern) to handlers. Patterns are literal segments and `{name}`
/// captures, e.g. "/v1/users/{user_id}". Built at start-up, then read-only: Match may be
/// called from any thread.
class Router {
 public:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    HandlerKind kind;
    HttpHandler handler;
  };

  void Add(std::string method, std::string_view pattern, HandlerKind kind, HttpHandler handler);

  /// Serves GET and HEAD requests that match no route (the web client's static files).
  void SetFallback(HandlerKind kind, HttpHandler handler);

  struct Match {
    const Route* route = nullptr;  // null: see `allowed`
    std::string allowed;           // when the path exists with other methods: "GET, POST"
  };
  /// Finds the route for `request` and fills `request.params`. No route and empty `allowed`:
  /// unknown path (404). No route and non-empty `allowed`: wrong method (405).
  Match Find(HttpRequest& request) const;

 private:
  std::vector<Route> routes_;
  std::optional<Route> fallback_;
};

}  // namespace parley
