// The cost of presence (docs/BENCHMARKS.md, "Presence"): frames per announced change as the
// number of contacts grows, and connect / flap / disconnect storms of 10,000 users.
//
// The real PresenceService, ContactsCache, LocalPresenceStore, ConnectionHub and SQLite
// stores (a temporary database, durability off), driven by a ManualTaskRunner on a FakeClock:
// what is measured is the presence thread's own work (rules, contact lookups, fan-out,
// last_seen flushes), without sockets. A delivered frame is counted, not written.
//
//   build/src/presence/presence_bench [--benchmark_filter=Storm]

#include <benchmark/benchmark.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp is POSIX
#include <time.h>    // NOLINT(modernize-deprecated-headers): clock_gettime is POSIX

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "presence/local/local_presence_store.h"
#include "presence/presence_service.h"
#include "store/sqlite/sqlite_last_seen_store.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {
namespace {

constexpr int64_t kGrace = 5'000;

/// A device that counts what it is handed.
class CountingConnection final : public Connection {
 public:
  CountingConnection(std::string user, std::atomic<uint64_t>& frames)
      : user_(std::move(user)), session_("s_" + user_), frames_(frames) {}
  void Deliver(Frame /*frame*/) override { frames_.fetch_add(1, std::memory_order_relaxed); }
  void Close(int /*code*/, std::string /*reason*/) override {}
  const std::string& user_id() const override { return user_; }
  const std::string& device_id() const override { return user_; }
  const std::string& session_id() const override { return session_; }

 private:
  std::string user_;
  std::string session_;
  std::atomic<uint64_t>& frames_;
};

std::string User(int i) { return "u_" + std::to_string(i); }

/// A database of conversations and a presence service over it.
class World {
 public:
  World() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_presence_bench_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    const std::string path = (dir_ / "parley.db").string();
    auto messages = SqliteMessageStore::Open(path, sqlite::Durability::kOff, 2);
    auto last_seen = SqliteLastSeenStore::Open(path, sqlite::Durability::kOff);
    if (!messages.ok() || !last_seen.ok()) std::abort();
    messages_ = std::move(messages).value();
    last_seen_ = std::move(last_seen).value();
  }
  ~World() {
    service_.reset();
    store_.reset();
    last_seen_.reset();
    messages_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Conversation(const std::string& id, const std::string& type,
                    const std::vector<std::string>& members) {
    ConversationRecord record;
    record.id = id;
    record.type = type;
    record.direct_key = type == "direct" ? members[0] + "|" + members[1] : "";
    record.created_by = members[0];
    for (const std::string& m : members) {
      MemberRecord member;
      member.user_id = m;
      record.members.push_back(member);
    }
    pending_.push_back(mutation::InsertConversation{record});
    if (pending_.size() >= 500) Commit();
  }
  void Commit() {
    if (pending_.empty()) return;
    if (!messages_->Apply(pending_).ok()) std::abort();
    pending_.clear();
  }

  void Start(PresenceOptions options = {}) {
    Commit();
    service_.reset();
    store_ = std::make_unique<LocalPresenceStore>(*last_seen_);
    metrics_ = std::make_unique<MetricsRegistry>();
    auto runner = std::make_unique<ManualTaskRunner>(clock_);
    runner_ = runner.get();
    options.grace_ms = kGrace;
    service_ = std::make_unique<PresenceService>(*store_, *messages_, hub_, clock_, *metrics_,
                                                 std::move(runner), options);
  }

  std::shared_ptr<Connection> Device(const std::string& user) {
    return std::make_shared<CountingConnection>(user, frames_);
  }

  int64_t Metric(const std::string& name) const {
    const std::string text = metrics_->Render();
    const std::string key = "\n" + name + " ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + key.size()));
  }

  FakeClock clock_;
  ConnectionHub hub_;
  ManualTaskRunner* runner_ = nullptr;
  std::unique_ptr<PresenceService> service_;
  std::unique_ptr<SqliteMessageStore> messages_;
  std::atomic<uint64_t> frames_{0};

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteLastSeenStore> last_seen_;
  std::unique_ptr<LocalPresenceStore> store_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::vector<Mutation> pending_;
};

// One user with N direct contacts, all online; each iteration announces one change of theirs
// (an away toggle, past the hold-down). Contacts come from the cache after the first.
void BM_AnnounceToContacts(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  World world;
  for (int i = 0; i < n; ++i)
    world.Conversation("c_" + std::to_string(i), "direct", {"u_star", User(i)});
  world.Start();
  std::vector<std::shared_ptr<Connection>> devices;
  for (int i = 0; i < n; ++i) {
    devices.push_back(world.Device(User(i)));
    world.hub_.Add(devices.back());
  }
  auto star = world.Device("u_star");
  world.hub_.Add(star);
  world.runner_->RunReady();
  world.runner_->Advance(kGrace);
  const uint64_t frames_before = world.frames_.load();
  const int64_t changes_before = world.Metric("parley_presence_changes_total");
  const int64_t capped_before = world.Metric("parley_presence_fanout_capped_total");

  bool away = false;
  for (auto _ : state) {
    away = !away;
    world.service_->SetStatus("u_star", away, "", [](Status) {});
    world.runner_->Advance(kGrace);  // the hold-down of the previous change ends: announced
  }
  const double changes =
      static_cast<double>(world.Metric("parley_presence_changes_total") - changes_before);
  state.counters["contacts"] = n;
  state.counters["frames_per_change"] =
      static_cast<double>(world.frames_.load() - frames_before) / changes;
  state.counters["capped_share"] =
      static_cast<double>(world.Metric("parley_presence_fanout_capped_total") - capped_before) /
      changes;
}
BENCHMARK(BM_AnnounceToContacts)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMicrosecond);

// The price of a contacts cache miss: one ListContacts for a user in `range(0)` groups of 20
// and a 5,000-member group (ruled out after 101 rows), plus 5 direct conversations.
void BM_ListContacts(benchmark::State& state) {
  const int groups = static_cast<int>(state.range(0));
  World world;
  int next = 1;
  for (int g = 0; g < groups; ++g) {
    std::vector<std::string> members = {"u_0"};
    for (int k = 0; k < 19; ++k) members.push_back(User(next++));
    world.Conversation("c_g" + std::to_string(g), "group", members);
  }
  for (int d = 0; d < 5; ++d)
    world.Conversation("c_d" + std::to_string(d), "direct", {"u_0", User(next++)});
  std::vector<std::string> big = {"u_0"};
  for (int k = 0; k < 4999; ++k) big.push_back("u_big_" + std::to_string(k));
  world.Conversation("c_big", "group", big);
  world.Commit();
  size_t contacts = 0;
  for (auto _ : state) {
    auto list = world.messages_->ListContacts("u_0", 100, 1000);
    contacts = list->users.size();
    benchmark::DoNotOptimize(list);
  }
  state.counters["contacts"] = static_cast<double>(contacts);
}
BENCHMARK(BM_ListContacts)->Arg(1)->Arg(10)->Arg(50)->Unit(benchmark::kMicrosecond);

// 10,000 users. Each is in two groups of 10 (two different partitions), has direct
// conversations with the next two users (so four direct peers), and the first 500 share a
// 500-member group (above the push limit): about 22 contacts each.
constexpr int kUsers = 10'000;

void BuildSociety(World& world) {
  for (int i = 0; i < kUsers; ++i) {
    for (int d = 1; d <= 2; ++d) {
      world.Conversation("c_d" + std::to_string(i) + "_" + std::to_string(d), "direct",
                         {User(i), User((i + d) % kUsers)});
    }
  }
  for (int g = 0; g < kUsers / 10; ++g) {
    std::vector<std::string> a;
    std::vector<std::string> b;
    for (int k = 0; k < 10; ++k) {
      a.push_back(User(g * 10 + k));
      b.push_back(User((g + k * (kUsers / 10)) % kUsers));  // a stride through everyone
    }
    world.Conversation("c_a" + std::to_string(g), "group", a);
    world.Conversation("c_b" + std::to_string(g), "group", b);
  }
  std::vector<std::string> big;
  for (int i = 0; i < 500; ++i) big.push_back(User(i));
  world.Conversation("c_big", "group", big);
  world.Commit();
}

// CPU time of this thread, which does all the presence work here: robust to other load on
// the machine, unlike wall time.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Phase {
  int64_t changes = 0;
  uint64_t frames = 0;
  int64_t misses = 0;
  int64_t coalesced = 0;
  double seconds = 0;
};

// Runs `act` (which adds or removes connections) and everything it posts, then `advance_ms`
// of timers; reports what it cost.
template <class Act>
Phase Measure(World& world, Act act, int64_t advance_ms) {
  const int64_t changes = world.Metric("parley_presence_changes_total");
  const uint64_t frames = world.frames_.load();
  const int64_t misses = world.Metric("parley_presence_contacts_cache_misses_total");
  const int64_t coalesced = world.Metric("parley_presence_coalesced_total");
  const double start = ThreadCpuSeconds();
  act();
  world.runner_->RunReady();
  world.runner_->Advance(advance_ms);
  Phase phase;
  phase.seconds = ThreadCpuSeconds() - start;
  phase.changes = world.Metric("parley_presence_changes_total") - changes;
  phase.frames = world.frames_.load() - frames;
  phase.misses = world.Metric("parley_presence_contacts_cache_misses_total") - misses;
  phase.coalesced = world.Metric("parley_presence_coalesced_total") - coalesced;
  return phase;
}

void Report(benchmark::State& state, const std::string& prefix, const Phase& phase, int users) {
  state.counters[prefix + "_cpu_ms"] = phase.seconds * 1000;
  // CPU per user who connected or left, whether or not it was announced.
  state.counters[prefix + "_us_per_user"] = phase.seconds * 1e6 / users;
  state.counters[prefix + "_changes"] = static_cast<double>(phase.changes);
  state.counters[prefix + "_frames"] = static_cast<double>(phase.frames);
  state.counters[prefix + "_misses"] = static_cast<double>(phase.misses);
  if (phase.coalesced > 0)
    state.counters[prefix + "_coalesced"] = static_cast<double>(phase.coalesced);
}

// Everyone connects at once (a restart), half the users flap (disconnect and come back within
// the grace period: a network blip), then half log off for good.
void BM_Storm(benchmark::State& state) {
  World world;
  BuildSociety(world);
  for (auto _ : state) {
    world.Start();
    std::vector<std::shared_ptr<Connection>> devices;
    for (int i = 0; i < kUsers; ++i) devices.push_back(world.Device(User(i)));

    const Phase connect = Measure(
        world,
        [&] {
          for (auto& d : devices) world.hub_.Add(d);
        },
        kGrace);
    const Phase flap = Measure(
        world,
        [&] {
          for (int i = 0; i < kUsers; i += 2) world.hub_.Remove(*devices[static_cast<size_t>(i)]);
          world.runner_->RunReady();
          world.runner_->Advance(kGrace / 2);
          for (int i = 0; i < kUsers; i += 2) world.hub_.Add(devices[static_cast<size_t>(i)]);
        },
        kGrace * 2);
    const Phase leave = Measure(
        world,
        [&] {
          for (int i = 0; i < kUsers; i += 2) world.hub_.Remove(*devices[static_cast<size_t>(i)]);
        },
        kGrace * 2);
    Report(state, "connect", connect, kUsers);
    Report(state, "flap", flap, kUsers / 2);
    Report(state, "leave", leave, kUsers / 2);
    for (int i = 1; i < kUsers; i += 2) world.hub_.Remove(*devices[static_cast<size_t>(i)]);
    world.runner_->RunReady();
    world.service_.reset();
  }
}
BENCHMARK(BM_Storm)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace parley

BENCHMARK_MAIN();
