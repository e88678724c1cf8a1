#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace parley {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A private temporary folder per test, removed afterwards.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley-config-XXXXXX").string();
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

TEST(ConfigDefaultsTest, AreTheEmbeddedSingleNodeProductAndValid) {
  const Config config;
  EXPECT_EQ(config.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.data_dir, "./data");
  EXPECT_EQ(config.threads, 0);
  EXPECT_EQ(config.log_level, "info");
  EXPECT_TRUE(config.tls_cert.empty());
  EXPECT_EQ(config.max_frame_bytes, 64u * 1024);
  EXPECT_EQ(config.argon2_mem_limit, 64ull << 20);
  EXPECT_THAT(config.allowed_origins, IsEmpty());
  EXPECT_THAT(config.public_origin, IsEmpty());
  EXPECT_TRUE(config.metrics_listen.empty());
  EXPECT_TRUE(config.metrics_token.empty());
  EXPECT_EQ(config.max_connections_per_ip, 256u);
  EXPECT_EQ(config.max_unauthenticated, 2048u);
  EXPECT_EQ(config.max_unauthenticated_per_ip, 64u);
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ConfigFieldsTest, NamesAreUniqueAndDeriveEnvAndFlagNames) {
  std::set<std::string_view> names;
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_TRUE(names.insert(field.name).second) << field.name;
    EXPECT_FALSE(field.help.empty()) << field.name;
    EXPECT_THAT((std::set<std::string_view>{"server", "limits", "auth", "chat", "rate_limits",
                                            "notify", "presence"}),
                ::testing::Contains(field.section));
  }
  EXPECT_EQ(names.size(), ConfigFields().size()) << "every field has a name of its own";
  const ConfigField& frame =
      *std::find_if(ConfigFields().begin(), ConfigFields().end(),
                    [](const ConfigField& field) { return field.name == "max_frame_bytes"; });
  EXPECT_EQ(EnvVarName(frame), "PARLEY_MAX_FRAME_BYTES");
  EXPECT_EQ(FlagName(frame), "--max-frame-bytes");
}

TEST(ConfigFieldsTest, TextFormRoundTripsForEveryField) {
  Config original;
  original.allowed_origins = {"https://a.example", "https://b.example"};
  original.rate_auth_ip_burst = 2.5;
  Config copy;
  copy.allowed_origins.clear();
  copy.listen = "other";
  copy.rate_auth_ip_burst = 0;
  for (const ConfigField& field : ConfigFields()) {
    const std::string text = FieldToText(original, field);
    ASSERT_TRUE(SetFieldFromText(copy, field, text, "test").ok()) << field.name << "=" << text;
    EXPECT_EQ(FieldToText(copy, field), text) << field.name;
  }
  EXPECT_EQ(copy.listen, original.listen);
  EXPECT_EQ(copy.rate_auth_ip_burst, 2.5);
  EXPECT_THAT(copy.allowed_origins, ElementsAre("https://a.example", "https://b.example"));
}

TEST_F(ConfigFileTest, FileOverridesDefaultsAndLeavesTheRest) {
  const std::string path = Write(R"(
[server]
listen = "0.0.0.0:9000"
threads = 4
tls_cert = "/etc/parley/cert.pem"
tls_key = "/etc/parley/key.pem"

[limits]
max_frame_bytes = 1024
drain_timeout_ms = 2500

[auth]
argon2_mem_limit = 33554432
allowed_origins = ["https://chat.example", "https://app.example"]

[rate_limits]
rate_auth_ip_per_min = 60      # an integer is fine for a rate
rate_auth_user_burst = 2.5
)");
  Result<Config> config = LoadConfigFile(path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->listen, "0.0.0.0:9000");
  EXPECT_EQ(config->threads, 4);
  EXPECT_EQ(config->tls_cert, "/etc/parley/cert.pem");
  EXPECT_EQ(config->max_frame_bytes, 1024u);
  EXPECT_EQ(config->drain_timeout_ms, 2500);
  EXPECT_EQ(config->argon2_mem_limit, 32u << 20);
  EXPECT_THAT(config->allowed_origins, ElementsAre("https://chat.example", "https://app.example"));
  EXPECT_EQ(config->rate_auth_ip_per_min, 60.0);
  EXPECT_EQ(config->rate_auth_user_burst, 2.5);
  // Untouched by the file: whatever `base` said.
  EXPECT_EQ(config->data_dir, "./data");
  EXPECT_EQ(config->max_body_bytes, 64u * 1024);
  EXPECT_TRUE(ValidateConfig(*config).ok());
}

TEST_F(ConfigFileTest, EmptyFileChangesNothing) {
  Config base;
  base.data_dir = "/var/lib/parley";
  Result<Config> config = LoadConfigFile(Write(""), base);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->data_dir, "/var/lib/parley");
}

TEST_F(ConfigFileTest, UnknownKeyIsAnErrorNamingItAndWhere) {
  const std::string path = Write("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
  Result<Config> config = LoadConfigFile(path, Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidRequest);
  EXPECT_THAT(config.error().message,
              AllOf(HasSubstr("unknown key 'server.lisen'"), HasSubstr(path + ":3:")));
}

TEST_F(ConfigFileTest, EveryUnknownKeyAndSectionIsReported) {
  Result<Config> config = LoadConfigFile(Write(R"(
threads = 2
[server]
treads = 2
[limit]
max_body_bytes = 1
[auth]
max_body_bytes = 1
)"),
                                         Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              AllOf(HasSubstr("unknown key 'threads' (it belongs in [server])"),
                    HasSubstr("unknown key 'server.treads'"), HasSubstr("unknown section [limit]"),
                    HasSubstr("unknown key 'auth.max_body_bytes' (it belongs in [limits])")));
  // In file order, although toml++ hands keys over sorted.
  EXPECT_LT(config.error().message.find("'threads'"), config.error().message.find("treads"));
  EXPECT_LT(config.error().message.find("treads"), config.error().message.find("[limit]"));
}

TEST_F(ConfigFileTest, WrongTypeNamesKeyAndExpectedType) {
  Result<Config> config = LoadConfigFile(Write("[server]\nthreads = \"four\"\n"), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              HasSubstr("server.threads: expected an integer, got a string"));

  config = LoadConfigFile(Write("[auth]\nallowed_origins = [\"https://a\", 1]\n"), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              HasSubstr("auth.allowed_origins: expected an array of strings"));

  config = LoadConfigFile(Write("[limits]\nmax_body_bytes = -1\n"), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message,
              HasSubstr("limits.max_body_bytes: expected a non-negative integer"));

  config = LoadConfigFile(Write("[limits]\nheartbeat_ms = 99999999999\n"), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr("limits.heartbeat_ms: integer out of range"));

  config = LoadConfigFile(Write("server = 1\n"), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr("'server' must be a section, got an integer"));
}

TEST_F(ConfigFileTest, SyntaxErrorReportsLineAndColumn) {
  const std::string path = Write("[server]\nlisten = \"127.0.0.1:8080\"\nthreads = = 4\n");
  Result<Config> config = LoadConfigFile(path, Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidRequest);
  EXPECT_THAT(config.error().message, HasSubstr(path + ":3:"));
}

TEST_F(ConfigFileTest, MissingFileIsAnError) {
  Result<Config> config = LoadConfigFile((dir_ / "absent.toml").string(), Config{});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message, HasSubstr("absent.toml"));
}

TEST(EnvironmentTest, OverridesBaseAndIgnoresUnrelatedVariables) {
  Config base;
  base.listen = "127.0.0.1:1";
  base.data_dir = "/from/file";
  Result<Config> config = ApplyEnvironment(
      {"PATH=/usr/bin", "PARLEY_LISTEN=0.0.0.0:2", "PARLEY_MAX_FRAME_BYTES=2048",
       "PARLEY_THREADS=8", "PARLEY_RATE_AUTH_IP_PER_MIN=7.5", "PARLEY_UNRELATED=1",
       "PARLEY_ALLOWED_ORIGINS= https://a.example ,https://b.example,", "NO_EQUALS_SIGN"},
      base);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->listen, "0.0.0.0:2");
  EXPECT_EQ(config->data_dir, "/from/file");
  EXPECT_EQ(config->max_frame_bytes, 2048u);
  EXPECT_EQ(config->threads, 8);
  EXPECT_EQ(config->rate_auth_ip_per_min, 7.5);
  EXPECT_THAT(config->allowed_origins, ElementsAre("https://a.example", "https://b.example"));
}

TEST(EnvironmentTest, EmptyListClearsIt) {
  Config base;
  base.allowed_origins = {"https://a.example"};
  Result<Config> config = ApplyEnvironment({"PARLEY_ALLOWED_ORIGINS="}, base);
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(config->allowed_origins, IsEmpty());
}

TEST(EnvironmentTest, BadNumberNamesTheVariable) {
  for (const std::string entry :
       {"PARLEY_THREADS=four", "PARLEY_THREADS=4x", "PARLEY_THREADS=", "PARLEY_THREADS= 4",
        "PARLEY_MAX_BODY_BYTES=-1", "PARLEY_RATE_AUTH_IP_BURST=lots",
        "PARLEY_HEARTBEAT_MS=99999999999"}) {
    Result<Config> config = ApplyEnvironment({entry}, Config{});
    ASSERT_FALSE(config.ok()) << entry;
    EXPECT_THAT(config.error().message, HasSubstr(entry.substr(0, entry.find('=')) + ": "))
        << entry;
  }
}

TEST(ValidateTest, AcceptsListenForms) {
  for (const char* listen :
       {"127.0.0.1:8080", "0.0.0.0:0", "localhost:65535", "[::1]:8080", "[::]:443"}) {
    Config config;
    config.listen = listen;
    EXPECT_TRUE(ValidateConfig(config).ok()) << listen;
  }
  Result<HostPort> v6 = ParseHostPort("[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
}

TEST(ValidateTest, RejectsBadListen) {
  for (const char* listen :
       {"", "8080", ":8080", "127.0.0.1:", "127.0.0.1:65536", "host:-1", "host:80x", "::1:8080",
        "[::1]8080", "[::1:8080", "[]:80", "a b:80", "127.0.0.1:+80"}) {
    Config config;
    config.listen = listen;
    Status status = ValidateConfig(config);
    ASSERT_FALSE(status.ok()) << listen;
    EXPECT_THAT(status.error().message, HasSubstr("listen: ")) << listen;
  }
}

TEST(ValidateTest, TlsNeedsBothFilesOrNeither) {
  Config config;
  config.tls_cert = "cert.pem";
  Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("tls_cert and tls_key"));
  config.tls_key = "key.pem";
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.tls_cert.clear();
  EXPECT_FALSE(ValidateConfig(config).ok());
}

TEST(ValidateTest, SocialLimitsAreChecked) {
  Config config;
  config.default_group_adds = "everyone";
  Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("default_group_adds"));
  for (const char* adds : {"anyone", "contacts", "nobody"}) {
    config.default_group_adds = adds;
    EXPECT_TRUE(ValidateConfig(config).ok()) << adds;
  }
  config = Config{};
  config.conversations_page_size = 0;
  EXPECT_THAT(ValidateConfig(config).error().message, HasSubstr("conversations_page_size"));
  config = Config{};
  config.max_reactions_per_message = 0;
  EXPECT_THAT(ValidateConfig(config).error().message, HasSubstr("max_reactions_per_message"));
  config = Config{};
  config.rate_conversations_per_min = 0;
  EXPECT_THAT(ValidateConfig(config).error().message, HasSubstr("rate_conversations_per_min"));
  config = Config{};
  config.max_pending_invitations = 0;
  EXPECT_THAT(ValidateConfig(config).error().message, HasSubstr("max_pending_invitations"));
}

TEST(ValidateTest, Argon2BelowOwaspMinimumIsRejected) {
  Config config;
  config.argon2_ops_limit = 1;
  Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("argon2_ops_limit"));

  config = Config{};
  config.argon2_mem_limit = (19ull << 20) - 1;
  status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("argon2_mem_limit"));

  config.argon2_mem_limit = 19ull << 20;
  config.argon2_ops_limit = 2;
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateTest, RangesAndLogLevel) {
  const auto problem = [](auto mutate) {
    Config config;
    mutate(config);
    Status status = ValidateConfig(config);
    return status.ok() ? std::string() : status.error().message;
  };
  EXPECT_THAT(problem([](Config& c) { c.threads = 257; }), HasSubstr("threads"));
  EXPECT_THAT(problem([](Config& c) { c.threads = -1; }), HasSubstr("threads"));
  EXPECT_EQ(problem([](Config& c) { c.threads = 256; }), "");
  EXPECT_THAT(problem([](Config& c) { c.max_body_bytes = 0; }), HasSubstr("max_body_bytes"));
  EXPECT_THAT(problem([](Config& c) { c.max_write_queue_bytes = 0; }),
              HasSubstr("max_write_queue_bytes"));
  EXPECT_THAT(problem([](Config& c) { c.auth_timeout_ms = 0; }), HasSubstr("auth_timeout_ms"));
  EXPECT_THAT(problem([](Config& c) { c.drain_timeout_ms = -5; }), HasSubstr("drain_timeout_ms"));
  EXPECT_THAT(problem([](Config& c) { c.access_token_ttl_s = 0; }),
              HasSubstr("access_token_ttl_s"));
  EXPECT_THAT(problem([](Config& c) { c.log_level = "verbose"; }), HasSubstr("log_level"));
  EXPECT_EQ(problem([](Config& c) { c.log_level = "off"; }), "");
  EXPECT_THAT(problem([](Config& c) { c.data_dir = ""; }), HasSubstr("data_dir"));
  EXPECT_THAT(problem([](Config& c) { c.rate_auth_ip_per_min = 0; }),
              HasSubstr("rate_auth_ip_per_min"));
  EXPECT_THAT(problem([](Config& c) { c.rate_auth_user_burst = 0.5; }),
              HasSubstr("rate_auth_user_burst"));
}

TEST(ValidateTest, NotifyWebhookNeedsAnHttpUrlAndASecretAndLeasesOutlastRequests) {
  Config config;
  config.notify_webhook_url = "ftp://hooks.example";
  config.notify_visibility_timeout_ms = config.notify_http_timeout_ms;
  config.notify_workers = 0;
  Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("notify_webhook_url"));
  EXPECT_THAT(status.error().message, HasSubstr("notify_webhook_secret"));
  EXPECT_THAT(status.error().message, HasSubstr("notify_visibility_timeout_ms"));
  EXPECT_THAT(status.error().message, HasSubstr("notify_workers"));

  config = Config();
  config.notify_webhook_url = "https://hooks.example/parley";
  config.notify_webhook_secret = "s3cret";
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateTest, PresenceLimits) {
  const auto problem = [](auto mutate) {
    Config config;
    mutate(config);
    Status status = ValidateConfig(config);
    return status.ok() ? std::string() : status.error().message;
  };
  EXPECT_EQ(Config().presence_grace_ms, 5000);
  EXPECT_EQ(Config().presence_max_group_size, 100);
  EXPECT_EQ(problem([](Config& c) { c.presence_grace_ms = 0; }), "");  // no coalescing
  EXPECT_THAT(problem([](Config& c) { c.presence_grace_ms = -1; }), HasSubstr("presence_grace_ms"));
  EXPECT_EQ(problem([](Config& c) { c.presence_max_group_size = 0; }), "");  // direct only
  EXPECT_THAT(problem([](Config& c) { c.presence_max_fanout = 0; }),
              HasSubstr("presence_max_fanout"));
  EXPECT_THAT(problem([](Config& c) { c.presence_max_subscriptions = 0; }),
              HasSubstr("presence_max_subscriptions"));
}

TEST(ValidateTest, OriginsMetricsListenerAndToken) {
  Config config;
  config.public_origin = {"https://chat.example.com", "http://localhost:8080/"};
  config.allowed_origins = {"*", "null", "http://[::1]:3000"};
  config.metrics_listen = "127.0.0.1:9464";
  config.metrics_token = "0123456789abcdef";
  EXPECT_TRUE(ValidateConfig(config).ok());

  config.public_origin = {"chat.example.com"};
  config.allowed_origins = {"https://a.example/path"};
  config.metrics_listen = "nowhere";
  config.metrics_token = "short";
  const Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message, HasSubstr("public_origin: 'chat.example.com'"));
  EXPECT_THAT(status.error().message, HasSubstr("allowed_origins: 'https://a.example/path'"));
  EXPECT_THAT(status.error().message, HasSubstr("metrics_listen: 'nowhere'"));
  EXPECT_THAT(status.error().message, HasSubstr("metrics_token"));
}

TEST(ValidateTest, ReportsEveryProblemAtOnce) {
  Config config;
  config.listen = "nowhere";
  config.threads = 1000;
  config.tls_key = "key.pem";
  Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message,
              AllOf(HasSubstr("listen"), HasSubstr("threads"), HasSubstr("tls_cert and tls_key")));
}

}  // namespace
}  // namespace parley
