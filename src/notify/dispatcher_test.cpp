#include "notify/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <future>

#include "notify/sqlite/sqlite_job_queue.h"
#include "notify/test_dir.h"

namespace parley {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kBase = 1'000;
constexpr int64_t kMax = 60'000;

TEST(NotifyBackoffTest, FullJitterStaysWithinTheDoublingCap) {
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const int64_t cap = std::min<int64_t>(kMax, kBase << (attempt - 1));
    int64_t lowest = cap;
    int64_t highest = 0;
    for (int i = 0; i < 2000; ++i) {
      const int64_t b = BackoffMs(attempt, kBase, kMax, rng);
      ASSERT_GE(b, 0);
      ASSERT_LE(b, cap) << "attempt " << attempt;
      lowest = std::min(lowest, b);
      highest = std::max(highest, b);
    }
    // Spread over the whole range, not stuck near one end.
    EXPECT_LT(lowest, cap / 10) << "attempt " << attempt;
    EXPECT_GT(highest, cap * 9 / 10) << "attempt " << attempt;
  }
}

TEST(NotifyBackoffTest, HugeAttemptCountsDoNotOverflow) {
  std::mt19937_64 rng(1);
  EXPECT_LE(BackoffMs(1'000'000, kBase, kMax, rng), kMax);
  EXPECT_EQ(BackoffMs(3, 0, 0, rng), 0);
}

class NotifyDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto queue = SqliteJobQueue::Open(dir_.File("parley.db"), sqlite::Durability::kOff);
    ASSERT_TRUE(queue.ok());
    queue_ = std::move(*queue);
    DispatcherOptions options;
    options.workers = 1;
    options.max_attempts = 3;
    options.retry_base_ms = kBase;
    options.retry_max_ms = kMax;
    options.visibility_timeout_ms = 30'000;
    dispatcher_ = std::make_unique<Dispatcher>(*queue_, clock_, metrics_, options);
    dispatcher_->Register("test", [this](const Job& job) {
      attempts_.push_back(job);
      if (outcomes_.empty()) return Delivery{DeliveryOutcome::kDelivered, ""};
      Delivery d = outcomes_.front();
      outcomes_.pop_front();
      return d;
    });
  }

  void Add(std::string kind = "test") {
    ASSERT_TRUE(queue_->Enqueue({{std::move(kind), "{}", clock_.NowMs()}}).ok());
  }

  std::string Metrics() {
    dispatcher_->RefreshGauges();
    return metrics_.Render();
  }

  testing_support::ScratchDir dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteJobQueue> queue_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::deque<Delivery> outcomes_;
  std::vector<Job> attempts_;
};

TEST_F(NotifyDispatcherTest, ADeliveredJobIsCompletedAndCounted) {
  Add();
  EXPECT_EQ(dispatcher_->RunOnce(10), 1);
  EXPECT_EQ(dispatcher_->RunOnce(10), 0);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("parley_notify_sent_total 1"));
  EXPECT_THAT(text, HasSubstr("parley_notify_jobs{state=\"queued\"} 0"));
}

TEST_F(NotifyDispatcherTest, AFailedAttemptIsRetriedAfterABackoffWithinBounds) {
  outcomes_ = {{DeliveryOutcome::kRetry, "HTTP 500"}};
  Add();
  ASSERT_EQ(dispatcher_->RunOnce(10), 1);

  // Due within [now, now + base]; never before now.
  const int64_t next = **queue_->NextRunAt();
  EXPECT_GE(next, clock_.NowMs());
  EXPECT_LE(next, clock_.NowMs() + kBase);
  EXPECT_THAT(Metrics(), HasSubstr("parley_notify_retried_total 1"));

  clock_.Set(next);
  ASSERT_EQ(dispatcher_->RunOnce(10), 1);
  ASSERT_EQ(attempts_.size(), 2u);
  EXPECT_EQ(attempts_[1].attempts, 2);
  EXPECT_THAT(Metrics(), HasSubstr("parley_notify_sent_total 1"));
}

TEST_F(NotifyDispatcherTest, AJobThatKeepsFailingGoesDeadAfterMaxAttempts) {
  outcomes_ = {{DeliveryOutcome::kRetry, "a"},
               {DeliveryOutcome::kRetry, "b"},
               {DeliveryOutcome::kRetry, "c"}};
  Add();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(dispatcher_->RunOnce(10), 1) << i;
    if (auto next = queue_->NextRunAt(); next.ok() && next->has_value()) clock_.Set(**next);
  }
  EXPECT_EQ(dispatcher_->RunOnce(10), 0);
  EXPECT_EQ(queue_->Counts()->dead, 1);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("parley_notify_retried_total 2"));
  EXPECT_THAT(text, HasSubstr("parley_notify_dead_total 1"));
  EXPECT_THAT(text, HasSubstr("parley_notify_jobs{state=\"dead\"} 1"));
}

TEST_F(NotifyDispatcherTest, APermanentFailureGoesDeadAtOnce) {
  outcomes_ = {{DeliveryOutcome::kFailed, "HTTP 400"}};
  Add();
  ASSERT_EQ(dispatcher_->RunOnce(10), 1);
  EXPECT_EQ(queue_->Counts()->dead, 1);
  EXPECT_EQ(attempts_.size(), 1u);
}

TEST_F(NotifyDispatcherTest, ASkippedJobIsCompletedWithoutCountingASend) {
  outcomes_ = {{DeliveryOutcome::kSkipped, "read"}};
  Add();
  ASSERT_EQ(dispatcher_->RunOnce(10), 1);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("parley_notify_skipped_total 1"));
  EXPECT_THAT(text, HasSubstr("parley_notify_sent_total 0"));
  EXPECT_FALSE(queue_->NextRunAt()->has_value());
}

TEST_F(NotifyDispatcherTest, AnUnknownKindGoesDead) {
  Add("carrier-pigeon");
  ASSERT_EQ(dispatcher_->RunOnce(10), 1);
  EXPECT_EQ(queue_->Counts()->dead, 1);
}

// Workers sleep until woken: a job enqueued after Start is delivered without polling.
TEST_F(NotifyDispatcherTest, WorkersDeliverWhatIsEnqueuedAfterStart) {
  std::promise<void> delivered;
  dispatcher_->Register("signal", [&](const Job&) {
    delivered.set_value();
    return Delivery{DeliveryOutcome::kDelivered, ""};
  });
  dispatcher_->Start();
  Add("signal");
  dispatcher_->Wake();
  EXPECT_EQ(delivered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  dispatcher_->Stop();
}

}  // namespace
}  // namespace parley
