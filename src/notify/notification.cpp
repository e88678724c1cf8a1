#include "notify/notification.h"

#include <boost/json.hpp>

namespace parley {

namespace json = boost::json;

std::string NotifyTarget::ToJson() const {
  json::object o{{"user_id", user_id}, {"conv", conv_id},   {"conv_type", conv_type},
                 {"title", title},     {"sender", sender},  {"seq", seq},
                 {"ts", ts},           {"mention", mention}};
  if (!endpoint.empty()) o["endpoint"] = endpoint;
  return json::serialize(o);
}

Result<NotifyTarget> NotifyTarget::FromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (o == nullptr) return Error::InvalidRequest("notify job payload is not a JSON object");
  NotifyTarget t;
  auto str = [&](std::string_view key, std::string& out) {
    if (const json::value* f = o->if_contains(key); f != nullptr && f->is_string()) {
      out = std::string(f->get_string());
    }
  };
  auto num = [&](std::string_view key, int64_t& out) {
    if (const json::value* f = o->if_contains(key); f != nullptr && f->is_int64())
      out = f->get_int64();
  };
  str("user_id", t.user_id);
  str("conv", t.conv_id);
  str("conv_type", t.conv_type);
  str("title", t.title);
  str("sender", t.sender);
  str("endpoint", t.endpoint);
  num("seq", t.seq);
  num("ts", t.ts);
  if (const json::value* f = o->if_contains("mention"); f != nullptr && f->is_bool()) {
    t.mention = f->get_bool();
  }
  if (t.user_id.empty() || t.conv_id.empty() || t.seq < 1) {
    return Error::InvalidRequest("notify job payload lacks user_id, conv or seq");
  }
  return t;
}

std::string Preview(std::string_view body) {
  if (body.size() <= kMaxPreviewBytes) return std::string(body);
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  size_t cut = kMaxPreviewBytes - kEllipsis.size();
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  return std::string(body.substr(0, cut)) + std::string(kEllipsis);
}

Result<std::optional<Notification>> Composer::Compose(const NotifyTarget& target) {
  Result<std::optional<ConversationSummary>> summary =
      messages_.GetSummary(target.conv_id, target.user_id);
  if (!summary.ok()) return std::move(summary).error();
  // Left the conversation, or read up to this message on some device.
  if (!summary->has_value() || (*summary)->read_seq >= target.seq) {
    return std::optional<Notification>();
  }
  Result<std::optional<LogEntry>> entry = messages_.GetEntry(target.conv_id, target.seq);
  if (!entry.ok()) return std::move(entry).error();
  if (!entry->has_value() || (*entry)->deleted || !(*entry)->body) {
    return std::optional<Notification>();
  }
  Result<NotifySettings> settings = settings_.GetSettings(target.user_id);
  if (!settings.ok()) return std::move(settings).error();

  Notification n;
  n.target = target;
  n.unread = (*summary)->unread;
  if (!settings->private_previews) n.preview = Preview(*(*entry)->body);
  Result<User> sender = accounts_.FindUserById(target.sender);
  if (sender.ok()) {
    n.sender_username = sender->username;
  } else if (sender.error().code != ErrorCode::kNotFound) {
    return std::move(sender).error();
  }
  return std::optional<Notification>(std::move(n));
}

namespace {

json::object CommonFields(const Notification& n) {
  json::object o{{"type", "message"},
                 {"conv", n.target.conv_id},
                 {"conv_type", n.target.conv_type},
                 {"sender", n.target.sender},
                 {"sender_username", n.sender_username},
                 {"seq", n.target.seq},
                 {"unread", n.unread},
                 {"ts", n.target.ts},
                 {"mention", n.target.mention}};
  if (n.target.conv_type == "group") o["title"] = n.target.title;
  if (n.preview) {
    o["preview"] = *n.preview;
  } else {
    o["preview"] = nullptr;
  }
  return o;
}

}  // namespace

std::string WebhookBody(const Notification& n, int64_t id, int64_t sent_ms) {
  json::object o = CommonFields(n);
  o["id"] = id;
  o["user_id"] = n.target.user_id;
  o["sent_ms"] = sent_ms;
  return json::serialize(o);
}

std::string PushPayload(const Notification& n) { return json::serialize(CommonFields(n)); }

}  // namespace parley
