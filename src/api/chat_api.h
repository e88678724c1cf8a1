#pragma once

#include <functional>
#include <string_view>

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "auth/rate_limiter.h"
#include "chat/chat_service.h"
#include "metrics/metrics.h"

namespace parley {

/// Runs a blocking job (a storage read) somewhere other than an io thread.
using BlockingRunner = std::function<void(std::function<void()>)>;

struct ChatApiDeps {
  ChatService& chat;
  AuthService& auth;
  RateLimiter& send_limiter;    // per user: send, edit, delete, react
  RateLimiter& typing_limiter;  // per user
  BlockingRunner run_blocking;  // for WebSocket reads (history, sync)
  // Per user; null: unlimited. Issue 17 #6: one account created 4,000 groups in 8 s.
  RateLimiter* create_limiter = nullptr;  // POST /v1/conversations
  RateLimiter* member_limiter = nullptr;  // POST /v1/conversations/{id}/members
  /// Told the name of a limit each time it refuses a request (for /metrics); may be empty.
  std::function<void(std::string_view limit)> on_refused;
  RateLimiter* search_limiter = nullptr;   // per user; null: searches are not rate-limited
  Counter* search_rate_refused = nullptr;  // searches refused by search_limiter
};

/// The conversation routes: create/list/get/rename conversations, members, messages (send,
/// history, edit, delete, react), read position, search.
void AddChatRoutes(Router& router, ChatApiDeps deps);

/// The WebSocket requests: send, edit, delete, react, history, sync, read, delivered, typing.
/// `deps` must outlive `ws`.
void AddChatRequests(WsApi& ws, ChatApiDeps deps);

}  // namespace parley
