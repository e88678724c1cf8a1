#include "xmpp_codec.h"

#include <charconv>

#include "base64.h"

namespace parley::bench::xmpp {
namespace {

constexpr std::string_view kClient = "jabber:client";
constexpr std::string_view kSm = "urn:xmpp:sm:3";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool EndsName(char c) { return IsSpace(c) || c == '/' || c == '>'; }

/// The element name that starts after the '<' at `at`.
std::string_view NameAt(std::string_view frame, size_t at) {
  size_t end = at + 1;
  while (end < frame.size() && !EndsName(frame[end])) ++end;
  return frame.substr(at + 1, end - at - 1);
}

/// The position of the '<' of the first element called `name` (not a closing tag), or npos.
size_t FindElement(std::string_view frame, std::string_view name, size_t from = 0) {
  for (size_t at = frame.find(name, from); at != std::string_view::npos;
       at = frame.find(name, at + 1)) {
    const size_t after = at + name.size();
    if (at > 0 && frame[at - 1] == '<' && after < frame.size() && EndsName(frame[after]))
      return at - 1;
  }
  return std::string_view::npos;
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendSigned(std::string& out, int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace

Kind Classify(std::string_view frame) {
  size_t at = 0;
  while (at < frame.size() && IsSpace(frame[at])) ++at;
  if (at >= frame.size() || frame[at] != '<') return Kind::kUnknown;
  const std::string_view name = NameAt(frame, at);
  // The hot ones first.
  if (name == "message") return Kind::kMessage;
  if (name == "r") return Kind::kSmRequest;
  if (name == "a") return Kind::kSmAnswer;
  if (name == "presence") return Kind::kPresence;
  if (name == "iq") return Kind::kIq;
  if (name == "open") return Kind::kOpen;
  if (name == "stream:features" || name == "features") return Kind::kFeatures;
  if (name == "success") return Kind::kSuccess;
  if (name == "failure") return Kind::kFailure;
  if (name == "enabled") return Kind::kSmEnabled;
  if (name == "failed") return Kind::kSmFailed;
  if (name == "close") return Kind::kClose;
  if (name == "stream:error" || name == "error") return Kind::kStreamError;
  return Kind::kUnknown;
}

std::string_view AttrAt(std::string_view frame, size_t at, std::string_view name) {
  if (at >= frame.size() || frame[at] != '<') return {};
  size_t i = at + 1 + NameAt(frame, at).size();
  const size_t n = frame.size();
  for (;;) {
    while (i < n && IsSpace(frame[i])) ++i;
    if (i >= n || frame[i] == '>' || frame[i] == '/') return {};
    const size_t name_start = i;
    while (i < n && frame[i] != '=' && !IsSpace(frame[i]) && frame[i] != '>') ++i;
    const std::string_view attr = frame.substr(name_start, i - name_start);
    while (i < n && IsSpace(frame[i])) ++i;
    if (i >= n || frame[i] != '=') return {};  // malformed: stop rather than guess
    ++i;
    while (i < n && IsSpace(frame[i])) ++i;
    if (i >= n || (frame[i] != '\'' && frame[i] != '"')) return {};
    const char quote = frame[i++];
    const size_t end = frame.find(quote, i);
    if (end == std::string_view::npos) return {};
    if (attr == name) return frame.substr(i, end - i);
    i = end + 1;
  }
}

std::string_view Attr(std::string_view frame, std::string_view name) {
  const size_t at = frame.find('<');
  return at == std::string_view::npos ? std::string_view() : AttrAt(frame, at, name);
}

std::string_view ChildText(std::string_view frame, std::string_view name) {
  const size_t at = FindElement(frame, name);
  if (at == std::string_view::npos) return {};
  const size_t tag_end = frame.find('>', at);
  if (tag_end == std::string_view::npos || frame[tag_end - 1] == '/') return {};
  const size_t end = frame.find('<', tag_end + 1);
  if (end == std::string_view::npos) return {};
  return frame.substr(tag_end + 1, end - tag_end - 1);
}

std::string_view ErrorCondition(std::string_view frame) {
  size_t at = FindElement(frame, "error");
  if (at == std::string_view::npos) {
    // <failure> and <stream:error> carry the condition as their own first child.
    at = frame.find('<');
    if (at == std::string_view::npos) return {};
  }
  const size_t tag_end = frame.find('>', at);
  if (tag_end == std::string_view::npos || frame[tag_end - 1] == '/') return {};
  const size_t child = frame.find('<', tag_end + 1);
  if (child == std::string_view::npos || child + 1 >= frame.size() || frame[child + 1] == '/')
    return {};
  return NameAt(frame, child);
}

bool HasStatus(std::string_view frame, std::string_view code) {
  constexpr std::string_view kStatus = "status";
  for (size_t at = FindElement(frame, kStatus); at != std::string_view::npos;
       at = FindElement(frame, kStatus, at + 1 + kStatus.size())) {
    if (AttrAt(frame, at, "code") == code) return true;
  }
  return false;
}

std::string_view Resource(std::string_view jid) {
  const size_t slash = jid.find('/');
  return slash == std::string_view::npos ? std::string_view() : jid.substr(slash + 1);
}

bool HasFeature(std::string_view features, std::string_view ns) {
  for (size_t at = features.find(ns); at != std::string_view::npos;
       at = features.find(ns, at + 1)) {
    const size_t after = at + ns.size();
    if (at > 0 && after < features.size() &&
        (features[at - 1] == '\'' || features[at - 1] == '"') &&
        features[after] == features[at - 1])
      return true;
  }
  return false;
}

bool SessionRequired(std::string_view features) {
  const size_t at = FindElement(features, "session");
  if (at == std::string_view::npos) return false;
  const size_t tag_end = features.find('>', at);
  if (tag_end == std::string_view::npos) return false;
  if (features[tag_end - 1] == '/') return true;  // <session xmlns=.../>: no <optional/> in it
  const size_t close = features.find("</session>", tag_end);
  const size_t optional = FindElement(features, "optional", tag_end);
  return optional == std::string_view::npos || optional > close;
}

bool ParseH(std::string_view frame, uint32_t& h) {
  const std::string_view v = Attr(frame, "h");
  return !v.empty() && std::from_chars(v.data(), v.data() + v.size(), h).ec == std::errc();
}

bool BodyStamp(std::string_view frame, int64_t& stamp) {
  const std::string_view body = ChildText(frame, "body");
  return !body.empty() &&
         std::from_chars(body.data(), body.data() + body.size(), stamp).ec == std::errc();
}

std::string PlainCredentials(std::string_view user, std::string_view password) {
  std::string raw;
  raw.reserve(user.size() + password.size() + 2);
  raw.push_back('\0');
  raw.append(user);
  raw.push_back('\0');
  raw.append(password);
  return Base64(raw);
}

void AppendOpen(std::string& out, std::string_view domain) {
  out.append("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='")
      .append(domain)
      .append("' version='1.0'/>");
}

void AppendClose(std::string& out) {
  out.append("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
}

void AppendRegister(std::string& out, std::string_view user, std::string_view password) {
  out.append("<iq xmlns='")
      .append(kClient)
      .append("' type='set' id='reg'><query xmlns='jabber:iq:register'><username>")
      .append(user)
      .append("</username><password>")
      .append(password)
      .append("</password></query></iq>");
}

void AppendAuthPlain(std::string& out, std::string_view user, std::string_view password) {
  out.append("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>")
      .append(PlainCredentials(user, password))
      .append("</auth>");
}

void AppendBind(std::string& out, std::string_view resource) {
  out.append("<iq xmlns='")
      .append(kClient)
      .append("' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>")
      .append(resource)
      .append("</resource></bind></iq>");
}

void AppendSession(std::string& out) {
  out.append("<iq xmlns='")
      .append(kClient)
      .append("' type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
}

void AppendSmEnable(std::string& out) { out.append("<enable xmlns='").append(kSm).append("'/>"); }

void AppendSmRequest(std::string& out) { out.append("<r xmlns='").append(kSm).append("'/>"); }

void AppendSmAnswer(std::string& out, uint32_t h) {
  out.append("<a xmlns='").append(kSm).append("' h='");
  AppendNumber(out, h);
  out.append("'/>");
}

void AppendPresence(std::string& out) {
  out.append("<presence xmlns='").append(kClient).append("'/>");
}

void AppendJoin(std::string& out, std::string_view room_jid, std::string_view nick) {
  out.append("<presence xmlns='")
      .append(kClient)
      .append("' to='")
      .append(room_jid)
      .append("/")
      .append(nick)
      .append(
          "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>");
}

void AppendRoomConfig(std::string& out, std::string_view room_jid) {
  out.append("<iq xmlns='")
      .append(kClient)
      .append("' type='set' id='cfg' to='")
      .append(room_jid)
      .append(
          "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' "
          "type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/"
          "muc#roomconfig</value></field><field "
          "var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>");
}

void AppendMessage(std::string& out, std::string_view to, bool groupchat, uint64_t id,
                   int64_t stamp, std::string_view pad) {
  out.append("<message xmlns='")
      .append(kClient)
      .append("' to='")
      .append(to)
      .append(groupchat ? "' type='groupchat' id='" : "' type='chat' id='");
  AppendNumber(out, id);
  out.append("'><body>");
  const size_t body_start = out.size();
  AppendSigned(out, stamp);
  out.push_back(' ');
  const size_t used = out.size() - body_start;
  if (used < pad.size()) out.append(pad, 0, pad.size() - used);
  out.append("</body></message>");
}

void AppendIqResult(std::string& out, std::string_view id, std::string_view to) {
  out.append("<iq xmlns='").append(kClient).append("' type='result' id='").append(id);
  if (!to.empty()) out.append("' to='").append(to);
  out.append("'/>");
}

}  // namespace parley::bench::xmpp
