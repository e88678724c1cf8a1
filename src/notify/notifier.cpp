#include "notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "notify/channels.h"
#include "notify/notification.h"

namespace parley {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

std::vector<std::string> ParseMentions(std::string_view body, size_t max) {
  std::vector<std::string> out;
  for (size_t i = 0; i < body.size() && out.size() < max; ++i) {
    if (body[i] != '@' || (i > 0 && IsNameChar(body[i - 1]))) continue;
    size_t end = i + 1;
    while (end < body.size() && IsNameChar(body[end])) ++end;
    std::string name(body.substr(i + 1, end - i - 1));
    while (!name.empty() && name.back() == '.') name.pop_back();
    i = end - 1;
    if (name.size() < 3 || name.size() > 32) continue;
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

Notifier::Notifier(JobQueue& queue, NotifyStore& store, AccountStore& accounts, ConnectionHub& hub,
                   const Clock& clock, MetricsRegistry& metrics, NotifierOptions options,
                   std::function<void()> on_enqueued)
    : queue_(queue),
      store_(store),
      accounts_(accounts),
      hub_(hub),
      clock_(clock),
      options_(options),
      on_enqueued_(std::move(on_enqueued)),
      enqueued_(metrics.AddCounter("parley_notify_enqueued_total",
                                   "Notification jobs put into the durable queue")),
      dropped_(metrics.AddCounter(
          "parley_notify_dropped_total",
          "Messages whose notifications were lost: hand-off queue full or enqueue failed")),
      muted_(metrics.AddCounter("parley_notify_muted_total",
                                "Notifications not made because the conversation is muted")) {}

Notifier::~Notifier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Notifier::OnCommitted(const ChatService::CommittedMessage& committed) {
  {
    std::lock_guard lock(mu_);
    if (pending_.size() >= options_.max_pending) {
      dropped_.Inc();
      return;
    }
    pending_.push_back(committed);
  }
  wake_.notify_one();
}

void Notifier::Loop() {
  while (true) {
    std::deque<ChatService::CommittedMessage> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything handled
      batch.swap(pending_);
    }
    for (const auto& committed : batch) {
      // One bad message must not end notifications for everyone.
      try {
        Handle(committed);
      } catch (const std::exception& e) {
        dropped_.Inc();
        spdlog::error("notify: message {}/{}: {}", committed.message.conv_id, committed.message.seq,
                      e.what());
      }
    }
  }
}

std::optional<int64_t> Notifier::Coalesce(const std::string& user, const std::string& conv,
                                          int64_t now) {
  if (options_.window_ms <= 0) return now;
  if (windows_.size() >= options_.max_windows) {
    std::erase_if(windows_, [&](const auto& entry) { return entry.second.end_ms <= now; });
    // Still full of live windows: forgetting them costs at most one extra notification each.
    if (windows_.size() >= options_.max_windows) windows_.clear();
  }
  std::string key = user;
  key += '\x1f';
  key += conv;
  auto [it, inserted] = windows_.try_emplace(std::move(key));
  Window& w = it->second;
  if (inserted || now >= w.end_ms) {
    // A quiet conversation: notify now and open a window.
    w.last_run_ms = now;
    w.end_ms = now + options_.window_ms;
    return now;
  }
  // Inside a window. A job still waiting for its run_at covers this message too.
  if (w.last_run_ms > now) return std::nullopt;
  // The window's notification went already: one more at its end, which opens the next one.
  w.last_run_ms = w.end_ms;
  w.end_ms += options_.window_ms;
  return w.last_run_ms;
}

std::unordered_set<std::string> Notifier::Mentioned(const std::string& body) {
  std::unordered_set<std::string> ids;
  for (const std::string& name : ParseMentions(body, options_.max_mentions)) {
    Result<UserCredentials> user = accounts_.FindUserByUsername(name);
    if (user.ok()) ids.insert(user->user.id);
  }
  return ids;
}

void Notifier::Handle(const ChatService::CommittedMessage& committed) {
  const LogEntry& message = committed.message;
  if (!committed.members) return;
  const int64_t now = clock_.NowMs();
  std::vector<const std::string*> offline;
  for (const std::string& member : *committed.members) {
    if (member != message.sender && !hub_.IsConnected(member)) offline.push_back(&member);
  }
  if (offline.empty()) return;

  Result<std::unordered_set<std::string>> muted = store_.MutedBy(message.conv_id);
  if (!muted.ok()) {
    // Without knowing who muted, notifying everyone would break mutes: drop instead.
    dropped_.Inc();
    spdlog::warn("notify: cannot read mutes of {}: {}", message.conv_id, muted.error().message);
    return;
  }
  std::optional<std::unordered_set<std::string>> mentioned;  // looked up only if needed

  std::vector<NewJob> jobs;
  for (const std::string* user : offline) {
    bool mention = false;
    if (muted->contains(*user)) {
      if (!mentioned) mentioned = Mentioned(message.body.value_or(""));
      bool breaks_through = false;
      if (mentioned->contains(*user)) {
        Result<NotifySettings> settings = store_.GetSettings(*user);
        breaks_through = settings.ok() && settings->mentions_when_muted;
      }
      if (!breaks_through) {
        muted_.Inc();
        continue;
      }
      mention = true;
    }
    std::optional<int64_t> run_at = Coalesce(*user, message.conv_id, now);
    if (!run_at) continue;

    NotifyTarget target{.user_id = *user,
                        .conv_id = message.conv_id,
                        .conv_type = committed.conv_type,
                        .title = committed.conv_title,
                        .sender = message.sender,
                        .seq = message.seq,
                        .ts = message.ts,
                        .mention = mention,
                        .endpoint = {}};
    if (options_.webhook) {
      jobs.push_back({std::string(kWebhookJob), target.ToJson(), *run_at});
    }
    if (options_.webpush) {
      Result<std::vector<PushSubscription>> subs = store_.Subscriptions(*user);
      if (!subs.ok()) {
        spdlog::warn("notify: cannot read push subscriptions: {}", subs.error().message);
        continue;
      }
      for (const PushSubscription& sub : *subs) {
        target.endpoint = sub.endpoint;
        jobs.push_back({std::string(kWebPushJob), target.ToJson(), *run_at});
      }
    }
  }
  if (jobs.empty()) return;
  Result<std::vector<int64_t>> ids = queue_.Enqueue(jobs);
  if (!ids.ok()) {
    dropped_.Inc();
    spdlog::error("notify: cannot enqueue {} jobs for {}/{}: {}", jobs.size(), message.conv_id,
                  message.seq, ids.error().message);
    return;
  }
  enqueued_.Inc(jobs.size());
  if (on_enqueued_) on_enqueued_();
}

}  // namespace parley
