#include "fleet.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>

namespace parley::bench {

namespace asio = boost::asio;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view FrameType(std::string_view text) {
  constexpr std::string_view kKey = "\"type\":\"";
  size_t at = text.substr(0, kKey.size() + 1) == "{\"type\":\"" ? 1 : text.find(kKey);
  if (at == std::string_view::npos) return {};
  at += kKey.size();
  const size_t end = text.find('"', at);
  if (end == std::string_view::npos) return {};
  return text.substr(at, end - at);
}

bool FindInt(std::string_view text, std::string_view key, int64_t& out) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return false;
  const char* begin = text.data() + at + key.size();
  const char* end = text.data() + text.size();
  while (begin < end && *begin == ' ') ++begin;
  return std::from_chars(begin, end, out).ec == std::errc();
}

std::string_view FindString(std::string_view text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return {};
  const size_t start = at + key.size();
  const size_t end = text.find('"', start);
  if (end == std::string_view::npos) return {};
  return text.substr(start, end - start);
}

// ---------------------------------------------------------------------------------------------
// Runner

Runner::Runner(int threads) {
  stats_.resize(threads);
  for (int t = 0; t < threads; ++t) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        ios_.back()->get_executor()));
  }
  running_ = threads;
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, t] {
      ios_[t]->run();
      --running_;
    });
  }
}

Runner::~Runner() { Stop(); }

void Runner::Stop(int grace_ms) {
  if (threads_.empty()) return;
  for (auto& guard : guards_) guard->reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (running_ > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& io : ios_) io->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Runner::OnEach(const std::function<void(int)>& f) {
  std::mutex mu;
  std::condition_variable cv;
  int left = size();
  for (int t = 0; t < size(); ++t) {
    asio::post(*ios_[t], [&, t] {
      f(t);
      std::lock_guard lock(mu);
      if (--left == 0) cv.notify_one();
    });
  }
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return left == 0; })) {
    std::fprintf(stderr, "parley_bench: an io thread did not answer within 60 s\n");
    std::_Exit(3);
  }
}

ThreadStats Runner::Take() {
  std::vector<ThreadStats> taken(size());
  OnEach([&](int t) {
    taken[t] = std::move(stats_[t]);
    stats_[t] = ThreadStats{};
  });
  ThreadStats merged;
  for (const auto& s : taken) merged.Merge(s);
  total_.Merge(merged);
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Fleet

Fleet::Fleet(Runner& runner, const Options& opt, const ServerRef& server, const Seed& seed)
    : runner_(runner),
      opt_(opt),
      seed_(seed),
      endpoint_(asio::ip::make_address(server.host), server.port),
      host_header_(server.host + ":" + std::to_string(server.port)),
      threads_(runner.size()) {
  source_addrs_ = static_cast<uint32_t>(opt.source_addrs > 0 ? opt.source_addrs : 4);
  per_thread_connects_ = std::max(1, opt.connect_concurrency / runner.size());
  std::random_device rd;
  for (auto& t : threads_) t.rng = (uint64_t{rd()} << 32) | rd() | 1;
  char nonce[16];
  std::snprintf(nonce, sizeof nonce, "%08x", rd());
  nonce_ = nonce;
  body_pad_.assign(static_cast<size_t>(std::max(0, opt.body_bytes)), 'x');
}

Fleet::~Fleet() = default;

uint32_t Fleet::AddSlot(uint32_t user, std::string conv, Role role) {
  const auto index = static_cast<uint32_t>(slots_.size());
  Slot slot;
  slot.user = user;
  slot.conv = std::move(conv);
  slot.role = role;
  slot.thread = static_cast<int>(index % static_cast<uint32_t>(runner_.size()));
  slots_.push_back(std::move(slot));
  if (role == Role::kSender || role == Role::kReader)
    threads_[slots_.back().thread].senders.push_back(index);
  return index;
}

void Fleet::Connect(const std::vector<uint32_t>& which) {
  std::vector<std::vector<uint32_t>> per_thread(runner_.size());
  for (uint32_t i : which) per_thread[slots_[i].thread].push_back(i);
  for (int t = 0; t < runner_.size(); ++t) {
    asio::post(runner_.io(t), [this, t, list = std::move(per_thread[t])] {
      for (uint32_t i : list) threads_[t].to_connect.push_back(i);
      Pump(t);
    });
  }
}

bool Fleet::WaitConnected(int64_t target, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (ready_ + failed_ < target) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void Fleet::Pump(int t) {
  PerThread& pt = threads_[t];
  while (pt.connecting < per_thread_connects_ && !pt.to_connect.empty()) {
    const uint32_t i = pt.to_connect.front();
    pt.to_connect.pop_front();
    Slot& slot = slots_[i];
    slot.conn = std::make_shared<WsConn>(runner_.io(t), *this, i, t);
    slot.ready = false;
    slot.dropped = false;
    slot.inflight = 0;
    slot.started_ns = NowNs();
    ++pt.connecting;
    slot.conn->Start(endpoint_, SourceAddress(i, source_addrs_), UpgradeTarget(slot), host_header_,
                     UpgradeProtocol());
  }
}

void Fleet::OnOpen(WsConn& conn) {
  Slot& slot = slots_[conn.index()];
  std::string& frame = threads_[slot.thread].frame;
  frame.assign("{\"type\":\"auth\",\"token\":\"")
      .append(seed_.users[slot.user].token)
      .append("\"}");
  conn.SendText(frame);
}

void Fleet::OnText(WsConn& conn, std::string_view text) {
  Slot& slot = slots_[conn.index()];
  if (slot.conn.get() != &conn) return;  // a frame from a connection this slot replaced
  ThreadStats& st = St(slot);
  st.bytes_in += text.size();
  const std::string_view type = FrameType(text);
  if (type == "message" || type == "send") {  // a Parley event, or a frame the relay passed on
    ++st.delivered;
    if (slot.measure_delivery) {
      const size_t at = text.find("\"body\":\"");
      int64_t stamp = 0;
      if (at != std::string_view::npos &&
          std::from_chars(text.data() + at + 8, text.data() + text.size(), stamp).ec ==
              std::errc()) {
        st.delivery.Record(NowNs() - stamp);
      }
    }
    if (slot.role == Role::kResyncer) OnFrame(slot, type, text);
  } else if (type == "ack") {
    HandleAck(slot, text);
  } else if (type == "ready") {
    HandleReady(slot);
  } else if (type == "error") {
    HandleError(slot, text);
  } else {
    OnFrame(slot, type, text);
  }
}

void Fleet::HandleReady(Slot& slot) {
  if (slot.ready) return;
  slot.ready = true;
  ThreadStats& st = St(slot);
  ++st.opened;
  st.op.Record(NowNs() - slot.started_ns);
  --threads_[slot.thread].connecting;
  ++ready_;
  Pump(slot.thread);
  OnReady(slot);
  if (slot.active) Fill(slot);
}

void Fleet::HandleAck(Slot& slot, std::string_view text) {
  ThreadStats& st = St(slot);
  int64_t re = 0;
  if (!FindInt(text, "\"re\":", re)) {
    st.Count("ack without re");
    return;
  }
  const int64_t now = NowNs();
  st.ack.Record(now - re);
  ++st.acked;
  ++slot.acked;
  int64_t seq = 0;
  if (FindInt(text, "\"seq\":", seq) && seq > slot.last_seq) slot.last_seq = seq;
  if (slot.inflight > 0) --slot.inflight;
  if (slot.active && slot.interval_ns == 0) Fill(slot);
}

void Fleet::HandleError(Slot& slot, std::string_view text) {
  ThreadStats& st = St(slot);
  ++st.errors;
  const std::string_view code = FindString(text, "\"code\":\"");
  st.Count(code.empty() ? std::string_view("error") : code);
  int64_t re = 0;
  if (FindInt(text, "\"re\":", re) && slot.inflight > 0) --slot.inflight;
  if (slot.active && slot.interval_ns == 0) Fill(slot);
}

void Fleet::OnClosed(WsConn& conn, std::string_view why) {
  Slot& slot = slots_[conn.index()];
  if (slot.conn.get() != &conn) return;
  ThreadStats& st = St(slot);
  if (!slot.ready) {
    ++st.open_failed;
    st.Count(std::string("connect failed: ") + std::string(why));
    --threads_[slot.thread].connecting;
    ++failed_;
    Pump(slot.thread);
  } else {
    slot.ready = false;
    if (!slot.dropped) {
      ++st.closed_unexpected;
      st.Count(std::string("closed: ") + std::string(why));
    }
  }
  slot.inflight = 0;
  OnLost(slot);
}

int64_t Fleet::NextId(Slot& slot, int64_t now) {
  slot.last_id = std::max(now, slot.last_id + 1);
  return slot.last_id;
}

bool Fleet::TrySend(Slot& slot, int64_t now) {
  if (!slot.active || !slot.ready || slot.budget == 0 || slot.inflight >= opt_.window) return false;
  const int64_t id = NextId(slot, now);
  std::string& f = threads_[slot.thread].frame;
  char num[24];
  auto put = [&](int64_t v) {
    auto r = std::to_chars(num, num + sizeof num, v);
    f.append(num, static_cast<size_t>(r.ptr - num));
  };
  f.clear();
  if (slot.history) {
    f.append("{\"type\":\"history\",\"id\":");
    put(id);
    f.append(",\"conv\":\"").append(slot.conv).append("\"");
    const int64_t pages_back = slot.last_seq - opt_.page;
    if (pages_back > 0) {
      // A random full page: before_seq in [page + 1, last_seq + 1].
      uint64_t& rng = Rng(slot.thread);
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      f.append(",\"before_seq\":");
      put(opt_.page + 1 + static_cast<int64_t>(rng % static_cast<uint64_t>(pages_back + 1)));
    }
    f.append(",\"limit\":");
    put(opt_.page);
    f.append("}");
  } else {
    f.append("{\"type\":\"send\",\"id\":");
    put(id);
    f.append(",\"conv\":\"").append(slot.conv).append("\",\"client_msg_id\":\"").append(nonce_);
    f.append("-");
    put(slot.conn ? slot.conn->index() : 0);
    f.append("-");
    put(static_cast<int64_t>(slot.msg_no));
    f.append("\",\"body\":\"");
    const size_t body_start = f.size();
    put(now);  // the delivery timestamp: the receiver subtracts it from its own clock
    f.append(" ");
    const size_t used = f.size() - body_start;
    if (used < body_pad_.size()) f.append(body_pad_, 0, body_pad_.size() - used);
    f.append("\"}");
  }
  slot.conn->SendText(f);
  ++slot.inflight;
  ++slot.msg_no;
  if (slot.budget > 0) --slot.budget;
  ++St(slot).sent;
  return true;
}

void Fleet::Fill(Slot& slot) {
  const int64_t now = NowNs();
  while (TrySend(slot, now)) {
  }
}

void Fleet::StartPacing() {
  pacing_ = true;
  runner_.OnEach([this](int t) {
    threads_[t].ticker = std::make_unique<asio::steady_timer>(runner_.io(t));
    Tick(t);
  });
}

void Fleet::Tick(int t) {
  PerThread& pt = threads_[t];
  const int64_t now = NowNs();
  for (uint32_t i : pt.senders) {
    Slot& slot = slots_[i];
    if (!slot.active || slot.interval_ns == 0) continue;
    // Fell behind by more than a second (a stall): start again from now rather than burst.
    if (now - slot.next_due_ns > 1'000'000'000) slot.next_due_ns = now;
    while (slot.next_due_ns <= now) {
      if (!TrySend(slot, now) && slot.ready && slot.budget != 0) ++St(slot).skipped;
      slot.next_due_ns += slot.interval_ns;
    }
  }
  if (!pacing_) return;
  pt.ticker->expires_after(std::chrono::milliseconds(1));
  pt.ticker->async_wait([this, t](boost::system::error_code ec) {
    if (!ec && pacing_) Tick(t);
  });
}

void Fleet::StartSending(Role role, double total_rate, int64_t budget) {
  int64_t count = 0;
  for (const auto& s : slots_) count += s.role == role ? 1 : 0;
  const int64_t interval =
      total_rate > 0 ? static_cast<int64_t>(1e9 * static_cast<double>(count) / total_rate) : 0;
  runner_.OnEach([&, this](int t) {
    const int64_t now = NowNs();
    for (uint32_t i : threads_[t].senders) {
      Slot& slot = slots_[i];
      if (slot.role != role) continue;
      slot.active = true;
      if (budget != kKeepBudget) slot.budget = budget;
      slot.interval_ns = std::max<int64_t>(interval, total_rate > 0 ? 1 : 0);
      if (slot.interval_ns > 0) {
        // Spread the first sends over one interval so that senders do not tick in step.
        uint64_t& rng = Rng(t);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        slot.next_due_ns =
            now + static_cast<int64_t>(rng % static_cast<uint64_t>(slot.interval_ns));
      } else {
        Fill(slot);
      }
    }
  });
}

void Fleet::StopSending(Role role) {
  runner_.OnEach([&, this](int t) {
    for (uint32_t i : threads_[t].senders) {
      if (slots_[i].role == role) slots_[i].active = false;
    }
  });
}

int64_t Fleet::SumOnEach(const std::function<int64_t(int)>& f) {
  std::vector<int64_t> per(runner_.size(), 0);
  runner_.OnEach([&](int t) { per[t] = f(t); });
  int64_t sum = 0;
  for (int64_t v : per) sum += v;
  return sum;
}

int64_t Fleet::Inflight() {
  return SumOnEach([this](int t) {
    int64_t n = 0;
    for (uint32_t i : threads_[t].senders) n += slots_[i].ready ? slots_[i].inflight : 0;
    return n;
  });
}

void Fleet::Shutdown() {
  pacing_ = false;
  runner_.OnEach([this](int t) {
    if (threads_[t].ticker) threads_[t].ticker->cancel();
    threads_[t].to_connect.clear();
    for (size_t i = static_cast<size_t>(t); i < slots_.size();
         i += static_cast<size_t>(runner_.size())) {
      Slot& slot = slots_[i];
      slot.active = false;
      slot.dropped = true;
      if (slot.conn) slot.conn->Drop();
    }
  });
}

}  // namespace parley::bench
