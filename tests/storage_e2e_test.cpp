// End-to-end: what the server keeps on disk (issue 17, defects 8 and 11). Deleted and
// edited-away text leaves every file of the data dir once the scheduled purge has run; a user
// past the daily quota is refused while others still send, across a restart too; with too
// little free disk, writes are refused before SQLite fails; /metrics shows disk use.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// The value of the first /metrics series that starts with `series` (name and labels), if any.
std::optional<double> MetricValue(uint16_t port, const std::string& series) {
  HttpResponse r = HttpClient(port).Get("/metrics", kTestMetricsToken);
  size_t at = 0;
  while ((at = r.body.find(series, at)) != std::string::npos) {
    if (at == 0 || r.body[at - 1] == '\n') {
      const size_t space = r.body.find(' ', at + series.size());
      if (space != std::string::npos && space == at + series.size()) {
        return std::stod(r.body.substr(space + 1, r.body.find('\n', space) - space - 1));
      }
    }
    at += series.size();
  }
  return std::nullopt;
}

// Polls until the metric reaches `at_least`; false after `timeout`.
bool WaitForMetric(uint16_t port, const std::string& series, double at_least,
                   std::chrono::milliseconds timeout = kDefaultTimeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (auto v = MetricValue(port, series); v && *v >= at_least) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval, not sync
  }
  return false;
}

// Every file under `dir` that holds `needle`.
std::vector<std::string> FilesHolding(const std::filesystem::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) out.push_back(entry.path().filename().string());
  }
  return out;
}

TEST(StorageE2eTest, DeletedAndEditedTextLeavesEveryFileAfterTheScheduledPurge) {
  TempDir data;
  ParleydOptions options;
  options.data_dir = data.path();
  options.args = UnlimitedChatArgs({"--purge-interval-ms", "200"});
  ParleydProcess server(options);
  TestUser alice_user(server.Port(), "alice");
  TestUser bob_user(server.Port(), "bob");
  alice_user.Register();
  bob_user.Register();
  ChatClient alice(server.Port(), alice_user);
  const std::string conv = alice.CreateGroup("plans", {bob_user.id()});

  // Unique words: "first" is edited away, "second" deleted. A bystander message stays.
  const std::string first = "qzvfirstword";
  const std::string second = "qzvsecondword";
  ASSERT_THAT(alice.SendMessage(conv, "k1", "meet at the " + first + " tonight"), IsAck());
  ASSERT_THAT(alice.SendMessage(conv, "k2", "qzvkeptword stays"), IsAck());
  ASSERT_EQ(StringField(alice.Edit(conv, 2, "meet at the " + second).json, "type"), "ack");
  ASSERT_EQ(StringField(alice.Delete(conv, 2).json, "type"), "ack");

  // Two removals (the edit's old text, the deleted text), each purged by the schedule.
  const auto start = Clock::now();
  ASSERT_TRUE(WaitForMetric(server.Port(), "parley_store_purged_texts_total", 2))
      << "no purge within the timeout";
  std::cout << "purge done "
            << std::chrono::duration<double, std::milli>(Clock::now() - start).count()
            << " ms after the delete\n";

  EXPECT_THAT(FilesHolding(data.path(), first), ::testing::IsEmpty());
  EXPECT_THAT(FilesHolding(data.path(), second), ::testing::IsEmpty());
  // The check can see text when it is there: the kept message is in the files.
  EXPECT_THAT(FilesHolding(data.path(), "qzvkeptword"), ::testing::Not(::testing::IsEmpty()));
  HttpResponse found = alice.Get("/v1/search?q=qzvkeptword");
  ASSERT_THAT(found, HasStatus(200));
  EXPECT_EQ(found.json.at("results").as_array().size(), 1u);
  EXPECT_TRUE(alice.Get("/v1/search?q=" + second).json.at("results").as_array().empty());
}

TEST(StorageE2eTest, AUserPastTheDailyQuotaIsRefusedWhileOthersStillSend) {
  TempDir data;
  ParleydOptions options;
  options.data_dir = data.path();
  options.args = UnlimitedChatArgs({"--quota-entries-per-day", "5"});
  std::string conv;
  {
    ParleydProcess server(options);
    TestUser alice_user(server.Port(), "alice");
    TestUser bob_user(server.Port(), "bob");
    alice_user.Register();
    bob_user.Register();
    ChatClient alice(server.Port(), alice_user);
    ChatClient bob(server.Port(), bob_user);
    conv = alice.CreateGroup("quota", {bob_user.id()});
    for (int i = 0; i < 5; ++i) {
      ASSERT_THAT(alice.SendMessage(conv, "q" + std::to_string(i), "message"), IsAck());
    }
    WsFrame refused = alice.SendMessage(conv, "q5", "one too many");
    ASSERT_EQ(StringField(refused.json, "type"), "error") << json::serialize(refused.json);
    const json::value& error = refused.json.at("error");
    EXPECT_EQ(StringField(error, "code"), "rate_limited");
    EXPECT_THAT(StringField(error, "message"), HasSubstr("daily quota"));
    EXPECT_GT(error.at("retry_after_ms").as_int64(), 0);
    EXPECT_LE(error.at("retry_after_ms").as_int64(), 86'400'000);
    // Over HTTP too.
    EXPECT_THAT(alice.Post("/v1/conversations/" + conv + "/messages",
                           json::object{{"client_msg_id", "h1"}, {"body", "again"}}),
                IsHttpError(429, "rate_limited"));
    // A reaction is a log entry too.
    WsFrame reaction = alice.React(conv, 2, "+1");
    ASSERT_EQ(StringField(reaction.json, "type"), "error") << json::serialize(reaction.json);
    EXPECT_EQ(StringField(reaction.json.at("error"), "code"), "rate_limited");
    EXPECT_THAT(bob.SendMessage(conv, "b1", "I can still talk"), IsAck());
    EXPECT_EQ(MetricValue(server.Port(), "parley_quota_refused_total"), 3.0);
  }
  // The count is stored: a restart does not hand out a fresh quota.
  ParleydProcess restarted(options);
  TestUser alice_again(restarted.Port(), "alice");
  ChatClient alice(restarted.Port(), alice_again);
  WsFrame still = alice.SendMessage(conv, "q6", "after the restart");
  ASSERT_EQ(StringField(still.json, "type"), "error") << json::serialize(still.json);
  EXPECT_EQ(StringField(still.json.at("error"), "code"), "rate_limited");
}

TEST(StorageE2eTest, LowDiskRefusesWritesButServesReadsAndMetricsShowDiskUse) {
  // A threshold no disk meets: every write command is refused.
  ParleydProcess server(UnlimitedChatArgs({"--min-free-disk-bytes", "18446744073709551615"}));
  TestUser alice_user(server.Port(), "alice");
  alice_user.Register();
  ChatClient alice(server.Port(), alice_user);
  HttpResponse create =
      alice.Post("/v1/conversations",
                 json::object{{"type", "group"}, {"title", "t"}, {"members", json::array{}}});
  EXPECT_THAT(create, IsHttpError(503, "unavailable"));
  EXPECT_THAT(create.json.at("error").at("message").as_string().c_str(), HasSubstr("disk"));
  EXPECT_THAT(alice.Get("/v1/conversations"), HasStatus(200));

  EXPECT_GE(MetricValue(server.Port(), "parley_disk_write_refused_total").value_or(0), 1.0);
  EXPECT_GT(MetricValue(server.Port(), "parley_disk_free_bytes").value_or(0), 0.0);
  EXPECT_GT(MetricValue(server.Port(), "parley_store_file_bytes{file=\"db\"}").value_or(0), 0.0);
  EXPECT_TRUE(MetricValue(server.Port(), "parley_store_file_bytes{file=\"wal\"}").has_value());
}

}  // namespace
}  // namespace parley::e2e
