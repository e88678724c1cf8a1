#include "api/social_api.h"

#include <boost/json.hpp>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "api/auth_api.h"
#include "api/json_fields.h"
#include "chat/encode.h"

namespace parley {

namespace json = boost::json;

namespace {

HttpReply Ok(int status, const json::object& body) {
  return HttpReply::Json(status, json::serialize(body));
}
HttpReply Fail(const Error& e) { return HttpReply::FromError(e); }

constexpr size_t kMaxLeaveIds = 500;  // conversations one bulk leave may name

#define PARLEY_TRY(var, expr) \
  auto var = (expr);          \
  if (!var.ok()) return Fail(var.error())

class Handlers {
 public:
  Handlers(ChatService& chat, AuthService& auth, GroupAddPolicy& policy)
      : chat_(chat), auth_(auth), policy_(policy) {}

  HttpReply GetPrivacy(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    return PrivacyReply(claims->user_id);
  }

  HttpReply PutPrivacy(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"group_adds"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(name, RequireString(*body, "group_adds"));
    const std::optional<GroupAdds> adds = ParseGroupAdds(*name);
    if (!adds) return Fail(Error::InvalidRequest("group_adds must be anyone, contacts or nobody"));
    if (Status s = policy_.store().PutGroupAdds(claims->user_id, *adds); !s.ok()) {
      return Fail(s.error());
    }
    return PrivacyReply(claims->user_id);
  }

  HttpReply ListInvitations(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    PARLEY_TRY(list, policy_.store().Invitations(claims->user_id));
    json::array out;
    for (const Invitation& invitation : *list) out.push_back(InvitationJson(invitation));
    return Ok(200, {{"invitations", std::move(out)}});
  }

  HttpReply Accept(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    // Handlers run on the blocking pool, so they may wait for the sequencer's answer.
    auto promise = std::make_shared<std::promise<Result<ConversationRecord>>>();
    auto future = promise->get_future();
    chat_.AcceptInvitation(
        claims->user_id, r.params["id"],
        [promise](Result<ConversationRecord> result) { promise->set_value(std::move(result)); });
    Result<ConversationRecord> joined = future.get();
    if (!joined.ok()) return Fail(joined.error());
    return Ok(200, {{"conversation", ConversationJson(*joined)}});
  }

  // Leaves many groups at once (issue 17 #6: leaving 4,000 spam groups one call at a time).
  // Every leave is queued before any answer is awaited, so they share the sequencer's group
  // commits instead of costing a round trip each.
  HttpReply LeaveMany(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"ids"}); !s.ok()) return Fail(s.error());
    const json::value* ids = body->if_contains("ids");
    if (ids == nullptr || !ids->is_array() || ids->get_array().empty() ||
        ids->get_array().size() > kMaxLeaveIds) {
      return Fail(Error::InvalidRequest("ids must be an array of 1 to " +
                                        std::to_string(kMaxLeaveIds) + " conversation ids"));
    }
    std::vector<std::string> convs;
    for (const json::value& id : ids->get_array()) {
      if (!id.is_string()) return Fail(Error::InvalidRequest("ids must be conversation ids"));
      convs.emplace_back(id.get_string());
    }
    std::vector<std::future<Result<ConversationRecord>>> answers;
    answers.reserve(convs.size());
    for (const std::string& conv : convs) {
      auto promise = std::make_shared<std::promise<Result<ConversationRecord>>>();
      answers.push_back(promise->get_future());
      chat_.RemoveMember(
          claims->user_id, conv, claims->user_id,
          [promise](Result<ConversationRecord> result) { promise->set_value(std::move(result)); });
    }
    json::array left;
    json::array failed;
    for (size_t i = 0; i < convs.size(); ++i) {
      Result<ConversationRecord> result = answers[i].get();
      if (result.ok()) {
        left.emplace_back(convs[i]);
      } else {
        failed.push_back(json::object{{"id", convs[i]},
                                      {"code", CodeName(result.error().code)},
                                      {"message", result.error().message}});
      }
    }
    return Ok(200, {{"left", std::move(left)}, {"failed", std::move(failed)}});
  }

  HttpReply Decline(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(auth_, r));
    if (Status s = policy_.store().RemoveInvitation(claims->user_id, r.params["id"]); !s.ok()) {
      return Fail(s.error());
    }
    return HttpReply::NoContent();
  }

 private:
  HttpReply PrivacyReply(const std::string& user_id) {
    PARLEY_TRY(adds, policy_.SettingOf(user_id));
    return Ok(200, {{"group_adds", GroupAddsName(*adds)}});
  }

  ChatService& chat_;
  AuthService& auth_;
  GroupAddPolicy& policy_;
};

#undef PARLEY_TRY

}  // namespace

void AddSocialRoutes(Router& router, ChatService& chat, AuthService& auth, GroupAddPolicy& policy) {
  auto h = std::make_shared<Handlers>(chat, auth, policy);
  auto bind = [h](HttpReply (Handlers::*method)(HttpRequest&)) {
    return [h, method](HttpRequest& r) { return ((*h).*method)(r); };
  };
  const auto kBlocking = HandlerKind::kBlocking;
  router.Add("GET", "/v1/settings/privacy", kBlocking, bind(&Handlers::GetPrivacy));
  router.Add("PUT", "/v1/settings/privacy", kBlocking, bind(&Handlers::PutPrivacy));
  router.Add("GET", "/v1/invitations", kBlocking, bind(&Handlers::ListInvitations));
  router.Add("POST", "/v1/invitations/{id}/accept", kBlocking, bind(&Handlers::Accept));
  router.Add("DELETE", "/v1/invitations/{id}", kBlocking, bind(&Handlers::Decline));
  router.Add("POST", "/v1/conversations/leave", kBlocking, bind(&Handlers::LeaveMany));
}

}  // namespace parley
