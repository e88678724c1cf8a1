#include "config/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parley {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

CommandLine Parse(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), "parleyd");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(args.size()), argv.data(), env);
}

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "parley-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& contents) {
    const std::string path = (dir_ / "parley.toml").string();
    std::ofstream(path) << contents;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(CommandLineTest, NoArgumentsGivesDefaults) {
  CommandLine cl = Parse({});
  ASSERT_FALSE(cl.exit_now) << cl.output;
  EXPECT_EQ(cl.exit_code, 0);
  EXPECT_EQ(cl.output, "");
  EXPECT_EQ(cl.config.listen, "127.0.0.1:8080");
  EXPECT_EQ(cl.config.data_dir, "./data");
}

TEST_F(CommandLineTest, EmptyArgvIsTolerated) {
  CommandLine cl = ParseCommandLine(0, nullptr, {});
  EXPECT_FALSE(cl.exit_now) << cl.output;
}

TEST_F(CommandLineTest, EachLayerOverridesTheOneBelow) {
  const std::string path = Write(R"(
[server]
listen = "127.0.0.1:1001"
data_dir = "/from/file"
threads = 2
log_level = "debug"
)");
  CommandLine cl = Parse({"--config", path, "--listen", "127.0.0.1:1003"},
                         {"PARLEY_LISTEN=127.0.0.1:1002", "PARLEY_THREADS=3"});
  ASSERT_FALSE(cl.exit_now) << cl.output;
  EXPECT_EQ(cl.config.listen, "127.0.0.1:1003");  // flag > env > file
  EXPECT_EQ(cl.config.threads, 3);                // env > file
  EXPECT_EQ(cl.config.data_dir, "/from/file");    // file > default
  EXPECT_EQ(cl.config.log_level, "debug");
  EXPECT_EQ(cl.config.max_body_bytes, 64u * 1024);  // default
}

TEST_F(CommandLineTest, FlagsOverrideEnvironment) {
  CommandLine cl = Parse({"--data-dir=/flag", "--max-frame-bytes", "4096", "--threads=1"},
                         {"PARLEY_DATA_DIR=/env", "PARLEY_MAX_FRAME_BYTES=2048", "PARLEY_THREADS=9",
                          "PARLEY_HEARTBEAT_MS=1000"});
  ASSERT_FALSE(cl.exit_now) << cl.output;
  EXPECT_EQ(cl.config.data_dir, "/flag");
  EXPECT_EQ(cl.config.max_frame_bytes, 4096u);
  EXPECT_EQ(cl.config.threads, 1);
  EXPECT_EQ(cl.config.heartbeat_ms, 1000);
}

TEST_F(CommandLineTest, RepeatedFlagLastOneWins) {
  CommandLine cl = Parse({"--listen", "127.0.0.1:1", "--listen=127.0.0.1:2"});
  ASSERT_FALSE(cl.exit_now) << cl.output;
  EXPECT_EQ(cl.config.listen, "127.0.0.1:2");
}

TEST_F(CommandLineTest, AllowedOriginsRepeatsAndTakesCommaLists) {
  CommandLine cl = Parse({"--allowed-origins", "https://a.example,https://b.example",
                          "--allowed-origins=https://c.example"},
                         {"PARLEY_ALLOWED_ORIGINS=https://env.example"});
  ASSERT_FALSE(cl.exit_now) << cl.output;
  EXPECT_THAT(cl.config.allowed_origins,
              ElementsAre("https://a.example", "https://b.example", "https://c.example"));
}

TEST_F(CommandLineTest, HelpExplainsEveryOptionAndExitsZero) {
  CommandLine cl = Parse({"--help"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 0);
  EXPECT_THAT(cl.output,
              AllOf(HasSubstr("parleyd"), HasSubstr("--listen"), HasSubstr("--data-dir"),
                    HasSubstr("--config"), HasSubstr("--version"), HasSubstr("127.0.0.1:8080"),
                    HasSubstr("PARLEY_LISTEN"), HasSubstr("Precedence")));
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_THAT(cl.output, HasSubstr(FlagName(field) + " ")) << field.name;
    EXPECT_THAT(cl.output, HasSubstr(std::string(field.help))) << field.name;
    EXPECT_THAT(cl.output, HasSubstr(EnvVarName(field))) << field.name;
  }
  EXPECT_TRUE(Parse({"-h"}).exit_now);
}

TEST_F(CommandLineTest, VersionExitsZero) {
  CommandLine cl = Parse({"--version"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 0);
  EXPECT_EQ(cl.output, "parleyd 0.1.0\n");
}

TEST_F(CommandLineTest, UnknownFlagExitsTwo) {
  CommandLine cl = Parse({"--lisen", "127.0.0.1:1"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, AllOf(StartsWith("parleyd: "), HasSubstr("--lisen"), HasSubstr("--help")));
}

TEST_F(CommandLineTest, MissingFlagValueExitsTwo) {
  CommandLine cl = Parse({"--listen"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, HasSubstr("listen"));
}

TEST_F(CommandLineTest, BadNumberInFlagExitsTwoNamingTheFlag) {
  CommandLine cl = Parse({"--threads", "many"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, HasSubstr("--threads: 'many' is not an integer"));
}

TEST_F(CommandLineTest, BadNumberInEnvironmentExitsTwoNamingTheVariable) {
  CommandLine cl = Parse({}, {"PARLEY_MAX_BODY_BYTES=big"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, HasSubstr("PARLEY_MAX_BODY_BYTES"));
}

TEST_F(CommandLineTest, InvalidConfigExitsTwo) {
  CommandLine cl = Parse({"--listen", "no-port", "--tls-cert", "cert.pem"});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, AllOf(HasSubstr("invalid configuration"), HasSubstr("listen"),
                               HasSubstr("tls_cert and tls_key")));
}

TEST_F(CommandLineTest, BadConfigFileExitsTwo) {
  CommandLine cl = Parse({"--config", Write("[server]\nport = 8080\n")});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(cl.output, HasSubstr("unknown key 'server.port'"));

  cl = Parse({"--config", (dir_ / "missing.toml").string()});
  EXPECT_TRUE(cl.exit_now);
  EXPECT_EQ(cl.exit_code, 2);
}

TEST_F(CommandLineTest, InvalidValueFromAnyLayerIsCaughtAfterLayering) {
  // The file's bad value is fixed by a flag, so the merged configuration is valid.
  CommandLine cl =
      Parse({"--config", Write("[auth]\nargon2_ops_limit = 1\n"), "--argon2-ops-limit", "2"});
  EXPECT_FALSE(cl.exit_now) << cl.output;
  EXPECT_EQ(cl.config.argon2_ops_limit, 2u);
}

}  // namespace
}  // namespace parley
