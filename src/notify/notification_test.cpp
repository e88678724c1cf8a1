#include "notify/notification.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(NotificationTest, PreviewKeepsShortBodiesAndCutsLongOnesAtACharacter) {
  EXPECT_EQ(Preview("hi"), "hi");
  const std::string exact(kMaxPreviewBytes, 'a');
  EXPECT_EQ(Preview(exact), exact);
  // "é" is two bytes: a cut must never split one.
  std::string accents;
  while (accents.size() < 2 * kMaxPreviewBytes) accents += "\xC3\xA9";
  const std::string cut = Preview(accents);
  EXPECT_LE(cut.size(), kMaxPreviewBytes);
  EXPECT_EQ(cut.substr(cut.size() - 3), "\xE2\x80\xA6");
  EXPECT_EQ((cut.size() - 3) % 2, 0u);
}

TEST(NotificationTest, TargetRoundTripsThroughItsJsonPayload) {
  NotifyTarget t{.user_id = "u_b",
                 .conv_id = "c_1",
                 .conv_type = "direct",
                 .title = "",
                 .sender = "u_a",
                 .seq = 9,
                 .ts = 123,
                 .mention = true,
                 .endpoint = "https://x/y"};
  Result<NotifyTarget> back = NotifyTarget::FromJson(t.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->user_id, "u_b");
  EXPECT_EQ(back->conv_id, "c_1");
  EXPECT_EQ(back->seq, 9);
  EXPECT_EQ(back->ts, 123);
  EXPECT_TRUE(back->mention);
  EXPECT_EQ(back->endpoint, "https://x/y");
  EXPECT_FALSE(NotifyTarget::FromJson("[1]").ok());
  EXPECT_FALSE(NotifyTarget::FromJson(R"({"user_id":"u"})").ok());
}

}  // namespace
}  // namespace parley
