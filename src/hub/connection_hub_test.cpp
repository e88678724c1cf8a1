#include "hub/connection_hub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace parley {
namespace {

/// Records what the hub hands it, like a client would see it.
class RecordingConnection final : public Connection {
 public:
  RecordingConnection(std::string user, std::string device)
      : user_(std::move(user)), device_(std::move(device)), session_(user_ + "/" + device_) {}
  void Deliver(Frame frame) override {
    std::lock_guard lock(mu_);
    frames_.push_back(*frame);
  }
  void Close(int code, std::string) override {
    std::lock_guard lock(mu_);
    close_codes_.push_back(code);
  }
  const std::string& user_id() const override { return user_; }
  const std::string& device_id() const override { return device_; }
  const std::string& session_id() const override { return session_; }

  std::vector<std::string> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  std::vector<int> close_codes() {
    std::lock_guard lock(mu_);
    return close_codes_;
  }

 private:
  std::string user_, device_, session_;
  std::mutex mu_;
  std::vector<std::string> frames_;
  std::vector<int> close_codes_;
};

TEST(ConnectionHubTest, DeliversToEveryDeviceOfTheUserButTheSender) {
  ConnectionHub hub;
  auto phone = std::make_shared<RecordingConnection>("alice", "phone");
  auto laptop = std::make_shared<RecordingConnection>("alice", "laptop");
  auto bob = std::make_shared<RecordingConnection>("bob", "phone");
  hub.Add(phone);
  hub.Add(laptop);
  hub.Add(bob);

  hub.SendToUser("alice", MakeFrame("hi"), phone.get());

  EXPECT_THAT(phone->frames(), testing::IsEmpty());
  EXPECT_THAT(laptop->frames(), testing::ElementsAre("hi"));
  EXPECT_THAT(bob->frames(), testing::IsEmpty());
  EXPECT_EQ(hub.ConnectionCount(), 3u);
}

TEST(ConnectionHubTest, CloseDeviceClosesOnlyThatDevice) {
  ConnectionHub hub;
  auto phone = std::make_shared<RecordingConnection>("alice", "phone");
  auto laptop = std::make_shared<RecordingConnection>("alice", "laptop");
  hub.Add(phone);
  hub.Add(laptop);

  hub.CloseDevice("alice", "phone", 4401, "logged out");

  EXPECT_THAT(phone->close_codes(), testing::ElementsAre(4401));
  EXPECT_THAT(laptop->close_codes(), testing::IsEmpty());
}

TEST(ConnectionHubTest, RemovedAndDestroyedConnectionsGetNothing) {
  ConnectionHub hub;
  auto phone = std::make_shared<RecordingConnection>("alice", "phone");
  auto laptop = std::make_shared<RecordingConnection>("alice", "laptop");
  hub.Add(phone);
  hub.Add(laptop);
  hub.Remove(*phone);
  laptop.reset();  // died without Remove: the hub must not keep it alive or touch it

  hub.SendToUser("alice", MakeFrame("hi"));

  EXPECT_THAT(phone->frames(), testing::IsEmpty());
  EXPECT_EQ(hub.ConnectionsOfUser("alice"), 0u);
}

/// Writes down what the hub tells its observer, in order.
class RecordingObserver final : public ConnectionObserver {
 public:
  void OnUserConnected(const std::string& user_id) override { Note("online " + user_id); }
  void OnUserDisconnected(const std::string& user_id) override { Note("offline " + user_id); }
  void OnConnectionRemoved(const Connection& connection) override {
    Note("removed " + connection.session_id());
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  void Note(std::string call) {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
  }
  std::mutex mu_;
  std::vector<std::string> calls_;
};

TEST(ConnectionHubTest, ObserverHearsTheFirstAndLastConnectionOfEachUser) {
  ConnectionHub hub;
  RecordingObserver observer;
  hub.SetObserver(&observer);
  auto phone = std::make_shared<RecordingConnection>("alice", "phone");
  auto laptop = std::make_shared<RecordingConnection>("alice", "laptop");
  auto bob = std::make_shared<RecordingConnection>("bob", "phone");

  hub.Add(phone);
  hub.Add(laptop);
  hub.Add(bob);
  hub.Remove(*phone);
  hub.Remove(*phone);  // twice: nothing more
  hub.Remove(*laptop);
  hub.Add(phone);

  EXPECT_THAT(observer.calls(),
              testing::ElementsAre("online alice", "online bob", "removed alice/phone",
                                   "removed alice/laptop", "offline alice", "online alice"));
  EXPECT_EQ(hub.SendToUser("alice", MakeFrame("hi")), 1u);
  EXPECT_EQ(hub.SendToUser("bob", MakeFrame("hi"), bob.get()), 0u);
  EXPECT_EQ(hub.SendToUser("carol", MakeFrame("hi")), 0u);
  hub.SetObserver(nullptr);
  hub.Remove(*bob);
  EXPECT_THAT(observer.calls(), testing::SizeIs(6));
}

TEST(ConnectionHubTest, AConnectionThatDiedUnremovedStillEndsTheUsersPresence) {
  ConnectionHub hub;
  RecordingObserver observer;
  hub.SetObserver(&observer);
  auto phone = std::make_shared<RecordingConnection>("alice", "phone");
  auto laptop = std::make_shared<RecordingConnection>("alice", "laptop");
  hub.Add(phone);
  hub.Add(laptop);
  phone.reset();  // died without Remove

  hub.Remove(*laptop);

  EXPECT_THAT(observer.calls(),
              testing::ElementsAre("online alice", "removed alice/laptop", "offline alice"));
}

TEST(ConnectionHubTest, ConcurrentAddSendRemoveIsSafe) {
  ConnectionHub hub;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&hub, t] {
      for (int i = 0; i < 200; ++i) {
        auto c = std::make_shared<RecordingConnection>("u" + std::to_string(i % 7),
                                                       "d" + std::to_string(t));
        hub.Add(c);
        hub.SendToUser(c->user_id(), MakeFrame("x"));
        hub.Remove(*c);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(hub.ConnectionCount(), 0u);
}

}  // namespace
}  // namespace parley
