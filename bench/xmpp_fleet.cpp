#include "xmpp_fleet.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "workloads.h"
#include "xmpp_codec.h"

namespace parley::bench {

using xmpp::Kind;

XmppFleet::XmppFleet(Runner& runner, const Options& opt, const ServerRef& server, const Seed& seed,
                     Mode mode)
    : Fleet(runner, opt, server, seed),
      users_(seed),
      mode_(mode),
      domain_(opt.xmpp_domain),
      muc_(opt.xmpp_muc.empty() ? "conference." + opt.xmpp_domain : opt.xmpp_muc),
      pad_(static_cast<size_t>(std::max(0, opt.body_bytes)), 'x'),
      frames_(static_cast<size_t>(runner.size())) {}

XmppFleet::~XmppFleet() = default;

uint32_t XmppFleet::AddSlot(uint32_t user, std::string conv, Role role) {
  Peer p;
  p.name = users_.users[user].name;
  const bool sends = mode_ == Mode::kSession && (role == Role::kSender || role == Role::kReader);
  if (!conv.empty() && conv[0] == 'g') {
    p.room = conv + "@" + muc_;
    p.groupchat = true;
    p.to = p.room;
  } else if (!conv.empty() && conv[0] == 'p' && (user ^ 1u) < users_.users.size()) {
    p.to = users_.users[user ^ 1u].name + "@" + domain_;  // pair k: users 2k and 2k+1
  }
  // One-to-one messages are acked by XEP-0198; a room's are acked by its echo (see below).
  p.sm = sends && !p.groupchat;
  peers_.push_back(std::move(p));
  return Fleet::AddSlot(user, std::move(conv), role);
}

void XmppFleet::OnOpen(WsConn& conn) {
  Peer& p = peers_[conn.index()];
  p.stage = Stage::kFeatures;
  p.sm_on = false;
  p.in = p.out = 0;
  p.unacked.clear();
  p.jid.clear();
  std::string& f = Frame(slots()[conn.index()]);
  f.clear();
  xmpp::AppendOpen(f, domain_);
  conn.SendText(f);
}

void XmppFleet::OnClosed(WsConn& conn, std::string_view why) {
  if (slots()[conn.index()].conn.get() == &conn) peers_[conn.index()].unacked.clear();
  Fleet::OnClosed(conn, why);
}

void XmppFleet::Abandon(WsConn& conn, std::string_view why, std::string_view detail) {
  std::string reason(why);
  if (!detail.empty()) reason.append(": ").append(detail);
  conn.Drop();  // no OnClosed follows a Drop: report it here
  OnClosed(conn, reason);
}

void XmppFleet::OnText(WsConn& conn, std::string_view text) {
  Slot& slot = slots()[conn.index()];
  if (slot.conn.get() != &conn) return;  // a frame from a connection this slot replaced
  St(slot).bytes_in += text.size();
  Peer& p = peers_[conn.index()];
  const Kind kind = xmpp::Classify(text);
  if (p.sm_on && xmpp::IsStanza(kind)) ++p.in;
  switch (kind) {
    case Kind::kMessage:
      return OnMessage(slot, p, text);
    case Kind::kSmAnswer:
      return OnAnswer(slot, p, text);
    case Kind::kSmRequest: {
      std::string& f = Frame(slot);
      f.clear();
      xmpp::AppendSmAnswer(f, p.in);
      return conn.SendText(f);
    }
    case Kind::kPresence:
      return OnPresence(slot, p, conn, text);
    case Kind::kIq:
      return OnIq(slot, p, conn, text);
    case Kind::kFeatures:
      return OnFeatures(slot, p, conn, text);
    case Kind::kSuccess: {
      if (p.stage != Stage::kAuth) return;
      p.stage = Stage::kRestart;
      std::string& f = Frame(slot);
      f.clear();
      xmpp::AppendOpen(f, domain_);
      return conn.SendText(f);
    }
    case Kind::kSmEnabled:
      p.sm_on = true;
      return;
    case Kind::kFailure:
      return Abandon(conn, "auth failed", xmpp::ErrorCondition(text));
    case Kind::kSmFailed:
      return Abandon(conn, "stream management refused", xmpp::ErrorCondition(text));
    case Kind::kStreamError:
      return Abandon(conn, "stream error", xmpp::ErrorCondition(text));
    case Kind::kClose:
      return Abandon(conn, "stream closed by the server");
    case Kind::kOpen:
    case Kind::kUnknown:
      return;
  }
}

void XmppFleet::SendAuth(Peer& p, WsConn& conn) {
  p.stage = Stage::kAuth;
  std::string& f = Frame(slots()[conn.index()]);
  f.clear();
  xmpp::AppendAuthPlain(f, p.name, opt().xmpp_password);
  conn.SendText(f);
}

void XmppFleet::OnFeatures(Slot& slot, Peer& p, WsConn& conn, std::string_view text) {
  std::string& f = Frame(slot);
  if (p.stage == Stage::kFeatures) {
    if (mode_ == Mode::kSession) return SendAuth(p, conn);
    p.stage = Stage::kRegister;
    f.clear();
    xmpp::AppendRegister(f, p.name, opt().xmpp_password);
    return conn.SendText(f);
  }
  if (p.stage != Stage::kRestart) return;
  if (p.sm && !xmpp::HasFeature(text, "urn:xmpp:sm:3"))
    return Abandon(conn, "no XEP-0198 stream management (urn:xmpp:sm:3) offered");
  p.stage = Stage::kBind;
  f.clear();
  // Built with append: GCC 12 warns falsely (-Wrestrict) on "r" + std::to_string(i).
  std::string resource("r");
  resource.append(std::to_string(conn.index()));
  xmpp::AppendBind(f, resource);
  conn.SendText(f);
  if (xmpp::SessionRequired(text)) {
    // Processed after the bind, in order; answered with iq id "sess" (errors end the login).
    f.clear();
    xmpp::AppendSession(f);
    conn.SendText(f);
  }
}

void XmppFleet::OnIq(Slot& slot, Peer& p, WsConn& conn, std::string_view text) {
  const std::string_view type = xmpp::Attr(text, "type");
  const std::string_view id = xmpp::Attr(text, "id");
  std::string& f = Frame(slot);
  if (type == "get" || type == "set") {  // e.g. a server ping: answer, as a client must
    f.clear();
    xmpp::AppendIqResult(f, id, xmpp::Attr(text, "from"));
    return conn.SendText(f);
  }
  const bool ok = type == "result";
  if (id == "reg" && p.stage == Stage::kRegister) {
    const std::string_view condition = xmpp::ErrorCondition(text);
    // "conflict": registered before (by an earlier seed); the login below proves the password.
    if (!ok && condition != "conflict") return Abandon(conn, "registration refused", condition);
    if (p.room.empty()) return Finish(slot, p, conn);
    return SendAuth(p, conn);
  }
  if (id == "sess" && !ok) return Abandon(conn, "session refused", xmpp::ErrorCondition(text));
  if (id == "cfg" && p.stage == Stage::kConfig) {
    if (!ok) return Abandon(conn, "room configuration refused", xmpp::ErrorCondition(text));
    return Finish(slot, p, conn);
  }
  if (id != "bind" || p.stage != Stage::kBind) return;
  if (!ok) return Abandon(conn, "bind refused", xmpp::ErrorCondition(text));
  p.jid = xmpp::ChildText(text, "jid");
  p.stage = Stage::kLogin;
  // Pipelined: the server handles them in order. Counting for XEP-0198 starts at <enable/>.
  if (p.sm) {
    f.clear();
    xmpp::AppendSmEnable(f);
    conn.SendText(f);
  }
  f.clear();
  xmpp::AppendPresence(f);
  conn.SendText(f);
  ++p.out;
  if (!p.room.empty()) {
    f.clear();
    xmpp::AppendJoin(f, p.room, p.name);
    conn.SendText(f);
    ++p.out;
  }
}

void XmppFleet::OnPresence(Slot& slot, Peer& p, WsConn& conn, std::string_view text) {
  if (p.stage != Stage::kLogin) return;  // occupants coming and going: nothing to do
  const std::string_view from = xmpp::Attr(text, "from");
  if (p.room.empty()) {
    if (from == p.jid) Finish(slot, p, conn);  // our own initial presence, echoed
    return;
  }
  if (from.size() <= p.room.size() || from.compare(0, p.room.size(), p.room) != 0 ||
      from[p.room.size()] != '/') {
    return;  // not from our room
  }
  if (xmpp::Attr(text, "type") == "error")
    return Abandon(conn, "join refused", xmpp::ErrorCondition(text));
  if (xmpp::Resource(from) != p.name || !xmpp::HasStatus(text, "110")) return;
  // In the room. A room we just created (201) is configured first when seeding.
  if (mode_ == Mode::kRegister && xmpp::HasStatus(text, "201")) {
    p.stage = Stage::kConfig;
    std::string& f = Frame(slot);
    f.clear();
    xmpp::AppendRoomConfig(f, p.room);
    return conn.SendText(f);
  }
  Finish(slot, p, conn);
}

void XmppFleet::Finish(Slot& slot, Peer& p, WsConn& conn) {
  p.stage = Stage::kReady;
  HandleReady(slot);
  if (mode_ == Mode::kRegister) {
    slot.dropped = true;
    conn.Drop();
  }
}

void XmppFleet::OnMessage(Slot& slot, Peer& p, std::string_view text) {
  ThreadStats& st = St(slot);
  if (xmpp::Attr(text, "type") == "error") {  // a bounce: the server could not deliver it
    ++st.errors;
    st.Count(std::string("message error: ").append(xmpp::ErrorCondition(text)));
    return;
  }
  int64_t stamp = 0;
  if (!xmpp::BodyStamp(text, stamp)) return;  // a room subject, a chat state: no body of ours
  if (p.groupchat && xmpp::Resource(xmpp::Attr(text, "from")) == p.name) {
    // The room's echo of our own message (XEP-0045 7.4: reflected to every occupant, the
    // sender included) is its ack, as in Parley, where the sender gets an ack and not the
    // event: the room has taken the message, archived it and handed it to every occupant.
    // XEP-0198's <a/> would say less: ejabberd counts a stanza handled once its session has
    // passed it to the room's process, so the window would bound nothing.
    const int64_t now = NowNs();
    st.ack.Record(now - stamp);
    ++st.acked;
    ++slot.acked;
    if (slot.inflight > 0) --slot.inflight;
    if (slot.active && slot.interval_ns == 0) Fill(slot);
    return;
  }
  ++st.delivered;
  if (slot.measure_delivery) st.delivery.Record(NowNs() - stamp);
}

void XmppFleet::OnAnswer(Slot& slot, Peer& p, std::string_view text) {
  ThreadStats& st = St(slot);
  uint32_t h = 0;
  if (!xmpp::ParseH(text, h)) {
    st.Count("<a/> without h");
    return;
  }
  const int64_t now = NowNs();
  // h counts every stanza we sent since <enable/> (wrapping at 2^32): our messages numbered up
  // to h are handled by the server.
  while (!p.unacked.empty() && static_cast<int32_t>(h - p.unacked.front().first) >= 0) {
    st.ack.Record(now - p.unacked.front().second);
    p.unacked.pop_front();
    ++st.acked;
    ++slot.acked;
    if (slot.inflight > 0) --slot.inflight;
  }
  if (slot.active && slot.interval_ns == 0) Fill(slot);
}

bool XmppFleet::TrySend(Slot& slot, int64_t now) {
  if (!slot.active || !slot.ready || slot.budget == 0 || slot.inflight >= opt().window)
    return false;
  Peer& p = peers_[static_cast<size_t>(&slot - slots().data())];
  if (p.to.empty() || (p.sm && !p.sm_on)) return false;
  std::string& f = Frame(slot);
  f.clear();
  xmpp::AppendMessage(f, p.to, p.groupchat, slot.msg_no, now, pad_);
  slot.conn->SendText(f);
  if (p.sm) {
    f.clear();
    xmpp::AppendSmRequest(f);  // one ack per message, as Parley answers every send
    slot.conn->SendText(f);
    p.unacked.emplace_back(++p.out, now);
  }
  ++slot.inflight;
  ++slot.msg_no;
  if (slot.budget > 0) --slot.budget;
  ++St(slot).sent;
  return true;
}

std::vector<uint32_t> XmppFleet::Unfinished(const std::vector<uint32_t>& which) {
  std::vector<std::vector<uint32_t>> per_thread(static_cast<size_t>(runner().size()));
  runner().OnEach([&](int t) {
    for (uint32_t i : which) {
      if (slots()[i].thread == t && peers_[i].stage != Stage::kReady) per_thread[t].push_back(i);
    }
  });
  std::vector<uint32_t> left;
  for (const auto& list : per_thread) left.insert(left.end(), list.begin(), list.end());
  return left;
}

std::unique_ptr<Fleet> MakeFleet(Runner& runner, const Options& opt, const ServerRef& server,
                                 const Seed& seed) {
  if (opt.target == "xmpp") return std::make_unique<XmppFleet>(runner, opt, server, seed);
  return std::make_unique<Fleet>(runner, opt, server, seed);
}

namespace {

/// Connects `which` and waits for all of them to finish or fail, with progress on stderr every
/// 5 s; false if they did not all end in time.
bool RunBatch(XmppFleet& fleet, const std::vector<uint32_t>& which, const std::string& what) {
  const auto started = std::chrono::steady_clock::now();
  const int64_t before = fleet.ready_count() + fleet.failed_count();
  const auto n = static_cast<int64_t>(which.size());
  const auto deadline = started + std::chrono::seconds(120 + n / 20);
  fleet.Connect(which);
  auto last = started;
  while (!fleet.WaitConnected(before + n, 0.2)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (now - last >= std::chrono::seconds(5)) {
      last = now;
      const int64_t done = fleet.ready_count() + fleet.failed_count() - before;
      const double s = std::chrono::duration<double>(now - started).count();
      std::fprintf(stderr, "seed: %s %lld/%lld (%.0f/s)\n", what.c_str(),
                   static_cast<long long>(done), static_cast<long long>(n),
                   static_cast<double>(done) / s);
    }
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "seed: %s: %lld in %.1f s\n", what.c_str(), static_cast<long long>(n), s);
  return true;
}

/// Registers (or creates) `which`, retrying those that failed (a connection a busy server's
/// full accept queue dropped, say) up to three more times.
bool RunWithRetries(XmppFleet& fleet, std::vector<uint32_t> which, const std::string& what,
                    std::string& error) {
  for (int round = 0; round < 4 && !which.empty(); ++round) {
    if (round > 0) {
      std::fprintf(stderr, "seed: %s: %zu failed; again\n", what.c_str(), which.size());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (!RunBatch(fleet, which, what)) {
      error = what + ": timed out";
      return false;
    }
    which = fleet.Unfinished(which);
  }
  if (!which.empty()) error = what + ": " + std::to_string(which.size()) + " failed";
  return which.empty();
}

}  // namespace

bool SeedXmpp(const Options& opt, const ServerRef& server, int users,
              const std::vector<std::pair<int, int>>& group_sets, std::string& error) {
  for (const auto& [groups, size] : group_sets) users = std::max(users, groups * size);
  SeedNeeds needs;
  needs.users = users;
  const Seed seed = BareSeed(needs);
  Runner runner(ClientThreads(opt));
  XmppFleet fleet(runner, opt, server, seed, XmppFleet::Mode::kRegister);
  std::vector<uint32_t> accounts, rooms;
  for (int i = 0; i < users; ++i)
    accounts.push_back(fleet.AddSlot(static_cast<uint32_t>(i), "", Role::kIdle));
  for (const auto& [groups, size] : group_sets) {
    for (int g = 0; g < groups; ++g) {
      std::string room("g");  // BareSeed's name for group g of this size
      room.append(std::to_string(size)).append("-").append(std::to_string(g));
      rooms.push_back(fleet.AddSlot(static_cast<uint32_t>(g * size), std::move(room), Role::kIdle));
    }
  }
  bool ok = RunWithRetries(fleet, accounts, "users", error);
  if (ok && !rooms.empty()) ok = RunWithRetries(fleet, rooms, "rooms", error);
  if (!ok) {
    // The first reasons say why (refused, throttled, connections failing).
    runner.Take();
    const ThreadStats& total = runner.Total();
    int shown = 0;
    for (const auto& [reason, count] : total.reasons) {
      if (shown++ < 3) error += "; " + reason + " x" + std::to_string(count);
    }
  }
  fleet.Shutdown();
  runner.Stop();
  if (ok) std::fprintf(stderr, "seed: %d users, %zu rooms ready\n", users, rooms.size());
  return ok;
}

}  // namespace parley::bench
