#pragma once

#include <boost/json/object.hpp>

#include "presence/presence_store.h"

namespace parley {

/// The `presence` event of the contract: {"type":"presence","user","status","last_seen"},
/// plus "away": true and "text" when set.
boost::json::object PresenceEventJson(const PresenceInfo& info);

/// A user's presence in query answers: {"user_id","status","last_seen"} (last_seen null when
/// never seen), plus "away": true and "text" when set.
boost::json::object PresenceJson(const PresenceInfo& info);

}  // namespace parley
