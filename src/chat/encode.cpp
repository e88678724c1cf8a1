#include "chat/encode.h"

#include <utility>

namespace parley {

namespace json = boost::json;

void WriteEntryFields(JsonWriter& w, const LogEntry& e) {
  w.Field("conv", e.conv_id)
      .Field("seq", e.seq)
      .Field("id", e.id)
      .Field("sender", e.sender)
      .Field("kind", EntryKindName(e.kind))
      .Field("ts", e.ts);
  auto body = [&] {
    w.Key("body");
    if (e.body) {
      w.String(*e.body);
    } else {
      w.Null();
    }
  };
  switch (e.kind) {
    case EntryKind::kMessage:
      w.Field("client_msg_id", e.client_msg_id);
      body();
      if (e.reply_to > 0) w.Field("reply_to", e.reply_to);
      if (e.edited_ts > 0) w.Field("edited_ts", e.edited_ts);
      if (e.deleted) w.Field("deleted", true);
      if (!e.reactions.empty()) {
        w.Key("reactions").BeginObject();
        for (const Reaction& r : e.reactions) {
          w.Key(r.emoji).BeginArray();
          for (const auto& u : r.users) w.String(u);
          w.EndArray();
        }
        w.EndObject();
      }
      break;
    case EntryKind::kEdit:
      w.Field("target_seq", e.target_seq);
      body();
      break;
    case EntryKind::kDelete:
      w.Field("target_seq", e.target_seq);
      break;
    case EntryKind::kReaction:
      w.Field("target_seq", e.target_seq).Field("emoji", e.emoji).Field("added", e.reaction_added);
      break;
    case EntryKind::kMember:
      w.Field("user", e.member_user).Field("action", e.member_action);
      if (!e.member_role.empty()) w.Field("role", e.member_role);
      break;
    case EntryKind::kRename:
      w.Field("title", e.title);
      break;
  }
}

void WriteConversationFields(JsonWriter& w, const ConversationRecord& c, bool with_members) {
  w.Field("id", c.id).Field("type", c.type).Field("title", c.title);
  if (!with_members) {
    w.Field("last_seq", c.last_seq).Field("created_ms", c.created_ms);
    return;
  }
  w.Key("members").BeginArray();
  for (const MemberRecord& m : c.members) w.String(m.user_id);
  w.EndArray();
  w.Key("roles").BeginObject();
  for (const MemberRecord& m : c.members) w.Field(m.user_id, RoleName(m.role));
  w.EndObject();
  w.Key("receipts").BeginObject();
  for (const MemberRecord& m : c.members) {
    w.Key(m.user_id)
        .BeginObject()
        .Field("read_seq", m.read_seq)
        .Field("delivered_seq", m.delivered_seq)
        .EndObject();
  }
  w.EndObject();
  w.Field("last_seq", c.last_seq).Field("created_ms", c.created_ms);
}

void WriteSummaryFields(JsonWriter& w, const ConversationSummary& s, bool with_members) {
  WriteConversationFields(w, s.conversation, with_members);
  w.Field("read_seq", s.read_seq).Field("unread", s.unread);
  if (s.last_message) {
    w.Key("last_message").BeginObject();
    WriteEntryFields(w, *s.last_message);
    w.EndObject();
  }
}

std::string EntryEventText(std::string_view type, const LogEntry& entry) {
  return JsonObjectText(
      [&](JsonWriter& w) {
        w.Field("type", type);
        WriteEntryFields(w, entry);
      },
      256 + (entry.body ? entry.body->size() : 0));
}

namespace {

// The tree form of what `write` produces: the text is the definition, parsed back.
template <class Write>
json::object AsTree(Write&& write) {
  return json::parse(JsonObjectText(std::forward<Write>(write))).as_object();
}

}  // namespace

json::object EntryJson(const LogEntry& e) {
  return AsTree([&](JsonWriter& w) { WriteEntryFields(w, e); });
}

json::object ConversationJson(const ConversationRecord& c) {
  return AsTree([&](JsonWriter& w) { WriteConversationFields(w, c); });
}

json::object SummaryJson(const ConversationSummary& s) {
  return AsTree([&](JsonWriter& w) { WriteSummaryFields(w, s); });
}

}  // namespace parley
