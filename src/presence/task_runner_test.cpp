#include "presence/task_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace parley {
namespace {

using ::testing::ElementsAre;

TEST(ManualTaskRunnerTest, RunsTasksInOrderAndTimersAtTheirTime) {
  FakeClock clock;
  ManualTaskRunner runner(clock);
  const int64_t t0 = clock.NowMs();
  std::vector<std::string> ran;
  runner.PostAt(t0 + 200,
                [&] { ran.push_back("timer 200 @" + std::to_string(clock.NowMs() - t0)); });
  runner.PostAt(t0 + 100, [&] {
    ran.push_back("timer 100");
    runner.Post([&] { ran.push_back("posted by timer 100"); });
  });
  runner.Post([&] { ran.push_back("a"); });
  runner.Post([&] { ran.push_back("b"); });

  EXPECT_EQ(runner.RunReady(), 2u);
  runner.Advance(150);
  EXPECT_THAT(ran, ElementsAre("a", "b", "timer 100", "posted by timer 100"));
  runner.Advance(1000);
  EXPECT_EQ(ran.back(), "timer 200 @200");
  EXPECT_EQ(clock.NowMs(), t0 + 1150);
}

TEST(ManualTaskRunnerTest, StopRunsWhatIsPostedAndDropsTheRest) {
  FakeClock clock;
  ManualTaskRunner runner(clock);
  int ran = 0;
  runner.Post([&] { ++ran; });
  runner.PostAt(clock.NowMs(), [&] { ran += 100; });
  runner.Stop();
  runner.Post([&] { ran += 1000; });
  runner.Advance(10);
  EXPECT_EQ(ran, 1);
}

TEST(ThreadTaskRunnerTest, RunsTasksInOrderOnItsOwnThread) {
  SystemClock clock;
  ThreadTaskRunner runner(clock);
  std::vector<int> ran;  // touched only by the runner's thread until `done`
  std::promise<std::thread::id> done;
  for (int i = 0; i < 100; ++i) runner.Post([&ran, i] { ran.push_back(i); });
  runner.Post([&] { done.set_value(std::this_thread::get_id()); });
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
}

TEST(ThreadTaskRunnerTest, ATimerRunsOnceItIsDueAndNotBefore) {
  SystemClock clock;
  ThreadTaskRunner runner(clock);
  const int64_t due = clock.NowMs() + 30;
  std::promise<int64_t> fired;
  runner.PostAt(due, [&] { fired.set_value(clock.NowMs()); });
  auto future = fired.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(future.get(), due);
}

TEST(ThreadTaskRunnerTest, StopRunsPostedTasksThenDropsTimersAndLaterPosts) {
  SystemClock clock;
  std::atomic<int> ran{0};
  {
    ThreadTaskRunner runner(clock);
    for (int i = 0; i < 10; ++i) runner.Post([&] { ++ran; });
    runner.PostAt(clock.NowMs() + 60'000, [&] { ran += 1000; });
    runner.Stop();
    runner.Post([&] { ran += 1000; });
  }
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace parley
