#pragma once

#include "api/router.h"
#include "auth/auth_service.h"
#include "chat/chat_service.h"
#include "chat/group_add_policy.h"

namespace parley {

/// Who may add the caller to groups, and the invitations that their setting turned adds into
/// (issue 17 #6; docs/PROTOCOL.md, "Privacy and invitations"):
///   GET /v1/settings/privacy, PUT /v1/settings/privacy {group_adds}
///   GET /v1/invitations, POST /v1/invitations/{id}/accept, DELETE /v1/invitations/{id}
///   POST /v1/conversations/leave {ids: [...]}: leaves many groups at once
/// Every argument must outlive `router`.
void AddSocialRoutes(Router& router, ChatService& chat, AuthService& auth, GroupAddPolicy& policy);

}  // namespace parley
