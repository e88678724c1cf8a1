#include "app/app.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace parley {
namespace {

class AppTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-app-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Config TestConfig(const std::string& data_dir) {
    Config config;
    config.data_dir = data_dir;
    config.listen = "127.0.0.1:0";
    config.argon2_mem_limit = 19u << 20;
    config.argon2_ops_limit = 2;
    return config;
  }

  std::string root_;
};

TEST_F(AppTest, CreatesAPrivateDataDirWithDatabaseAndSigningKey) {
  const std::string data = root_ + "/nested/data";
  auto app = App::Create(TestConfig(data));
  ASSERT_TRUE(app.ok()) << app.error().message;

  struct stat st {};
  ASSERT_EQ(stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((data + "/jwt.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(data + "/parley.db"));

  auto port = (*app)->Listen();
  ASSERT_TRUE(port.ok()) << port.error().message;
  EXPECT_GT(*port, 0);
}

TEST_F(AppTest, ADataDirThatIsAFileIsAClearStartupError) {
  const std::string file = root_ + "/not-a-dir";
  std::ofstream(file) << "x";
  auto app = App::Create(TestConfig(file));
  ASSERT_FALSE(app.ok());
  EXPECT_NE(app.error().message.find("not-a-dir"), std::string::npos) << app.error().message;
}

TEST_F(AppTest, APortInUseIsAClearStartupError) {
  auto first = App::Create(TestConfig(root_ + "/a"));
  ASSERT_TRUE(first.ok());
  auto port = (*first)->Listen();
  ASSERT_TRUE(port.ok());

  Config config = TestConfig(root_ + "/b");
  config.listen = "127.0.0.1:" + std::to_string(*port);
  auto second = App::Create(config);
  ASSERT_TRUE(second.ok());
  auto again = (*second)->Listen();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("cannot listen"), std::string::npos);
}

TEST_F(AppTest, AskingForTlsIsRefusedRatherThanServingPlaintext) {
  Config config = TestConfig(root_ + "/tls");
  config.tls_cert = root_ + "/cert.pem";
  config.tls_key = root_ + "/key.pem";
  auto app = App::Create(config);
  ASSERT_FALSE(app.ok());
  EXPECT_NE(app.error().message.find("TLS"), std::string::npos);
}

}  // namespace
}  // namespace parley
