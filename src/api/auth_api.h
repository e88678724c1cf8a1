#pragma once

#include "api/router.h"
#include "api/ws_api.h"
#include "auth/auth_service.h"
#include "hub/connection_hub.h"

namespace parley {

/// The account routes: register, login, refresh, logout, logout-all, password, devices, users.
void AddAuthRoutes(Router& router, AuthService& auth);

/// Checks the request's bearer token; kUnauthorized when it is missing or not valid.
Result<AccessClaims> Authenticated(AuthService& auth, const HttpRequest& request);

/// `ping` -> `pong`, and `auth` on an authenticated connection -> error.
void AddSessionRequests(WsApi& ws);

/// The close code for a revoked or logged-out session, from the contract.
inline constexpr int kCloseUnauthorized = 4401;

}  // namespace parley
