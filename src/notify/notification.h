#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "notify/notify_store.h"
#include "store/account_store.h"
#include "store/message_store.h"

namespace parley {

/// What a job says to notify about: written by the Notifier when the message commits, read by
/// the channels when it is delivered. Stored as the job's JSON payload.
struct NotifyTarget {
  std::string user_id;  // who is notified
  std::string conv_id;
  std::string conv_type;
  std::string title;
  std::string sender;
  int64_t seq = 0;  // the message that triggered it
  int64_t ts = 0;
  bool mention = false;  // it notifies because of an @mention in a muted conversation
  std::string endpoint;  // webpush jobs: the subscription to deliver to

  std::string ToJson() const;
  /// kInvalidRequest when `json` is not a payload ToJson wrote.
  static Result<NotifyTarget> FromJson(std::string_view json);
};

/// A notification as the channels send it, computed at delivery time so that the unread count
/// is current.
struct Notification {
  NotifyTarget target;
  std::string sender_username;
  std::optional<std::string> preview;  // nullopt when the user chose private previews
  int64_t unread = 0;
};

/// The longest preview, in bytes of UTF-8; a longer body is cut at a character boundary and
/// ends with "…".
inline constexpr size_t kMaxPreviewBytes = 140;
std::string Preview(std::string_view body);

/// Builds the Notification for a target from current state. nullopt means nothing should be
/// sent any more: the user read the message (on another device), left the conversation, or
/// the message was deleted. Blocks on storage; any thread.
class Composer {
 public:
  Composer(MessageStore& messages, AccountStore& accounts, NotifyStore& settings)
      : messages_(messages), accounts_(accounts), settings_(settings) {}
  Result<std::optional<Notification>> Compose(const NotifyTarget& target);

 private:
  MessageStore& messages_;
  AccountStore& accounts_;
  NotifyStore& settings_;
};

/// The webhook's JSON body: {type:"message", id, user_id, conv, conv_type, title?, sender,
/// sender_username, seq, preview (string or null), unread, ts, mention, sent_ms}. `id` is the
/// job id, the same on every retry, so that receivers can drop duplicates.
std::string WebhookBody(const Notification& n, int64_t id, int64_t sent_ms);
/// The Web Push payload (encrypted before sending): the same fields without user_id, id and
/// sent_ms.
std::string PushPayload(const Notification& n);

}  // namespace parley
