#include "chat/encode.h"

namespace parley {

namespace json = boost::json;

json::object EntryJson(const LogEntry& e) {
  json::object out;
  out.reserve(12);
  out["conv"] = e.conv_id;
  out["seq"] = e.seq;
  out["id"] = e.id;
  out["sender"] = e.sender;
  out["kind"] = EntryKindName(e.kind);
  out["ts"] = e.ts;
  switch (e.kind) {
    case EntryKind::kMessage: {
      out["client_msg_id"] = e.client_msg_id;
      out["body"] = e.body ? json::value(*e.body) : json::value(nullptr);
      if (e.reply_to > 0) out["reply_to"] = e.reply_to;
      if (e.edited_ts > 0) out["edited_ts"] = e.edited_ts;
      if (e.deleted) out["deleted"] = true;
      if (!e.reactions.empty()) {
        json::object reactions;
        for (const Reaction& r : e.reactions) {
          json::array users;
          for (const auto& u : r.users) users.emplace_back(u);
          reactions[r.emoji] = std::move(users);
        }
        out["reactions"] = std::move(reactions);
      }
      break;
    }
    case EntryKind::kEdit:
      out["target_seq"] = e.target_seq;
      out["body"] = e.body ? json::value(*e.body) : json::value(nullptr);
      break;
    case EntryKind::kDelete:
      out["target_seq"] = e.target_seq;
      break;
    case EntryKind::kReaction:
      out["target_seq"] = e.target_seq;
      out["emoji"] = e.emoji;
      out["added"] = e.reaction_added;
      break;
    case EntryKind::kMember:
      out["user"] = e.member_user;
      out["action"] = e.member_action;
      if (!e.member_role.empty()) out["role"] = e.member_role;
      break;
    case EntryKind::kRename:
      out["title"] = e.title;
      break;
  }
  return out;
}

json::object ConversationJson(const ConversationRecord& c) {
  json::array members;
  json::object roles;
  json::object receipts;
  for (const MemberRecord& m : c.members) {
    members.emplace_back(m.user_id);
    roles[m.user_id] = RoleName(m.role);
    receipts[m.user_id] =
        json::object{{"read_seq", m.read_seq}, {"delivered_seq", m.delivered_seq}};
  }
  return {{"id", c.id},
          {"type", c.type},
          {"title", c.title},
          {"members", std::move(members)},
          {"roles", std::move(roles)},
          {"receipts", std::move(receipts)},
          {"last_seq", c.last_seq},
          {"created_ms", c.created_ms}};
}

json::object SummaryJson(const ConversationSummary& s) {
  json::object out = ConversationJson(s.conversation);
  out["read_seq"] = s.read_seq;
  out["unread"] = s.unread;
  if (s.last_message) out["last_message"] = EntryJson(*s.last_message);
  return out;
}

}  // namespace parley
