// The cost of a notification (docs/BENCHMARKS.md, "Notifications"): the durable queue's
// enqueue / claim / complete on SQLite at each durability level, the rules for one message to
// a group whose members are all offline, and the crypto of one webhook and one Web Push.
// Run a Release build: build-rel/src/notify/notify_bench.

#include <benchmark/benchmark.h>

#include "notify/channels.h"
#include "notify/notification.h"
#include "notify/notifier.h"
#include "notify/push_crypto.h"
#include "notify/sqlite/sqlite_job_queue.h"
#include "notify/sqlite/sqlite_notify_store.h"
#include "notify/test_dir.h"
#include "store/sqlite/sqlite_account_store.h"

namespace parley {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

template <class T>
T Must(Result<T> result) {
  if (!result.ok()) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

sqlite::Durability DurabilityArg(int64_t arg) {
  return arg == 0   ? sqlite::Durability::kFull
         : arg == 1 ? sqlite::Durability::kNormal
                    : sqlite::Durability::kOff;
}

std::string Payload() {
  return NotifyTarget{.user_id = "u_0123456789abcdef0123456789abcdef",
                      .conv_id = "c_0123456789abcdef0123456789abcdef",
                      .conv_type = "group",
                      .title = "the team",
                      .sender = "u_fedcba9876543210fedcba9876543210",
                      .seq = 12345,
                      .ts = kNow,
                      .mention = false,
                      .endpoint = {}}
      .ToJson();
}

// One notification's life in the queue: enqueue (one transaction), claim, complete.
void BM_QueueRoundTrip(benchmark::State& state) {
  testing_support::ScratchDir dir;
  auto queue = Must(SqliteJobQueue::Open(dir.File("parley.db"), DurabilityArg(state.range(0))));
  const std::string payload = Payload();
  for (auto _ : state) {
    auto ids = queue->Enqueue({{"webhook", payload, kNow}});
    auto jobs = queue->Claim(kNow, 60'000, 1);
    if (!ids.ok() || !jobs.ok() || jobs->size() != 1) state.SkipWithError("queue failed");
    if (!queue->Complete(jobs->front().id, jobs->front().lease).ok())
      state.SkipWithError("complete");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueueRoundTrip)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("durability_full0_normal1_off2")
    ->UseRealTime();

// Enqueue only, `range(1)` jobs per transaction (a message to a group makes one batch).
void BM_Enqueue(benchmark::State& state) {
  testing_support::ScratchDir dir;
  auto queue = Must(SqliteJobQueue::Open(dir.File("parley.db"), DurabilityArg(state.range(0))));
  std::vector<NewJob> batch(static_cast<size_t>(state.range(1)),
                            NewJob{"webhook", Payload(), kNow});
  for (auto _ : state) {
    if (!queue->Enqueue(batch).ok()) state.SkipWithError("enqueue failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_Enqueue)->Args({0, 1})->Args({0, 100})->Args({1, 1})->Args({1, 100})->UseRealTime();

// Claim + complete of jobs already queued (the dispatcher's side), durability normal.
void BM_ClaimComplete(benchmark::State& state) {
  testing_support::ScratchDir dir;
  auto queue = Must(SqliteJobQueue::Open(dir.File("parley.db"), DurabilityArg(state.range(0))));
  std::vector<NewJob> batch(1000, NewJob{"webhook", Payload(), kNow});
  for (auto _ : state) {
    state.PauseTiming();
    if (!queue->Enqueue(batch).ok()) state.SkipWithError("enqueue failed");
    state.ResumeTiming();
    for (int i = 0; i < 1000; ++i) {
      auto jobs = queue->Claim(kNow, 60'000, 1);
      if (!jobs.ok() || jobs->empty()) state.SkipWithError("claim failed");
      (void)queue->Complete(jobs->front().id, jobs->front().lease);
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ClaimComplete)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The rules for one message to a group of range(0) members, all offline, none muted: the
// muted-by query, coalescing, and one batched enqueue (durability normal). Each iteration is a
// new conversation, so no window suppresses anything.
void BM_NotifierGroupMessage(benchmark::State& state) {
  testing_support::ScratchDir dir;
  const std::string db = dir.File("parley.db");
  auto queue = Must(SqliteJobQueue::Open(db, sqlite::Durability::kNormal));
  auto store = Must(SqliteNotifyStore::Open(db, sqlite::Durability::kNormal));
  auto accounts = Must(SqliteAccountStore::Open(db, sqlite::Durability::kNormal));
  ConnectionHub hub;
  SystemClock clock;
  MetricsRegistry metrics;
  NotifierOptions options;
  options.webhook = true;
  Notifier notifier(*queue, *store, *accounts, hub, clock, metrics, options, nullptr);
  auto members = std::make_shared<std::vector<std::string>>();
  for (int64_t i = 0; i < state.range(0); ++i) members->push_back("u_member_" + std::to_string(i));
  ChatService::CommittedMessage m;
  m.message.sender = members->front();
  m.message.seq = 2;
  m.message.body = "hello everyone";
  m.conv_type = "group";
  m.members = members;
  int64_t conv = 0;
  for (auto _ : state) {
    m.message.conv_id = "c_" + std::to_string(++conv);
    notifier.Handle(m);
  }
  state.SetItemsProcessed(state.iterations() * (state.range(0) - 1));
}
BENCHMARK(BM_NotifierGroupMessage)->Arg(2)->Arg(100)->Arg(1000)->UseRealTime();

void BM_WebhookSignature(benchmark::State& state) {
  const std::string body(400, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(push::HmacSha256Hex("secret", body));
}
BENCHMARK(BM_WebhookSignature);

// RFC 8291 encryption (ephemeral key generation, ECDH, HKDF, AES-GCM) plus the VAPID JWT
// (ECDSA P-256), as every Web Push delivery does them.
void BM_WebPushEncryptAndSign(benchmark::State& state) {
  auto vapid = Must(push::VapidKey::Generate());
  auto browser = Must(push::VapidKey::Generate());
  const push::Bytes auth(16, 7);
  const std::string payload(300, 'x');
  for (auto _ : state) {
    auto body = push::Encrypt(payload, browser.public_key(), auth);
    auto jwt = vapid.SignJwt("https://fcm.googleapis.com", kNow / 1000 + 3600, "mailto:a@b.c");
    if (!body.ok() || !jwt.ok()) state.SkipWithError("crypto failed");
  }
}
BENCHMARK(BM_WebPushEncryptAndSign);

}  // namespace
}  // namespace parley

BENCHMARK_MAIN();
