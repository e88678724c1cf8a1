#include "notify/sqlite/sqlite_job_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "notify/test_dir.h"

namespace parley {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kLease = 60'000;

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { queue_ = Open(); }

  std::unique_ptr<SqliteJobQueue> Open() {
    auto queue = SqliteJobQueue::Open(dir_.File("parley.db"), sqlite::Durability::kOff);
    EXPECT_TRUE(queue.ok()) << queue.error().message;
    return queue.ok() ? std::move(*queue) : nullptr;
  }

  int64_t Add(std::string payload, int64_t run_at = kNow) {
    auto ids = queue_->Enqueue({{"webhook", std::move(payload), run_at}});
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? ids->front() : 0;
  }

  std::vector<Job> Claim(int64_t now, int max = 10) {
    auto jobs = queue_->Claim(now, kLease, max);
    EXPECT_TRUE(jobs.ok()) << jobs.error().message;
    return jobs.ok() ? *jobs : std::vector<Job>{};
  }

  JobCounts Counts() { return *queue_->Counts(); }

  testing_support::ScratchDir dir_;
  std::unique_ptr<SqliteJobQueue> queue_;
};

TEST_F(JobQueueTest, AJobIsClaimedOnceThenCompleted) {
  const int64_t id = Add("p1");

  std::vector<Job> jobs = Claim(kNow);

  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].id, id);
  EXPECT_EQ(jobs[0].kind, "webhook");
  EXPECT_EQ(jobs[0].payload, "p1");
  EXPECT_EQ(jobs[0].attempts, 1);
  EXPECT_NE(jobs[0].lease, 0);
  EXPECT_THAT(Claim(kNow), IsEmpty());  // leased: invisible
  EXPECT_EQ(Counts().in_flight, 1);
  ASSERT_TRUE(queue_->Complete(id, jobs[0].lease).ok());
  EXPECT_EQ(Counts().queued + Counts().in_flight, 0);
  EXPECT_FALSE(queue_->NextRunAt()->has_value());
}

TEST_F(JobQueueTest, NothingIsClaimedBeforeItsRunAtAndDueJobsComeOldestFirst) {
  Add("later", kNow + 500);
  Add("first", kNow - 10);
  Add("second", kNow);

  EXPECT_EQ(**queue_->NextRunAt(), kNow - 10);
  std::vector<Job> jobs = Claim(kNow);

  ASSERT_THAT(jobs, SizeIs(2));
  EXPECT_EQ(jobs[0].payload, "first");
  EXPECT_EQ(jobs[1].payload, "second");
  EXPECT_EQ(Counts().queued, 1);
  EXPECT_THAT(Claim(kNow + 499), IsEmpty());
  EXPECT_THAT(Claim(kNow + 500), SizeIs(1));
}

TEST_F(JobQueueTest, IdsAreNeverReused) {
  const int64_t first = Add("a");
  const Job job = Claim(kNow).at(0);
  ASSERT_TRUE(queue_->Complete(job.id, job.lease).ok());
  queue_ = Open();
  EXPECT_GT(Add("b"), first);
}

TEST_F(JobQueueTest, ClaimTakesAtMostMax) {
  for (int i = 0; i < 5; ++i) Add("p" + std::to_string(i));
  EXPECT_THAT(Claim(kNow, 2), SizeIs(2));
  EXPECT_THAT(Claim(kNow, 0), IsEmpty());
  EXPECT_THAT(Claim(kNow, 10), SizeIs(3));
}

TEST_F(JobQueueTest, AnExpiredLeaseMakesTheJobClaimableAgainAndVoidsTheOldLease) {
  const int64_t id = Add("p");
  const Job first = Claim(kNow).at(0);
  EXPECT_EQ(**queue_->NextRunAt(), kNow + kLease);  // workers wake when the lease expires

  EXPECT_THAT(Claim(kNow + kLease - 1), IsEmpty());
  const std::vector<Job> again = Claim(kNow + kLease);

  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].id, id);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_NE(again[0].lease, first.lease);
  // The first worker comes back late: it can no longer complete, retry or bury the job.
  EXPECT_EQ(queue_->Complete(id, first.lease).error().code, ErrorCode::kConflict);
  EXPECT_EQ(queue_->Retry(id, first.lease, kNow, "late").error().code, ErrorCode::kConflict);
  EXPECT_EQ(queue_->DeadLetter(id, first.lease, kNow, "late").error().code, ErrorCode::kConflict);
  EXPECT_TRUE(queue_->Complete(id, again[0].lease).ok());
}

TEST_F(JobQueueTest, RetryReleasesTheJobUntilItsNextRunAt) {
  const int64_t id = Add("p");
  const Job job = Claim(kNow).at(0);

  ASSERT_TRUE(queue_->Retry(id, job.lease, kNow + 1000, "HTTP 500").ok());

  EXPECT_EQ(Counts().queued, 1);
  EXPECT_EQ(Counts().in_flight, 0);
  EXPECT_EQ(**queue_->NextRunAt(), kNow + 1000);
  EXPECT_THAT(Claim(kNow + 999), IsEmpty());
  const std::vector<Job> again = Claim(kNow + 1000);
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].attempts, 2);
}

TEST_F(JobQueueTest, DeadLetterMovesTheJobToTheDeadTable) {
  const int64_t id = Add("p");
  Add("other", kNow + 1000);
  const Job job = Claim(kNow).at(0);

  ASSERT_TRUE(queue_->DeadLetter(id, job.lease, kNow, "HTTP 400").ok());

  EXPECT_EQ(Counts().dead, 1);
  EXPECT_EQ(Counts().queued, 1);
  EXPECT_EQ(Counts().in_flight, 0);
  EXPECT_THAT(Claim(kNow + 10'000), SizeIs(1));  // only "other"
}

TEST_F(JobQueueTest, JobsSurviveReopeningAndLeasesOfADeadProcessExpire) {
  Add("claimed");
  Add("unclaimed");
  ASSERT_THAT(Claim(kNow, 1), SizeIs(1));  // "claimed" is leased, then the process dies
  queue_.reset();

  queue_ = Open();

  EXPECT_EQ(Counts().queued, 1);
  EXPECT_EQ(Counts().in_flight, 1);
  std::vector<Job> now = Claim(kNow);
  ASSERT_THAT(now, SizeIs(1));
  EXPECT_EQ(now[0].payload, "unclaimed");
  ASSERT_TRUE(queue_->Complete(now[0].id, now[0].lease).ok());
  std::vector<Job> after_lease = Claim(kNow + kLease);
  ASSERT_THAT(after_lease, SizeIs(1));
  EXPECT_EQ(after_lease[0].payload, "claimed");
}

TEST_F(JobQueueTest, EnqueueOfManyIsAllOrNothingAndKeepsOrder) {
  auto ids = queue_->Enqueue({{"a", "1", kNow}, {"b", "2", kNow}, {"c", "3", kNow}});
  ASSERT_TRUE(ids.ok());
  ASSERT_THAT(*ids, SizeIs(3));
  EXPECT_LT((*ids)[0], (*ids)[1]);
  std::vector<std::string> kinds;
  for (const Job& job : Claim(kNow)) kinds.push_back(job.kind);
  EXPECT_THAT(kinds, ElementsAre("a", "b", "c"));
}

TEST_F(JobQueueTest, ConcurrentClaimsNeverLeaseTheSameJob) {
  constexpr int kJobs = 200;
  std::vector<NewJob> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back({"k", std::to_string(i), kNow});
  ASSERT_TRUE(queue_->Enqueue(jobs).ok());

  std::vector<std::vector<int64_t>> seen(4);
  std::vector<std::thread> threads;
  for (auto& mine : seen) {
    threads.emplace_back([&] {
      while (true) {
        auto claimed = queue_->Claim(kNow, kLease, 3);
        ASSERT_TRUE(claimed.ok());
        if (claimed->empty()) return;
        for (const Job& job : *claimed) {
          mine.push_back(job.id);
          ASSERT_TRUE(queue_->Complete(job.id, job.lease).ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  std::set<int64_t> all;
  size_t total = 0;
  for (const auto& mine : seen) {
    total += mine.size();
    all.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kJobs));
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
}

}  // namespace
}  // namespace parley
