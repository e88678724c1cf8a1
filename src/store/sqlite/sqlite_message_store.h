#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/message_store.h"
#include "store/sqlite/database.h"

namespace parley {

/// MessageStore on the embedded SQLite database (schema: migrations 2 and 5 in migrations.cpp;
/// search in sqlite_message_store_search.cpp, its text rules in sqlite_search.h).
///
/// Connections: one write connection, used only by Apply(), and a pool of read connections
/// that the read methods borrow one at a time. In WAL mode readers never wait for the writer,
/// and each read method that runs several queries does so in one read transaction, so it
/// sees one consistent snapshot. A read method blocks while every read connection is busy.
///
/// Durability: Apply() commits its whole batch in one transaction; with Durability::kFull
/// that is one fsync of the WAL per batch, which is what makes batching (group commit) pay.
///
/// Beyond the MessageStore contract:
/// - AppendEntry fails (kInternal, batch rolled back) unless entry (conv, seq - 1) exists or
///   seq is 1: the log stays gapless even if the sequencer has a bug. A duplicate (conv, seq),
///   conversation id, direct_key or (conv, sender, client_msg_id) is kConflict.
/// - UpdateMessage and SetTitle on a message / conversation that does not exist are kNotFound.
///   UpdateMessage with deleted=true erases the body whatever `body` holds; deleted=false
///   with no body is kInternal. SetReadSeq, SetDeliveredSeq and RemoveMember for someone who
///   is not a member do nothing. UpsertMember keeps read_seq and delivered_seq monotonic too.
/// - ReadLog: when before_seq is set, after_seq is ignored. An unknown conversation reads as
///   an empty log.
/// - Members (in ConversationRecord) come ordered by joined_seq, then user id.
/// - A delete erases the message's body, and the bodies of its earlier edits, from the
///   entries table and the search index; an edit removes the old body's terms from the index.
///   secure_delete is on, so the freed bytes are zeroed. Two traces can outlive the
///   transaction: old page images in the WAL until it is checkpointed and truncated, and,
///   where SQLite's FTS5 lacks 'secure-delete' (before 3.44, e.g. Debian 12's 3.40), the words
///   of the removed text in old search index segments until they are merged.
///   PurgeDeletedText() removes both; the server runs it on a schedule (StorePurger).
class SqliteMessageStore final : public MessageStore {
 public:
  /// Opens or creates the database at `path` and brings its schema up to date
  /// (sqlite::SchemaMigrations()). `read_connections` (at least 1) bounds how many reads run at
  /// once. ":memory:" is refused: each connection would see a database of its own.
  [[nodiscard]] static Result<std::unique_ptr<SqliteMessageStore>> Open(
      const std::string& path, sqlite::Durability durability, int read_connections = 4);

  ~SqliteMessageStore() override;
  SqliteMessageStore(const SqliteMessageStore&) = delete;
  SqliteMessageStore& operator=(const SqliteMessageStore&) = delete;

  Status Apply(const std::vector<Mutation>& batch) override;

  Result<std::optional<ConversationRecord>> LoadConversation(std::string_view conv_id) override;
  Result<std::optional<std::string>> FindDirect(std::string_view direct_key) override;
  Result<std::optional<LogEntry>> FindByClientMsgId(std::string_view conv_id,
                                                    std::string_view sender,
                                                    std::string_view client_msg_id) override;
  Result<std::optional<MemberRecord>> GetMember(std::string_view conv_id,
                                                std::string_view user_id) override;
  Result<std::optional<LogEntry>> GetEntry(std::string_view conv_id, int64_t seq) override;
  Result<LogPage> ReadLog(std::string_view conv_id, std::optional<int64_t> after_seq,
                          std::optional<int64_t> before_seq, int limit) override;
  Result<std::vector<ConversationSummary>> ListConversations(std::string_view user_id,
                                                             bool with_members = true) override;
  /// The join order is the rowid of the log entry that added the user (entries are never
  /// deleted, so it only grows); the cursor is "<rowid>.<conversation id>".
  Result<ConversationPage> ListConversationPage(std::string_view user_id, std::string_view after,
                                                int limit, bool with_members = true) override;
  Result<std::optional<ConversationSummary>> GetSummary(std::string_view conv_id,
                                                        std::string_view user_id) override;
  /// `limit` is clamped to [1, 200]. Words that hold no letter or digit (e.g. "-") are ignored;
  /// a query with no words at all, or more than sqlite::kMaxSearchWords, is kInvalidRequest.
  /// Cost: one indexed query per conversation of the user's (at most
  /// bounds.max_conversations, most recently active first), each visiting only that
  /// conversation's index terms (sqlite_search.h); interrupted at bounds.deadline by a progress
  /// handler, which answers the hits found so far with `truncated`.
  Result<SearchPage> Search(std::string_view user_id, std::string_view query, int limit,
                            int64_t before, const SearchBounds& bounds = {}) override;
  /// One indexed range read of usage_daily.
  Result<std::vector<DailyUsage>> UsageOfDay(int64_t day) override;
  /// Two kinds of query per call: the user's conversations, then the members of each of them
  /// (a group's read stops past max_group_size + 1 rows). Groups are visited in id order.
  Result<ContactList> ListContacts(std::string_view user_id, int max_group_size,
                                   size_t limit) override;
  /// One query: the shared conversations by the members_user_id index; for a direct one that
  /// `user_id` did not create, its entries are scanned until a message of theirs (at most the
  /// conversation's log, once per rate-limited group add).
  Result<bool> IsContact(std::string_view user_id, std::string_view other) override;
  /// One indexed lookup per distinct candidate, all in one read transaction.
  Result<std::vector<std::string>> UsersSharingAConversation(
      std::string_view user_id, const std::vector<std::string>& candidates) override;

  /// Called on the thread that called Apply(), after each batch has committed and before
  /// Apply() returns, with that batch. For caches of what the store holds (presence keeps
  /// contact lists) that must hear of every change. Must be quick and must not call Apply().
  /// Set once at start-up, before the first Apply().
  using AppliedListener = std::function<void(const std::vector<Mutation>& batch)>;
  void OnApplied(AppliedListener listener) { on_applied_ = std::move(listener); }

  /// Maintenance: rewrites the search index (FTS5 'optimize'), which drops what deleted
  /// messages left in it, then checkpoints and truncates the WAL, which drops old page images.
  /// Takes the write lock for a time that grows with the size of the index, so it is for a
  /// quiet moment or a periodic job, not for the request path. kUnavailable when a reader kept
  /// the WAL from being truncated (the index was still rewritten; try again later).
  /// Answers how many removals of text (TextRemovedSincePurge) it made final.
  /// Any thread; waits for Apply().
  Result<uint64_t> PurgeDeletedText();

  /// Message texts removed from the search index (edits and deletes) since the last successful
  /// PurgeDeletedText(): while it is 0 a purge has nothing to do. Any thread.
  uint64_t TextRemovedSincePurge() const { return text_removed_since_purge_.load(); }

  /// True when this SQLite's FTS5 erases deleted text from the index at once ('secure-delete',
  /// SQLite 3.44+), so PurgeDeletedText() is needed only for the WAL.
  bool search_index_secure_delete() const { return fts_secure_delete_; }

 private:
  struct WriteConnection;
  struct ReadConnection;
  class ReadLease;

  SqliteMessageStore(std::unique_ptr<WriteConnection> writer,
                     std::vector<std::unique_ptr<ReadConnection>> readers, bool fts_secure_delete);

  /// Waits for a free read connection; the lease gives it back.
  ReadLease Borrow();

  std::mutex write_mu_;
  std::unique_ptr<WriteConnection> writer_;  // GUARDED_BY(write_mu_)

  std::mutex read_mu_;
  std::condition_variable reader_freed_;
  const std::vector<std::unique_ptr<ReadConnection>> readers_;  // owns them; never changes
  std::vector<ReadConnection*> free_readers_;                   // GUARDED_BY(read_mu_)

  const bool fts_secure_delete_;
  AppliedListener on_applied_;
  std::atomic<uint64_t> text_removed_since_purge_{0};
};

}  // namespace parley
