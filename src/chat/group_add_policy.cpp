#include "chat/group_add_policy.h"

#include <boost/json/serialize.hpp>

#include "common/random.h"

namespace parley {

GroupAddPolicy::GroupAddPolicy(PrivacyStore& privacy, MessageStore& messages, ConnectionHub& hub,
                               const Clock& clock, GroupAdds default_adds, size_t max_pending)
    : privacy_(privacy),
      messages_(messages),
      hub_(hub),
      clock_(clock),
      default_adds_(default_adds),
      max_pending_(max_pending) {}

Result<GroupAdds> GroupAddPolicy::SettingOf(const std::string& user_id) {
  Result<std::optional<GroupAdds>> chosen = privacy_.GetGroupAdds(user_id);
  if (!chosen.ok()) return std::move(chosen).error();
  return chosen->value_or(default_adds_);
}

Result<bool> GroupAddPolicy::MayAdd(const std::string& actor, const std::string& target) {
  if (actor == target) return true;
  Result<GroupAdds> setting = SettingOf(target);
  if (!setting.ok()) return std::move(setting).error();
  switch (*setting) {
    case GroupAdds::kAnyone:
      return true;
    case GroupAdds::kNobody:
      return false;
    case GroupAdds::kContacts:
      return messages_.IsContact(target, actor);
  }
  return false;
}

Result<Invitation> GroupAddPolicy::Invite(const std::string& conv_id, const std::string& title,
                                          const std::string& actor, const std::string& target) {
  Invitation invitation{.id = NewId('i'),
                        .conv_id = conv_id,
                        .user_id = target,
                        .inviter = actor,
                        .title = title,
                        .created_ms = clock_.NowMs()};
  Result<Invitation> stored = privacy_.PutInvitation(invitation, max_pending_);
  if (!stored.ok()) return stored;
  boost::json::object event{{"type", "invitation"}, {"invitation", InvitationJson(*stored)}};
  hub_.SendToUser(target, MakeFrame(boost::json::serialize(event)));
  return stored;
}

boost::json::object InvitationJson(const Invitation& invitation) {
  return {{"id", invitation.id},
          {"conv", invitation.conv_id},
          {"title", invitation.title},
          {"inviter", invitation.inviter},
          {"created_ms", invitation.created_ms}};
}

}  // namespace parley
