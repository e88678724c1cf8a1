#include "common/text_rules.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

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

}  // namespace
}  // namespace parley
