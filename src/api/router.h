#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "metrics/metrics.h"

namespace boost::asio {
class thread_pool;
}  // namespace boost::asio

namespace parley {

/// Where a handler should run, so that one kind of work cannot starve another:
/// - kInline: cheap and never blocks; the io thread runs it.
/// - kBlocking: touches storage. GET and HEAD run on the read pool, other methods on the
///   write pool.
/// - kHashing: runs Argon2id (register, login, password change), on the hashing pool behind
///   a bounded queue; past the bound the request is answered 503 `unavailable` with
///   retry_after_ms, without hashing.
enum class HandlerKind { kInline, kBlocking, kHashing };

/// The pools of SetPools. Null pools fall back to the pool the gateway passes to PoolFor.
struct HandlerPools {
  boost::asio::thread_pool* reads = nullptr;
  boost::asio::thread_pool* writes = nullptr;
  boost::asio::thread_pool* hashing = nullptr;
  size_t hashing_max_pending = 64;  // running plus waiting kHashing requests
  int64_t hashing_retry_after_ms = 1'000;
  Gauge* hashing_pending = nullptr;    // optional: current running plus waiting
  Counter* hashing_refused = nullptr;  // optional: requests answered 503
};

using HttpHandler = std::function<HttpReply(HttpRequest&)>;

/// Maps (method, path pattern) to handlers, and says which pool runs them. Patterns are
/// literal segments and `{name}` captures, e.g. "/v1/users/{user_id}". Built at start-up,
/// then read-only: Find, PoolFor and ReadPool may be called from any thread.
class Router {
 public:
  Router();

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

  /// Start-up, before any request. The pools must outlive every request.
  void SetPools(const HandlerPools& pools);

  /// The pool to run a kBlocking or kHashing `route` on. For kHashing it also takes a place
  /// in the hashing queue, so the caller must then run `route.handler` exactly once on the
  /// returned pool (which Offload does); the handler gives the place back. When the queue is
  /// full it returns the write pool instead, where the handler answers 503 at once.
  boost::asio::thread_pool& PoolFor(const Route& route, boost::asio::thread_pool& fallback) const;

  /// The pool for storage reads made outside a route (WebSocket auth, chat reads).
  boost::asio::thread_pool& ReadPool(boost::asio::thread_pool& fallback) const;

 private:
  struct HashingQueue {
    HandlerPools pools;
    std::atomic<size_t> pending{0};
  };

  std::vector<Route> routes_;
  std::optional<Route> fallback_;
  // Shared with the kHashing handlers' wrappers, which give their place back.
  std::shared_ptr<HashingQueue> queue_;
};

}  // namespace parley
