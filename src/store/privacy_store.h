#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley {

/// Who may put a user into a group without asking (issue 17 #6). A group add that the setting
/// does not allow becomes an invitation the user accepts or declines.
enum class GroupAdds {
  kAnyone,    // anyone may add them
  kContacts,  // people they already share a conversation with
  kNobody,    // nobody: every add is an invitation
};
std::string_view GroupAddsName(GroupAdds adds);  // "anyone", "contacts", "nobody"
std::optional<GroupAdds> ParseGroupAdds(std::string_view name);

/// An invitation to a group, waiting for the invitee.
struct Invitation {
  std::string id;  // opaque ("i_...")
  std::string conv_id;
  std::string user_id;  // the invitee
  std::string inviter;
  std::string title;  // the group's title when the invitation was made
  int64_t created_ms = 0;
};

/// Per-user privacy settings and pending group invitations. SQLite (store/sqlite) now.
///
/// Thread-safety: every method may be called from any thread concurrently; methods block on
/// storage I/O.
class PrivacyStore {
 public:
  virtual ~PrivacyStore() = default;

  /// nullopt when the user never chose (the server's default applies).
  virtual Result<std::optional<GroupAdds>> GetGroupAdds(std::string_view user_id) = 0;
  virtual Status PutGroupAdds(std::string_view user_id, GroupAdds adds) = 0;

  /// Stores the invitation, unless the invitee already has one to the same conversation, which
  /// is kept and returned instead. Past `max_pending` invitations for the invitee, the oldest
  /// are dropped, so a flood of invitations costs the invitee a bounded list.
  virtual Result<Invitation> PutInvitation(const Invitation& invitation, size_t max_pending) = 0;
  /// The user's pending invitations, oldest first.
  virtual Result<std::vector<Invitation>> Invitations(std::string_view user_id) = 0;
  /// nullopt when there is no such invitation.
  virtual Result<std::optional<Invitation>> GetInvitation(std::string_view id) = 0;
  /// Removes the invitation if it is `user_id`'s. kNotFound otherwise.
  virtual Status RemoveInvitation(std::string_view user_id, std::string_view id) = 0;
};

}  // namespace parley
