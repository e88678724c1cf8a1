// The XMPP stanza codec of the peer benchmarks, on frames as ejabberd 23.01 and Prosody 0.12
// send them (captured from both); no server needed.
#include "xmpp_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::bench::xmpp {
namespace {

// ejabberd quotes with ', puts xmlns first and adds <archived>/<stanza-id> to messages.
constexpr std::string_view kEjFeaturesAfterAuth =
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session "
    "xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><sm "
    "xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>";
constexpr std::string_view kEjChat =
    "<message xmlns='jabber:client' xml:lang='en' to='u1@localhost' from='u0@localhost/r0' "
    "type='chat' id='7'><archived by='u1@localhost' id='1795841720383333' "
    "xmlns='urn:xmpp:mam:tmp'/><stanza-id by='u1@localhost' id='1795841720383333' "
    "xmlns='urn:xmpp:sid:0'/><body>1234567 xxxx</body></message>";
constexpr std::string_view kEjSelfOccupant =
    "<presence xmlns='jabber:client' xml:lang='en' to='ua@localhost/b' "
    "from='r1@conference.localhost/a'><x xmlns='http://jabber.org/protocol/muc#user'><item "
    "jid='ua@localhost/b' role='moderator' affiliation='owner'/><status code='201'/><status "
    "code='110'/></x></presence>";

// Prosody puts xmlns last, and omits `to` on the echo of our own presence.
constexpr std::string_view kProsodyFeaturesAfterAuth =
    "<stream:features xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><sm "
    "xmlns='urn:xmpp:sm:2'><optional/></sm><sm xmlns='urn:xmpp:sm:3'><optional/></sm><c "
    "xmlns='http://jabber.org/protocol/caps' node='http://prosody.im' hash='sha-1' "
    "ver='UhbJgnOfx2MiX5uZeyuWrRBXmrU='/><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session "
    "xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver "
    "xmlns='urn:xmpp:features:rosterver'/></stream:features>";
constexpr std::string_view kProsodyJoinError =
    "<presence to='ub@localhost/b' from='r1@conference.localhost/b' xmlns='jabber:client' "
    "type='error'><error by='conference.localhost' type='cancel'><item-not-found "
    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>";
constexpr std::string_view kProsodyGroupchat =
    "<message id='g1' xmlns='jabber:client' to='u1@localhost/b' "
    "from='g100-0@conference.localhost/u0' xml:lang='en' type='groupchat'><body>456 "
    "hi</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='5N5p='/><stanza-id "
    "xmlns='urn:xmpp:sid:0' id='8967' by='g100-0@conference.localhost'/></message>";

TEST(XmppCodecTest, ClassifiesTopLevelElements) {
  EXPECT_EQ(Classify("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='1' version='1.0'/>"),
            Kind::kOpen);
  EXPECT_EQ(Classify(kEjFeaturesAfterAuth), Kind::kFeatures);
  EXPECT_EQ(Classify(kProsodyFeaturesAfterAuth), Kind::kFeatures);
  EXPECT_EQ(Classify("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"), Kind::kSuccess);
  EXPECT_EQ(Classify("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>"
                     "</failure>"),
            Kind::kFailure);
  EXPECT_EQ(Classify(kEjChat), Kind::kMessage);
  EXPECT_EQ(Classify(kEjSelfOccupant), Kind::kPresence);
  EXPECT_EQ(Classify("<iq xmlns='jabber:client' id='reg' type='result'/>"), Kind::kIq);
  EXPECT_EQ(Classify("<enabled xmlns='urn:xmpp:sm:3'/>"), Kind::kSmEnabled);
  EXPECT_EQ(Classify("<failed xmlns='urn:xmpp:sm:3'/>"), Kind::kSmFailed);
  EXPECT_EQ(Classify("<r xmlns='urn:xmpp:sm:3'/>"), Kind::kSmRequest);
  EXPECT_EQ(Classify("<a xmlns='urn:xmpp:sm:3' h='4'/>"), Kind::kSmAnswer);
  EXPECT_EQ(Classify("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"), Kind::kClose);
  EXPECT_EQ(Classify("<stream:error><host-unknown/></stream:error>"), Kind::kStreamError);
  EXPECT_EQ(Classify("\n<message/>"), Kind::kMessage);
  EXPECT_EQ(Classify("<messages/>"), Kind::kUnknown);
  EXPECT_EQ(Classify(""), Kind::kUnknown);
  EXPECT_EQ(Classify("text"), Kind::kUnknown);
  EXPECT_TRUE(IsStanza(Kind::kIq));
  EXPECT_FALSE(IsStanza(Kind::kSmAnswer));
}

TEST(XmppCodecTest, ReadsTopLevelAttributesInEitherQuoteStyle) {
  EXPECT_EQ(Attr(kEjChat, "type"), "chat");
  EXPECT_EQ(Attr(kEjChat, "from"), "u0@localhost/r0");
  EXPECT_EQ(Attr(kEjChat, "id"), "7");   // the message's, not <archived>'s
  EXPECT_EQ(Attr(kEjChat, "lang"), "");  // only whole names: xml:lang is another
  EXPECT_EQ(Attr(kEjChat, "xml:lang"), "en");
  EXPECT_EQ(Attr(kEjChat, "by"), "");  // a child's attribute is not the stanza's
  EXPECT_EQ(Attr("<a h=\"12\" xmlns=\"urn:xmpp:sm:3\"/>", "h"), "12");
  EXPECT_EQ(Attr("<iq type = 'result' id='x'>", "id"), "x");
  EXPECT_EQ(Attr("<iq type='res", "type"), "");  // unterminated
  EXPECT_EQ(Attr("<iq type>", "type"), "");
  EXPECT_EQ(Attr("", "type"), "");
  const std::string_view nested = "<x><status code='110'/></x>";
  EXPECT_EQ(AttrAt(nested, 3, "code"), "110");
}

TEST(XmppCodecTest, ReadsChildTextAndBodyStamp) {
  EXPECT_EQ(ChildText(kEjChat, "body"), "1234567 xxxx");
  int64_t stamp = 0;
  ASSERT_TRUE(BodyStamp(kEjChat, stamp));
  EXPECT_EQ(stamp, 1234567);
  ASSERT_TRUE(BodyStamp(kProsodyGroupchat, stamp));
  EXPECT_EQ(stamp, 456);
  EXPECT_FALSE(BodyStamp("<message type='groupchat'><subject/></message>", stamp));
  EXPECT_FALSE(BodyStamp("<message><body/></message>", stamp));
  EXPECT_FALSE(BodyStamp("<message><body>hello</body></message>", stamp));
  EXPECT_EQ(ChildText("<message><tbody>1</tbody><body xml:lang='en'>2</body></message>", "body"),
            "2");
  EXPECT_EQ(ChildText("<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                      "<jid>u1@localhost/r3</jid></bind></iq>",
                      "jid"),
            "u1@localhost/r3");
}

TEST(XmppCodecTest, ReadsErrorConditions) {
  EXPECT_EQ(ErrorCondition(kProsodyJoinError), "item-not-found");
  EXPECT_EQ(ErrorCondition("<iq type='error' id='reg'><query xmlns='jabber:iq:register'/><error "
                           "code='409' type='cancel'><conflict "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"),
            "conflict");
  EXPECT_EQ(ErrorCondition("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>"
                           "</failure>"),
            "not-authorized");
  EXPECT_EQ(ErrorCondition("<stream:error><policy-violation "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"),
            "policy-violation");
  EXPECT_EQ(ErrorCondition("<iq type='result' id='x'/>"), "");
  EXPECT_EQ(ErrorCondition("<message><error type='cancel'></error></message>"), "");
}

TEST(XmppCodecTest, MucStatusAndResource) {
  EXPECT_TRUE(HasStatus(kEjSelfOccupant, "110"));
  EXPECT_TRUE(HasStatus(kEjSelfOccupant, "201"));
  EXPECT_FALSE(HasStatus(kEjSelfOccupant, "100"));
  EXPECT_FALSE(HasStatus(kProsodyJoinError, "110"));
  EXPECT_EQ(Resource(Attr(kEjSelfOccupant, "from")), "a");
  EXPECT_EQ(Resource(Attr(kProsodyGroupchat, "from")), "u0");
  EXPECT_EQ(Resource("r1@conference.localhost"), "");
}

TEST(XmppCodecTest, ReadsStreamFeatures) {
  EXPECT_TRUE(HasFeature(kEjFeaturesAfterAuth, "urn:xmpp:sm:3"));
  EXPECT_TRUE(HasFeature(kProsodyFeaturesAfterAuth, "urn:xmpp:sm:3"));
  EXPECT_FALSE(HasFeature(kEjFeaturesAfterAuth, "urn:xmpp:sm"));  // a prefix is not the name
  EXPECT_FALSE(HasFeature("<stream:features/>", "urn:xmpp:sm:3"));
  EXPECT_FALSE(SessionRequired(kEjFeaturesAfterAuth));
  EXPECT_FALSE(SessionRequired(kProsodyFeaturesAfterAuth));
  EXPECT_TRUE(
      SessionRequired("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session "
                      "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>"));
  EXPECT_TRUE(SessionRequired(
      "<stream:features><session xmlns='urn:ietf:params:xml:ns:xmpp-session'></session><c "
      "xmlns='x'><optional/></c></stream:features>"));
}

TEST(XmppCodecTest, ParsesStreamManagementAnswers) {
  uint32_t h = 0;
  ASSERT_TRUE(ParseH("<a xmlns='urn:xmpp:sm:3' h='4'/>", h));
  EXPECT_EQ(h, 4u);
  ASSERT_TRUE(ParseH("<a h='4294967295' xmlns='urn:xmpp:sm:3'/>", h));
  EXPECT_EQ(h, 4294967295u);
  EXPECT_FALSE(ParseH("<a xmlns='urn:xmpp:sm:3'/>", h));
  EXPECT_FALSE(ParseH("<a h='x'/>", h));
}

TEST(XmppCodecTest, BuildsWhatTheServersAccept) {
  EXPECT_EQ(PlainCredentials("u1", "pw"), "AHUxAHB3");  // base64("\0u1\0pw")
  EXPECT_EQ(PlainCredentials("u10", "pw"), "AHUxMABwdw==");
  std::string out;
  AppendOpen(out, "localhost");
  EXPECT_EQ(out,
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
  out.clear();
  AppendAuthPlain(out, "u1", "pw");
  EXPECT_EQ(out,
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHUxAHB3</auth>");
  out.clear();
  AppendSmAnswer(out, 42);
  EXPECT_EQ(out, "<a xmlns='urn:xmpp:sm:3' h='42'/>");
  EXPECT_EQ(Classify(out), Kind::kSmAnswer);
  uint32_t h = 0;
  ASSERT_TRUE(ParseH(out, h));
  EXPECT_EQ(h, 42u);

  // Every stanza carries jabber:client (Prosody refuses stanzas without it over WebSocket).
  for (auto build :
       {+[](std::string& o) { AppendPresence(o); }, +[](std::string& o) { AppendBind(o, "r1"); },
        +[](std::string& o) { AppendSession(o); },
        +[](std::string& o) { AppendRegister(o, "u1", "pw"); },
        +[](std::string& o) { AppendJoin(o, "g100-0@conference.localhost", "u1"); },
        +[](std::string& o) { AppendRoomConfig(o, "g100-0@conference.localhost"); },
        +[](std::string& o) { AppendIqResult(o, "p1", "localhost"); }}) {
    out.clear();
    build(out);
    EXPECT_TRUE(IsStanza(Classify(out))) << out;
    EXPECT_EQ(Attr(out, "xmlns"), "jabber:client") << out;
  }
  out.clear();
  AppendJoin(out, "g100-0@conference.localhost", "u1");
  EXPECT_EQ(Attr(out, "to"), "g100-0@conference.localhost/u1");
  EXPECT_NE(out.find("<history maxstanzas='0'/>"), std::string::npos);
  out.clear();
  AppendBind(out, "r7");
  EXPECT_EQ(ChildText(out, "resource"), "r7");
  EXPECT_EQ(Attr(out, "id"), "bind");
}

TEST(XmppCodecTest, MessagesCarryTheStampAndTheBodySize) {
  const std::string pad(100, 'x');
  std::string out;
  AppendMessage(out, "u1@localhost", false, 9, 123456789, pad);
  EXPECT_EQ(Classify(out), Kind::kMessage);
  EXPECT_EQ(Attr(out, "to"), "u1@localhost");
  EXPECT_EQ(Attr(out, "type"), "chat");
  EXPECT_EQ(Attr(out, "id"), "9");
  EXPECT_EQ(ChildText(out, "body").size(), 100u);
  int64_t stamp = 0;
  ASSERT_TRUE(BodyStamp(out, stamp));
  EXPECT_EQ(stamp, 123456789);

  out.clear();
  AppendMessage(out, "g100-3@conference.localhost", true, 0, 1, "");
  EXPECT_EQ(Attr(out, "type"), "groupchat");
  EXPECT_EQ(ChildText(out, "body"), "1 ");  // never shorter than the stamp and its space
  // Appends: what was there stays.
  AppendMessage(out, "u2@localhost", false, 1, 2, pad);
  EXPECT_EQ(Attr(out, "to"), "g100-3@conference.localhost");
}

}  // namespace
}  // namespace parley::bench::xmpp
