#pragma once

// --target xmpp: the same workloads (W1, W2, W3) against ejabberd and Prosody, over XMPP on
// WebSocket (RFC 7395). docs/BENCHMARKS.md ("Peers: ejabberd and Prosody") says what ack and
// delivery mean there.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fleet.h"

namespace parley::bench {

/// A Fleet that speaks XMPP instead of Parley's JSON protocol. Per connection: the upgrade
/// with subprotocol "xmpp", <open/>, SASL PLAIN, <open/> again, resource bind, (session if the
/// server requires it), for senders XEP-0198 <enable/>, initial <presence/>, and for group
/// members the MUC join (no history): `ready` is the server echoing our own presence, or, in a
/// room, our own occupant presence (status 110). One-to-one senders ask for an ack after every
/// message (XEP-0198 <r/>); the server's <a h='N'/> acks every message among our first N
/// stanzas, and every <r/> the server sends is answered at once. In a room, a message is acked
/// by the room's echo of it to its sender, which is not counted as a delivery.
///
/// Users are the bare seed's ("u<i>", password opt.xmpp_password). A slot's conversation says
/// where its messages go: "p<k>" (W2 pair k = users 2k and 2k+1) to the other user of the
/// pair, "g<S>-<g>" (W3) to the room of that name on the MUC service.
class XmppFleet : public Fleet {
 public:
  enum class Mode : uint8_t {
    kSession,   // log in and stay (the workloads)
    kRegister,  // register the slot's user (XEP-0077), create its room if it has one, leave
  };

  XmppFleet(Runner& runner, const Options& opt, const ServerRef& server, const Seed& seed,
            Mode mode = Mode::kSession);
  ~XmppFleet() override;

  uint32_t AddSlot(uint32_t user, std::string conv, Role role) override;
  /// Those of `which` that have not finished logging in (or registering); asks every thread.
  std::vector<uint32_t> Unfinished(const std::vector<uint32_t>& which);

 protected:
  void OnOpen(WsConn& conn) override;
  void OnText(WsConn& conn, std::string_view text) override;
  void OnClosed(WsConn& conn, std::string_view why) override;
  bool TrySend(Slot& slot, int64_t now) override;
  std::string UpgradeTarget(const Slot& /*slot*/) const override { return opt().xmpp_path; }
  std::string_view UpgradeProtocol() const override { return "xmpp"; }

 private:
  enum class Stage : uint8_t {
    kFeatures,  // sent <open/>, waiting for the first features
    kRegister,  // sent the registration
    kAuth,      // sent SASL PLAIN
    kRestart,   // got <success/>, sent <open/> again
    kBind,      // sent the bind
    kLogin,     // sent presence (and the join): waiting for our own presence
    kConfig,    // kRegister: configuring the room we created
    kReady,
  };

  /// What the XMPP side keeps per slot; touched only on the slot's thread.
  struct Peer {
    Stage stage = Stage::kFeatures;
    bool sm = false;         // sends one-to-one: wants XEP-0198 acks
    bool sm_on = false;      // <enabled/> came: inbound stanzas count from here
    bool groupchat = false;  // messages go to a room
    uint32_t in = 0;         // stanzas received since <enabled/> (our answer to <r/>)
    uint32_t out = 0;        // stanzas sent since <enable/> (what the server's h counts)
    std::deque<std::pair<uint32_t, int64_t>> unacked;  // messages: stanza number, send time
    std::string name;                                  // our user (local part)
    std::string to;                                    // where our messages go (a bare JID)
    std::string room;                                  // the room to join, or empty
    std::string jid;                                   // our full JID, from the bind result
  };

  void OnFeatures(Slot& slot, Peer& p, WsConn& conn, std::string_view text);
  void OnIq(Slot& slot, Peer& p, WsConn& conn, std::string_view text);
  void OnPresence(Slot& slot, Peer& p, WsConn& conn, std::string_view text);
  void OnMessage(Slot& slot, Peer& p, std::string_view text);
  void OnAnswer(Slot& slot, Peer& p, std::string_view text);
  void SendAuth(Peer& p, WsConn& conn);
  /// Logged in (kSession) or registered (kRegister: the connection is then dropped).
  void Finish(Slot& slot, Peer& p, WsConn& conn);
  /// Ends a connection that cannot go on: counted as a failed connect (or a lost one).
  void Abandon(WsConn& conn, std::string_view why, std::string_view detail = {});
  std::string& Frame(const Slot& slot) { return frames_[slot.thread]; }

  const Seed& users_;
  Mode mode_;
  std::string domain_;
  std::string muc_;
  std::string pad_;
  std::vector<Peer> peers_;          // by slot index, grown only by AddSlot
  std::vector<std::string> frames_;  // one scratch buffer per io thread
};

/// The fleet for opt.target: XmppFleet for "xmpp", the plain Fleet otherwise.
std::unique_ptr<Fleet> MakeFleet(Runner& runner, const Options& opt, const ServerRef& server,
                                 const Seed& seed);

/// `--workload seed --target xmpp`: registers users u0..u<users-1> through in-band
/// registration (one short connection each; an existing user with the same password counts as
/// done), then creates each room of the group sets, `{groups, size}`: "g<size>-<g>", made
/// persistent (so that it outlives its creator's connection and is not left locked, as
/// Prosody locks a room created by a join until its owner configures it) by user g*size.
bool SeedXmpp(const Options& opt, const ServerRef& server, int users,
              const std::vector<std::pair<int, int>>& group_sets, std::string& error);

}  // namespace parley::bench
