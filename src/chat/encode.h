#pragma once

#include <boost/json.hpp>

#include "store/message_store.h"

namespace parley {

/// JSON shapes of the API (docs/PROTOCOL.md). One place, so HTTP replies, WebSocket replies
/// and events always agree.

/// A log entry: {conv, seq, id, sender, kind, ts, ...kind-specific fields}.
boost::json::object EntryJson(const LogEntry& entry);
/// A conversation: {id, type, title, members:[ids], roles:{id:role}, receipts:{id:{read_seq,
/// delivered_seq}}, last_seq, created_ms}.
boost::json::object ConversationJson(const ConversationRecord& conversation);
/// A conversation as one member sees it: ConversationJson + read_seq, unread, last_message.
boost::json::object SummaryJson(const ConversationSummary& summary);

}  // namespace parley
