#include "common/text_rules.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

namespace parley {
namespace {

std::string Utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

TEST(TextRulesTest, LabelsAreBoundedUtf8WithoutControlCharacters) {
  EXPECT_TRUE(CheckLabel("", 8, "title").ok());
  EXPECT_TRUE(CheckLabel("Caf\xC3\xA9 \xF0\x9F\x8D\xB5", 16, "title").ok());
  EXPECT_EQ(CheckLabel("123456789", 8, "title").error().message,
            "title must be valid UTF-8 of at most 8 bytes");
  EXPECT_EQ(CheckLabel("bad \xC3", 8, "title").error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(CheckLabel("a\nb", 8, "title").error().message,
            "title must not contain control characters");
  EXPECT_FALSE(CheckLabel("a\x7F", 8, "title").ok());
}

TEST(TextRulesTest, EveryControlCharacterIsRefusedC0DelAndC1) {
  for (char32_t cp = 0; cp < 0x20; ++cp) {
    EXPECT_FALSE(CheckLabel("a" + Utf8(cp) + "b", 64, "title").ok())
        << std::hex << static_cast<uint32_t>(cp);
  }
  for (char32_t cp = 0x7F; cp <= 0x9F; ++cp) {
    Status s = CheckLabel("a" + Utf8(cp) + "b", 64, "display_name");
    ASSERT_FALSE(s.ok()) << std::hex << static_cast<uint32_t>(cp);
    EXPECT_EQ(s.error().message, "display_name must not contain control characters");
  }
}

TEST(TextRulesTest, EveryBidiControlIsRefusedNamingIt) {
  const std::set<char32_t> bidi = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C,
                                   0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069};
  for (char32_t cp : bidi) {
    Status s = CheckLabel("alice" + Utf8(cp) + "gpj.exe", 64, "display_name");
    ASSERT_FALSE(s.ok()) << std::hex << static_cast<uint32_t>(cp);
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidRequest);
    EXPECT_NE(s.error().message.find("bidirectional"), std::string::npos) << s.error().message;
  }
  EXPECT_EQ(CheckLabel("x\u202Ey", 64, "title").error().message,
            "title must not contain bidirectional control characters (U+202E)");
}

TEST(TextRulesTest, EveryInvisibleCharacterIsRefused) {
  std::set<char32_t> invisible = {0x00AD, 0x034F, 0x115F,  0x1160,  0x17B4, 0x17B5, 0x180E,
                                  0x200B, 0x200C, 0x200D,  0x2028,  0x2029, 0x2060, 0x2061,
                                  0x2062, 0x2063, 0x2064,  0x3164,  0xFFA0, 0xFEFF, 0xFFF9,
                                  0xFFFA, 0xFFFB, 0xE0001, 0xE0020, 0xE007F};
  for (char32_t cp = 0x206A; cp <= 0x206F; ++cp) invisible.insert(cp);
  for (char32_t cp : invisible) {
    Status s = CheckLabel("al" + Utf8(cp) + "ice", 64, "display_name");
    ASSERT_FALSE(s.ok()) << std::hex << static_cast<uint32_t>(cp);
    EXPECT_NE(s.error().message.find("invisible"), std::string::npos) << s.error().message;
  }
  // Alone, at the start and at the end too.
  EXPECT_FALSE(CheckLabel("\u200B", 64, "title").ok());
  EXPECT_FALSE(CheckLabel("\uFEFFalice", 64, "title").ok());
  EXPECT_FALSE(CheckLabel("alice\u2060", 64, "title").ok());
}

TEST(TextRulesTest, VariationSelectorsOnlyAfterAVisibleCharacter) {
  for (char32_t cp : {char32_t{0xFE00}, char32_t{0xFE0E}, char32_t{0xFE0F}, char32_t{0xE0100},
                      char32_t{0xE01EF}, char32_t{0x180B}}) {
    EXPECT_FALSE(CheckLabel(Utf8(cp), 64, "title").ok())
        << std::hex << static_cast<uint32_t>(cp);  // alone
    EXPECT_FALSE(CheckLabel("a " + Utf8(cp), 64, "title").ok())
        << std::hex << static_cast<uint32_t>(cp);  // after space
    EXPECT_FALSE(CheckLabel("a" + Utf8(cp) + Utf8(cp), 64, "title").ok())
        << std::hex << static_cast<uint32_t>(cp);
    EXPECT_TRUE(CheckLabel("a" + Utf8(cp), 64, "title").ok())
        << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_TRUE(CheckLabel("\u2764\uFE0F team", 64, "title").ok());  // red heart
}

TEST(TextRulesTest, ZeroWidthJoinerOnlyInsideEmojiSequences) {
  // man + ZWJ + woman + ZWJ + girl, and heart-on-fire (with U+FE0F before the ZWJ).
  EXPECT_TRUE(CheckLabel("\U0001F468\u200D\U0001F469\u200D\U0001F467", 64, "title").ok());
  EXPECT_TRUE(CheckLabel("\u2764\uFE0F\u200D\U0001F525", 64, "title").ok());
  EXPECT_FALSE(CheckLabel("ali\u200Dce", 64, "title").ok());
  EXPECT_FALSE(CheckLabel("\U0001F468\u200D", 64, "title").ok());
  EXPECT_FALSE(CheckLabel("\u200D\U0001F468", 64, "title").ok());
}

TEST(TextRulesTest, OrdinaryScriptsAndSpacesPass) {
  EXPECT_TRUE(CheckLabel("Jos\u00E9 M\u00FCller", 64, "display_name").ok());
  EXPECT_TRUE(CheckLabel("\u05E9\u05DC\u05D5\u05DD", 64, "display_name").ok());        // Hebrew
  EXPECT_TRUE(CheckLabel("\u0645\u0631\u062D\u0628\u0627", 64, "display_name").ok());  // Arabic
  EXPECT_TRUE(CheckLabel("\u5F20\u4F1F", 64, "display_name").ok());
  EXPECT_TRUE(CheckLabel("Team \U0001F680", 64, "title").ok());
  EXPECT_TRUE(CheckVisibleText("in a meeting", "text").ok());
  EXPECT_FALSE(CheckVisibleText("in a \u202Emeeting", "text").ok());
}

TEST(TextRulesTest, FoldingForUsernamesCatchesCaseFullwidthAndAt) {
  EXPECT_EQ(FoldForUsername("Alice"), "alice");
  EXPECT_EQ(FoldForUsername("  ALICE "), "alice");
  EXPECT_EQ(FoldForUsername("@alice"), "alice");
  EXPECT_EQ(FoldForUsername("\uFF41\uFF4C\uFF49\uFF43\uFF45"), "alice");  // fullwidth
  EXPECT_EQ(FoldForUsername("\uFF21lice"), "alice");
  EXPECT_EQ(FoldForUsername("Jos\u00E9"), "jos\u00E9");
}

TEST(TextRulesTest, DisplayNameMayNotBeAnotherUsersUsername) {
  auto exists = [](std::string_view name) { return name == "alice" || name == "mallory"; };
  EXPECT_TRUE(CheckNotAnotherUsername("Mallory", "mallory", exists).ok());  // their own
  EXPECT_TRUE(CheckNotAnotherUsername("Mal", "mallory", exists).ok());
  Status s = CheckNotAnotherUsername("ALICE", "mallory", exists);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(s.error().message, "display_name must not be another user's username (\"alice\")");
  EXPECT_FALSE(CheckNotAnotherUsername("@alice", "mallory", exists).ok());
  EXPECT_FALSE(CheckNotAnotherUsername("\uFF41lice", "mallory", exists).ok());
  EXPECT_TRUE(CheckNotAnotherUsername("Alice Smith", "mallory", exists).ok());
}

}  // namespace
}  // namespace parley
