#include "api/router.h"

#include "api/json_fields.h"

namespace parley {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

bool IsCapture(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool PathMatches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                 std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsCapture(pattern[i])) {
      if (params) (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

HttpReply HttpReply::FromError(const Error& error) {
  return Json(HttpStatus(error.code), ErrorBody(error));
}

void Router::Add(std::string method, std::string_view pattern, HandlerKind kind,
                 HttpHandler handler) {
  routes_.push_back({std::move(method), SplitPath(pattern), kind, std::move(handler)});
}

void Router::SetFallback(HandlerKind kind, HttpHandler handler) {
  fallback_ = Route{"GET", {}, kind, std::move(handler)};
}

Router::Match Router::Find(HttpRequest& request) const {
  const std::vector<std::string> path = SplitPath(request.path);
  Match match;
  for (const Route& route : routes_) {
    if (!PathMatches(route.segments, path, nullptr)) continue;
    if (route.method == request.method) {
      request.params.clear();
      PathMatches(route.segments, path, &request.params);
      match.route = &route;
      return match;
    }
    if (!match.allowed.empty()) match.allowed += ", ";
    match.allowed += route.method;
  }
  // The API's own paths never fall through to static files: an unknown /v1 path is a 404.
  const bool api_path = !path.empty() && (path[0] == "v1" || path[0] == "metrics");
  if (match.allowed.empty() && fallback_ && !api_path &&
      (request.method == "GET" || request.method == "HEAD")) {
    match.route = &*fallback_;
  }
  return match;
}

}  // namespace parley
