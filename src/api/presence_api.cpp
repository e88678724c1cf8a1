#include "api/presence_api.h"

#include <algorithm>
#include <string>
#include <vector>

#include "api/auth_api.h"
#include "api/json_fields.h"
#include "presence/encode.h"

namespace parley {

namespace json = boost::json;

namespace {

// `key` of `obj` as a list of user ids.
Result<std::vector<std::string>> UserIds(const json::object& obj, std::string_view key) {
  const json::value* value = obj.if_contains(key);
  const Error wrong = Error::InvalidRequest(std::string(key) + " must be an array of user ids");
  if (value == nullptr || !value->is_array()) return wrong;
  std::vector<std::string> ids;
  ids.reserve(value->get_array().size());
  for (const json::value& id : value->get_array()) {
    if (!id.is_string()) return wrong;
    ids.emplace_back(id.get_string());
  }
  return ids;
}

json::array PresenceArray(const std::vector<PresenceInfo>& infos) {
  json::array out;
  out.reserve(infos.size());
  for (const PresenceInfo& info : infos) out.emplace_back(PresenceJson(info));
  return out;
}

HttpReply GetPresence(PresenceService& presence, AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto found = presence.Query(claims->user_id, {request.params["user_id"]});
  if (!found.ok()) return HttpReply::FromError(found.error());
  if (found->empty()) {
    // The same answer for a user who does not exist: nobody learns who is out there.
    return HttpReply::FromError(
        Error::NotFound("no such user, or you share no conversation with them"));
  }
  return HttpReply::Json(200, json::serialize(PresenceJson(found->front())));
}

HttpReply QueryPresence(PresenceService& presence, AuthService& auth, HttpRequest& request) {
  auto claims = Authenticated(auth, request);
  if (!claims.ok()) return HttpReply::FromError(claims.error());
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) return HttpReply::FromError(body.error());
  if (Status s = RejectUnknownFields(*body, {"user_ids"}); !s.ok()) {
    return HttpReply::FromError(s.error());
  }
  auto ids = UserIds(*body, "user_ids");
  if (!ids.ok()) return HttpReply::FromError(ids.error());
  auto found = presence.Query(claims->user_id, *ids);
  if (!found.ok()) return HttpReply::FromError(found.error());
  return HttpReply::Json(200, json::serialize(json::object{{"presence", PresenceArray(*found)}}));
}

// Like the chat requests, these refuse unknown fields, so that a misspelt one fails loudly.
Status OnlyFields(const ClientFrame& f, std::initializer_list<std::string_view> allowed) {
  for (const auto& field : f.fields) {
    const std::string_view key = field.key();
    if (key == "type" || key == "id") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error::InvalidRequest("unknown field: " + std::string(key));
    }
  }
  return Status::Ok();
}

}  // namespace

void AddPresenceRoutes(Router& router, PresenceService& presence, AuthService& auth) {
  router.Add("GET", "/v1/users/{user_id}/presence", HandlerKind::kBlocking,
             [&presence, &auth](HttpRequest& r) { return GetPresence(presence, auth, r); });
  router.Add("POST", "/v1/presence/query", HandlerKind::kBlocking,
             [&presence, &auth](HttpRequest& r) { return QueryPresence(presence, auth, r); });
}

void AddPresenceRequests(WsApi& ws, PresenceService& presence) {
  using ConnectionPtr = std::shared_ptr<Connection>;

  // {"type":"presence","id","status":"online"|"away","text"?} -> ok. No text clears it.
  ws.Add("presence", [&presence](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = OnlyFields(f, {"status", "text"}); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    auto status = RequireString(f.fields, "status");
    if (!status.ok()) return c->Deliver(ErrorFrame(f.id, status.error()));
    if (*status != "online" && *status != "away") {
      return c->Deliver(ErrorFrame(f.id, Error::InvalidRequest("status must be online or away")));
    }
    auto text = OptionalString(f.fields, "text");
    if (!text.ok()) return c->Deliver(ErrorFrame(f.id, text.error()));
    presence.SetStatus(c->user_id(), *status == "away", text->value_or(""),
                       [c, id = f.id](const Status& s) {
                         c->Deliver(s.ok() ? ReplyFrame("ok", id) : ErrorFrame(id, s.error()));
                       });
  });

  // {"type":"presence_subscribe","id","users":[..]} -> ok with the users' current presence.
  ws.Add("presence_subscribe", [&presence](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = OnlyFields(f, {"users"}); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    auto users = UserIds(f.fields, "users");
    if (!users.ok()) return c->Deliver(ErrorFrame(f.id, users.error()));
    presence.Subscribe(c, std::move(*users),
                       [c, id = f.id](Result<std::vector<PresenceInfo>> result) {
                         if (!result.ok()) return c->Deliver(ErrorFrame(id, result.error()));
                         c->Deliver(ReplyFrame("ok", id, {{"presence", PresenceArray(*result)}}));
                       });
  });
}

}  // namespace parley
