#include "api/notify_api.h"

#include <boost/json.hpp>

#include "api/auth_api.h"
#include "api/json_fields.h"
#include "notify/channels.h"

namespace parley {

namespace json = boost::json;

namespace {

constexpr int kMaxSubscriptionsPerUser = 20;
constexpr size_t kMaxEndpointBytes = 2048;

HttpReply Ok(int status, const json::object& body) {
  return HttpReply::Json(status, json::serialize(body));
}
HttpReply Fail(const Error& e) { return HttpReply::FromError(e); }

#define PARLEY_TRY(var, expr) \
  auto var = (expr);          \
  if (!var.ok()) return Fail(var.error())

Result<std::optional<bool>> OptionalBool(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return Error::InvalidRequest(std::string(key) + " must be true or false");
  return std::optional<bool>(v->get_bool());
}

json::object SettingsJson(const NotifySettings& settings, const std::vector<std::string>& muted) {
  json::array convs;
  for (const std::string& conv : muted) convs.emplace_back(conv);
  return {{"private_previews", settings.private_previews},
          {"mentions_when_muted", settings.mentions_when_muted},
          {"muted_conversations", std::move(convs)}};
}

class Handlers {
 public:
  explicit Handlers(NotifyApiDeps deps) : d_(std::move(deps)) {}

  HttpReply VapidKey(HttpRequest&) {
    return Ok(200, {{"public_key", d_.vapid.PublicKeyBase64Url()}});
  }

  HttpReply Subscribe(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    // expirationTime is part of PushSubscription.toJSON(); browsers send null.
    if (Status s = RejectUnknownFields(*body, {"endpoint", "keys", "expirationTime"}); !s.ok()) {
      return Fail(s.error());
    }
    PARLEY_TRY(endpoint, RequireString(*body, "endpoint"));
    if (endpoint->size() > kMaxEndpointBytes) {
      return Fail(Error::InvalidRequest("endpoint is too long"));
    }
    if (!PushEndpointAllowed(*endpoint, d_.push_hosts)) {
      return Fail(Error::InvalidRequest(
          "endpoint must be an https URL of a known push service (see notify_push_hosts)"));
    }
    const json::value* keys = body->if_contains("keys");
    if (keys == nullptr || !keys->is_object()) {
      return Fail(Error::InvalidRequest("keys must be an object with p256dh and auth"));
    }
    if (Status s = RejectUnknownFields(keys->get_object(), {"p256dh", "auth"}); !s.ok()) {
      return Fail(s.error());
    }
    PARLEY_TRY(p256dh, RequireString(keys->get_object(), "p256dh"));
    PARLEY_TRY(auth, RequireString(keys->get_object(), "auth"));
    std::optional<push::Bytes> point = push::Base64UrlDecode(*p256dh);
    if (!point || !push::IsP256PublicKey(*point)) {
      return Fail(Error::InvalidRequest("keys.p256dh must be a base64url P-256 public key"));
    }
    std::optional<push::Bytes> secret = push::Base64UrlDecode(*auth);
    if (!secret || secret->size() != 16) {
      return Fail(Error::InvalidRequest("keys.auth must be 16 bytes, base64url"));
    }
    // Stored re-encoded, so that padding or not, one key has one spelling.
    PushSubscription sub{.endpoint = *endpoint,
                         .user_id = claims->user_id,
                         .p256dh = push::Base64UrlEncode(*point),
                         .auth = push::Base64UrlEncode(*secret),
                         .created_ms = d_.clock.NowMs()};
    if (Status s = d_.store.PutSubscription(sub, kMaxSubscriptionsPerUser); !s.ok()) {
      return Fail(s.error());
    }
    return Ok(201, {{"subscription", {{"endpoint", sub.endpoint}}}});
  }

  HttpReply Unsubscribe(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    auto it = r.query.find("endpoint");
    if (it == r.query.end() || it->second.empty()) {
      return Fail(Error::InvalidRequest("endpoint is required (query parameter)"));
    }
    if (Status s = d_.store.RemoveSubscription(claims->user_id, it->second); !s.ok()) {
      return Fail(s.error());
    }
    return HttpReply::NoContent();
  }

  HttpReply GetSettings(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    return SettingsReply(claims->user_id);
  }

  HttpReply PutSettings(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"private_previews", "mentions_when_muted"});
        !s.ok()) {
      return Fail(s.error());
    }
    PARLEY_TRY(private_previews, OptionalBool(*body, "private_previews"));
    PARLEY_TRY(mentions, OptionalBool(*body, "mentions_when_muted"));
    PARLEY_TRY(settings, d_.store.GetSettings(claims->user_id));
    if (*private_previews) settings->private_previews = **private_previews;
    if (*mentions) settings->mentions_when_muted = **mentions;
    if (Status s = d_.store.PutSettings(claims->user_id, *settings); !s.ok())
      return Fail(s.error());
    return SettingsReply(claims->user_id);
  }

  HttpReply Mute(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"muted"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(muted, OptionalBool(*body, "muted"));
    if (!muted->has_value()) return Fail(Error::InvalidRequest("muted is required"));
    const std::string& conv = r.params["id"];
    // Only members can mute; like everywhere else, someone else's conversation is not_found.
    PARLEY_TRY(summary, d_.chat.GetConversation(claims->user_id, conv));
    if (Status s = d_.store.SetMuted(claims->user_id, conv, **muted); !s.ok())
      return Fail(s.error());
    return Ok(200, {{"conv", conv}, {"muted", **muted}});
  }

 private:
  HttpReply SettingsReply(const std::string& user_id) {
    PARLEY_TRY(settings, d_.store.GetSettings(user_id));
    PARLEY_TRY(muted, d_.store.MutedConversations(user_id));
    return Ok(200, SettingsJson(*settings, *muted));
  }

  NotifyApiDeps d_;
};

}  // namespace

void AddNotifyRoutes(Router& router, NotifyApiDeps deps) {
  auto h = std::make_shared<Handlers>(std::move(deps));
  auto bind = [h](HttpReply (Handlers::*method)(HttpRequest&)) {
    return [h, method](HttpRequest& r) { return ((*h).*method)(r); };
  };
  const auto kBlocking = HandlerKind::kBlocking;
  router.Add("GET", "/v1/push/vapid-public-key", HandlerKind::kInline, bind(&Handlers::VapidKey));
  router.Add("POST", "/v1/push/subscriptions", kBlocking, bind(&Handlers::Subscribe));
  router.Add("DELETE", "/v1/push/subscriptions", kBlocking, bind(&Handlers::Unsubscribe));
  router.Add("GET", "/v1/notifications/settings", kBlocking, bind(&Handlers::GetSettings));
  router.Add("PUT", "/v1/notifications/settings", kBlocking, bind(&Handlers::PutSettings));
  router.Add("PUT", "/v1/conversations/{id}/mute", kBlocking, bind(&Handlers::Mute));
}

}  // namespace parley
