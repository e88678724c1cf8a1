#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace parley {

/// What a conversation log entry records. Every change to a conversation is an entry under
/// the next gapless `seq` (see ../shared/API.md).
enum class EntryKind {
  kMessage,   // a chat message; its row also holds the message's current state
  kEdit,      // body of target_seq replaced by `body`
  kDelete,    // target_seq deleted (its body is gone from storage)
  kReaction,  // `emoji` toggled on target_seq by `sender` (reaction_added says which way)
  kMember,    // membership change of `member_user`: member_action says what
  kRename,    // the group's title became `title`
};

std::string_view EntryKindName(EntryKind kind);  // "message", "edit", ...

enum class Role { kOwner, kAdmin, kMember };
std::string_view RoleName(Role role);  // "owner", "admin", "member"
std::optional<Role> ParseRole(std::string_view name);

struct Reaction {
  std::string emoji;
  std::vector<std::string> users;  // in the order they reacted
};

/// One log entry. Fields that do not apply to the entry's kind are empty / zero.
struct LogEntry {
  std::string conv_id;
  int64_t seq = 0;
  std::string id;      // opaque, unique ("m_...")
  std::string sender;  // who made the change
  EntryKind kind = EntryKind::kMessage;
  int64_t ts = 0;  // ms since the epoch, assigned by the server

  std::string client_msg_id;        // kMessage: the sender's idempotency key (may be empty)
  std::optional<std::string> body;  // kMessage: current body, nullopt once deleted; kEdit: new body
  int64_t reply_to = 0;             // kMessage: seq of the message it quotes, 0 for none
  int64_t edited_ts = 0;            // kMessage: time of the last edit, 0 if never edited
  bool deleted = false;             // kMessage
  std::vector<Reaction> reactions;  // kMessage: current reactions (filled by reads)

  int64_t target_seq = 0;       // kEdit, kDelete, kReaction
  std::string emoji;            // kReaction
  bool reaction_added = false;  // kReaction: true = added, false = removed
  std::string member_user;      // kMember
  std::string member_action;    // kMember: "created", "added", "removed", "left", "role"
  std::string member_role;      // kMember: the role after the change ("" when removed/left)
  std::string title;            // kRename
};

struct MemberRecord {
  std::string user_id;
  Role role = Role::kMember;
  int64_t read_seq = 0;       // highest seq the user has read (never moves back)
  int64_t delivered_seq = 0;  // highest seq any of the user's devices acknowledged
  int64_t joined_seq = 0;     // the seq of the entry that added them
};

struct ConversationRecord {
  std::string id;
  std::string type;  // "direct" or "group"
  std::string title;
  std::string direct_key;  // direct only: the two user ids sorted, joined by '|'
  std::string created_by;
  int64_t created_ms = 0;
  int64_t last_seq = 0;
  std::vector<MemberRecord> members;
};

/// A conversation as one of its members sees it in a list or after sync.
struct ConversationSummary {
  ConversationRecord conversation;
  int64_t read_seq = 0;                  // the viewing user's
  int64_t unread = 0;                    // others' undeleted messages above read_seq
  std::optional<LogEntry> last_message;  // the newest kMessage entry, in its current state
};

/// One page of a user's conversations (MessageStore::ListConversationPage).
struct ConversationPage {
  std::vector<ConversationSummary> conversations;
  bool has_more = false;
  std::string next_cursor;  // opaque; pass as `after` for the next page; empty when !has_more
};

struct LogPage {
  std::vector<LogEntry> entries;  // ascending seq
  bool has_more = false;
};

struct SearchHit {
  LogEntry message;    // current state
  int64_t cursor = 0;  // pass as `before` to get the next (older) page
};

/// What bounds one search (see MessageStore::Search).
struct SearchBounds {
  /// Past this the search stops and answers what it found so far, truncated.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// The user's most recently active conversations searched, at most; the rest are not.
  size_t max_conversations = 1000;
};

struct SearchPage {
  std::vector<SearchHit> hits;  // newest first
  /// The search stopped early (deadline, or the user has more than max_conversations
  /// conversations): older or other matches may exist that this page does not show.
  bool truncated = false;
};

/// What one user wrote on one UTC day (day = ts / 86'400'000): message, edit and reaction
/// entries, and the bytes of their bodies (of the emoji, for a reaction). For storage quotas.
struct DailyUsage {
  std::string user_id;
  int64_t day = 0;
  int64_t entries = 0;
  int64_t bytes = 0;
};

/// Whom a user's presence is pushed to (see ListContacts).
struct ContactList {
  /// The peers of the user's direct conversations first (`direct` of them), then the
  /// co-members of their small groups; each user once, never the user themselves.
  std::vector<std::string> users;
  size_t direct = 0;
  /// Every conversation the user is a member of, whatever its size: the list changes only
  /// when the membership of one of these (or a new one of the user's) changes.
  std::vector<std::string> conversations;
  bool truncated = false;  // `users` stopped at the limit
};

/// Mutations the chat sequencer computes and the store applies, in order, in one transaction.
namespace mutation {
struct InsertConversation {
  ConversationRecord conversation;  // with its first members
};
struct AppendEntry {
  LogEntry entry;  // also moves the conversation's last_seq to entry.seq; indexes kMessage bodies
};
struct UpdateMessage {  // the current state of a kMessage row after an edit or delete
  std::string conv_id;
  int64_t seq = 0;
  std::optional<std::string> body;  // nullopt: deleted, the body is erased from storage and index
  int64_t edited_ts = 0;
  bool deleted = false;
};
struct SetReaction {
  std::string conv_id;
  int64_t seq = 0;
  std::string user_id;
  std::string emoji;
  bool on = false;
};
struct UpsertMember {
  std::string conv_id;
  MemberRecord member;
};
struct RemoveMember {
  std::string conv_id;
  std::string user_id;
};
struct SetTitle {
  std::string conv_id;
  std::string title;
};
struct SetReadSeq {  // monotonic: the store keeps max(old, new)
  std::string conv_id;
  std::string user_id;
  int64_t read_seq = 0;
};
struct SetDeliveredSeq {  // monotonic: the store keeps max(old, new)
  std::string conv_id;
  std::string user_id;
  int64_t delivered_seq = 0;
};
}  // namespace mutation

using Mutation =
    std::variant<mutation::InsertConversation, mutation::AppendEntry, mutation::UpdateMessage,
                 mutation::SetReaction, mutation::UpsertMember, mutation::RemoveMember,
                 mutation::SetTitle, mutation::SetReadSeq, mutation::SetDeliveredSeq>;

/// Conversations, members and their logs. SQLite (embedded) now, PostgreSQL later.
///
/// Writes: Apply() is called by exactly one thread, the chat sequencer, which decides seqs
/// and permissions; the store only persists. Apply returns once the batch is durable (per
/// the configured durability): that is what lets the server acknowledge.
/// Reads: every other method may be called from any thread concurrently, and blocks on I/O
/// (callers keep them off io threads). Reads see every batch whose Apply has returned.
class MessageStore {
 public:
  virtual ~MessageStore() = default;

  /// Applies every mutation in one transaction: all or nothing.
  virtual Status Apply(const std::vector<Mutation>& batch) = 0;

  /// The conversation with all its members; nullopt when it does not exist.
  virtual Result<std::optional<ConversationRecord>> LoadConversation(std::string_view conv_id) = 0;
  /// The id of the direct conversation with this key, if any.
  virtual Result<std::optional<std::string>> FindDirect(std::string_view direct_key) = 0;
  /// The kMessage entry `sender` sent with `client_msg_id` in `conv_id`, if any.
  virtual Result<std::optional<LogEntry>> FindByClientMsgId(std::string_view conv_id,
                                                            std::string_view sender,
                                                            std::string_view client_msg_id) = 0;
  /// The membership of `user_id` in `conv_id`; nullopt when not a member (or no such
  /// conversation). The cheap check every read starts with.
  virtual Result<std::optional<MemberRecord>> GetMember(std::string_view conv_id,
                                                        std::string_view user_id) = 0;
  /// One entry in its current state (kMessage with reactions), nullopt when absent.
  virtual Result<std::optional<LogEntry>> GetEntry(std::string_view conv_id, int64_t seq) = 0;

  /// Entries with seq > after_seq (ascending, the first `limit`), or, when before_seq is set,
  /// the `limit` entries just below before_seq (still returned ascending). has_more says
  /// whether more entries lie beyond the page in the direction of travel.
  virtual Result<LogPage> ReadLog(std::string_view conv_id, std::optional<int64_t> after_seq,
                                  std::optional<int64_t> before_seq, int limit) = 0;

  /// Every conversation `user_id` is a member of, most recently active first. Without
  /// `with_members` the summaries' member lists are left empty (and not read): a client that
  /// resyncs already has them, and membership changes are entries of the log it catches up on.
  virtual Result<std::vector<ConversationSummary>> ListConversations(std::string_view user_id,
                                                                     bool with_members = true) = 0;
  /// At most `limit` of the user's conversations, in the order they became a member of them,
  /// from just past `after` (a cursor from the previous page; "" for the first). That order
  /// never changes while paging: a conversation joined meanwhile comes on a later page, and no
  /// conversation is skipped or repeated by activity elsewhere. Within a page, most recently
  /// active first (so a list that fits one page is exactly ListConversations). A cursor that
  /// does not parse is kInvalidRequest. `with_members`: as ListConversations.
  virtual Result<ConversationPage> ListConversationPage(std::string_view user_id,
                                                        std::string_view after, int limit,
                                                        bool with_members = true) = 0;
  /// One conversation as `user_id` sees it; nullopt when it does not exist or they are not a
  /// member (the two are indistinguishable on purpose).
  virtual Result<std::optional<ConversationSummary>> GetSummary(std::string_view conv_id,
                                                                std::string_view user_id) = 0;

  /// Full-text search over undeleted messages of the conversations `user_id` is a member of,
  /// newest first; `before` is a cursor from a previous page (0 = from the newest). `query` is
  /// plain words, matched as prefixes (words of 1-2 characters as whole words); the store
  /// escapes it. The work is bounded by `bounds`; a query of too many words is
  /// kInvalidRequest.
  virtual Result<SearchPage> Search(std::string_view user_id, std::string_view query, int limit,
                                    int64_t before, const SearchBounds& bounds = {}) = 0;

  /// Every user's usage on `day` (see DailyUsage), as of the last Apply. The chat service
  /// reads it once at start so that a restart does not reset a quota.
  virtual Result<std::vector<DailyUsage>> UsageOfDay(int64_t day) = 0;

  /// Presence: the users who share a direct conversation with `user_id`, or a group of at
  /// most `max_group_size` members; at most `limit` of them (direct peers first).
  virtual Result<ContactList> ListContacts(std::string_view user_id, int max_group_size,
                                           size_t limit) = 0;
  /// Group adds (`group_adds` = contacts): whether `other` is a contact of `user_id`, i.e. they
  /// share a group, or a direct conversation that `user_id` created or sent a message in. A
  /// direct conversation someone else opened and `user_id` never answered does not count:
  /// anyone may open one with anyone.
  virtual Result<bool> IsContact(std::string_view user_id, std::string_view other) = 0;
  /// Presence: those of `candidates` who share at least one conversation (of any size) with
  /// `user_id`, in the order given, without duplicates. `user_id` itself is never included.
  virtual Result<std::vector<std::string>> UsersSharingAConversation(
      std::string_view user_id, const std::vector<std::string>& candidates) = 0;
};

}  // namespace parley
