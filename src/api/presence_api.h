#pragma once

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "presence/presence_service.h"

namespace parley {

/// GET /v1/users/{user_id}/presence and POST /v1/presence/query. Both answer only about
/// users who share a conversation with the caller (and the caller themselves).
void AddPresenceRoutes(Router& router, PresenceService& presence, AuthService& auth);

/// The WebSocket requests `presence` (set away and status text) and `presence_subscribe`
/// (replace this connection's subscriptions). `presence` must outlive `ws`.
void AddPresenceRequests(WsApi& ws, PresenceService& presence);

}  // namespace parley
