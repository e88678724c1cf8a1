#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace parley {

/// When each user was last seen connected: the one piece of presence that outlives the
/// process. The embedded presence store (src/presence/local) persists through it.
///
/// Thread-safety: every method may be called from any thread; both block on storage I/O.
class LastSeenStore {
 public:
  virtual ~LastSeenStore() = default;

  /// Stores every (user id, ms) pair in one transaction. A stored value never moves back:
  /// the larger of the stored and the given value is kept.
  virtual Status SaveLastSeen(const std::vector<std::pair<std::string, int64_t>>& values) = 0;
  /// The last_seen of each user, in the order asked; 0 for a user never seen.
  virtual Result<std::vector<int64_t>> LoadLastSeen(const std::vector<std::string>& user_ids) = 0;
};

}  // namespace parley
