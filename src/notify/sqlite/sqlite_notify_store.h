#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "notify/notify_store.h"
#include "store/sqlite/database.h"

namespace parley {

/// NotifyStore on the embedded SQLite database (tables notify_settings, notify_mutes,
/// push_subscriptions). One connection, serialized by a mutex: this is low-rate traffic
/// (settings changes, one muted-by query per notified message).
class SqliteNotifyStore final : public NotifyStore {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteNotifyStore>> Open(
      const std::string& path, sqlite::Durability durability = sqlite::Durability::kFull);
  ~SqliteNotifyStore() override;
  SqliteNotifyStore(const SqliteNotifyStore&) = delete;
  SqliteNotifyStore& operator=(const SqliteNotifyStore&) = delete;

  Result<NotifySettings> GetSettings(std::string_view user_id) override;
  Status PutSettings(std::string_view user_id, const NotifySettings& settings) override;
  Status SetMuted(std::string_view user_id, std::string_view conv_id, bool muted) override;
  Result<std::vector<std::string>> MutedConversations(std::string_view user_id) override;
  Result<std::unordered_set<std::string>> MutedBy(std::string_view conv_id) override;
  Status PutSubscription(const PushSubscription& subscription, int max_per_user) override;
  Status RemoveSubscription(std::string_view user_id, std::string_view endpoint) override;
  Status DropSubscription(std::string_view endpoint) override;
  Result<std::vector<PushSubscription>> Subscriptions(std::string_view user_id) override;
  Result<PushSubscription> FindSubscription(std::string_view user_id,
                                            std::string_view endpoint) override;

 private:
  explicit SqliteNotifyStore(std::unique_ptr<sqlite::Database> db);
  Status Exec(std::string_view sql, std::initializer_list<std::string_view> args);
  /// The statement for `sql`, compiled once and kept, reset and bound to `args`. Callers hold
  /// mu_ and reset it when done (sqlite::ScopedReset).
  Result<sqlite::Statement*> Cached(std::string_view sql,
                                    std::initializer_list<std::string_view> args);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;  // guarded by mu_
  // SQL text -> its statement; destroyed before db_.
  std::map<std::string, sqlite::Statement, std::less<>> cache_;  // guarded by mu_
};

}  // namespace parley
