#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/privacy_store.h"
#include "store/sqlite/database.h"

namespace parley {

/// PrivacyStore on the embedded SQLite database (tables privacy_settings, invitations: schema
/// migration 6). One connection, serialized by a mutex: settings changes and group adds are
/// low-rate (the adds are rate-limited per user).
class SqlitePrivacyStore final : public PrivacyStore {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqlitePrivacyStore>> Open(
      const std::string& path, sqlite::Durability durability = sqlite::Durability::kFull);
  ~SqlitePrivacyStore() override;
  SqlitePrivacyStore(const SqlitePrivacyStore&) = delete;
  SqlitePrivacyStore& operator=(const SqlitePrivacyStore&) = delete;

  Result<std::optional<GroupAdds>> GetGroupAdds(std::string_view user_id) override;
  Status PutGroupAdds(std::string_view user_id, GroupAdds adds) override;
  Result<Invitation> PutInvitation(const Invitation& invitation, size_t max_pending) override;
  Result<std::vector<Invitation>> Invitations(std::string_view user_id) override;
  Result<std::optional<Invitation>> GetInvitation(std::string_view id) override;
  Status RemoveInvitation(std::string_view user_id, std::string_view id) override;

 private:
  explicit SqlitePrivacyStore(std::unique_ptr<sqlite::Database> db);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;  // guarded by mu_
};

}  // namespace parley
