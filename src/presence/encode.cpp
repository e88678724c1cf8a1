#include "presence/encode.h"

namespace parley {

namespace json = boost::json;

namespace {

void AddStatus(const PresenceInfo& info, json::object& out) {
  out["status"] = info.online ? "online" : "offline";
  if (info.last_seen_ms > 0) {
    out["last_seen"] = info.last_seen_ms;
  } else {
    out["last_seen"] = nullptr;
  }
  if (info.online && info.away) out["away"] = true;
  if (info.online && !info.text.empty()) out["text"] = info.text;
}

}  // namespace

json::object PresenceEventJson(const PresenceInfo& info) {
  json::object out{{"type", "presence"}, {"user", info.user_id}};
  AddStatus(info, out);
  return out;
}

json::object PresenceJson(const PresenceInfo& info) {
  json::object out{{"user_id", info.user_id}};
  AddStatus(info, out);
  return out;
}

}  // namespace parley
