#include "presence/contacts_cache.h"

#include <algorithm>
#include <utility>

namespace parley {

ContactsCache::ContactsCache(MessageStore& store, int max_group_size, size_t limit, size_t capacity)
    : store_(store),
      max_group_size_(max_group_size),
      limit_(limit),
      capacity_(std::max<size_t>(capacity, 1)) {}

Result<const ContactList*> ContactsCache::Get(const std::string& user_id) {
  if (auto it = entries_.find(user_id); it != entries_.end()) {
    ++hits_;
    return &it->second;
  }
  ++misses_;
  Result<ContactList> loaded = store_.ListContacts(user_id, max_group_size_, limit_);
  if (!loaded.ok()) return std::move(loaded).error();
  if (entries_.size() >= capacity_) EvictSome();
  for (const std::string& conv : loaded->conversations) by_conversation_[conv].insert(user_id);
  auto [it, inserted] = entries_.emplace(user_id, std::move(*loaded));
  return &it->second;
}

void ContactsCache::Invalidate(const std::vector<std::string>& conversations,
                               const std::vector<std::string>& users) {
  for (const std::string& conv : conversations) {
    auto it = by_conversation_.find(conv);
    if (it == by_conversation_.end()) continue;
    // Drop() edits by_conversation_, this entry included: work on a copy.
    const std::vector<std::string> members(it->second.begin(), it->second.end());
    for (const std::string& user : members) Drop(user);
  }
  for (const std::string& user : users) Drop(user);
}

void ContactsCache::Drop(const std::string& user_id) {
  auto it = entries_.find(user_id);
  if (it == entries_.end()) return;
  for (const std::string& conv : it->second.conversations) {
    auto members = by_conversation_.find(conv);
    if (members == by_conversation_.end()) continue;
    members->second.erase(user_id);
    if (members->second.empty()) by_conversation_.erase(members);
  }
  entries_.erase(it);
}

void ContactsCache::EvictSome() {
  std::vector<std::string> victims;
  const size_t count = std::max<size_t>(entries_.size() / 10, 1);
  for (const auto& [user_id, contacts] : entries_) {
    if (victims.size() >= count) break;
    victims.push_back(user_id);
  }
  for (const std::string& user_id : victims) Drop(user_id);
}

}  // namespace parley
