#include "web/static_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace parley {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string HeaderOf(const HttpReply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "";
}

HttpRequest Get(std::string path, std::map<std::string, std::string> headers = {}) {
  HttpRequest request;
  request.method = "GET";
  request.path = std::move(path);
  request.headers = std::move(headers);
  return request;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "parley-web-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    root_ = base_ / "dist";
    fs::create_directories(root_ / "assets");
    Write("index.html", "<!doctype html><title>Parley</title>");
    Write("assets/app-AB12CD34.js", "console.log('app')");
    Write("assets/app-AB12CD34.js.gz", "pretend-gzip-bytes");
    Write("assets/app-AB12CD34.css", "body{}");
    Write("icon.svg", "<svg/>");
    Write("manifest.webmanifest", "{}");
    Write("assets/logo.png", "png");
    Write("../secret.txt", "top secret");
    Write(".hidden", "hidden");
    files_ = std::make_unique<StaticFiles>(root_.string());
  }
  void TearDown() override { fs::remove_all(base_); }

  void Write(const std::string& relative, const std::string& content) {
    std::ofstream(root_ / relative, std::ios::binary | std::ios::trunc) << content;
  }

  HttpReply Serve(std::string path, std::map<std::string, std::string> headers = {}) {
    return files_->Serve(Get(std::move(path), std::move(headers)));
  }

  fs::path base_;
  fs::path root_;
  std::unique_ptr<StaticFiles> files_;
};

TEST_F(StaticFilesTest, RootServesIndexHtmlThatAlwaysRevalidates) {
  HttpReply reply = Serve("/");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "<!doctype html><title>Parley</title>");
  EXPECT_EQ(reply.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(reply, "Cache-Control"), "no-cache");
  EXPECT_THAT(HeaderOf(reply, "ETag"), StartsWith("\""));
  EXPECT_THAT(HeaderOf(reply, "Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_EQ(HeaderOf(reply, "X-Content-Type-Options"), "nosniff");
}

TEST_F(StaticFilesTest, ClientRoutesWithoutExtensionGetIndexHtml) {
  for (const char* path : {"/c/c_1234", "/login", "/settings/", "/assets"}) {
    SCOPED_TRACE(path);
    HttpReply reply = Serve(path);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "<!doctype html><title>Parley</title>");
    EXPECT_EQ(HeaderOf(reply, "Cache-Control"), "no-cache");
  }
}

TEST_F(StaticFilesTest, MissingFileWithExtensionIsNotFound) {
  HttpReply reply = Serve("/assets/nope-12345678.js");

  EXPECT_EQ(reply.status, 404);
  EXPECT_THAT(reply.body, HasSubstr("not_found"));
}

TEST_F(StaticFilesTest, HashedAssetsAreImmutableOthersRevalidate) {
  HttpReply hashed = Serve("/assets/app-AB12CD34.css");
  EXPECT_EQ(hashed.status, 200);
  EXPECT_EQ(hashed.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(HeaderOf(hashed, "Cache-Control"), "public, max-age=31536000, immutable");

  HttpReply plain = Serve("/assets/logo.png");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.content_type, "image/png");
  EXPECT_EQ(HeaderOf(plain, "Cache-Control"), "no-cache");

  HttpReply outside_assets = Serve("/icon.svg");
  EXPECT_EQ(outside_assets.content_type, "image/svg+xml");
  EXPECT_EQ(HeaderOf(outside_assets, "Cache-Control"), "no-cache");
  EXPECT_EQ(Serve("/manifest.webmanifest").content_type, "application/manifest+json");
}

TEST_F(StaticFilesTest, MatchingIfNoneMatchAnswers304WithoutBody) {
  const std::string etag = HeaderOf(Serve("/icon.svg"), "ETag");

  for (const std::string& header : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    SCOPED_TRACE(header);
    HttpReply reply = Serve("/icon.svg", {{"if-none-match", header}});
    EXPECT_EQ(reply.status, 304);
    EXPECT_EQ(reply.body, "");
    EXPECT_EQ(reply.content_type, "");
    EXPECT_EQ(HeaderOf(reply, "ETag"), etag);
    EXPECT_EQ(HeaderOf(reply, "Cache-Control"), "no-cache");
  }
  EXPECT_EQ(Serve("/icon.svg", {{"if-none-match", "\"stale\""}}).status, 200);
}

TEST_F(StaticFilesTest, ChangedFileGetsNewContentAndETag) {
  HttpReply before = Serve("/icon.svg");
  Write("icon.svg", "<svg version='2'/>");
  // Another size and mtime: the cache must notice either.
  fs::last_write_time(root_ / "icon.svg",
                      fs::last_write_time(root_ / "icon.svg") + std::chrono::seconds(5));

  HttpReply after = Serve("/icon.svg", {{"if-none-match", HeaderOf(before, "ETag")}});

  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "<svg version='2'/>");
  EXPECT_NE(HeaderOf(after, "ETag"), HeaderOf(before, "ETag"));
}

TEST_F(StaticFilesTest, GzipSiblingIsServedToClientsThatAcceptIt) {
  HttpReply gz = Serve("/assets/app-AB12CD34.js", {{"accept-encoding", "br, gzip;q=0.8"}});
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(gz.body, "pretend-gzip-bytes");
  EXPECT_EQ(gz.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(HeaderOf(gz, "Vary"), "Accept-Encoding");

  HttpReply identity = Serve("/assets/app-AB12CD34.js");
  EXPECT_EQ(identity.body, "console.log('app')");
  EXPECT_EQ(HeaderOf(identity, "Content-Encoding"), "");
  EXPECT_EQ(HeaderOf(identity, "Vary"), "Accept-Encoding");
  EXPECT_NE(HeaderOf(identity, "ETag"), HeaderOf(gz, "ETag"));

  HttpReply refused = Serve("/assets/app-AB12CD34.js", {{"accept-encoding", "gzip;q=0, br"}});
  EXPECT_EQ(refused.body, "console.log('app')");

  HttpReply no_sibling = Serve("/assets/app-AB12CD34.css", {{"accept-encoding", "gzip"}});
  EXPECT_EQ(no_sibling.body, "body{}");
  EXPECT_EQ(HeaderOf(no_sibling, "Vary"), "");
}

TEST_F(StaticFilesTest, NothingOutsideTheRootOrHiddenIsServed) {
  for (const char* path :
       {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt", "/.hidden", "/%2ehidden", "/icon.svg%00.png",
        "/..\\secret.txt", "/%", "/%zz.txt", "/./icon.svg"}) {
    SCOPED_TRACE(path);
    HttpReply reply = Serve(path);
    EXPECT_EQ(reply.status, 404);
    EXPECT_THAT(reply.body, Not(HasSubstr("top secret")));
  }
}

TEST_F(StaticFilesTest, SymlinksLeadingOutOfTheRootAreRefused) {
  fs::create_symlink(base_ / "secret.txt", root_ / "link.txt");
  fs::create_directory_symlink(base_, root_ / "up");

  EXPECT_EQ(Serve("/link.txt").status, 404);
  EXPECT_EQ(Serve("/up/secret.txt").status, 404);
}

TEST_F(StaticFilesTest, PercentEncodedNamesAreDecoded) {
  Write("hello world.txt", "hi");

  HttpReply reply = Serve("/hello%20world.txt");

  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hi");
  EXPECT_EQ(reply.content_type, "text/plain; charset=utf-8");
}

TEST_F(StaticFilesTest, FilesOverTheCacheBoundAreStillServed) {
  StaticFiles tiny(root_.string(), StaticFiles::Options{16, 8});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tiny.Serve(Get("/")).body, "<!doctype html><title>Parley</title>");
    EXPECT_EQ(tiny.Serve(Get("/icon.svg")).body, "<svg/>");
    EXPECT_EQ(tiny.Serve(Get("/assets/logo.png")).body, "png");
  }
}

TEST_F(StaticFilesTest, MissingRootAnswersNotFound) {
  StaticFiles missing((base_ / "nope").string());

  EXPECT_EQ(missing.Serve(Get("/")).status, 404);
  EXPECT_EQ(missing.Serve(Get("/c/123")).status, 404);
}

TEST_F(StaticFilesTest, ServedThroughTheRouterFallbackButNeverForApiPaths) {
  Router router;
  AddStaticFiles(router, root_.string());

  HttpRequest page = Get("/c/123");
  Router::Match match = router.Find(page);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->kind, HandlerKind::kBlocking);
  EXPECT_EQ(match.route->handler(page).status, 200);

  HttpRequest api = Get("/v1/whatever");
  EXPECT_EQ(router.Find(api).route, nullptr);
}

}  // namespace
}  // namespace parley
