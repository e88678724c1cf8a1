#include "store/sqlite/sqlite_message_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_message_store_internal.h"
#include "store/sqlite/sqlite_search.h"

namespace parley {

using message_store_internal::AttachReactions;
using message_store_internal::BackfillSearchIndex;
using message_store_internal::BindAll;
using message_store_internal::BindAndRun;
using message_store_internal::Database;
using message_store_internal::InContext;
using message_store_internal::kMaxPage;
using message_store_internal::kMsPerDay;
using message_store_internal::ReadEntry;
using message_store_internal::ReadStatements;
using message_store_internal::Run;
using message_store_internal::ScopedReset;
using message_store_internal::Snapshot;
using message_store_internal::Statement;
using message_store_internal::Transaction;
using message_store_internal::WriteStatements;

namespace message_store_internal {

std::optional<EntryKind> ParseEntryKind(std::string_view name) {
  for (EntryKind kind : {EntryKind::kMessage, EntryKind::kEdit, EntryKind::kDelete,
                         EntryKind::kReaction, EntryKind::kMember, EntryKind::kRename}) {
    if (EntryKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

// Reads a row that starts with PARLEY_ENTRY_COLUMNS; the rowid (column 0) is the caller's.
Result<LogEntry> ReadEntry(const Statement& stmt) {
  LogEntry entry;
  entry.conv_id = stmt.ColumnText(1);
  entry.seq = stmt.ColumnInt64(2);
  entry.id = stmt.ColumnText(3);
  entry.sender = stmt.ColumnText(4);
  const std::string kind = stmt.ColumnText(5);
  std::optional<EntryKind> parsed = ParseEntryKind(kind);
  if (!parsed) return Error::Internal("sqlite: unknown entry kind \"" + kind + "\" in the log");
  entry.kind = *parsed;
  entry.ts = stmt.ColumnInt64(6);
  entry.client_msg_id = stmt.ColumnText(7);
  if (!stmt.ColumnIsNull(8)) entry.body = stmt.ColumnText(8);
  entry.reply_to = stmt.ColumnInt64(9);
  entry.edited_ts = stmt.ColumnInt64(10);
  entry.deleted = stmt.ColumnInt64(11) != 0;
  entry.target_seq = stmt.ColumnInt64(12);
  entry.emoji = stmt.ColumnText(13);
  entry.reaction_added = stmt.ColumnInt64(14) != 0;
  entry.member_user = stmt.ColumnText(15);
  entry.member_action = stmt.ColumnText(16);
  entry.member_role = stmt.ColumnText(17);
  entry.title = stmt.ColumnText(18);
  return entry;
}

// Fills the reactions of the kMessage entries among `entries`, which all belong to `conv_id`,
// with one query over their seq range.
Status AttachReactions(ReadStatements& s, std::string_view conv_id,
                       const std::vector<LogEntry*>& entries) {
  std::vector<std::pair<int64_t, LogEntry*>> messages;
  for (LogEntry* entry : entries) {
    if (entry->kind == EntryKind::kMessage) messages.emplace_back(entry->seq, entry);
  }
  if (messages.empty()) return Status::Ok();
  std::sort(messages.begin(), messages.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  Statement& stmt = s.reactions;
  ScopedReset reset(stmt);
  if (Status st = BindAll(stmt, conv_id, messages.front().first, messages.back().first); !st.ok()) {
    return st;
  }
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    const int64_t seq = stmt.ColumnInt64(0);
    auto it = std::lower_bound(messages.begin(), messages.end(), seq,
                               [](const auto& m, int64_t value) { return m.first < value; });
    // A reaction to an entry in the range that is not on this page (or not a message).
    if (it == messages.end() || it->first != seq) continue;
    std::vector<Reaction>& reactions = it->second->reactions;
    std::string emoji = stmt.ColumnText(1);
    auto group = std::find_if(reactions.begin(), reactions.end(),
                              [&](const Reaction& r) { return r.emoji == emoji; });
    if (group == reactions.end()) {
      reactions.push_back(Reaction{.emoji = std::move(emoji), .users = {}});
      group = std::prev(reactions.end());
    }
    group->users.push_back(stmt.ColumnText(2));
  }
  return Status::Ok();
}

}  // namespace message_store_internal

namespace {

// The columns ReadEntry() reads, in its order; every query names the entries table `e`.
#define PARLEY_ENTRY_COLUMNS                                                                     \
  "e.rowid, e.conv_id, e.seq, e.id, e.sender, e.kind, e.ts, e.client_msg_id, e.body, "           \
  "e.reply_to, e.edited_ts, e.deleted, e.target_seq, e.emoji, e.reaction_added, e.member_user, " \
  "e.member_action, e.member_role, e.title"

// The columns ReadSummaryRow() reads, in its order.
#define PARLEY_SUMMARY_COLUMNS \
  "c.id, c.type, c.title, c.direct_key, c.created_by, c.created_ms, c.last_seq, m.read_seq"

Status PrepareWriter(Database& db, WriteStatements& s) {
  return sqlite::PrepareAll(
      db,
      {
          {&s.insert_conversation,
           "INSERT INTO conversations (id, type, title, direct_key, created_by, created_ms, "
           "last_seq, last_activity_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)"},
          // A member who is re-sent (role change) keeps read and delivered positions that only
          // move forward, whatever the sequencer's copy says.
          {&s.upsert_member,
           "INSERT INTO members (conv_id, user_id, role, read_seq, delivered_seq, joined_seq) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (conv_id, user_id) DO UPDATE SET "
           "role = excluded.role, read_seq = MAX(read_seq, excluded.read_seq), "
           "delivered_seq = MAX(delivered_seq, excluded.delivered_seq), "
           "joined_seq = excluded.joined_seq"},
          {&s.insert_entry,
           "INSERT INTO entries (conv_id, seq, id, sender, kind, ts, client_msg_id, body, "
           "reply_to, edited_ts, deleted, target_seq, emoji, reaction_added, member_user, "
           "member_action, member_role, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
           "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"},
          // Also the gap check: an entry may only follow the conversation's last seq (a new
          // conversation is stored with the seq of its first entry already counted).
          {&s.bump_conversation,
           "UPDATE conversations SET last_seq = MAX(last_seq, ?2), "
           "last_activity_ms = MAX(last_activity_ms, ?3) WHERE id = ?1 AND last_seq >= ?2 - 1"},
          {&s.index_body, "INSERT INTO search_index (rowid, terms) VALUES (?1, ?2)"},
          // Contentless: FTS5 finds the index entries to remove from the old terms, which must
          // be exactly what was indexed (IndexedText of the old body).
          {&s.unindex_body,
           "INSERT INTO search_index (search_index, rowid, terms) VALUES ('delete', ?1, ?2)"},
          {&s.find_message,
           "SELECT rowid, body FROM entries WHERE conv_id = ?1 AND seq = ?2 AND kind = 'message'"},
          {&s.update_message,
           "UPDATE entries SET body = ?2, edited_ts = ?3, deleted = ?4 WHERE rowid = ?1"},
          {&s.erase_edit_bodies,
           "UPDATE entries SET body = NULL "
           "WHERE conv_id = ?1 AND target_seq = ?2 AND kind = 'edit' AND body IS NOT NULL"},
          {&s.erase_reactions, "DELETE FROM reactions WHERE conv_id = ?1 AND seq = ?2"},
          // DO NOTHING rather than OR IGNORE: only the duplicate is ignored, never a missing
          // message (the foreign key).
          {&s.add_reaction,
           "INSERT INTO reactions (conv_id, seq, emoji, user_id) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT DO NOTHING"},
          {&s.remove_reaction,
           "DELETE FROM reactions WHERE conv_id = ?1 AND seq = ?2 AND emoji = ?3 AND user_id = ?4"},
          {&s.remove_member, "DELETE FROM members WHERE conv_id = ?1 AND user_id = ?2"},
          {&s.set_title, "UPDATE conversations SET title = ?2 WHERE id = ?1"},
          {&s.advance_member,
           "UPDATE members SET read_seq = MAX(read_seq, ?3), "
           "delivered_seq = MAX(delivered_seq, ?4) WHERE conv_id = ?1 AND user_id = ?2"},
          {&s.add_usage,
           "INSERT INTO usage_daily (user_id, day, entries, bytes) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT (day, user_id) DO UPDATE SET entries = entries + excluded.entries, "
           "bytes = bytes + excluded.bytes"},
      });
}

Status PrepareReader(Database& db, ReadStatements& s) {
  return sqlite::PrepareAll(
      db, {
              {&s.begin, "BEGIN"},
              {&s.end, "COMMIT"},
              {&s.load_conversation,
               "SELECT id, type, title, direct_key, created_by, created_ms, last_seq "
               "FROM conversations WHERE id = ?1"},
              {&s.load_members,
               // Unordered: LoadMembers sorts. SQLite would sort through a temporary b-tree,
               // the larger part of a sync's cost for a group of 100.
               "SELECT user_id, role, read_seq, delivered_seq, joined_seq FROM members "
               "WHERE conv_id = ?1"},
              {&s.find_direct, "SELECT id FROM conversations WHERE direct_key = ?1"},
              {&s.get_member,
               "SELECT user_id, role, read_seq, delivered_seq, joined_seq FROM members "
               "WHERE conv_id = ?1 AND user_id = ?2"},
              {&s.find_by_client_msg_id,
               "SELECT " PARLEY_ENTRY_COLUMNS
               " FROM entries e WHERE e.conv_id = ?1 AND e.sender = ?2 AND e.client_msg_id = ?3 "
               "AND e.kind = 'message'"},
              {&s.client_msg_id_exists,
               "SELECT 1 FROM entries WHERE conv_id = ?1 AND sender = ?2 AND client_msg_id = ?3"},
              {&s.get_entry, "SELECT " PARLEY_ENTRY_COLUMNS
                             " FROM entries e WHERE e.conv_id = ?1 AND e.seq = ?2"},
              {&s.log_after,
               "SELECT " PARLEY_ENTRY_COLUMNS
               " FROM entries e WHERE e.conv_id = ?1 AND e.seq > ?2 ORDER BY e.seq LIMIT ?3"},
              {&s.log_before,
               "SELECT " PARLEY_ENTRY_COLUMNS
               " FROM entries e WHERE e.conv_id = ?1 AND e.seq < ?2 ORDER BY e.seq DESC LIMIT ?3"},
              {&s.reactions,
               "SELECT seq, emoji, user_id FROM reactions "
               "WHERE conv_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq, rowid"},
              {&s.list_conversations,
               "SELECT " PARLEY_SUMMARY_COLUMNS
               " FROM members m JOIN conversations c ON c.id = m.conv_id WHERE m.user_id = ?1 "
               "ORDER BY c.last_activity_ms DESC, c.id"},
              {&s.get_summary, "SELECT " PARLEY_SUMMARY_COLUMNS
                               " FROM members m JOIN conversations c ON c.id = m.conv_id "
                               "WHERE m.conv_id = ?1 AND m.user_id = ?2"},
              {&s.unread,
               "SELECT COUNT(*) FROM entries WHERE conv_id = ?1 AND seq > ?2 AND kind = 'message' "
               "AND deleted = 0 AND sender <> ?3"},
              {&s.last_message, "SELECT " PARLEY_ENTRY_COLUMNS
                                " FROM entries e WHERE e.conv_id = ?1 AND e.kind = 'message' "
                                "ORDER BY e.seq DESC LIMIT 1"},
              // The conversations a search visits: the most recently active first.
              {&s.search_conversations,
               "SELECT m.conv_id FROM members m JOIN conversations c ON c.id = m.conv_id "
               "WHERE m.user_id = ?1 ORDER BY c.last_activity_ms DESC, c.id LIMIT ?2"},
              // One conversation's matches (the MATCH names its tag) within the rowid window
              // (?2, ?3). Ascending: FTS5 seeks to a lower bound through its doclist indexes,
              // while a descending read loads each doclist from its start.
              {&s.search_in_conversation,
               "SELECT rowid FROM search_index WHERE search_index MATCH ?1 AND rowid > ?2 "
               "AND rowid < ?3 ORDER BY rowid"},
              // A hit's entry; conv_id guards against a tag collision. The index holds only
              // undeleted messages; the checks keep it so if it ever does not.
              {&s.search_hit, "SELECT " PARLEY_ENTRY_COLUMNS
                              " FROM entries e WHERE e.rowid = ?1 AND e.conv_id = ?2 "
                              "AND e.kind = 'message' AND e.deleted = 0"},
              // The first and last rowid of a conversation's log: two seeks of the (conv_id, seq)
              // index, since rowids grow with seq.
              {&s.conversation_rowids,
               "SELECT (SELECT rowid FROM entries WHERE conv_id = ?1 ORDER BY seq LIMIT 1), "
               "(SELECT rowid FROM entries WHERE conv_id = ?1 ORDER BY seq DESC LIMIT 1)"},
              {&s.usage_of_day,
               "SELECT user_id, entries, bytes FROM usage_daily WHERE day = ?1 ORDER BY user_id"},
              {&s.memberships,
               "SELECT m.conv_id, c.type FROM members m JOIN conversations c ON c.id = m.conv_id "
               "WHERE m.user_id = ?1 ORDER BY m.conv_id"},
              // Stops one row past the size that matters, so a huge group costs no more to
              // rule out than a small one. A negative limit is no limit.
              {&s.members_up_to, "SELECT user_id FROM members WHERE conv_id = ?1 LIMIT ?2"},
              {&s.shares_a_conversation,
               "SELECT 1 FROM members a JOIN members b ON b.conv_id = a.conv_id "
               "WHERE a.user_id = ?1 AND b.user_id = ?2 LIMIT 1"},
          });
}

#undef PARLEY_ENTRY_COLUMNS
#undef PARLEY_SUMMARY_COLUMNS

// Reads a row of PARLEY_SUMMARY_COLUMNS; members, unread and last_message are filled later.
ConversationSummary ReadSummaryRow(const Statement& stmt) {
  ConversationSummary summary;
  ConversationRecord& c = summary.conversation;
  c.id = stmt.ColumnText(0);
  c.type = stmt.ColumnText(1);
  c.title = stmt.ColumnText(2);
  c.direct_key = stmt.ColumnText(3);
  c.created_by = stmt.ColumnText(4);
  c.created_ms = stmt.ColumnInt64(5);
  c.last_seq = stmt.ColumnInt64(6);
  summary.read_seq = stmt.ColumnInt64(7);
  return summary;
}

// ---------------------------------------------------------------------------- writes

Status Upsert(WriteStatements& s, std::string_view conv_id, const MemberRecord& m) {
  return BindAndRun(s.upsert_member, conv_id, m.user_id, RoleName(m.role), m.read_seq,
                    m.delivered_seq, m.joined_seq);
}

// An empty string as NULL: for columns where "none" must stay out of a UNIQUE index.
std::optional<std::string_view> NullIfEmpty(std::string_view text) {
  if (text.empty()) return std::nullopt;
  return text;
}

Status ApplyOne(WriteStatements& s, const mutation::InsertConversation& op) {
  const ConversationRecord& c = op.conversation;
  if (Status st = BindAndRun(s.insert_conversation, c.id, c.type, c.title,
                             NullIfEmpty(c.direct_key), c.created_by, c.created_ms, c.last_seq);
      !st.ok()) {
    return InContext(st.error(), "InsertConversation " + c.id);
  }
  for (const MemberRecord& m : c.members) {
    if (Status st = Upsert(s, c.id, m); !st.ok()) {
      return InContext(st.error(), "InsertConversation " + c.id + " member " + m.user_id);
    }
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::AppendEntry& op) {
  const LogEntry& e = op.entry;
  const std::string what = "AppendEntry " + e.conv_id + "/" + std::to_string(e.seq);
  if (e.seq < 1) return Error::Internal(what + ": seq must be at least 1");
  // Checked first, so that an entry of a conversation that does not exist is not a foreign key
  // failure (the same kInternal either way).
  if (Status st = BindAndRun(s.bump_conversation, e.conv_id, e.seq, e.ts); !st.ok()) {
    return InContext(st.error(), what);
  }
  if (s.db->Changes() == 0) {
    return Error::Internal(what +
                           ": the previous seq is missing (a gap in the log), or no such "
                           "conversation");
  }

  const bool is_message = e.kind == EntryKind::kMessage;
  // A deleted message never has a body in storage; the index holds exactly the non-NULL
  // bodies of kMessage rows (see migration 2).
  std::optional<std::string_view> body;
  if (e.body && !(is_message && e.deleted)) body = *e.body;
  const std::optional<std::string_view> client_msg_id =
      is_message ? NullIfEmpty(e.client_msg_id) : std::nullopt;

  // The rowid comes from the connection rather than RETURNING, which buffers its output per
  // statement (measured ~10% of an insert).
  Statement& insert = s.insert_entry;
  if (Status st =
          BindAndRun(insert, e.conv_id, e.seq, e.id, e.sender, EntryKindName(e.kind), e.ts,
                     client_msg_id, body, e.reply_to, e.edited_ts, e.deleted, e.target_seq, e.emoji,
                     e.reaction_added, e.member_user, e.member_action, e.member_role, e.title);
      !st.ok()) {
    return InContext(st.error(), what);
  }
  const int64_t rowid = s.db->LastInsertRowid();
  if (is_message && body) s.fts_changes.push_back({true, rowid, e.conv_id, std::string(*body)});
  // What the chat service's daily quota counts: messages, edits and reactions.
  if (is_message || e.kind == EntryKind::kEdit || e.kind == EntryKind::kReaction) {
    auto& [entries, bytes] = s.usage[{e.sender, e.ts / kMsPerDay}];
    ++entries;
    bytes += static_cast<int64_t>(body ? body->size() : e.emoji.size());
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::UpdateMessage& op) {
  const std::string what = "UpdateMessage " + op.conv_id + "/" + std::to_string(op.seq);
  if (!op.deleted && !op.body) return Error::Internal(what + ": an undeleted message needs a body");
  const bool erase = op.deleted;

  int64_t rowid = 0;
  std::optional<std::string> old_body;
  {
    ScopedReset reset(s.find_message);
    if (Status st = BindAll(s.find_message, op.conv_id, op.seq); !st.ok()) return st;
    Result<bool> row = s.find_message.Step();
    if (!row.ok()) return InContext(std::move(row).error(), what);
    if (!*row) return Error::NotFound(what + ": no such message");
    rowid = s.find_message.ColumnInt64(0);
    if (!s.find_message.ColumnIsNull(1)) old_body = s.find_message.ColumnText(1);
  }
  if (old_body) s.fts_changes.push_back({false, rowid, op.conv_id, *old_body});
  const std::optional<std::string> new_body = erase ? std::nullopt : op.body;
  if (Status st = BindAndRun(s.update_message, rowid, new_body, op.edited_ts, erase); !st.ok()) {
    return InContext(st.error(), what);
  }
  if (new_body) s.fts_changes.push_back({true, rowid, op.conv_id, *new_body});
  if (erase) {
    // The edits' entries carry earlier versions of the text; a delete takes those too.
    if (Status st = BindAndRun(s.erase_edit_bodies, op.conv_id, op.seq); !st.ok()) {
      return InContext(st.error(), what);
    }
    // A tombstone shows nothing of the message, reactions included.
    if (Status st = BindAndRun(s.erase_reactions, op.conv_id, op.seq); !st.ok()) {
      return InContext(st.error(), what);
    }
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::SetReaction& op) {
  Statement& stmt = op.on ? s.add_reaction : s.remove_reaction;
  if (Status st = BindAndRun(stmt, op.conv_id, op.seq, op.emoji, op.user_id); !st.ok()) {
    return InContext(st.error(), "SetReaction " + op.conv_id + "/" + std::to_string(op.seq));
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::UpsertMember& op) {
  if (Status st = Upsert(s, op.conv_id, op.member); !st.ok()) {
    return InContext(st.error(), "UpsertMember " + op.conv_id + " " + op.member.user_id);
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::RemoveMember& op) {
  if (Status st = BindAndRun(s.remove_member, op.conv_id, op.user_id); !st.ok()) {
    return InContext(st.error(), "RemoveMember " + op.conv_id + " " + op.user_id);
  }
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::SetTitle& op) {
  if (Status st = BindAndRun(s.set_title, op.conv_id, op.title); !st.ok()) {
    return InContext(st.error(), "SetTitle " + op.conv_id);
  }
  if (s.db->Changes() == 0)
    return Error::NotFound("SetTitle " + op.conv_id + ": no such conversation");
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::SetReadSeq& op) {
  auto& [read, delivered] = s.member_positions[{op.conv_id, op.user_id}];
  read = std::max(read, op.read_seq);
  return Status::Ok();
}

Status ApplyOne(WriteStatements& s, const mutation::SetDeliveredSeq& op) {
  auto& [read, delivered] = s.member_positions[{op.conv_id, op.user_id}];
  delivered = std::max(delivered, op.delivered_seq);
  return Status::Ok();
}

// Writes the positions collected since the last call (see member_positions).
Status WriteMemberPositions(WriteStatements& s) {
  for (const auto& [key, seqs] : s.member_positions) {
    if (Status st = BindAndRun(s.advance_member, key.first, key.second, seqs.first, seqs.second);
        !st.ok()) {
      return InContext(st.error(), "member positions " + key.first + " " + key.second);
    }
  }
  s.member_positions.clear();
  return Status::Ok();
}

// Whether a mutation commutes with the pending member positions (see member_positions).
bool CommutesWithPositions(const Mutation& m) {
  return std::holds_alternative<mutation::AppendEntry>(m) ||
         std::holds_alternative<mutation::SetReadSeq>(m) ||
         std::holds_alternative<mutation::SetDeliveredSeq>(m) ||
         std::holds_alternative<mutation::UpdateMessage>(m) ||
         std::holds_alternative<mutation::SetReaction>(m);
}

}  // namespace

// ---------------------------------------------------------------------------- connections

namespace {

// Runs a query of entries (bound by the caller) and collects its rows.
Result<std::vector<LogEntry>> CollectEntries(Statement& stmt) {
  std::vector<LogEntry> entries;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return entries;
    Result<LogEntry> entry = ReadEntry(stmt);
    if (!entry.ok()) return std::move(entry).error();
    entries.push_back(std::move(*entry));
  }
}

// The one entry a bound single-row query finds, with its reactions.
Result<std::optional<LogEntry>> OneEntry(ReadStatements& s, Statement& stmt) {
  Result<std::vector<LogEntry>> rows = [&] {
    ScopedReset reset(stmt);
    return CollectEntries(stmt);
  }();
  if (!rows.ok()) return std::move(rows).error();
  if (rows->empty()) return std::optional<LogEntry>();
  LogEntry entry = std::move(rows->front());
  if (Status st = AttachReactions(s, entry.conv_id, {&entry}); !st.ok()) return st.error();
  return std::optional<LogEntry>(std::move(entry));
}

// Reads a row of load_members or get_member.
Result<MemberRecord> ReadMember(const Statement& stmt) {
  const std::string role = stmt.ColumnText(1);
  std::optional<Role> parsed = ParseRole(role);
  if (!parsed) return Error::Internal("sqlite: unknown role \"" + role + "\"");
  return MemberRecord{
      .user_id = stmt.ColumnText(0),
      .role = *parsed,
      .read_seq = stmt.ColumnInt64(2),
      .delivered_seq = stmt.ColumnInt64(3),
      .joined_seq = stmt.ColumnInt64(4),
  };
}

Result<std::vector<MemberRecord>> LoadMembers(ReadStatements& s, std::string_view conv_id) {
  Statement& stmt = s.load_members;
  ScopedReset reset(stmt);
  if (Status st = stmt.Bind(1, conv_id); !st.ok()) return st.error();
  std::vector<MemberRecord> members;
  while (true) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    Result<MemberRecord> member = ReadMember(stmt);
    if (!member.ok()) return std::move(member).error();
    members.push_back(std::move(*member));
  }
  // Oldest members first, as the API lists them.
  std::sort(members.begin(), members.end(), [](const MemberRecord& a, const MemberRecord& b) {
    return std::tie(a.joined_seq, a.user_id) < std::tie(b.joined_seq, b.user_id);
  });
  return members;
}

// Completes a summary read by ReadSummaryRow: members, unread count, last message.
Status FillSummary(ReadStatements& s, std::string_view user_id, ConversationSummary& summary,
                   bool with_members = true) {
  const std::string& conv_id = summary.conversation.id;
  if (with_members) {
    Result<std::vector<MemberRecord>> members = LoadMembers(s, conv_id);
    if (!members.ok()) return std::move(members).error();
    summary.conversation.members = std::move(*members);
  }
  {
    Statement& stmt = s.unread;
    ScopedReset reset(stmt);
    if (Status st = BindAll(stmt, conv_id, summary.read_seq, user_id); !st.ok()) return st;
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    summary.unread = *row ? stmt.ColumnInt64(0) : 0;
  }
  {
    Statement& stmt = s.last_message;
    if (Status st = stmt.Bind(1, conv_id); !st.ok()) {
      stmt.Reset();
      return st;
    }
    Result<std::optional<LogEntry>> last = OneEntry(s, stmt);
    if (!last.ok()) return std::move(last).error();
    summary.last_message = std::move(*last);
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------- SqliteMessageStore

Result<std::unique_ptr<SqliteMessageStore>> SqliteMessageStore::Open(const std::string& path,
                                                                     sqlite::Durability durability,
                                                                     int read_connections) {
  if (path.empty() || path == ":memory:") {
    return Error::InvalidRequest("the message store needs a database file, not \"" + path + "\"");
  }
  read_connections = std::max(read_connections, 1);
  const sqlite::DatabaseOptions options{.durability = durability};

  auto writer = std::make_unique<WriteConnection>();
  {
    Result<std::unique_ptr<Database>> db = Database::Open(path, options);
    if (!db.ok()) return std::move(db).error();
    writer->db = std::move(*db);
  }
  // Zeroes the bytes that deleted and overwritten content leaves in database pages, so that a
  // deleted message's text does not linger in the file. Per connection; only this one writes
  // the message tables.
  if (Status s = writer->db->Exec("PRAGMA secure_delete=ON"); !s.ok()) return s.error();
  // The schema's CHECK constraints guard the file against other tools; this connection writes
  // only values the sequencer built from enums and checked ranges. Evaluating them cost every
  // message a temporary b-tree (SQLite builds one for `kind IN (...)`, ~5% of a send).
  if (Status s = writer->db->Exec("PRAGMA ignore_check_constraints=ON"); !s.ok()) {
    return s.error();
  }
  if (Status s = sqlite::Migrate(*writer->db, sqlite::SchemaMigrations()); !s.ok()) {
    return s.error();
  }
  // FTS5 keeps the words of deleted rows in old index segments until they are merged, unless
  // 'secure-delete' is on. The option exists from SQLite 3.44; before that this fails and
  // PurgeDeletedText() is the remedy. Set at every open so that a library upgrade turns it on.
  // Only tried where it exists: on 3.40 the failed attempt leaves this connection on a stale
  // WAL snapshot, and its next BEGIN IMMEDIATE fails with SQLITE_BUSY_SNAPSHOT once another
  // connection (the account store's) has written.
  const bool fts_secure_delete =
      sqlite3_libversion_number() >= 3044000 &&
      writer->db->Exec("INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1)")
          .ok();
  writer->statements.db = writer->db.get();
  if (Status s = PrepareWriter(*writer->db, writer->statements); !s.ok()) return s.error();
  {
    Result<std::unique_ptr<sqlite::SearchTokenizer>> tokenizer =
        sqlite::SearchTokenizer::Create(*writer->db);
    if (!tokenizer.ok()) return std::move(tokenizer).error();
    writer->tokenizer = std::move(*tokenizer);
  }
  if (Status s = BackfillSearchIndex(*writer->db, *writer->tokenizer); !s.ok()) return s.error();

  std::vector<std::unique_ptr<ReadConnection>> readers;
  for (int i = 0; i < read_connections; ++i) {
    auto reader = std::make_unique<ReadConnection>();
    Result<std::unique_ptr<Database>> db = Database::Open(path, options);
    if (!db.ok()) return std::move(db).error();
    reader->db = std::move(*db);
    if (Status s = reader->db->Exec("PRAGMA query_only=ON"); !s.ok()) return s.error();
    if (Status s = PrepareReader(*reader->db, reader->statements); !s.ok()) return s.error();
    Result<std::unique_ptr<sqlite::SearchTokenizer>> tokenizer =
        sqlite::SearchTokenizer::Create(*reader->db);
    if (!tokenizer.ok()) return std::move(tokenizer).error();
    reader->tokenizer = std::move(*tokenizer);
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<SqliteMessageStore>(
      new SqliteMessageStore(std::move(writer), std::move(readers), fts_secure_delete));
}

SqliteMessageStore::SqliteMessageStore(std::unique_ptr<WriteConnection> writer,
                                       std::vector<std::unique_ptr<ReadConnection>> readers,
                                       bool fts_secure_delete)
    : writer_(std::move(writer)),
      readers_(std::move(readers)),
      fts_secure_delete_(fts_secure_delete) {
  for (const auto& reader : readers_) free_readers_.push_back(reader.get());
}

SqliteMessageStore::~SqliteMessageStore() = default;

SqliteMessageStore::ReadLease SqliteMessageStore::Borrow() {
  std::unique_lock lock(read_mu_);
  reader_freed_.wait(lock, [this] { return !free_readers_.empty(); });
  ReadConnection* connection = free_readers_.back();
  free_readers_.pop_back();
  return {this, connection};
}

Status SqliteMessageStore::Apply(const std::vector<Mutation>& batch) {
  if (batch.empty()) return Status::Ok();
  std::lock_guard lock(write_mu_);
  Database& db = *writer_->db;
  WriteStatements& s = writer_->statements;
  // The destructor rolls back on every early return: a batch is all or nothing.
  Result<Transaction> txn = Transaction::Begin(db);
  if (!txn.ok()) return std::move(txn).error();
  s.fts_changes.clear();
  s.member_positions.clear();
  s.usage.clear();
  for (const Mutation& m : batch) {
    if (!s.member_positions.empty() && !CommutesWithPositions(m)) {
      if (Status status = WriteMemberPositions(s); !status.ok()) return status;
    }
    Status status = std::visit([&s](const auto& op) { return ApplyOne(s, op); }, m);
    if (!status.ok()) return status;
  }
  if (Status status = WriteMemberPositions(s); !status.ok()) return status;
  for (const auto& [key, usage] : s.usage) {
    if (Status status = BindAndRun(s.add_usage, key.first, key.second, usage.first, usage.second);
        !status.ok()) {
      return InContext(status.error(), "usage of " + key.first);
    }
  }
  s.usage.clear();
  uint64_t removed_text = 0;
  for (const WriteStatements::FtsChange& change : s.fts_changes) {
    Statement& stmt = change.add ? s.index_body : s.unindex_body;
    Result<std::string> terms = sqlite::IndexedText(
        *writer_->tokenizer, sqlite::ConversationTag(change.conv_id), change.body);
    if (!terms.ok()) return std::move(terms).error();
    if (Status status = BindAndRun(stmt, change.rowid, *terms); !status.ok()) {
      return InContext(status.error(), "search index");
    }
    if (!change.add) ++removed_text;
  }
  s.fts_changes.clear();
  if (Status status = txn->Commit(); !status.ok()) return status;
  if (removed_text > 0) text_removed_since_purge_.fetch_add(removed_text);
  if (on_applied_) on_applied_(batch);
  return Status::Ok();
}

Result<std::optional<ConversationRecord>> SqliteMessageStore::LoadConversation(
    std::string_view conv_id) {
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  ConversationRecord record;
  {
    Statement& stmt = s.load_conversation;
    ScopedReset reset(stmt);
    if (Status st = stmt.Bind(1, conv_id); !st.ok()) return st.error();
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return std::optional<ConversationRecord>();
    record.id = stmt.ColumnText(0);
    record.type = stmt.ColumnText(1);
    record.title = stmt.ColumnText(2);
    record.direct_key = stmt.ColumnText(3);
    record.created_by = stmt.ColumnText(4);
    record.created_ms = stmt.ColumnInt64(5);
    record.last_seq = stmt.ColumnInt64(6);
  }
  Result<std::vector<MemberRecord>> members = LoadMembers(s, conv_id);
  if (!members.ok()) return std::move(members).error();
  record.members = std::move(*members);
  return std::optional<ConversationRecord>(std::move(record));
}

Result<std::optional<std::string>> SqliteMessageStore::FindDirect(std::string_view direct_key) {
  // "" is how a group's (NULL) key reads back; it names no direct conversation.
  if (direct_key.empty()) return std::optional<std::string>();
  ReadLease lease = Borrow();
  Statement& stmt = lease.statements().find_direct;
  ScopedReset reset(stmt);
  if (Status st = stmt.Bind(1, direct_key); !st.ok()) return st.error();
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.ColumnText(0));
}

Result<std::optional<LogEntry>> SqliteMessageStore::FindByClientMsgId(
    std::string_view conv_id, std::string_view sender, std::string_view client_msg_id) {
  // Messages without a key are stored with NULL, which no lookup matches.
  if (client_msg_id.empty()) return std::optional<LogEntry>();
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  {
    // Nearly every send asks about a new id: one statement, in its own implicit read
    // transaction, answers that; only a retry pays for the snapshot and the whole entry.
    Statement& probe = s.client_msg_id_exists;
    ScopedReset reset(probe);
    if (Status st = BindAll(probe, conv_id, sender, client_msg_id); !st.ok()) return st.error();
    Result<bool> row = probe.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return std::optional<LogEntry>();
  }
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();
  Statement& stmt = s.find_by_client_msg_id;
  if (Status st = BindAll(stmt, conv_id, sender, client_msg_id); !st.ok()) {
    stmt.Reset();
    return st.error();
  }
  return OneEntry(s, stmt);
}

Result<std::optional<MemberRecord>> SqliteMessageStore::GetMember(std::string_view conv_id,
                                                                  std::string_view user_id) {
  ReadLease lease = Borrow();
  Statement& stmt = lease.statements().get_member;
  ScopedReset reset(stmt);
  if (Status st = BindAll(stmt, conv_id, user_id); !st.ok()) return st.error();
  Result<bool> row = stmt.Step();
  if (!row.ok()) return std::move(row).error();
  if (!*row) return std::optional<MemberRecord>();
  Result<MemberRecord> member = ReadMember(stmt);
  if (!member.ok()) return std::move(member).error();
  return std::optional<MemberRecord>(std::move(*member));
}

Result<std::optional<LogEntry>> SqliteMessageStore::GetEntry(std::string_view conv_id,
                                                             int64_t seq) {
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();
  Statement& stmt = s.get_entry;
  if (Status st = BindAll(stmt, conv_id, seq); !st.ok()) {
    stmt.Reset();
    return st.error();
  }
  return OneEntry(s, stmt);
}

Result<LogPage> SqliteMessageStore::ReadLog(std::string_view conv_id,
                                            std::optional<int64_t> after_seq,
                                            std::optional<int64_t> before_seq, int limit) {
  limit = std::clamp(limit, 1, kMaxPage);
  LogPage page;
  if (before_seq && *before_seq <= 1) return page;

  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  // One row more than asked says whether the page is the last in that direction.
  Statement& stmt = before_seq ? s.log_before : s.log_after;
  Result<std::vector<LogEntry>> rows = [&]() -> Result<std::vector<LogEntry>> {
    ScopedReset reset(stmt);
    const int64_t bound = before_seq ? *before_seq : std::max<int64_t>(after_seq.value_or(0), 0);
    if (Status st = BindAll(stmt, conv_id, bound, limit + 1); !st.ok()) return st.error();
    return CollectEntries(stmt);
  }();
  if (!rows.ok()) return std::move(rows).error();
  page.entries = std::move(*rows);
  if (page.entries.size() > static_cast<size_t>(limit)) {
    page.has_more = true;
    page.entries.pop_back();
  }
  if (before_seq) std::reverse(page.entries.begin(), page.entries.end());

  std::vector<LogEntry*> pointers;
  pointers.reserve(page.entries.size());
  for (LogEntry& entry : page.entries) pointers.push_back(&entry);
  if (Status st = AttachReactions(s, conv_id, pointers); !st.ok()) return st.error();
  return page;
}

Result<std::vector<ConversationSummary>> SqliteMessageStore::ListConversations(
    std::string_view user_id, bool with_members) {
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  std::vector<ConversationSummary> summaries;
  {
    Statement& stmt = s.list_conversations;
    ScopedReset reset(stmt);
    if (Status st = stmt.Bind(1, user_id); !st.ok()) return st.error();
    while (true) {
      Result<bool> row = stmt.Step();
      if (!row.ok()) return std::move(row).error();
      if (!*row) break;
      summaries.push_back(ReadSummaryRow(stmt));
    }
  }
  for (ConversationSummary& summary : summaries) {
    if (Status st = FillSummary(s, user_id, summary, with_members); !st.ok()) return st.error();
  }
  return summaries;
}

Result<ConversationPage> SqliteMessageStore::ListConversationPage(std::string_view user_id,
                                                                  std::string_view after, int limit,
                                                                  bool with_members) {
  int64_t after_key = -1;  // below every key: the first page
  std::string after_id;
  if (!after.empty()) {
    const size_t dot = after.find('.');
    const std::string_view key = after.substr(0, dot);
    auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), after_key);
    if (dot == std::string_view::npos || ec != std::errc() || ptr != key.data() + key.size() ||
        after_key < 0) {
      return Error::InvalidRequest("after is not a cursor this server gave");
    }
    after_id = std::string(after.substr(dot + 1));
  }
  limit = std::max(limit, 1);

  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();
  // Not among the prepared statements: paging is rare next to sync's other reads. The columns
  // are those ReadSummaryRow() reads, then the join key and the last activity.
  Result<Statement> stmt = lease.db().Prepare(
      "SELECT * FROM (SELECT "
      "c.id, c.type, c.title, c.direct_key, c.created_by, c.created_ms, c.last_seq, m.read_seq"
      ", COALESCE(e.rowid, 0) AS k, c.last_activity_ms AS activity "
      "FROM members m JOIN conversations c ON c.id = m.conv_id "
      "LEFT JOIN entries e ON e.conv_id = m.conv_id AND e.seq = m.joined_seq "
      "WHERE m.user_id = ?1) WHERE k > ?2 OR (k = ?2 AND id > ?3) ORDER BY k, id LIMIT ?4");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status st = BindAll(*stmt, user_id, after_key, std::string_view(after_id), limit + 1);
      !st.ok()) {
    return st.error();
  }
  ConversationPage page;
  std::vector<std::pair<int64_t, int64_t>> keys;  // (join key, last activity) per summary
  while (true) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) break;
    if (page.conversations.size() == static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    page.conversations.push_back(ReadSummaryRow(*stmt));
    keys.emplace_back(stmt->ColumnInt64(8), stmt->ColumnInt64(9));
  }
  stmt->Reset();  // done with it before the summaries' queries and the snapshot's end
  if (page.has_more) {
    page.next_cursor =
        std::to_string(keys.back().first) + "." + page.conversations.back().conversation.id;
  }
  // Most recently active first within the page, as ListConversations orders the whole list.
  std::vector<size_t> order(page.conversations.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (keys[a].second != keys[b].second) return keys[a].second > keys[b].second;
    return page.conversations[a].conversation.id < page.conversations[b].conversation.id;
  });
  std::vector<ConversationSummary> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(page.conversations[i]));
  page.conversations = std::move(sorted);
  for (ConversationSummary& summary : page.conversations) {
    if (Status st = FillSummary(s, user_id, summary, with_members); !st.ok()) return st.error();
  }
  return page;
}

Result<std::optional<ConversationSummary>> SqliteMessageStore::GetSummary(
    std::string_view conv_id, std::string_view user_id) {
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  ConversationSummary summary;
  {
    Statement& stmt = s.get_summary;
    ScopedReset reset(stmt);
    if (Status st = BindAll(stmt, conv_id, user_id); !st.ok()) return st.error();
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (!*row) return std::optional<ConversationSummary>();
    summary = ReadSummaryRow(stmt);
  }
  if (Status st = FillSummary(s, user_id, summary); !st.ok()) return st.error();
  return std::optional<ConversationSummary>(std::move(summary));
}

Result<ContactList> SqliteMessageStore::ListContacts(std::string_view user_id, int max_group_size,
                                                     size_t limit) {
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();

  ContactList contacts;
  std::vector<std::string> groups;
  std::vector<std::string> directs;
  {
    Statement& stmt = s.memberships;
    ScopedReset reset(stmt);
    if (Status st = stmt.Bind(1, user_id); !st.ok()) return st.error();
    while (true) {
      Result<bool> row = stmt.Step();
      if (!row.ok()) return std::move(row).error();
      if (!*row) break;
      contacts.conversations.push_back(stmt.ColumnText(0));
      (stmt.ColumnText(1) == "direct" ? directs : groups).push_back(contacts.conversations.back());
    }
  }

  std::unordered_set<std::string> seen{std::string(user_id)};
  // Adds the members of `conv_id` unless it has more than `max_members` (-1: any number).
  auto add_members = [&](const std::string& conv_id, int64_t max_members) -> Status {
    std::vector<std::string> members;
    {
      Statement& stmt = s.members_up_to;
      ScopedReset reset(stmt);
      if (Status st = BindAll(stmt, conv_id, max_members < 0 ? -1 : max_members + 1); !st.ok()) {
        return st;
      }
      while (true) {
        Result<bool> row = stmt.Step();
        if (!row.ok()) return std::move(row).error();
        if (!*row) break;
        members.push_back(stmt.ColumnText(0));
      }
    }
    if (max_members >= 0 && members.size() > static_cast<size_t>(max_members)) return Status::Ok();
    for (std::string& member : members) {
      if (seen.contains(member)) continue;
      if (contacts.users.size() >= limit) {
        contacts.truncated = true;
        return Status::Ok();
      }
      seen.insert(member);
      contacts.users.push_back(std::move(member));
    }
    return Status::Ok();
  };
  for (const std::string& conv_id : directs) {
    if (Status st = add_members(conv_id, -1); !st.ok()) return st.error();
  }
  contacts.direct = contacts.users.size();
  for (const std::string& conv_id : groups) {
    if (contacts.truncated) break;
    if (Status st = add_members(conv_id, std::max(max_group_size, 0)); !st.ok()) return st.error();
  }
  return contacts;
}

Result<bool> SqliteMessageStore::IsContact(std::string_view user_id, std::string_view other) {
  if (user_id == other) return true;
  ReadLease lease = Borrow();
  // Not among the prepared statements: it runs once per group add, which is rate-limited.
  Result<Statement> stmt = lease.db().Prepare(
      "SELECT 1 FROM members a JOIN members b ON b.conv_id = a.conv_id "
      "JOIN conversations c ON c.id = a.conv_id "
      "WHERE a.user_id = ?1 AND b.user_id = ?2 AND (c.type = 'group' OR c.created_by = ?1 OR "
      "EXISTS (SELECT 1 FROM entries e WHERE e.conv_id = c.id AND e.sender = ?1 AND "
      "e.kind = 'message')) LIMIT 1");
  if (!stmt.ok()) return std::move(stmt).error();
  if (Status st = BindAll(*stmt, user_id, other); !st.ok()) return st.error();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return std::move(row).error();
  return *row;
}

Result<std::vector<std::string>> SqliteMessageStore::UsersSharingAConversation(
    std::string_view user_id, const std::vector<std::string>& candidates) {
  std::vector<std::string> out;
  if (candidates.empty()) return out;
  ReadLease lease = Borrow();
  ReadStatements& s = lease.statements();
  Result<Snapshot> snapshot = Snapshot::Begin(lease.db(), s);
  if (!snapshot.ok()) return std::move(snapshot).error();
  std::unordered_set<std::string_view> seen{user_id};
  Statement& stmt = s.shares_a_conversation;
  for (const std::string& candidate : candidates) {
    if (!seen.insert(candidate).second) continue;
    ScopedReset reset(stmt);
    if (Status st = BindAll(stmt, user_id, candidate); !st.ok()) return st.error();
    Result<bool> row = stmt.Step();
    if (!row.ok()) return std::move(row).error();
    if (*row) out.push_back(candidate);
  }
  return out;
}

}  // namespace parley
