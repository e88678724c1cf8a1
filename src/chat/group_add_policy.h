#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "hub/connection_hub.h"
#include "store/message_store.h"
#include "store/privacy_store.h"

namespace parley {

/// Who may put whom into a group (issue 17 #6): each user's `group_adds` setting decides
/// whether an add happens at once or becomes an invitation, stored and announced to the
/// invitee's devices as {"type":"invitation","invitation":{...}}.
///
/// Thread-safety: every method may be called from any thread; all of them block on storage.
/// The chat sequencer calls MayAdd and Invite while it runs a group add.
class GroupAddPolicy {
 public:
  /// `default_adds` applies to users who never chose; past `max_pending` invitations per
  /// invitee the oldest are dropped. Keeps references: the arguments must outlive it.
  GroupAddPolicy(PrivacyStore& privacy, MessageStore& messages, ConnectionHub& hub,
                 const Clock& clock, GroupAdds default_adds, size_t max_pending);

  /// The user's setting, or the default.
  Result<GroupAdds> SettingOf(const std::string& user_id);
  /// Whether `actor` may add `target` to a group without asking: `anyone`, or `contacts` and
  /// `actor` is a contact of `target` (MessageStore::IsContact: a shared group, or a direct
  /// conversation `target` opened or answered). Adding oneself is always allowed.
  Result<bool> MayAdd(const std::string& actor, const std::string& target);
  /// Stores an invitation of `target` to the group (one per group and invitee: a repeat
  /// returns the first) and tells the invitee's devices.
  Result<Invitation> Invite(const std::string& conv_id, const std::string& title,
                            const std::string& actor, const std::string& target);

  PrivacyStore& store() { return privacy_; }
  GroupAdds default_adds() const { return default_adds_; }

 private:
  PrivacyStore& privacy_;
  MessageStore& messages_;
  ConnectionHub& hub_;
  const Clock& clock_;
  const GroupAdds default_adds_;
  const size_t max_pending_;
};

/// {id, conv, title, inviter, created_ms}: an invitation as clients see it.
boost::json::object InvitationJson(const Invitation& invitation);

}  // namespace parley
