#pragma once

// The few XMPP elements parley_bench sends and reads over WebSocket (RFC 7395: one top-level
// element per WebSocket message), for the peer servers ejabberd and Prosody. No XML parser:
// builders append fixed shapes, and the scanners read only what the bench needs from what
// these servers send (attributes of the top-level start tag, a child's text, an error
// condition, a status code). Values are returned raw: entities are not decoded, which is
// enough because the bench only compares and parses names, ids and numbers it chose itself.
// docs/BENCHMARKS.md ("Peers: ejabberd and Prosody") describes the flow.

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench::xmpp {

/// What one frame from the server is, by the name of its top-level element.
enum class Kind : uint8_t {
  kUnknown,
  kOpen,         // <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' .../>
  kClose,        // <close .../>: the server ends the stream
  kFeatures,     // <stream:features>
  kStreamError,  // <stream:error>
  kSuccess,      // SASL <success/>
  kFailure,      // SASL <failure>
  kMessage,
  kPresence,
  kIq,
  kSmEnabled,  // XEP-0198 <enabled/>
  kSmFailed,   // XEP-0198 <failed/>
  kSmRequest,  // XEP-0198 <r/>: the server asks how many stanzas we have handled
  kSmAnswer,   // XEP-0198 <a h='N'/>: the server has handled N of our stanzas
};

Kind Classify(std::string_view frame);

/// Stanzas are what XEP-0198 counts (messages, presences, iqs), not stream-level elements.
inline bool IsStanza(Kind k) {
  return k == Kind::kMessage || k == Kind::kPresence || k == Kind::kIq;
}

/// The value of attribute `name` on the element whose '<' is at `at` (either quote style);
/// empty when absent. `name` is matched whole: "lang" does not match "xml:lang".
std::string_view AttrAt(std::string_view frame, size_t at, std::string_view name);
/// The same on the frame's top-level element.
std::string_view Attr(std::string_view frame, std::string_view name);

/// The text of the first element `name` (e.g. "body", "jid"), with or without attributes;
/// empty when absent or empty.
std::string_view ChildText(std::string_view frame, std::string_view name);

/// The defined condition inside the first <error> (e.g. "item-not-found", "conflict"), or the
/// first child of <failure> / <stream:error>; empty when there is none.
std::string_view ErrorCondition(std::string_view frame);

/// Whether the frame holds <status code='CODE'/> (MUC: 110 = this is you, 201 = new room).
bool HasStatus(std::string_view frame, std::string_view code);

/// "room@service/nick" -> "nick"; empty when the JID has no resource.
std::string_view Resource(std::string_view jid);

/// Whether <stream:features> offers an element in namespace `ns` (e.g. "urn:xmpp:sm:3").
bool HasFeature(std::string_view features, std::string_view ns);
/// Whether <stream:features> offers RFC 3921 session establishment without marking it
/// <optional/> (both peers mark it optional; older servers require it).
bool SessionRequired(std::string_view features);

/// XEP-0198 <a h='N'/>: N (a 32-bit counter that wraps).
bool ParseH(std::string_view frame, uint32_t& h);

/// The send time the bench writes at the start of every message body.
bool BodyStamp(std::string_view frame, int64_t& stamp);

/// SASL PLAIN's initial response: base64("\0user\0password").
std::string PlainCredentials(std::string_view user, std::string_view password);

// Builders: each appends one complete top-level element to `out`.

void AppendOpen(std::string& out, std::string_view domain);
void AppendClose(std::string& out);
/// XEP-0077 in-band registration (before authentication), iq id "reg".
void AppendRegister(std::string& out, std::string_view user, std::string_view password);
void AppendAuthPlain(std::string& out, std::string_view user, std::string_view password);
/// Resource binding, iq id "bind".
void AppendBind(std::string& out, std::string_view resource);
/// RFC 3921 session, iq id "sess".
void AppendSession(std::string& out);
void AppendSmEnable(std::string& out);
void AppendSmRequest(std::string& out);
void AppendSmAnswer(std::string& out, uint32_t h);
/// Initial presence (available, to the server).
void AppendPresence(std::string& out);
/// Joins a MUC room as `nick`, asking for no history (XEP-0045 7.2.14).
void AppendJoin(std::string& out, std::string_view room_jid, std::string_view nick);
/// Submits the owner's room configuration (XEP-0045 10.1.3): persistent, so that the room
/// outlives its creator's connection; this also unlocks a room locked at creation. iq id "cfg".
void AppendRoomConfig(std::string& out, std::string_view room_jid);
/// A chat (or, with `groupchat`, a MUC) message whose body is `stamp`, a space, and as much of
/// `pad` as makes the body pad.size() bytes long (at least the stamp and the space), the body
/// Parley's workloads send.
void AppendMessage(std::string& out, std::string_view to, bool groupchat, uint64_t id,
                   int64_t stamp, std::string_view pad);
/// An empty result to an iq the server sent us (e.g. a ping).
void AppendIqResult(std::string& out, std::string_view id, std::string_view to);

}  // namespace parley::bench::xmpp
