#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "store/message_store.h"

namespace parley {

/// Each user's contacts (MessageStore::ListContacts), kept between presence changes and
/// dropped exactly when they may have changed: when the membership of one of the user's
/// conversations changes, or the user joins a new one.
///
/// Not thread-safe: owned by the presence service's thread. Get blocks on the store on a miss.
class ContactsCache {
 public:
  /// `capacity` users at most; when full, an arbitrary tenth is dropped.
  ContactsCache(MessageStore& store, int max_group_size, size_t limit, size_t capacity);

  /// The contacts of `user_id`; the pointer is valid until the next call of any method.
  Result<const ContactList*> Get(const std::string& user_id);

  /// The members of `conversations` changed, and so did the memberships of `users` (who may
  /// have joined conversations this cache has not seen yet).
  void Invalidate(const std::vector<std::string>& conversations,
                  const std::vector<std::string>& users);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t size() const { return entries_.size(); }

 private:
  void Drop(const std::string& user_id);
  void EvictSome();

  MessageStore& store_;
  const int max_group_size_;
  const size_t limit_;
  const size_t capacity_;
  std::unordered_map<std::string, ContactList> entries_;
  // conversation -> the cached users who are its members: whom a change of it invalidates.
  std::unordered_map<std::string, std::unordered_set<std::string>> by_conversation_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace parley
