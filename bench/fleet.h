#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "options.h"
#include "seed.h"
#include "stats.h"
#include "workloads.h"
#include "ws_conn.h"

namespace parley::bench {

/// Nanoseconds on the monotonic clock, the unit of every timestamp and latency here.
int64_t NowNs();

/// Cheap field finders for the hot frames (message, ack, error). They rely on what the bench
/// itself sends: bodies without quotes or backslashes, numeric request ids. Frames that need
/// real parsing (sync, history in W4) go through Boost.JSON.
std::string_view FrameType(std::string_view text);
bool FindInt(std::string_view text, std::string_view key, int64_t& out);   // key: "\"re\":"
std::string_view FindString(std::string_view text, std::string_view key);  // key: "\"code\":\""

/// The io threads: one single-threaded io_context each, so everything a connection touches
/// lives on one thread without locks. Each thread also owns a ThreadStats.
class Runner {
 public:
  explicit Runner(int threads);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  int size() const { return static_cast<int>(ios_.size()); }
  boost::asio::io_context& io(int t) { return *ios_[t]; }
  /// Thread t's counters; touch only from thread t (or inside OnEach).
  ThreadStats& stats(int t) { return stats_[t]; }

  /// Runs f(t) on every io thread t, between its handlers, and waits until all have run.
  /// Aborts the process if a thread does not answer within a minute (a bench bug).
  void OnEach(const std::function<void(int)>& f);
  /// Every thread's stats since the last Take, merged, and reset; also added to Total().
  ThreadStats Take();
  const ThreadStats& Total() const { return total_; }

  /// Lets the threads finish what is pending (at most `grace_ms`), then stops and joins them.
  void Stop(int grace_ms = 5000);

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<
      std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>>
      guards_;
  std::vector<ThreadStats> stats_;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
  ThreadStats total_;
};

enum class Role : uint8_t {
  kIdle,      // connects and waits (W1; W3 members that do not post)
  kSender,    // sends messages (W2, W3 posters, W4 posters and observers)
  kReader,    // W5: sends history requests
  kResyncer,  // W4: syncs and fetches what it missed after each connect
};

/// One client connection and everything the workload tracks for it. Touched only on its
/// thread (slot index modulo the thread count), except by the main thread while that thread
/// has nothing of it in flight (between phases, after an OnEach).
struct Slot {
  std::shared_ptr<WsConn> conn;
  uint32_t user = 0;
  int thread = 0;
  Role role = Role::kIdle;
  std::string conv;      // the conversation it talks in; also its bare-relay room
  bool ready = false;    // got `ready`
  bool dropped = false;  // we dropped it on purpose
  bool measure_delivery = true;
  int64_t started_ns = 0;  // when its current connect began

  // Sending (kSender / kReader).
  bool active = false;      // may send
  bool history = false;     // sends history requests instead of messages
  int64_t interval_ns = 0;  // fixed rate: between sends; 0 = whenever the window allows
  int64_t next_due_ns = 0;
  int64_t budget = -1;  // sends left; -1 = unlimited
  int inflight = 0;
  int64_t last_id = 0;  // request ids are send times in ns, strictly increasing
  uint64_t msg_no = 0;
  int64_t acked = 0;
  int64_t last_seq = 0;  // highest seq seen in its acks (W5: the conversation's length)

  // W4 resync state.
  int stage = 0;
  int64_t held_seq = 0;  // every entry up to here is held
  int64_t want_seq = 0;  // last_seq from the latest sync
};

/// A set of client connections on a Runner, with the send/receive engine every workload
/// shares. Subclasses add what is particular to them through the hooks.
class Fleet : public WsHandler {
 public:
  Fleet(Runner& runner, const Options& opt, const ServerRef& server, const Seed& seed);
  ~Fleet() override;

  /// Adds a slot (before any Connect). Virtual so that a protocol adapter (xmpp_fleet.h) can
  /// keep per-slot state of its own beside it.
  virtual uint32_t AddSlot(uint32_t user, std::string conv, Role role);
  std::vector<Slot>& slots() { return slots_; }

  /// Starts connecting these slots (at most opt.connect_concurrency in the handshake at a
  /// time); returns at once. ready_count()/failed_count() tell the progress.
  void Connect(const std::vector<uint32_t>& which);
  /// Waits until ready + failed reaches `target` or `timeout_s` passes; true if reached.
  bool WaitConnected(int64_t target, double timeout_s);
  int64_t ready_count() const { return ready_.load(); }
  int64_t failed_count() const { return failed_.load(); }

  /// Starts the per-thread pacing timers (1 ms ticks) used by fixed-rate senders.
  void StartPacing();
  /// Sets every slot of `role` sending: at `total_rate` per second shared among them, or as
  /// fast as the window allows when 0. `budget` caps the sends of each (-1: none;
  /// kKeepBudget: leave each slot's budget as it is).
  static constexpr int64_t kKeepBudget = INT64_MIN;
  void StartSending(Role role, double total_rate, int64_t budget = -1);
  /// Sum over io threads of f(t), each run on its own thread.
  int64_t SumOnEach(const std::function<int64_t(int)>& f);
  void StopSending(Role role);
  /// Sum of inflight over all slots (asks every thread).
  int64_t Inflight();
  /// Drops every connection and cancels the timers; the Runner can then stop.
  void Shutdown();

  Runner& runner() { return runner_; }
  const Options& opt() const { return opt_; }

 protected:
  // Hooks, on the slot's thread.
  virtual void OnReady(Slot& /*slot*/) {}
  virtual void OnFrame(Slot& /*slot*/, std::string_view /*type*/, std::string_view /*text*/) {}
  virtual void OnLost(Slot& /*slot*/) {}

  // What the WebSocket upgrade asks for: Parley's (and the relay's) URL, no subprotocol.
  virtual std::string UpgradeTarget(const Slot& slot) const { return "/v1/ws?room=" + slot.conv; }
  virtual std::string_view UpgradeProtocol() const { return {}; }

  /// Writes one request if the slot may send now (Parley's `send` or `history`); false if not.
  virtual bool TrySend(Slot& slot, int64_t now);
  /// The slot is logged in: counts it and lets it send.
  void HandleReady(Slot& slot);
  void Fill(Slot& slot);
  int64_t NextId(Slot& slot, int64_t now);
  ThreadStats& St(const Slot& slot) { return runner_.stats(slot.thread); }
  uint64_t& Rng(int thread) { return threads_[thread].rng; }

  // WsHandler
  void OnOpen(WsConn& conn) override;
  void OnText(WsConn& conn, std::string_view text) override;
  void OnClosed(WsConn& conn, std::string_view why) override;

 private:
  struct PerThread {
    std::deque<uint32_t> to_connect;
    int connecting = 0;
    std::vector<uint32_t> senders;  // slots the pacing timer looks at
    std::unique_ptr<boost::asio::steady_timer> ticker;
    uint64_t rng = 0;
    std::string frame;  // reused to build outgoing frames
  };

  void Pump(int t);
  void Tick(int t);
  void HandleAck(Slot& slot, std::string_view text);
  void HandleError(Slot& slot, std::string_view text);

  Runner& runner_;
  const Options& opt_;
  const Seed& seed_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string host_header_;
  uint32_t source_addrs_;
  int per_thread_connects_;
  std::string body_pad_;
  std::string nonce_;
  std::vector<Slot> slots_;
  std::vector<PerThread> threads_;
  std::atomic<int64_t> ready_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<bool> pacing_{false};
};

}  // namespace parley::bench
