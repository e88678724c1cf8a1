#include "api/auth_api.h"

#include "api/json_fields.h"

namespace parley {

namespace json = boost::json;

namespace {

json::object UserJson(const User& user) {
  return {{"user_id", user.id}, {"username", user.username}, {"display_name", user.display_name}};
}

HttpReply TokensReply(const Tokens& tokens) {
  json::object out{{"user_id", tokens.user_id},
                   {"device_id", tokens.device_id},
                   {"access_token", tokens.access_token},
                   {"refresh_token", tokens.refresh_token},
                   {"expires_in", tokens.expires_in}};
  return HttpReply::Json(200, json::serialize(out));
}

HttpReply Register(AuthService& auth, HttpRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) return HttpReply::FromError(body.error());
  if (Status s = RejectUnknownFields(*body, {"username", "password", "display_name"}); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  auto username = RequireString(*body, "username");
  if (!username.ok()) return HttpReply::FromError(username.error());
  auto password = RequireString(*body, "password");
  if (!password.ok()) return HttpReply::FromError(password.error());
  auto display_name = OptionalString(*body, "display_name");
  if (!display_name.ok()) return HttpReply::FromError(display_name.error());

  auto user = auth.Register(*username, *password, display_name->value_or(""), request.client_ip);
  if (!user.ok()) return HttpReply::FromError(user.error());
  return HttpReply::Json(201, json::serialize(UserJson(*user)));
}

HttpReply Login(AuthService& auth, HttpRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) return HttpReply::FromError(body.error());
  if (Status s = RejectUnknownFields(*body, {"username", "password", "device_name"}); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  auto username = RequireString(*body, "username");
  if (!username.ok()) return HttpReply::FromError(username.error());
  auto password = RequireString(*body, "password");
  if (!password.ok()) return HttpReply::FromError(password.error());
  auto device_name = OptionalString(*body, "device_name");
  if (!device_name.ok()) return HttpReply::FromError(device_name.error());

  auto tokens = auth.Login(*username, *password, device_name->value_or(""), request.client_ip);
  if (!tokens.ok()) return HttpReply::FromError(tokens.error());
  return TokensReply(*tokens);
}

HttpReply Refresh(AuthService& auth, HttpRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) return HttpReply::FromError(body.error());
  if (Status s = RejectUnknownFields(*body, {"refresh_token"}); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  auto token = RequireString(*body, "refresh_token");
  if (!token.ok()) return HttpReply::FromError(token.error());
  auto tokens = auth.Refresh(*token);
  if (!tokens.ok()) return HttpReply::FromError(tokens.error());
  return TokensReply(*tokens);
}

HttpReply Logout(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  if (Status s = auth.Logout(*claims); !s.ok()) return HttpReply::FromError(s.error());
  return HttpReply::NoContent();
}

HttpReply LogoutAll(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  bool keep_current = false;
  if (!request.body.empty()) {
    auto body = ParseJsonObject(request.body);
    if (!body.ok()) return HttpReply::FromError(body.error());
    if (Status s = RejectUnknownFields(*body, {"keep_current"}); !s.ok()) {
      return HttpReply::FromError(s.error());
    }
    if (const json::value* keep = body->if_contains("keep_current")) {
      if (!keep->is_bool()) {
        return HttpReply::FromError(Error::InvalidRequest("keep_current must be a boolean"));
      }
      keep_current = keep->as_bool();
    }
  }
  auto revoked = auth.LogoutAll(*claims, keep_current);
  if (!revoked.ok()) return HttpReply::FromError(revoked.error());
  return HttpReply::Json(200, json::serialize(json::object{{"revoked", *revoked}}));
}

HttpReply ChangePassword(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) return HttpReply::FromError(body.error());
  if (Status s = RejectUnknownFields(*body, {"current_password", "new_password"}); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  auto current = RequireString(*body, "current_password");
  if (!current.ok()) return HttpReply::FromError(current.error());
  auto next = RequireString(*body, "new_password");
  if (!next.ok()) return HttpReply::FromError(next.error());
  if (Status s = auth.ChangePassword(*claims, *current, *next, request.client_ip); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  return HttpReply::NoContent();
}

HttpReply ListDevices(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto devices = auth.ListDevices(*claims);
  if (!devices.ok()) return HttpReply::FromError(devices.error());
  json::array list;
  list.reserve(devices->size());
  for (const Device& device : *devices) {
    list.push_back(json::object{{"id", device.id},
                                {"name", device.name},
                                {"created_ts", device.created_ms},
                                {"last_used_ts", device.last_used_ms},
                                {"current", device.id == claims->device_id}});
  }
  return HttpReply::Json(200, json::serialize(json::object{{"devices", std::move(list)}}));
}

HttpReply RevokeDevice(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  if (Status s = auth.RevokeDevice(*claims, request.params["device_id"]); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  return HttpReply::NoContent();
}

HttpReply GetUser(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto user = auth.GetUser(request.params["user_id"]);
  if (!user.ok()) return HttpReply::FromError(user.error());
  return HttpReply::Json(200, json::serialize(UserJson(*user)));
}

HttpReply GetUserByUsername(AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto user = auth.FindUserByUsername(request.params["username"]);
  if (!user.ok()) return HttpReply::FromError(user.error());
  return HttpReply::Json(200, json::serialize(UserJson(*user)));
}

}  // namespace

Result<AccessClaims> Authenticated(AuthService& auth, const HttpRequest& request) {
  if (request.bearer_token.empty()) {
    return Error::Unauthorized("missing Authorization: Bearer access token");
  }
  return auth.Authenticate(request.bearer_token);
}

void AddAuthRoutes(Router& router, AuthService& auth) {
  // Argon2id runs on the hashing pool (a bounded queue); the rest on the storage pools.
  router.Add("POST", "/v1/auth/register", HandlerKind::kHashing,
             [&auth](HttpRequest& r) { return Register(auth, r); });
  router.Add("POST", "/v1/auth/login", HandlerKind::kHashing,
             [&auth](HttpRequest& r) { return Login(auth, r); });
  router.Add("POST", "/v1/auth/password", HandlerKind::kHashing,
             [&auth](HttpRequest& r) { return ChangePassword(auth, r); });
  router.Add("POST", "/v1/auth/refresh", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return Refresh(auth, r); });
  router.Add("POST", "/v1/auth/logout", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return Logout(auth, r); });
  router.Add("POST", "/v1/auth/logout-all", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return LogoutAll(auth, r); });
  router.Add("GET", "/v1/devices", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return ListDevices(auth, r); });
  router.Add("DELETE", "/v1/devices/{device_id}", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return RevokeDevice(auth, r); });
  router.Add("GET", "/v1/users/{user_id}", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return GetUser(auth, r); });
  router.Add("GET", "/v1/users/by-username/{username}", HandlerKind::kBlocking,
             [&auth](HttpRequest& r) { return GetUserByUsername(auth, r); });
}

void AddSessionRequests(WsApi& ws) {
  ws.Add("ping", [](const ClientFrame& frame, const std::shared_ptr<Connection>& connection) {
    connection->Deliver(ReplyFrame("pong", frame.id));
  });
  ws.Add("auth", [](const ClientFrame& frame, const std::shared_ptr<Connection>& connection) {
    connection->Deliver(
        ErrorFrame(frame.id, Error::Conflict("this connection is already authenticated")));
  });
}

}  // namespace parley
