#include "api/router.h"

#include <boost/asio/thread_pool.hpp>

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

Router::Router() : queue_(std::make_shared<HashingQueue>()) {}

void Router::Add(std::string method, std::string_view pattern, HandlerKind kind,
                 HttpHandler handler) {
  if (kind == HandlerKind::kHashing) {
    // Runs where PoolFor sent it: on the hashing pool it holds a place in the queue and gives
    // it back; anywhere else (the queue was full) it answers without hashing.
    handler = [queue = queue_, inner = std::move(handler)](HttpRequest& request) {
      boost::asio::thread_pool* hashing = queue->pools.hashing;
      if (hashing == nullptr) return inner(request);
      if (!hashing->get_executor().running_in_this_thread()) {
        if (queue->pools.hashing_refused) queue->pools.hashing_refused->Inc();
        return HttpReply::FromError(Error{ErrorCode::kUnavailable,
                                          "too many password checks waiting, retry later",
                                          queue->pools.hashing_retry_after_ms});
      }
      HttpReply reply = inner(request);
      queue->pending.fetch_sub(1);
      if (queue->pools.hashing_pending) queue->pools.hashing_pending->Add(-1);
      return reply;
    };
  }
  routes_.push_back({std::move(method), SplitPath(pattern), kind, std::move(handler)});
}

void Router::SetPools(const HandlerPools& pools) { queue_->pools = pools; }

boost::asio::thread_pool& Router::PoolFor(const Route& route,
                                          boost::asio::thread_pool& fallback) const {
  const HandlerPools& pools = queue_->pools;
  boost::asio::thread_pool* writes = pools.writes ? pools.writes : &fallback;
  switch (route.kind) {
    case HandlerKind::kHashing: {
      if (pools.hashing == nullptr) return *writes;
      size_t pending = queue_->pending.load();
      while (pending < pools.hashing_max_pending) {
        if (queue_->pending.compare_exchange_weak(pending, pending + 1)) {
          if (pools.hashing_pending) pools.hashing_pending->Add(1);
          return *pools.hashing;
        }
      }
      return *writes;
    }
    case HandlerKind::kBlocking:
    case HandlerKind::kInline:
      break;
  }
  if (route.method == "GET" || route.method == "HEAD") return ReadPool(fallback);
  return *writes;
}

boost::asio::thread_pool& Router::ReadPool(boost::asio::thread_pool& fallback) const {
  return queue_->pools.reads ? *queue_->pools.reads : fallback;
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
