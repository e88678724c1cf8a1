#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chat/chat_limits.h"
#include "chat/group_add_policy.h"
#include "chat/recent_log.h"
#include "common/clock.h"
#include "common/status.h"
#include "hub/connection_hub.h"
#include "metrics/metrics.h"
#include "store/account_store.h"
#include "store/message_store.h"

namespace parley {

struct ChatOptions {
  int max_group_members = 10'000;
  size_t max_body_bytes = 16 * 1024;
  size_t max_title_bytes = 128;
  size_t max_client_msg_id_bytes = 128;
  size_t max_batch = 1024;     // commands folded into one transaction (one fsync)
  size_t max_queue = 100'000;  // pending commands; past it writes fail `unavailable`
  size_t max_cached_conversations = 100'000;
  int receipt_fanout_max_members = 256;         // larger groups get no pushed read receipts
  size_t recent_entries_per_conversation = 64;  // served from memory to history reads
  size_t recent_conversations = 10'000;
  int conversations_page_size = 500;           // SyncPage: the default page and the largest limit
  size_t max_reactions_per_message = 50;       // distinct emoji on one message
  size_t max_reactions_per_user_message = 20;  // emoji one user puts on one message
  /// Told the name of a limit each time a request is refused by it (for /metrics); runs on
  /// the sequencer thread and must be quick. May be empty.
  std::function<void(std::string_view limit)> on_refused;

  // Storage bounds (docs/PROTOCOL.md, "Limits"). The quota counts messages, edits, reactions.
  QuotaParams quota;
  /// The disk guard: while it answers true, every write command is refused `unavailable`
  /// before it reaches SQLite. Empty: never. Called on the caller's thread; must be cheap.
  std::function<bool()> disk_low;

  // Search bounds.
  size_t search_max_concurrent = 1;        // searches at once in the server (one per user)
  int search_deadline_ms = 500;            // a search answers what it found by then, truncated
  size_t search_max_conversations = 1000;  // most recently active conversations searched

  /// Where refusals are counted; null counters are skipped. Owned by the caller.
  struct Counters {
    Counter* quota_refused = nullptr;
    Counter* disk_refused = nullptr;
    Counter* search_busy = nullptr;  // refused by the search concurrency cap
    Counter* search_truncated = nullptr;
  } counters;
};

template <class T>
using Done = std::function<void(Result<T>)>;

/// What a send asks for. `reply_to` is 0 for none.
struct SendRequest {
  std::string user_id;
  std::string conv_id;
  std::string client_msg_id;
  std::string body;
  int64_t reply_to = 0;
};

struct CreateRequest {
  std::string user_id;
  std::string type;  // "direct" or "group"
  std::string title;
  std::vector<std::string> members;
};

struct CreateResult {
  ConversationRecord conversation;
  bool created = false;  // false: the direct conversation already existed
  // Requested members whose group_adds setting did not let the creator add them: each got an
  // invitation instead (GroupAddPolicy), and is not a member until they accept.
  std::vector<std::string> invited;
};

/// Conversations and their logs: the rules (membership, roles, validation), the order
/// (gapless seq per conversation) and the fan-out of every change to the members' devices.
///
/// Writes go through one sequencer thread that owns all conversation state: it validates a
/// command against that state, assigns seqs, folds every command waiting in its queue into
/// one MessageStore::Apply (one transaction, one fsync: group commit), and only after that
/// returns does it answer (`done`) and fan the entries out. So an answer means durable, and
/// every member sees a conversation's entries in seq order.
///
/// Thread-safety: every method may be called from any thread. Write methods return at once;
/// their `done` runs later on the sequencer thread and must not block. Read methods block
/// on storage: call them from the blocking pool. `origin` is the connection a request came
/// from, which gets the answer but not the fanned-out event; it is compared, never used.
class ChatService {
 public:
  ChatService(MessageStore& store, AccountStore& accounts, ConnectionHub& hub, const Clock& clock,
              ChatOptions options);
  /// Finishes every queued command, then stops the sequencer.
  ~ChatService();
  ChatService(const ChatService&) = delete;
  ChatService& operator=(const ChatService&) = delete;

  void CreateConversation(CreateRequest request, Done<CreateResult> done);
  void Send(SendRequest request, const Connection* origin, Done<LogEntry> done);
  void Edit(std::string user_id, std::string conv_id, int64_t seq, std::string body,
            const Connection* origin, Done<LogEntry> done);
  void Delete(std::string user_id, std::string conv_id, int64_t seq, const Connection* origin,
              Done<LogEntry> done);
  void React(std::string user_id, std::string conv_id, int64_t seq, std::string emoji,
             const Connection* origin, Done<LogEntry> done);
  /// Adds `user_id` to the group, or, when their group_adds setting does not allow `actor` to
  /// (UseGroupAddPolicy), invites them: the answer is then the conversation without them.
  void AddMember(std::string actor, std::string conv_id, std::string user_id,
                 Done<ConversationRecord> done);
  /// The invitee joins the group they were invited to (as added by the inviter, who must still
  /// be an owner or admin there). The invitation is gone afterwards, whatever the outcome
  /// except a storage failure. kNotFound when it is not `user_id`'s invitation.
  void AcceptInvitation(std::string user_id, std::string invitation_id,
                        Done<ConversationRecord> done);
  /// Removing yourself is leaving.
  void RemoveMember(std::string actor, std::string conv_id, std::string user_id,
                    Done<ConversationRecord> done);
  void SetRole(std::string actor, std::string conv_id, std::string user_id, Role role,
               Done<ConversationRecord> done);
  void Rename(std::string actor, std::string conv_id, std::string title,
              Done<ConversationRecord> done);
  /// Moves the user's read_seq up (never down); answers the resulting read_seq.
  void MarkRead(std::string user_id, std::string conv_id, int64_t seq, Done<int64_t> done);
  /// A device acknowledges what it received; answers the resulting delivered_seq.
  void MarkDelivered(std::string user_id, std::string conv_id, int64_t seq, Done<int64_t> done);
  /// Tells the other members' devices that `user_id` is typing. Never stored.
  void Typing(std::string user_id, std::string conv_id, Done<bool> done);

  // Reads (blocking). A conversation the user is not a member of is kNotFound, exactly as
  // one that does not exist.
  Result<LogPage> History(const std::string& user_id, const std::string& conv_id,
                          std::optional<int64_t> after_seq, std::optional<int64_t> before_seq,
                          int limit);
  /// The user's conversations (MessageStore::ListConversations; `with_members`: see there).
  Result<std::vector<ConversationSummary>> Sync(const std::string& user_id,
                                                bool with_members = true);
  /// One page of the user's conversations (MessageStore::ListConversationPage). `limit` 0
  /// means the default page, conversations_page_size, which is also the largest.
  Result<ConversationPage> SyncPage(const std::string& user_id, const std::string& after, int limit,
                                    bool with_members = true);
  Result<ConversationSummary> GetConversation(const std::string& user_id,
                                              const std::string& conv_id);
  /// Bounded by ChatOptions' search fields: kRateLimited when the user already has a search
  /// running, kUnavailable when search_max_concurrent are running.
  Result<SearchPage> Search(const std::string& user_id, const std::string& query, int limit,
                            int64_t before);

  /// Called on the sequencer thread after each new chat message (kind kMessage) is durable,
  /// with the conversation's members at that moment (the sender included). For notifying
  /// members who are not connected. Must be quick and must not block: hand work off. Set
  /// once at start-up, before any command.
  struct CommittedMessage {
    LogEntry message;
    std::string conv_type;                                    // "direct" or "group"
    std::string conv_title;                                   // groups only
    std::shared_ptr<const std::vector<std::string>> members;  // shared, never copied per message
  };
  using MessageListener = std::function<void(const CommittedMessage& committed)>;
  void OnMessageCommitted(MessageListener listener) { on_message_ = std::move(listener); }

  /// Group adds then follow each user's group_adds setting (issue 17 #6); without a policy
  /// anyone may add anyone. Set once at start-up, before any command; `policy` must outlive
  /// the service.
  void UseGroupAddPolicy(GroupAddPolicy* policy) { policy_ = policy; }

  /// Body rules shared with the API layer: non-empty, valid UTF-8, at most max_body_bytes.
  Status CheckBody(const std::string& body) const;

 private:
  struct Batch;
  struct ConvState;
  using Command = std::function<void(Batch&)>;

  void Submit(Command command, std::function<void(const Error&)> reject);
  /// Submit for a command that answers `done`: the command gets it by reference, and it is
  /// answered `unavailable` if the command cannot be queued.
  template <class T, class Body>
  void SubmitFor(Done<T> done, Body body) {
    auto shared_done = std::make_shared<Done<T>>(std::move(done));
    Submit([shared_done, body = std::move(body)](Batch& batch) { body(batch, *shared_done); },
           [shared_done](const Error& e) { (*shared_done)(e); });
  }
  void Loop();
  void RunBatch(std::vector<std::pair<Command, std::function<void(const Error&)>>>& commands);

  // Sequencer-thread helpers.
  Result<ConvState*> LoadState(const std::string& conv_id);
  Result<ConvState*> MemberState(const std::string& conv_id, const std::string& user_id);
  Result<LogEntry> TargetMessage(Batch& batch, ConvState& state, int64_t seq);
  LogEntry NewEntry(ConvState& state, const std::string& sender, EntryKind kind);
  void FanOut(Batch& batch, const ConvState& state, const LogEntry& entry,
              const Connection* origin);
  /// Tells every member's devices `member`'s read and delivered positions.
  void PushReceipt(Batch& batch, const ConvState& state, const MemberRecord& member);
  void FanOutConversation(Batch& batch, const ConvState& state,
                          const std::vector<std::string>& extra_users);
  void EvictIfFull();
  /// Makes `user_id` a member of the group (an "added" entry by `actor`), fanned out by the
  /// caller once it has answered. Returns the entry.
  LogEntry AppendMember(Batch& batch, ConvState& state, const std::string& actor,
                        const std::string& user_id);
  /// kConflict when `user_id` adding a reaction (`new_emoji`: one the message lacks) would
  /// pass max_reactions_per_message or max_reactions_per_user_message.
  Status CheckReactionLimits(const LogEntry& message, const std::string& user_id,
                             bool new_emoji) const;

  MessageStore& store_;
  AccountStore& accounts_;
  ConnectionHub& hub_;
  const Clock& clock_;
  ChatOptions options_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<Command, std::function<void(const Error&)>>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                                    // GUARDED_BY(mu_)

  RecentLog recent_;  // thread-safe; written by the sequencer after each commit
  MessageListener on_message_;
  GroupAddPolicy* policy_ = nullptr;
  SearchGate search_gate_;  // thread-safe
  SendQuota quota_;         // owned by the sequencer thread (seeded before it starts)

  // Owned by the sequencer thread only.
  std::unordered_map<std::string, std::unique_ptr<ConvState>> states_;
  std::thread thread_;
};

}  // namespace parley
