#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/http_types.h"
#include "api/router.h"

namespace parley {

/// Serves the built web client from a folder (`--web-root`), for GET and HEAD requests that
/// match no API route:
///   - `/` and any unknown path whose last segment has no file extension get `index.html`
///     (the client routes itself), an unknown path with an extension gets 404;
///   - a strong ETag (a hash of the bytes sent) and 304 for a matching If-None-Match;
///   - `Cache-Control: public, max-age=31536000, immutable` for content-hashed names under
///     `/assets/` (`name-HASH.ext`), `no-cache` (always revalidate) for everything else;
///   - a precompressed `file.gz` beside `file` is sent with `Content-Encoding: gzip` when the
///     request accepts gzip, and both variants carry `Vary: Accept-Encoding`;
///   - nothing outside the folder: `..`, `.` and dot-file segments, NUL, backslashes and
///     symlinks that lead out are refused.
///
/// Contents are cached in memory, bounded by `max_cached_bytes` in total and
/// `max_cached_file_bytes` per file (bigger files are read per request). Every request still
/// stats the file and re-reads it when its size or mtime changed, so a rebuilt client is
/// served at once without a restart, and an ETag always names the bytes that go out. The
/// client is a handful of small files, so the cache normally holds all of it and a request
/// costs one stat.
///
/// Thread-safety: Serve may be called from any thread concurrently (it runs on the blocking
/// pool: it touches the file system).
class StaticFiles {
 public:
  struct Options {
    size_t max_cached_bytes = size_t{64} << 20;
    size_t max_cached_file_bytes = size_t{8} << 20;
  };

  StaticFiles(std::string root_dir, Options options);
  explicit StaticFiles(std::string root_dir) : StaticFiles(std::move(root_dir), Options{}) {}

  HttpReply Serve(const HttpRequest& request);

 private:
  struct File {
    uintmax_t size = 0;
    std::filesystem::file_time_type mtime;
    std::shared_ptr<const std::string> content;
    std::string etag;  // quoted
  };

  // The file at `path`, from the cache when its size and mtime still match.
  // nullptr when it cannot be read.
  std::shared_ptr<const File> Load(const std::filesystem::path& path);

  std::filesystem::path root_;  // canonical; empty when the folder does not exist
  Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const File>> cache_;  // GUARDED_BY(mu_)
  size_t cached_bytes_ = 0;                                             // GUARDED_BY(mu_)
};

/// Registers a StaticFiles for `root_dir` as the router's fallback.
void AddStaticFiles(Router& router, std::string root_dir);

}  // namespace parley
