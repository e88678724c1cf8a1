#include "presence/presence_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <unordered_set>
#include <utility>

#include "common/text_rules.h"
#include "presence/encode.h"

namespace parley {

namespace {

// Users reached by one announcement.
std::vector<double> RecipientBuckets() {
  return {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
}

// Whether what `state` asks for is what was last announced.
bool Settled(bool online, bool away, const std::string& text, bool shown_online, bool shown_away,
             const std::string& shown_text) {
  if (online != shown_online) return false;
  return !online || (away == shown_away && text == shown_text);
}

}  // namespace

PresenceService::Metrics::Metrics(MetricsRegistry& registry)
    : changes(registry.AddCounter("parley_presence_changes_total",
                                  "Presence changes announced (after coalescing)")),
      events(registry.AddCounter("parley_presence_events_total",
                                 "Presence event frames handed to connections")),
      recipients(registry.AddHistogram("parley_presence_recipients",
                                       "Users reached by one announced presence change",
                                       RecipientBuckets())),
      capped(registry.AddCounter("parley_presence_fanout_capped_total",
                                 "Presence changes whose fan-out stopped at presence_max_fanout")),
      coalesced(registry.AddCounter(
          "parley_presence_coalesced_total",
          "Presence changes undone within the grace period, so never announced")),
      contacts_hits(registry.AddCounter("parley_presence_contacts_cache_hits_total",
                                        "Contact lists served from the presence cache")),
      contacts_misses(registry.AddCounter("parley_presence_contacts_cache_misses_total",
                                          "Contact lists read from the message store")),
      errors(registry.AddCounter("parley_presence_errors_total",
                                 "Presence storage errors (logged; presence carries on)")),
      online(registry.AddGauge("parley_presence_online_users",
                               "Users this node has announced online")),
      revoked(registry.AddCounter(
          "parley_presence_subscriptions_revoked_total",
          "Presence subscriptions to a user ended because the two no longer share a "
          "conversation")) {}

PresenceService::PresenceService(PresenceStore& store, MessageStore& messages, ConnectionHub& hub,
                                 const Clock& clock, MetricsRegistry& metrics,
                                 std::unique_ptr<TaskRunner> runner, PresenceOptions options)
    : store_(store),
      messages_(messages),
      hub_(hub),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      runner_(std::move(runner)),
      contacts_(messages, options.max_group_size, options.max_fanout,
                options.contacts_cache_users) {
  hub_.SetObserver(this);
}

PresenceService::~PresenceService() { Shutdown(); }

void PresenceService::Shutdown() {
  if (shut_down_.exchange(true)) return;
  hub_.SetObserver(nullptr);
  runner_->Stop();
  if (Status s = store_.Flush(); !s.ok()) {
    metrics_.errors.Inc();
    spdlog::error("presence: saving last_seen at shutdown failed: {}", s.error().message);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs: posted to the presence thread.

void PresenceService::OnUserConnected(const std::string& user_id) {
  runner_->Post([this, user_id] { Recheck(user_id); });
}

void PresenceService::OnUserDisconnected(const std::string& user_id) {
  runner_->Post([this, user_id] { Recheck(user_id); });
}

void PresenceService::OnConnectionRemoved(const Connection& connection) {
  runner_->Post([this, session = connection.session_id()] { Unsubscribe(session); });
}

void PresenceService::OnMessagesApplied(const std::vector<Mutation>& batch) {
  std::vector<std::string> conversations;
  std::vector<std::string> users;
  std::vector<std::string> removed;  // users who left or were removed from a conversation
  for (const Mutation& m : batch) {
    if (const auto* op = std::get_if<mutation::InsertConversation>(&m)) {
      for (const MemberRecord& member : op->conversation.members) users.push_back(member.user_id);
    } else if (const auto* op = std::get_if<mutation::UpsertMember>(&m)) {
      conversations.push_back(op->conv_id);
      users.push_back(op->member.user_id);
    } else if (const auto* op = std::get_if<mutation::RemoveMember>(&m)) {
      conversations.push_back(op->conv_id);
      users.push_back(op->user_id);
      removed.push_back(op->user_id);
    }
  }
  if (conversations.empty() && users.empty()) return;
  // Connection changes are always queued (like the hub's): dropping this one would leave a
  // subscription that should have ended delivering events.
  runner_->Post([this, conversations = std::move(conversations), users = std::move(users),
                 removed = std::move(removed)] {
    contacts_.Invalidate(conversations, users);
    for (const std::string& user : removed) RecheckSubscriptions(user);
  });
}

Status PresenceService::CheckText(std::string_view text) const {
  if (text.size() > options_.max_text_bytes) {
    return Error::InvalidRequest("text must be at most " + std::to_string(options_.max_text_bytes) +
                                 " bytes of UTF-8");
  }
  // The same rules as names and titles: the text is shown beside the user's name.
  return CheckVisibleText(text, "text");
}

Status PresenceService::Admit() const {
  if (runner_->Pending() >= options_.max_queue) {
    return Error::Unavailable("presence is overloaded; retry shortly");
  }
  return Status::Ok();
}

void PresenceService::SetStatus(std::string user_id, bool away, std::string text,
                                std::function<void(Status)> done) {
  if (Status s = CheckText(text); !s.ok()) return done(s);
  if (Status s = Admit(); !s.ok()) return done(s);
  runner_->Post([this, user_id = std::move(user_id), away, text = std::move(text),
                 done = std::move(done)]() mutable {
    auto it = users_.find(user_id);
    if (it == users_.end()) {
      // Not connected here (a request that raced its connection's end): nothing to show.
      return done(Status::Ok());
    }
    UserState& state = it->second;
    const bool pending = !Settled(state.online, state.away, state.text, state.shown_online,
                                  state.shown_away, state.shown_text);
    state.away = away;
    state.text = std::move(text);
    if (pending && Settled(state.online, state.away, state.text, state.shown_online,
                           state.shown_away, state.shown_text)) {
      metrics_.coalesced.Inc();
    }
    Evaluate(user_id, state, clock_.NowMs());
    done(Status::Ok());
  });
}

void PresenceService::Subscribe(std::shared_ptr<Connection> connection,
                                std::vector<std::string> users, SubscribeDone done) {
  if (users.size() > options_.max_subscriptions) {
    return done(Error::InvalidRequest("at most " + std::to_string(options_.max_subscriptions) +
                                      " users per subscription"));
  }
  if (Status s = Admit(); !s.ok()) return done(s.error());
  runner_->Post(
      [this, connection = std::move(connection), users = std::move(users), done = std::move(done)] {
        Result<std::vector<std::string>> visible = Visible(connection->user_id(), users);
        if (!visible.ok()) return done(std::move(visible).error());
        const std::string& session = connection->session_id();
        Unsubscribe(session);
        if (!visible->empty()) {
          for (const std::string& user : *visible) watchers_[user][session] = connection;
          subscriptions_[session] = Subscription{connection, connection->user_id(), *visible};
          sessions_of_[connection->user_id()].insert(session);
        }
        done(store_.Get(*visible));
      });
}

Result<std::vector<PresenceInfo>> PresenceService::Query(const std::string& viewer,
                                                         const std::vector<std::string>& users) {
  if (users.size() > options_.max_subscriptions) {
    return Error::InvalidRequest("at most " + std::to_string(options_.max_subscriptions) +
                                 " users per query");
  }
  Result<std::vector<std::string>> visible = Visible(viewer, users);
  if (!visible.ok()) return std::move(visible).error();
  return store_.Get(*visible);
}

Result<std::vector<std::string>> PresenceService::Visible(const std::string& viewer,
                                                          const std::vector<std::string>& users) {
  Result<std::vector<std::string>> shared = messages_.UsersSharingAConversation(viewer, users);
  if (!shared.ok()) return std::move(shared).error();
  const std::unordered_set<std::string_view> allowed(shared->begin(), shared->end());
  std::unordered_set<std::string_view> seen;
  std::vector<std::string> out;
  for (const std::string& user : users) {
    if ((user == viewer || allowed.contains(user)) && seen.insert(user).second) {
      out.push_back(user);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The rules, on the presence thread.

void PresenceService::Recheck(const std::string& user_id) {
  // The hub's calls for one user may arrive out of order; its count is the truth.
  const bool here = hub_.ConnectionsOfUser(user_id) > 0;
  auto it = users_.find(user_id);
  if (it == users_.end()) {
    if (!here) return;
    it = users_.emplace(user_id, UserState{}).first;
  }
  UserState& state = it->second;
  spdlog::debug("presence: {} {} here (was {})", user_id, here ? "is" : "is not",
                state.here ? "here" : "not");
  if (state.here == here) return;
  state.here = here;

  const int64_t now = clock_.NowMs();
  bool online = here;
  if (Result<int> nodes = store_.SetConnectedHere(user_id, here, now); nodes.ok()) {
    online = *nodes > 0;
  } else {
    metrics_.errors.Inc();
    spdlog::error("presence: recording {} as {}connected failed: {}", user_id, here ? "" : "dis",
                  nodes.error().message);
  }
  ScheduleFlush(now);
  if (online == state.online) return;
  const bool pending = !Settled(state.online, state.away, state.text, state.shown_online,
                                state.shown_away, state.shown_text);
  state.online = online;
  if (!online) state.offline_since = now;
  if (pending && Settled(state.online, state.away, state.text, state.shown_online, state.shown_away,
                         state.shown_text)) {
    metrics_.coalesced.Inc();
  }
  Evaluate(user_id, state, now);
}

void PresenceService::Evaluate(const std::string& user_id, UserState& state, int64_t now) {
  if (Settled(state.online, state.away, state.text, state.shown_online, state.shown_away,
              state.shown_text)) {
    // Nothing to announce. An offline user is forgotten once their hold-down is over (a
    // timer armed at the offline announcement comes back here).
    if (!state.here && !state.online && !state.shown_online && state.timer_ms == 0 &&
        now >= state.last_announce_ms + options_.grace_ms) {
      users_.erase(user_id);
    }
    return;
  }
  int64_t due = state.last_announce_ms == 0 ? now : state.last_announce_ms + options_.grace_ms;
  if (!state.online) due = std::max(due, state.offline_since + options_.grace_ms);
  if (due <= now) {
    Announce(user_id, state, now);
  } else {
    Arm(user_id, state, due);
  }
}

void PresenceService::Announce(const std::string& user_id, UserState& state, int64_t now) {
  PresenceInfo info;
  info.user_id = user_id;
  info.online = state.online;
  if (state.online) {
    info.away = state.away;
    info.text = state.text;
    info.last_seen_ms = now;
  } else {
    // Away and the status text last while the user is online; an offline ends them.
    state.away = false;
    state.text.clear();
    info.last_seen_ms = state.offline_since;
  }
  if (state.shown_online != info.online) metrics_.online.Add(info.online ? 1 : -1);
  state.shown_online = info.online;
  state.shown_away = info.away;
  state.shown_text = info.text;
  state.last_announce_ms = now;

  if (Status s = store_.Publish(info); !s.ok()) {
    metrics_.errors.Inc();
    spdlog::error("presence: publishing {} failed: {}", user_id, s.error().message);
  }
  ScheduleFlush(now);
  FanOut(info);
  // Comes back when the hold-down ends: to announce what changed meanwhile, or to forget an
  // offline user.
  Arm(user_id, state, now + options_.grace_ms);
}

void PresenceService::FanOut(const PresenceInfo& info) {
  spdlog::debug("presence: announcing {} {}", info.user_id, info.online ? "online" : "offline");
  const Frame frame = MakeFrame(boost::json::serialize(PresenceEventJson(info)));
  static const ContactList kNoContacts;
  const ContactList* contacts = &kNoContacts;
  if (Result<const ContactList*> found = contacts_.Get(info.user_id); found.ok()) {
    contacts = *found;
  } else {
    // Subscribers still hear of it; contacts get the next change.
    metrics_.errors.Inc();
    spdlog::error("presence: reading the contacts of {} failed: {}", info.user_id,
                  found.error().message);
  }
  CountContactsCache();

  size_t budget = options_.max_fanout;
  size_t reached = 0;
  size_t events = 0;
  bool capped = false;
  std::unordered_set<std::string_view> done;  // users considered; views into stable strings
  // Every device of `user`.
  auto to_user = [&](std::string_view user) {
    if (done.contains(user)) return;
    if (budget == 0) {
      capped = true;
      return;
    }
    --budget;
    done.insert(user);
    if (const size_t n = hub_.SendToUser(user, frame); n > 0) {
      ++reached;
      events += n;
    }
  };

  const std::vector<std::string>& users = contacts->users;
  const size_t direct = std::min(contacts->direct, users.size());
  for (size_t i = 0; i < direct; ++i) to_user(users[i]);

  // Explicit subscribers come before the small groups' members: they have the user on screen.
  if (auto watched = watchers_.find(info.user_id); watched != watchers_.end()) {
    std::unordered_map<std::string_view, std::vector<std::shared_ptr<Connection>>> by_user;
    for (const auto& [session, weak] : watched->second) {
      if (auto connection = weak.lock()) by_user[connection->user_id()].push_back(connection);
    }
    const std::unordered_set<std::string_view> contact_set(
        users.begin() + static_cast<std::ptrdiff_t>(direct), users.end());
    for (const auto& [user, connections] : by_user) {
      if (done.contains(user)) continue;
      if (contact_set.contains(user)) {
        to_user(user);  // every device of a contact, the subscribed ones included
        continue;
      }
      if (budget == 0) {
        capped = true;
        break;
      }
      --budget;
      done.insert(user);
      for (const auto& connection : connections) connection->Deliver(frame);
      ++reached;
      events += connections.size();
    }
  }
  for (size_t i = direct; i < users.size(); ++i) to_user(users[i]);
  if (contacts->truncated) capped = true;

  metrics_.changes.Inc();
  metrics_.events.Inc(events);
  metrics_.recipients.Observe(static_cast<double>(reached));
  if (capped) metrics_.capped.Inc();
}

void PresenceService::Arm(const std::string& user_id, UserState& state, int64_t due) {
  if (state.timer_ms != 0 && state.timer_ms <= due) return;  // an earlier one comes back first
  state.timer_ms = due;
  runner_->PostAt(due, [this, user_id, due] { OnTimer(user_id, due); });
}

void PresenceService::OnTimer(const std::string& user_id, int64_t due) {
  auto it = users_.find(user_id);
  if (it == users_.end() || it->second.timer_ms != due) return;  // stale
  it->second.timer_ms = 0;
  Evaluate(user_id, it->second, clock_.NowMs());
}

void PresenceService::ScheduleFlush(int64_t now) {
  if (flush_armed_) return;
  flush_armed_ = true;
  runner_->PostAt(now + options_.flush_interval_ms, [this] {
    flush_armed_ = false;
    if (Status s = store_.Flush(); !s.ok()) {
      metrics_.errors.Inc();
      spdlog::warn("presence: saving last_seen failed (retried later): {}", s.error().message);
      ScheduleFlush(clock_.NowMs());
    }
  });
}

void PresenceService::Unsubscribe(const std::string& session_id) {
  auto it = subscriptions_.find(session_id);
  if (it == subscriptions_.end()) return;
  for (const std::string& user : it->second.users) {
    auto watched = watchers_.find(user);
    if (watched == watchers_.end()) continue;
    watched->second.erase(session_id);
    if (watched->second.empty()) watchers_.erase(watched);
  }
  if (auto owner = sessions_of_.find(it->second.user_id); owner != sessions_of_.end()) {
    owner->second.erase(session_id);
    if (owner->second.empty()) sessions_of_.erase(owner);
  }
  subscriptions_.erase(it);
}

void PresenceService::DropWatch(const std::string& session_id, const std::string& watched_user) {
  auto sub = subscriptions_.find(session_id);
  if (sub == subscriptions_.end()) return;
  std::erase(sub->second.users, watched_user);
  if (auto watched = watchers_.find(watched_user); watched != watchers_.end()) {
    watched->second.erase(session_id);
    if (watched->second.empty()) watchers_.erase(watched);
  }
  metrics_.revoked.Inc();
  if (sub->second.users.empty()) Unsubscribe(session_id);
}

void PresenceService::RecheckSubscriptions(const std::string& user_id) {
  // Both directions of every subscription that involves the user: those who watch them, and
  // those they watch. Each is kept only while the two still share a conversation (the store
  // already holds the change: OnApplied runs after the commit).
  std::vector<std::pair<std::string, std::string>> to_drop;  // (session, watched user)
  if (auto watched = watchers_.find(user_id); watched != watchers_.end()) {
    for (const auto& [session, weak] : watched->second) {
      auto sub = subscriptions_.find(session);
      if (sub == subscriptions_.end()) continue;
      const std::string& viewer = sub->second.user_id;
      Result<std::vector<std::string>> visible = Visible(viewer, {user_id});
      if (!visible.ok()) {
        // Fail closed: a subscription that cannot be checked ends.
        metrics_.errors.Inc();
        to_drop.emplace_back(session, user_id);
      } else if (visible->empty()) {
        to_drop.emplace_back(session, user_id);
      }
    }
  }
  if (auto own = sessions_of_.find(user_id); own != sessions_of_.end()) {
    for (const std::string& session : own->second) {
      auto sub = subscriptions_.find(session);
      if (sub == subscriptions_.end()) continue;
      Result<std::vector<std::string>> visible = Visible(user_id, sub->second.users);
      const std::unordered_set<std::string> keep =
          visible.ok() ? std::unordered_set<std::string>(visible->begin(), visible->end())
                       : std::unordered_set<std::string>{};
      if (!visible.ok()) metrics_.errors.Inc();
      for (const std::string& watched : sub->second.users) {
        if (!keep.contains(watched)) to_drop.emplace_back(session, watched);
      }
    }
  }
  for (const auto& [session, watched] : to_drop) DropWatch(session, watched);
}

void PresenceService::CountContactsCache() {
  metrics_.contacts_hits.Inc(contacts_.hits() - counted_hits_);
  metrics_.contacts_misses.Inc(contacts_.misses() - counted_misses_);
  counted_hits_ = contacts_.hits();
  counted_misses_ = contacts_.misses();
}

}  // namespace parley
