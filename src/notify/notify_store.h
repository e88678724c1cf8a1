#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace parley {

/// A user's notification preferences. Defaults apply to users who never set them.
struct NotifySettings {
  bool private_previews = false;    // true: notifications say "new message", never the text
  bool mentions_when_muted = true;  // true: an @username mention notifies even when muted
};

/// A browser's Web Push subscription (the PushSubscription of the Push API).
struct PushSubscription {
  std::string endpoint;  // the push service URL; (user_id, endpoint) is unique
  std::string user_id;
  std::string p256dh;  // the user agent's P-256 public key, base64url (65 bytes uncompressed)
  std::string auth;    // the 16-byte authentication secret, base64url
  int64_t created_ms = 0;
};

/// Per-user notification state: settings, muted conversations, push subscriptions. SQLite
/// (notify/sqlite) now; PostgreSQL later.
///
/// Thread-safety: every method may be called from any thread concurrently; methods block on
/// storage I/O.
class NotifyStore {
 public:
  virtual ~NotifyStore() = default;

  virtual Result<NotifySettings> GetSettings(std::string_view user_id) = 0;
  virtual Status PutSettings(std::string_view user_id, const NotifySettings& settings) = 0;

  virtual Status SetMuted(std::string_view user_id, std::string_view conv_id, bool muted) = 0;
  /// The conversations `user_id` muted.
  virtual Result<std::vector<std::string>> MutedConversations(std::string_view user_id) = 0;
  /// Of the conversation's members, those who muted it. One query per message, whatever the
  /// size of the group.
  virtual Result<std::unordered_set<std::string>> MutedBy(std::string_view conv_id) = 0;

  /// Adds the user's subscription, or updates the keys of the one they hold with the same
  /// endpoint. Another user's subscription with the same endpoint is a row of its own and is
  /// never touched (issue 17 #15: re-registering a victim's endpoint took it over). kConflict
  /// when the user already has `max_per_user` other subscriptions.
  virtual Status PutSubscription(const PushSubscription& subscription, int max_per_user) = 0;
  /// Removes only the user's own row. kNotFound when the user has no subscription with this
  /// endpoint.
  virtual Status RemoveSubscription(std::string_view user_id, std::string_view endpoint) = 0;
  /// Removes every row of the endpoint, whoever holds it (the push service said it is gone).
  /// Idempotent.
  virtual Status DropSubscription(std::string_view endpoint) = 0;
  virtual Result<std::vector<PushSubscription>> Subscriptions(std::string_view user_id) = 0;
  /// The user's subscription with this endpoint; kNotFound when there is none.
  virtual Result<PushSubscription> FindSubscription(std::string_view user_id,
                                                    std::string_view endpoint) = 0;
};

}  // namespace parley
