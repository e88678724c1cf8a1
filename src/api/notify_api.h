#pragma once

#include <string>
#include <vector>

#include "api/router.h"
#include "auth/auth_service.h"
#include "chat/chat_service.h"
#include "common/clock.h"
#include "notify/notify_store.h"
#include "notify/push_crypto.h"

namespace parley {

struct NotifyApiDeps {
  NotifyStore& store;
  ChatService& chat;  // membership checks for mutes
  AuthService& auth;
  const push::VapidKey& vapid;
  std::vector<std::string> push_hosts;  // allowed push service hosts (config notify_push_hosts)
  const Clock& clock;
};

/// Notification routes: the VAPID public key, push subscriptions, per-user settings and
/// per-conversation mutes (docs/PROTOCOL.md, section "Notifications").
void AddNotifyRoutes(Router& router, NotifyApiDeps deps);

}  // namespace parley
