#include "store/message_store.h"

namespace parley {

std::string_view EntryKindName(EntryKind kind) {
  switch (kind) {
    case EntryKind::kMessage:
      return "message";
    case EntryKind::kEdit:
      return "edit";
    case EntryKind::kDelete:
      return "delete";
    case EntryKind::kReaction:
      return "reaction";
    case EntryKind::kMember:
      return "member";
    case EntryKind::kRename:
      return "rename";
  }
  return "message";
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
    case Role::kMember:
      return "member";
  }
  return "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "owner") return Role::kOwner;
  if (name == "admin") return Role::kAdmin;
  if (name == "member") return Role::kMember;
  return std::nullopt;
}

}  // namespace parley
