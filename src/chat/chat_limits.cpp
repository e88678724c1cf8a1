#include "chat/chat_limits.h"

#include <algorithm>
#include <utility>

namespace parley {

namespace {
constexpr int64_t kMsPerDay = 86'400'000;
}  // namespace

void SendQuota::Load(int64_t day, const std::vector<DailyUsage>& usage) {
  day_ = day;
  used_.clear();
  for (const DailyUsage& u : usage) used_[u.user_id] = Used{u.entries, u.bytes};
}

void SendQuota::Roll(int64_t day) {
  if (day == day_) return;
  day_ = day;
  used_.clear();
}

Status SendQuota::Take(const std::string& user_id, size_t bytes, int64_t now_ms) {
  if (params_.max_entries_per_day <= 0 && params_.max_bytes_per_day <= 0) return Status::Ok();
  const int64_t day = now_ms / kMsPerDay;
  Roll(day);
  const int64_t retry_after = std::max<int64_t>((day + 1) * kMsPerDay - now_ms, 1);
  auto it = used_.find(user_id);
  const Used used = it == used_.end() ? Used{} : it->second;
  const auto size = static_cast<int64_t>(bytes);
  if (params_.max_entries_per_day > 0 && used.entries + 1 > params_.max_entries_per_day) {
    return Error{ErrorCode::kRateLimited,
                 "daily quota reached: at most " + std::to_string(params_.max_entries_per_day) +
                     " messages, edits and reactions per user per day (UTC)",
                 retry_after};
  }
  if (params_.max_bytes_per_day > 0 && used.bytes + size > params_.max_bytes_per_day) {
    return Error{ErrorCode::kRateLimited,
                 "daily quota reached: at most " + std::to_string(params_.max_bytes_per_day) +
                     " bytes of message text per user per day (UTC)",
                 retry_after};
  }
  Used& slot = it == used_.end() ? used_[user_id] : it->second;
  ++slot.entries;
  slot.bytes += size;
  return Status::Ok();
}

SearchGate::SearchGate(size_t max_total, size_t max_per_user)
    : max_total_(std::max<size_t>(max_total, 1)),
      max_per_user_(std::max<size_t>(max_per_user, 1)) {}

Result<SearchGate::Ticket> SearchGate::Enter(const std::string& user_id, int64_t retry_after_ms) {
  std::lock_guard lock(mu_);
  auto it = per_user_.find(user_id);
  if (it != per_user_.end() && it->second >= max_per_user_) {
    return Error{ErrorCode::kRateLimited, "another search of yours is still running",
                 std::max<int64_t>(retry_after_ms, 1)};
  }
  if (active_ >= max_total_) {
    return Error::Unavailable("too many searches are running; retry shortly");
  }
  ++active_;
  ++per_user_[user_id];
  return Ticket(this, user_id);
}

void SearchGate::Leave(const std::string& user_id) {
  std::lock_guard lock(mu_);
  --active_;
  auto it = per_user_.find(user_id);
  if (it != per_user_.end() && --it->second == 0) per_user_.erase(it);
}

size_t SearchGate::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

SearchGate::Ticket::~Ticket() {
  if (gate_ != nullptr) gate_->Leave(user_id_);
}

SearchGate::Ticket::Ticket(Ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), user_id_(std::move(other.user_id_)) {}

}  // namespace parley
