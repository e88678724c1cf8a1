#include "chat/chat_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "chat/encode.h"
#include "common/random.h"
#include "common/text_rules.h"
#include "common/utf8.h"

namespace parley {

namespace json = boost::json;

namespace {

constexpr size_t kMaxEmojiBytes = 32;
constexpr int kMaxHistoryLimit = 200;
constexpr int kMaxSearchLimit = 50;
constexpr size_t kMaxQueryBytes = 256;

std::string Key(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string key;
  key.reserve(a.size() + b.size() + c.size() + 2);
  key.append(a).push_back('\0');
  key.append(b).push_back('\0');
  key.append(c);
  return key;
}

Status CheckText(std::string_view text, size_t max_bytes, std::string_view what, bool allow_empty) {
  if (!allow_empty && text.empty())
    return Error::InvalidRequest(std::string(what) + " must not be empty");
  if (text.size() > max_bytes) {
    return Error::PayloadTooLarge(std::string(what) + " is longer than " +
                                  std::to_string(max_bytes) + " bytes");
  }
  if (!IsValidUtf8(text)) return Error::InvalidRequest(std::string(what) + " must be valid UTF-8");
  return Status::Ok();
}

Status CheckEmoji(std::string_view emoji) {
  if (emoji.empty() || emoji.size() > kMaxEmojiBytes || !IsValidUtf8(emoji)) {
    return Error::InvalidRequest("emoji must be 1 to 32 bytes of UTF-8");
  }
  for (unsigned char c : emoji) {
    if (c <= 0x20 || c == 0x7F)
      return Error::InvalidRequest("emoji must not contain spaces or control characters");
  }
  return Status::Ok();
}

Error NotFoundConversation() { return Error::NotFound("no such conversation"); }

json::object Event(std::string_view type, json::object fields) {
  json::object out;
  out.reserve(fields.size() + 1);
  out["type"] = type;
  for (auto& f : fields) out[f.key()] = std::move(f.value());
  return out;
}

}  // namespace

/// Everything the sequencer knows about one conversation. Touched only by the sequencer.
struct ChatService::ConvState {
  ConversationRecord record;
  std::unordered_map<std::string, size_t> index;  // user id -> position in record.members
  // The member ids as one shared immutable list: fan-out reads it after commit without
  // copying it per message, even if membership changes meanwhile.
  std::shared_ptr<const std::vector<std::string>> member_ids;

  void Reindex() {
    index.clear();
    auto ids = std::make_shared<std::vector<std::string>>();
    ids->reserve(record.members.size());
    for (size_t i = 0; i < record.members.size(); ++i) {
      index[record.members[i].user_id] = i;
      ids->push_back(record.members[i].user_id);
    }
    member_ids = std::move(ids);
  }
  MemberRecord* Find(const std::string& user_id) {
    auto it = index.find(user_id);
    return it == index.end() ? nullptr : &record.members[it->second];
  }
  bool IsGroup() const { return record.type == "group"; }
};

/// One group commit: the mutations of every command in it, and what to do once they are
/// durable (answer, fan out) or if they fail (answer with the error).
struct ChatService::Batch {
  std::vector<Mutation> mutations;
  std::vector<std::function<void()>> after_commit;
  std::vector<std::function<void(const Error&)>> on_failure;
  // Writes of this batch that reads from the store cannot see yet.
  std::unordered_map<std::string, LogEntry> pending_client_ids;  // Key(conv, sender, cmid)
  std::unordered_map<std::string, LogEntry> pending_messages;    // MessageKey(conv, seq)
  std::unordered_map<std::string, std::string> pending_direct;   // direct key -> conv id

  static std::string MessageKey(std::string_view conv_id, int64_t seq) {
    return Key(conv_id, std::to_string(seq));
  }
  /// The current state of a message this batch changed, for later commands of the batch.
  void Remember(const LogEntry& message) {
    pending_messages[MessageKey(message.conv_id, message.seq)] = message;
  }

  template <class T>
  void Answer(Done<T> done, T value) {
    auto shared = std::make_shared<Done<T>>(std::move(done));
    after_commit.push_back(
        [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
    on_failure.push_back([shared](const Error& e) { (*shared)(e); });
  }
};

ChatService::ChatService(MessageStore& store, AccountStore& accounts, ConnectionHub& hub,
                         const Clock& clock, ChatOptions options)
    : store_(store),
      accounts_(accounts),
      hub_(hub),
      clock_(clock),
      options_(options),
      recent_(options.recent_entries_per_conversation, options.recent_conversations),
      search_gate_(options.search_max_concurrent, 1),
      quota_(options.quota) {
  // Today's usage so far, so that a restart does not hand out a fresh quota. Unreadable usage
  // starts from zero rather than refusing to serve.
  const int64_t today = clock_.NowMs() / 86'400'000;
  if (auto usage = store_.UsageOfDay(today); usage.ok()) quota_.Load(today, *usage);
  thread_ = std::thread([this] { Loop(); });
}

ChatService::~ChatService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

Status ChatService::CheckBody(const std::string& body) const {
  return CheckText(body, options_.max_body_bytes, "body", false);
}

// ---------------------------------------------------------------------------------------------
// The sequencer loop.

void ChatService::Submit(Command command, std::function<void(const Error&)> reject) {
  if (options_.disk_low && options_.disk_low()) {
    if (options_.counters.disk_refused != nullptr) options_.counters.disk_refused->Inc();
    return reject(Error::Unavailable("the server is low on disk space; writes are refused"));
  }
  {
    std::lock_guard lock(mu_);
    if (queue_.size() < options_.max_queue && !stopping_) {
      queue_.emplace_back(std::move(command), std::move(reject));
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  reject(Error::Unavailable("the server is overloaded; retry shortly"));
}

void ChatService::Loop() {
  std::vector<std::pair<Command, std::function<void(const Error&)>>> commands;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been done
      while (!queue_.empty() && commands.size() < options_.max_batch) {
        commands.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(commands);
    commands.clear();
  }
}

void ChatService::RunBatch(
    std::vector<std::pair<Command, std::function<void(const Error&)>>>& commands) {
  Batch batch;
  for (auto& [command, reject] : commands) {
    try {
      command(batch);
    } catch (const std::exception& e) {
      // A bug or bad_alloc in one command must not take the sequencer (and every
      // conversation) down with it.
      spdlog::error("chat command failed: {}", e.what());
      states_.clear();
      reject(Error::Internal("internal error"));
    }
  }
  if (!batch.mutations.empty()) {
    Status status = store_.Apply(batch.mutations);
    if (!status.ok()) {
      spdlog::error("storing a batch of {} changes failed: {}", batch.mutations.size(),
                    status.error().message);
      // The in-memory state ran ahead of the store: forget it, it reloads from storage.
      states_.clear();
      recent_.Clear();
      Error error = status.error();
      if (error.code != ErrorCode::kUnavailable)
        error = Error::Unavailable("storage failed; retry");
      for (auto& fail : batch.on_failure) fail(error);
      return;
    }
  }
  // Durable now: the cache may show it (before anyone is told, so that a client that hears of
  // an entry and then reads history finds it).
  for (const Mutation& m : batch.mutations) {
    if (const auto* append = std::get_if<mutation::AppendEntry>(&m)) recent_.Append(append->entry);
  }
  for (const auto& [key, message] : batch.pending_messages) recent_.Update(message);
  for (auto& after : batch.after_commit) after();
  EvictIfFull();
}

void ChatService::EvictIfFull() {
  if (states_.size() <= options_.max_cached_conversations) return;
  // Crude but bounded: drop a tenth, in hash order. Evicted state reloads on next use.
  size_t drop = states_.size() / 10 + 1;
  for (auto it = states_.begin(); it != states_.end() && drop > 0; --drop) it = states_.erase(it);
}

// ---------------------------------------------------------------------------------------------
// Sequencer-thread helpers.

Result<ChatService::ConvState*> ChatService::LoadState(const std::string& conv_id) {
  if (auto it = states_.find(conv_id); it != states_.end()) return it->second.get();
  auto loaded = store_.LoadConversation(conv_id);
  if (!loaded.ok()) return std::move(loaded).error();
  if (!loaded->has_value()) return NotFoundConversation();
  auto state = std::make_unique<ConvState>();
  state->record = std::move(**loaded);
  state->Reindex();
  ConvState* raw = state.get();
  states_[conv_id] = std::move(state);
  return raw;
}

Result<ChatService::ConvState*> ChatService::MemberState(const std::string& conv_id,
                                                         const std::string& user_id) {
  auto state = LoadState(conv_id);
  if (!state.ok()) return state;
  // Not a member looks exactly like no such conversation: nobody learns that it exists.
  if ((*state)->Find(user_id) == nullptr) return NotFoundConversation();
  return state;
}

Result<LogEntry> ChatService::TargetMessage(Batch& batch, ConvState& state, int64_t seq) {
  if (seq < 1 || seq > state.record.last_seq) {
    return Error::NotFound("no entry " + std::to_string(seq) + " in this conversation");
  }
  if (auto it = batch.pending_messages.find(Batch::MessageKey(state.record.id, seq));
      it != batch.pending_messages.end()) {
    return it->second;
  }
  auto entry = store_.GetEntry(state.record.id, seq);
  if (!entry.ok()) return std::move(entry).error();
  if (!entry->has_value()) return Error::NotFound("no entry " + std::to_string(seq));
  if ((*entry)->kind != EntryKind::kMessage) {
    return Error::InvalidRequest("entry " + std::to_string(seq) + " is not a message");
  }
  return std::move(**entry);
}

LogEntry ChatService::NewEntry(ConvState& state, const std::string& sender, EntryKind kind) {
  LogEntry entry;
  entry.conv_id = state.record.id;
  entry.seq = ++state.record.last_seq;
  entry.id = NewId('m');
  entry.sender = sender;
  entry.kind = kind;
  entry.ts = clock_.NowMs();
  return entry;
}

void ChatService::FanOut(Batch& batch, const ConvState& state, const LogEntry& entry,
                         const Connection* origin) {
  // Serialized once here; every recipient shares the same bytes.
  Frame frame = MakeFrame(EntryEventText("message", entry));
  batch.after_commit.push_back([this, members = state.member_ids, frame, origin] {
    for (const auto& user : *members) hub_.SendToUser(user, frame, origin);
  });
}

void ChatService::PushReceipt(Batch& batch, const ConvState& state, const MemberRecord& member) {
  Frame frame =
      MakeFrame(json::serialize(Event("receipt", {{"conv", state.record.id},
                                                  {"user", member.user_id},
                                                  {"read_seq", member.read_seq},
                                                  {"delivered_seq", member.delivered_seq}})));
  batch.after_commit.push_back([this, members = state.member_ids, frame] {
    for (const auto& user : *members) hub_.SendToUser(user, frame);
  });
}

void ChatService::FanOutConversation(Batch& batch, const ConvState& state,
                                     const std::vector<std::string>& extra_users) {
  Frame frame = MakeFrame(JsonObjectText([&](JsonWriter& w) {
    w.Field("type", std::string_view("conversation")).Key("conversation").BeginObject();
    WriteConversationFields(w, state.record);
    w.EndObject();
  }));
  batch.after_commit.push_back([this, members = state.member_ids, extra_users, frame] {
    for (const auto& user : *members) hub_.SendToUser(user, frame);
    for (const auto& user : extra_users) hub_.SendToUser(user, frame);
  });
}

// ---------------------------------------------------------------------------------------------
// Commands.

void ChatService::CreateConversation(CreateRequest request, Done<CreateResult> done) {
  SubmitFor<CreateResult>(std::move(done), [this, request = std::move(request)](
                                               Batch& batch, Done<CreateResult>& done) {
    const std::string& user = request.user_id;
    std::vector<std::string> members;
    for (const auto& m : request.members) {
      if (m != user && std::find(members.begin(), members.end(), m) == members.end()) {
        members.push_back(m);
      }
    }
    std::string direct_key;
    if (request.type == "direct") {
      if (members.size() != 1 || request.members.size() != 1) {
        return done(Error::InvalidRequest("a direct conversation has exactly one other member"));
      }
      direct_key = std::min(user, members[0]) + "|" + std::max(user, members[0]);
      std::optional<std::string> existing;
      if (auto it = batch.pending_direct.find(direct_key); it != batch.pending_direct.end()) {
        existing = it->second;
      } else {
        auto found = store_.FindDirect(direct_key);
        if (!found.ok()) return done(std::move(found).error());
        existing = *found;
      }
      if (existing) {
        auto state = LoadState(*existing);
        if (!state.ok()) return done(std::move(state).error());
        return batch.Answer(std::move(done), CreateResult{(*state)->record, false, {}});
      }
    } else if (request.type == "group") {
      if (Status s = CheckLabel(request.title, options_.max_title_bytes, "title"); !s.ok()) {
        return done(s.error());
      }
      if (members.size() + 1 > static_cast<size_t>(options_.max_group_members)) {
        return done(Error::InvalidRequest("a group has at most " +
                                          std::to_string(options_.max_group_members) + " members"));
      }
    } else {
      return done(Error::InvalidRequest("type must be \"direct\" or \"group\""));
    }
    for (const auto& m : members) {
      auto found = accounts_.FindUserById(m);
      if (!found.ok()) {
        if (found.error().code == ErrorCode::kNotFound) {
          return done(Error::NotFound("no such user: " + m));
        }
        return done(std::move(found).error());
      }
    }
    // Those whose setting does not let the creator add them are invited instead.
    std::vector<std::string> invited;
    if (policy_ != nullptr && request.type == "group") {
      std::vector<std::string> added;
      for (auto& m : members) {
        auto may = policy_->MayAdd(user, m);
        if (!may.ok()) return done(std::move(may).error());
        (*may ? added : invited).push_back(std::move(m));
      }
      members = std::move(added);
    }

    auto state = std::make_unique<ConvState>();
    ConversationRecord& record = state->record;
    record.id = NewId('c');
    record.type = request.type;
    record.title = request.type == "group" ? request.title : "";
    record.direct_key = direct_key;
    record.created_by = user;
    record.created_ms = clock_.NowMs();
    LogEntry created = NewEntry(*state, user, EntryKind::kMember);
    created.member_user = user;
    created.member_action = "created";
    const Role creator_role = request.type == "group" ? Role::kOwner : Role::kMember;
    record.members.push_back({user, creator_role, created.seq, created.seq, created.seq});
    for (const auto& m : members) {
      record.members.push_back({m, Role::kMember, created.seq, created.seq, created.seq});
    }
    state->Reindex();

    batch.mutations.push_back(mutation::InsertConversation{record});
    batch.mutations.push_back(mutation::AppendEntry{created});
    if (!direct_key.empty()) batch.pending_direct[direct_key] = record.id;
    for (const auto& m : invited) {
      // After the commit: an invitation never names a group that failed to be stored.
      batch.after_commit.push_back([this, conv = record.id, title = record.title, user, m] {
        if (auto invited = policy_->Invite(conv, title, user, m); !invited.ok()) {
          spdlog::error("storing an invitation to {} failed: {}", conv, invited.error().message);
        }
      });
    }
    batch.Answer(std::move(done), CreateResult{record, true, std::move(invited)});
    FanOutConversation(batch, *state, {});
    FanOut(batch, *state, created, nullptr);
    states_[record.id] = std::move(state);
  });
}

void ChatService::Send(SendRequest request, const Connection* origin, Done<LogEntry> done) {
  if (Status s = CheckBody(request.body); !s.ok()) return done(s.error());
  if (request.client_msg_id.size() > options_.max_client_msg_id_bytes ||
      !IsValidUtf8(request.client_msg_id)) {
    return done(Error::InvalidRequest("client_msg_id must be UTF-8 of at most " +
                                      std::to_string(options_.max_client_msg_id_bytes) + " bytes"));
  }
  SubmitFor<LogEntry>(std::move(done), [this, request = std::move(request), origin](
                                           Batch& batch, Done<LogEntry>& done) {
    auto state = MemberState(request.conv_id, request.user_id);
    if (!state.ok()) return done(std::move(state).error());
    ConvState& st = **state;

    const std::string id_key = Key(request.conv_id, request.user_id, request.client_msg_id);
    if (!request.client_msg_id.empty()) {
      // A retry gets the first answer again and stores nothing.
      if (auto it = batch.pending_client_ids.find(id_key); it != batch.pending_client_ids.end()) {
        return batch.Answer(std::move(done), it->second);
      }
      auto existing =
          store_.FindByClientMsgId(request.conv_id, request.user_id, request.client_msg_id);
      if (!existing.ok()) return done(std::move(existing).error());
      if (existing->has_value()) return done(std::move(**existing));
    }
    if (request.reply_to != 0) {
      auto target = TargetMessage(batch, st, request.reply_to);
      if (!target.ok()) return done(std::move(target).error());
    }
    if (Status q = quota_.Take(request.user_id, request.body.size(), clock_.NowMs()); !q.ok()) {
      if (options_.counters.quota_refused != nullptr) options_.counters.quota_refused->Inc();
      return done(q.error());
    }

    LogEntry entry = NewEntry(st, request.user_id, EntryKind::kMessage);
    entry.client_msg_id = request.client_msg_id;
    entry.body = request.body;
    entry.reply_to = request.reply_to;
    batch.mutations.push_back(mutation::AppendEntry{entry});
    // Sending moves the sender's own read position up to their message.
    MemberRecord* me = st.Find(request.user_id);
    me->read_seq = std::max(me->read_seq, entry.seq);
    me->delivered_seq = std::max(me->delivered_seq, entry.seq);
    batch.mutations.push_back(mutation::SetReadSeq{request.conv_id, request.user_id, entry.seq});
    batch.mutations.push_back(
        mutation::SetDeliveredSeq{request.conv_id, request.user_id, entry.seq});
    if (!request.client_msg_id.empty()) batch.pending_client_ids[id_key] = entry;
    batch.Remember(entry);
    batch.Answer(std::move(done), entry);
    FanOut(batch, st, entry, origin);
    if (on_message_) {
      // Membership as of this message: the shared list is immutable, later changes make a
      // new one.
      batch.after_commit.push_back(
          [this, committed = CommittedMessage{entry, st.record.type, st.record.title,
                                              st.member_ids}] { on_message_(committed); });
    }
  });
}

void ChatService::Edit(std::string user_id, std::string conv_id, int64_t seq, std::string body,
                       const Connection* origin, Done<LogEntry> done) {
  if (Status s = CheckBody(body); !s.ok()) return done(s.error());
  SubmitFor<LogEntry>(
      std::move(done), [this, user_id = std::move(user_id), conv_id = std::move(conv_id), seq,
                        body = std::move(body), origin](Batch& batch, Done<LogEntry>& done) {
        auto state = MemberState(conv_id, user_id);
        if (!state.ok()) return done(std::move(state).error());
        auto target = TargetMessage(batch, **state, seq);
        if (!target.ok()) return done(std::move(target).error());
        if (target->sender != user_id)
          return done(Error::Forbidden("only the sender can edit a message"));
        if (target->deleted) return done(Error::Conflict("the message was deleted"));
        if (Status q = quota_.Take(user_id, body.size(), clock_.NowMs()); !q.ok()) {
          if (options_.counters.quota_refused != nullptr) options_.counters.quota_refused->Inc();
          return done(q.error());
        }

        LogEntry entry = NewEntry(**state, user_id, EntryKind::kEdit);
        entry.target_seq = seq;
        entry.body = body;
        target->body = body;
        target->edited_ts = entry.ts;
        batch.mutations.push_back(mutation::AppendEntry{entry});
        batch.mutations.push_back(mutation::UpdateMessage{conv_id, seq, body, entry.ts, false});
        batch.Remember(*target);
        batch.Answer(std::move(done), entry);
        FanOut(batch, **state, entry, origin);
      });
}

void ChatService::Delete(std::string user_id, std::string conv_id, int64_t seq,
                         const Connection* origin, Done<LogEntry> done) {
  SubmitFor<LogEntry>(
      std::move(done), [this, user_id = std::move(user_id), conv_id = std::move(conv_id), seq,
                        origin](Batch& batch, Done<LogEntry>& done) {
        auto state = MemberState(conv_id, user_id);
        if (!state.ok()) return done(std::move(state).error());
        ConvState& st = **state;
        auto target = TargetMessage(batch, st, seq);
        if (!target.ok()) return done(std::move(target).error());
        const Role role = st.Find(user_id)->role;
        const bool moderator = st.IsGroup() && (role == Role::kOwner || role == Role::kAdmin);
        if (target->sender != user_id && !moderator) {
          return done(Error::Forbidden("only the sender or a group admin can delete a message"));
        }
        if (target->deleted) return done(Error::Conflict("the message was already deleted"));

        LogEntry entry = NewEntry(st, user_id, EntryKind::kDelete);
        entry.target_seq = seq;
        target->body.reset();
        target->deleted = true;
        target->reactions.clear();
        batch.mutations.push_back(mutation::AppendEntry{entry});
        batch.mutations.push_back(
            mutation::UpdateMessage{conv_id, seq, std::nullopt, target->edited_ts, true});
        batch.Remember(*target);
        batch.Answer(std::move(done), entry);
        FanOut(batch, st, entry, origin);
      });
}

void ChatService::React(std::string user_id, std::string conv_id, int64_t seq, std::string emoji,
                        const Connection* origin, Done<LogEntry> done) {
  if (Status s = CheckEmoji(emoji); !s.ok()) return done(s.error());
  SubmitFor<LogEntry>(
      std::move(done), [this, user_id = std::move(user_id), conv_id = std::move(conv_id), seq,
                        emoji = std::move(emoji), origin](Batch& batch, Done<LogEntry>& done) {
        auto state = MemberState(conv_id, user_id);
        if (!state.ok()) return done(std::move(state).error());
        auto target = TargetMessage(batch, **state, seq);
        if (!target.ok()) return done(std::move(target).error());
        if (target->deleted) return done(Error::Conflict("the message was deleted"));
        if (Status q = quota_.Take(user_id, emoji.size(), clock_.NowMs()); !q.ok()) {
          if (options_.counters.quota_refused != nullptr) options_.counters.quota_refused->Inc();
          return done(q.error());
        }

        // Toggle: reacting again with the same emoji takes the reaction back.
        auto group = std::find_if(target->reactions.begin(), target->reactions.end(),
                                  [&](const Reaction& r) { return r.emoji == emoji; });
        const bool adding =
            group == target->reactions.end() ||
            std::find(group->users.begin(), group->users.end(), user_id) == group->users.end();
        // Taking a reaction back is always allowed; adding one is bounded, so that one member
        // cannot make every reader of a message load thousands of reactions.
        if (adding) {
          if (Status s = CheckReactionLimits(*target, user_id, group == target->reactions.end());
              !s.ok()) {
            return done(s.error());
          }
        }
        bool had = false;
        if (group != target->reactions.end()) {
          auto& users = group->users;
          auto it = std::find(users.begin(), users.end(), user_id);
          had = it != users.end();
          if (had)
            users.erase(it);
          else
            users.push_back(user_id);
          if (users.empty()) target->reactions.erase(group);
        } else {
          target->reactions.push_back({emoji, {user_id}});
        }
        LogEntry entry = NewEntry(**state, user_id, EntryKind::kReaction);
        entry.target_seq = seq;
        entry.emoji = emoji;
        entry.reaction_added = !had;
        batch.mutations.push_back(mutation::AppendEntry{entry});
        batch.mutations.push_back(mutation::SetReaction{conv_id, seq, user_id, emoji, !had});
        batch.Remember(*target);
        batch.Answer(std::move(done), entry);
        FanOut(batch, **state, entry, origin);
      });
}

Status ChatService::CheckReactionLimits(const LogEntry& message, const std::string& user_id,
                                        bool new_emoji) const {
  if (new_emoji && message.reactions.size() >= options_.max_reactions_per_message) {
    if (options_.on_refused) options_.on_refused("reactions_per_message");
    return Error::Conflict("this message already has " +
                           std::to_string(options_.max_reactions_per_message) +
                           " different reactions (max_reactions_per_message)");
  }
  size_t mine = 0;
  for (const Reaction& r : message.reactions) {
    mine += static_cast<size_t>(std::count(r.users.begin(), r.users.end(), user_id));
  }
  if (mine >= options_.max_reactions_per_user_message) {
    if (options_.on_refused) options_.on_refused("reactions_per_user_message");
    return Error::Conflict("you already reacted " +
                           std::to_string(options_.max_reactions_per_user_message) +
                           " times to this message (max_reactions_per_user_message)");
  }
  return Status::Ok();
}

void ChatService::AddMember(std::string actor, std::string conv_id, std::string user_id,
                            Done<ConversationRecord> done) {
  SubmitFor<ConversationRecord>(
      std::move(done),
      [this, actor = std::move(actor), conv_id = std::move(conv_id), user_id = std::move(user_id)](
          Batch& batch, Done<ConversationRecord>& done) {
        auto state = MemberState(conv_id, actor);
        if (!state.ok()) return done(std::move(state).error());
        ConvState& st = **state;
        if (!st.IsGroup())
          return done(Error::Forbidden("a direct conversation has exactly two members"));
        const Role role = st.Find(actor)->role;
        if (role != Role::kOwner && role != Role::kAdmin) {
          return done(Error::Forbidden("only owners and admins add members"));
        }
        if (st.Find(user_id) != nullptr) return batch.Answer(std::move(done), st.record);
        if (st.record.members.size() >= static_cast<size_t>(options_.max_group_members)) {
          return done(Error::Conflict("the group is full"));
        }
        auto found = accounts_.FindUserById(user_id);
        if (!found.ok()) {
          if (found.error().code == ErrorCode::kNotFound)
            return done(Error::NotFound("no such user"));
          return done(std::move(found).error());
        }
        if (policy_ != nullptr) {
          auto may = policy_->MayAdd(actor, user_id);
          if (!may.ok()) return done(std::move(may).error());
          if (!*may) {
            auto invited = policy_->Invite(conv_id, st.record.title, actor, user_id);
            if (!invited.ok()) return done(std::move(invited).error());
            return batch.Answer(std::move(done), st.record);
          }
        }

        LogEntry entry = AppendMember(batch, st, actor, user_id);
        batch.Answer(std::move(done), st.record);
        FanOut(batch, st, entry, nullptr);
        FanOutConversation(batch, st, {});
      });
}

LogEntry ChatService::AppendMember(Batch& batch, ConvState& st, const std::string& actor,
                                   const std::string& user_id) {
  LogEntry entry = NewEntry(st, actor, EntryKind::kMember);
  entry.member_user = user_id;
  entry.member_action = "added";
  entry.member_role = "member";
  // Joining counts as having read (and received) everything before: no unread backlog.
  MemberRecord member{user_id, Role::kMember, entry.seq, entry.seq, entry.seq};
  st.record.members.push_back(member);
  st.Reindex();
  batch.mutations.push_back(mutation::AppendEntry{entry});
  batch.mutations.push_back(mutation::UpsertMember{st.record.id, member});
  return entry;
}

void ChatService::AcceptInvitation(std::string user_id, std::string invitation_id,
                                   Done<ConversationRecord> done) {
  SubmitFor<ConversationRecord>(std::move(done), [this, user_id = std::move(user_id),
                                                  id = std::move(invitation_id)](
                                                     Batch& batch, Done<ConversationRecord>& done) {
    if (policy_ == nullptr) return done(Error::NotFound("no such invitation"));
    PrivacyStore& invitations = policy_->store();
    auto found = invitations.GetInvitation(id);
    if (!found.ok()) return done(std::move(found).error());
    if (!found->has_value() || (*found)->user_id != user_id) {
      return done(Error::NotFound("no such invitation"));
    }
    const Invitation invitation = std::move(**found);
    // Whatever happens next, this invitation has been used.
    auto forget = [&]() -> Status { return invitations.RemoveInvitation(user_id, id); };
    auto state = LoadState(invitation.conv_id);
    if (!state.ok()) {
      if (state.error().code != ErrorCode::kNotFound) return done(std::move(state).error());
      if (Status s = forget(); !s.ok()) return done(s.error());
      return done(Error::NotFound("the group no longer exists"));
    }
    ConvState& st = **state;
    if (st.Find(user_id) != nullptr) {
      if (Status s = forget(); !s.ok()) return done(s.error());
      return batch.Answer(std::move(done), st.record);
    }
    const MemberRecord* inviter = st.Find(invitation.inviter);
    if (inviter == nullptr || (inviter->role != Role::kOwner && inviter->role != Role::kAdmin)) {
      if (Status s = forget(); !s.ok()) return done(s.error());
      return done(
          Error::Forbidden("the invitation is no longer valid: whoever sent it can no "
                           "longer add members to the group"));
    }
    if (st.record.members.size() >= static_cast<size_t>(options_.max_group_members)) {
      return done(Error::Conflict("the group is full"));
    }
    LogEntry entry = AppendMember(batch, st, invitation.inviter, user_id);
    batch.after_commit.push_back([this, user_id, id] {
      (void)policy_->store().RemoveInvitation(user_id, id);  // gone already is fine
    });
    batch.Answer(std::move(done), st.record);
    FanOut(batch, st, entry, nullptr);
    FanOutConversation(batch, st, {});
  });
}

void ChatService::RemoveMember(std::string actor, std::string conv_id, std::string user_id,
                               Done<ConversationRecord> done) {
  SubmitFor<ConversationRecord>(std::move(done), [this, actor = std::move(actor),
                                                  conv_id = std::move(conv_id),
                                                  user_id = std::move(user_id)](
                                                     Batch& batch, Done<ConversationRecord>& done) {
    auto state = MemberState(conv_id, actor);
    if (!state.ok()) return done(std::move(state).error());
    ConvState& st = **state;
    if (!st.IsGroup()) return done(Error::Forbidden("nobody leaves a direct conversation"));
    const MemberRecord* target = st.Find(user_id);
    if (target == nullptr) return done(Error::NotFound("not a member of this conversation"));
    const bool leaving = actor == user_id;
    if (!leaving) {
      const Role role = st.Find(actor)->role;
      const bool allowed =
          role == Role::kOwner || (role == Role::kAdmin && target->role == Role::kMember);
      if (!allowed) return done(Error::Forbidden("not allowed to remove this member"));
    }
    const bool was_owner = target->role == Role::kOwner;

    LogEntry entry = NewEntry(st, actor, EntryKind::kMember);
    entry.member_user = user_id;
    entry.member_action = leaving ? "left" : "removed";
    // The removed user hears of it too, then hears nothing more.
    FanOut(batch, st, entry, nullptr);
    std::erase_if(st.record.members, [&](const MemberRecord& m) { return m.user_id == user_id; });
    st.Reindex();
    batch.mutations.push_back(mutation::AppendEntry{entry});
    batch.mutations.push_back(mutation::RemoveMember{conv_id, user_id});

    // The last owner leaving hands ownership on: the longest-standing admin, else the
    // longest-standing member.
    const bool owner_left =
        std::none_of(st.record.members.begin(), st.record.members.end(),
                     [](const MemberRecord& m) { return m.role == Role::kOwner; });
    if (was_owner && owner_left && !st.record.members.empty()) {
      auto heir = std::min_element(st.record.members.begin(), st.record.members.end(),
                                   [](const MemberRecord& a, const MemberRecord& b) {
                                     if (a.role != b.role) return a.role == Role::kAdmin;
                                     return a.joined_seq < b.joined_seq;
                                   });
      heir->role = Role::kOwner;
      LogEntry promoted = NewEntry(st, actor, EntryKind::kMember);
      promoted.member_user = heir->user_id;
      promoted.member_action = "role";
      promoted.member_role = "owner";
      batch.mutations.push_back(mutation::AppendEntry{promoted});
      batch.mutations.push_back(mutation::UpsertMember{conv_id, *heir});
      FanOut(batch, st, promoted, nullptr);
    }
    batch.Answer(std::move(done), st.record);
    FanOutConversation(batch, st, {user_id});
  });
}

void ChatService::SetRole(std::string actor, std::string conv_id, std::string user_id, Role role,
                          Done<ConversationRecord> done) {
  SubmitFor<ConversationRecord>(std::move(done), [this, actor = std::move(actor),
                                                  conv_id = std::move(conv_id),
                                                  user_id = std::move(user_id), role](
                                                     Batch& batch, Done<ConversationRecord>& done) {
    auto state = MemberState(conv_id, actor);
    if (!state.ok()) return done(std::move(state).error());
    ConvState& st = **state;
    if (!st.IsGroup()) return done(Error::Forbidden("a direct conversation has no roles"));
    if (st.Find(actor)->role != Role::kOwner)
      return done(Error::Forbidden("only owners change roles"));
    MemberRecord* target = st.Find(user_id);
    if (target == nullptr) return done(Error::NotFound("not a member of this conversation"));
    if (target->role == role) return batch.Answer(std::move(done), st.record);
    const auto owners = std::count_if(st.record.members.begin(), st.record.members.end(),
                                      [](const MemberRecord& m) { return m.role == Role::kOwner; });
    if (target->role == Role::kOwner && owners == 1) {
      return done(Error::Conflict("a group needs an owner: make someone else owner first"));
    }
    target->role = role;
    LogEntry entry = NewEntry(st, actor, EntryKind::kMember);
    entry.member_user = user_id;
    entry.member_action = "role";
    entry.member_role = RoleName(role);
    batch.mutations.push_back(mutation::AppendEntry{entry});
    batch.mutations.push_back(mutation::UpsertMember{conv_id, *target});
    batch.Answer(std::move(done), st.record);
    FanOut(batch, st, entry, nullptr);
    FanOutConversation(batch, st, {});
  });
}

void ChatService::Rename(std::string actor, std::string conv_id, std::string title,
                         Done<ConversationRecord> done) {
  if (Status s = CheckLabel(title, options_.max_title_bytes, "title"); !s.ok())
    return done(s.error());
  SubmitFor<ConversationRecord>(
      std::move(done), [this, actor = std::move(actor), conv_id = std::move(conv_id),
                        title = std::move(title)](Batch& batch, Done<ConversationRecord>& done) {
        auto state = MemberState(conv_id, actor);
        if (!state.ok()) return done(std::move(state).error());
        ConvState& st = **state;
        if (!st.IsGroup()) return done(Error::Forbidden("a direct conversation has no title"));
        const Role role = st.Find(actor)->role;
        if (role != Role::kOwner && role != Role::kAdmin) {
          return done(Error::Forbidden("only owners and admins rename a group"));
        }
        st.record.title = title;
        LogEntry entry = NewEntry(st, actor, EntryKind::kRename);
        entry.title = title;
        batch.mutations.push_back(mutation::AppendEntry{entry});
        batch.mutations.push_back(mutation::SetTitle{conv_id, title});
        batch.Answer(std::move(done), st.record);
        FanOut(batch, st, entry, nullptr);
        FanOutConversation(batch, st, {});
      });
}

void ChatService::MarkRead(std::string user_id, std::string conv_id, int64_t seq,
                           Done<int64_t> done) {
  SubmitFor<int64_t>(
      std::move(done), [this, user_id = std::move(user_id), conv_id = std::move(conv_id), seq](
                           Batch& batch, Done<int64_t>& done) {
        auto state = MemberState(conv_id, user_id);
        if (!state.ok()) return done(std::move(state).error());
        ConvState& st = **state;
        MemberRecord* me = st.Find(user_id);
        const int64_t target = std::min(seq, st.record.last_seq);
        if (target <= me->read_seq)
          return batch.Answer(std::move(done), me->read_seq);  // never back
        me->read_seq = target;
        me->delivered_seq = std::max(me->delivered_seq, target);  // read implies delivered
        batch.mutations.push_back(mutation::SetReadSeq{conv_id, user_id, target});
        batch.mutations.push_back(mutation::SetDeliveredSeq{conv_id, user_id, me->delivered_seq});
        batch.Answer(std::move(done), target);
        if (st.record.members.size() <= static_cast<size_t>(options_.receipt_fanout_max_members)) {
          PushReceipt(batch, st, *me);
        }
      });
}

void ChatService::MarkDelivered(std::string user_id, std::string conv_id, int64_t seq,
                                Done<int64_t> done) {
  SubmitFor<int64_t>(
      std::move(done), [this, user_id = std::move(user_id), conv_id = std::move(conv_id), seq](
                           Batch& batch, Done<int64_t>& done) {
        auto state = MemberState(conv_id, user_id);
        if (!state.ok()) return done(std::move(state).error());
        ConvState& st = **state;
        MemberRecord* me = st.Find(user_id);
        const int64_t target = std::min(seq, st.record.last_seq);
        if (target <= me->delivered_seq) return batch.Answer(std::move(done), me->delivered_seq);
        me->delivered_seq = target;
        batch.mutations.push_back(mutation::SetDeliveredSeq{conv_id, user_id, target});
        batch.Answer(std::move(done), target);
        // Delivery ticks are pushed in direct conversations only: in a group every message
        // would cause a receipt to every member from every member.
        if (!st.IsGroup()) PushReceipt(batch, st, *me);
      });
}

void ChatService::Typing(std::string user_id, std::string conv_id, Done<bool> done) {
  SubmitFor<bool>(std::move(done), [this, user_id = std::move(user_id),
                                    conv_id = std::move(conv_id)](Batch& batch, Done<bool>& done) {
    auto state = MemberState(conv_id, user_id);
    if (!state.ok()) return done(std::move(state).error());
    Frame frame =
        MakeFrame(json::serialize(Event("typing", {{"conv", conv_id}, {"user", user_id}})));
    batch.Answer(std::move(done), true);
    batch.after_commit.push_back([this, members = (*state)->member_ids, user_id, frame] {
      for (const auto& user : *members) {
        if (user != user_id) hub_.SendToUser(user, frame);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Reads.

Result<LogPage> ChatService::History(const std::string& user_id, const std::string& conv_id,
                                     std::optional<int64_t> after_seq,
                                     std::optional<int64_t> before_seq, int limit) {
  if (after_seq && before_seq)
    return Error::InvalidRequest("give after_seq or before_seq, not both");
  if ((after_seq && *after_seq < 0) || (before_seq && *before_seq < 1)) {
    return Error::InvalidRequest("after_seq must be >= 0 and before_seq >= 1");
  }
  if (limit < 1 || limit > kMaxHistoryLimit) {
    return Error::InvalidRequest("limit must be between 1 and " + std::to_string(kMaxHistoryLimit));
  }
  auto member = store_.GetMember(conv_id, user_id);
  if (!member.ok()) return std::move(member).error();
  if (!member->has_value()) return NotFoundConversation();
  if (after_seq) {
    if (auto page = recent_.After(conv_id, *after_seq, limit)) return std::move(*page);
  }
  if (!after_seq && !before_seq) before_seq = INT64_MAX;  // the newest page
  return store_.ReadLog(conv_id, after_seq, before_seq, limit);
}

Result<std::vector<ConversationSummary>> ChatService::Sync(const std::string& user_id,
                                                           bool with_members) {
  return store_.ListConversations(user_id, with_members);
}

Result<ConversationPage> ChatService::SyncPage(const std::string& user_id, const std::string& after,
                                               int limit, bool with_members) {
  if (limit == 0) limit = options_.conversations_page_size;
  if (limit < 1 || limit > options_.conversations_page_size) {
    return Error::InvalidRequest("limit must be between 1 and " +
                                 std::to_string(options_.conversations_page_size));
  }
  if (after.size() > 256) return Error::InvalidRequest("after is not a cursor this server gave");
  return store_.ListConversationPage(user_id, after, limit, with_members);
}

Result<ConversationSummary> ChatService::GetConversation(const std::string& user_id,
                                                         const std::string& conv_id) {
  auto summary = store_.GetSummary(conv_id, user_id);
  if (!summary.ok()) return std::move(summary).error();
  if (!summary->has_value()) return NotFoundConversation();
  return std::move(**summary);
}

Result<SearchPage> ChatService::Search(const std::string& user_id, const std::string& query,
                                       int limit, int64_t before) {
  if (query.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::InvalidRequest("q must not be empty");
  }
  if (query.size() > kMaxQueryBytes || !IsValidUtf8(query)) {
    return Error::InvalidRequest("q must be UTF-8 of at most 256 bytes");
  }
  if (limit < 1 || limit > kMaxSearchLimit) {
    return Error::InvalidRequest("limit must be between 1 and " + std::to_string(kMaxSearchLimit));
  }
  // The ticket is held until the store is done; a user's second search gets told to come back
  // once the first one's deadline has surely passed.
  auto ticket = search_gate_.Enter(user_id, options_.search_deadline_ms);
  if (!ticket.ok()) {
    if (options_.counters.search_busy != nullptr) options_.counters.search_busy->Inc();
    return std::move(ticket).error();
  }
  SearchBounds bounds;
  bounds.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.search_deadline_ms);
  bounds.max_conversations = options_.search_max_conversations;
  auto page = store_.Search(user_id, query, limit, before, bounds);
  if (page.ok() && page->truncated && options_.counters.search_truncated != nullptr) {
    options_.counters.search_truncated->Inc();
  }
  return page;
}

}  // namespace parley
