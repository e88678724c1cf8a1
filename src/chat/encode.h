#pragma once

#include <boost/json.hpp>
#include <string>

#include "common/json_writer.h"
#include "store/message_store.h"

namespace parley {

/// JSON shapes of the API (docs/PROTOCOL.md). One place, so HTTP replies, WebSocket replies
/// and events always agree. The Write* functions are the definition: they write text straight
/// into a frame (the hot paths); the *Json functions give the same shapes as trees, for replies
/// that are assembled from several parts.

/// A log entry's fields, into the object `w` is in: conv, seq, id, sender, kind, ts, then the
/// kind's own fields.
void WriteEntryFields(JsonWriter& w, const LogEntry& entry);
/// A conversation's fields: id, type, title, members:[ids], roles:{id:role},
/// receipts:{id:{read_seq, delivered_seq}}, last_seq, created_ms.
void WriteConversationFields(JsonWriter& w, const ConversationRecord& conversation,
                             bool with_members = true);
/// A conversation as one member sees it: the conversation's fields + read_seq, unread,
/// last_message. Without `with_members`, members, roles and receipts are left out (a resync
/// that asked for summaries without them).
void WriteSummaryFields(JsonWriter& w, const ConversationSummary& summary,
                        bool with_members = true);

/// {"type":TYPE, ...the entry's fields}: the event every member's devices get.
std::string EntryEventText(std::string_view type, const LogEntry& entry);

boost::json::object EntryJson(const LogEntry& entry);
boost::json::object ConversationJson(const ConversationRecord& conversation);
boost::json::object SummaryJson(const ConversationSummary& summary);

}  // namespace parley
