#include "web/static_files.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <vector>

namespace parley {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";
// The client talks only to its own origin; 'self' in connect-src covers ws:// to it (CSP 3).
constexpr std::string_view kHtmlPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string_view ContentType(std::string_view extension) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".gz", "application/gzip"},
  }};
  for (const auto& [ext, type] : kTypes) {
    if (ext == extension) return type;
  }
  return "application/octet-stream";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The request path's segments, percent-decoded. nullopt for anything that could name a file
// outside the root or a hidden one: a bad escape, NUL, a backslash, `.`/`..`, a dot-file.
std::optional<std::vector<std::string>> SafeSegments(std::string_view path) {
  std::vector<std::string> segments;
  std::string current;
  auto finish = [&]() -> bool {
    if (current.empty()) return true;  // doubled or trailing slash
    if (current.front() == '.') return false;
    segments.push_back(std::move(current));
    current.clear();
    return true;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      const int hi = HexValue(path[i + 1]);
      const int lo = HexValue(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      if (c == '/') return std::nullopt;  // an encoded slash is never part of a file name
    } else if (c == '/') {
      if (!finish()) return std::nullopt;
      continue;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    current.push_back(c);
  }
  if (!finish()) return std::nullopt;
  return segments;
}

// `name-HASH.ext` with HASH at least 8 letters or digits, as the build names its bundles.
bool IsHashedAsset(const std::vector<std::string>& segments) {
  if (segments.size() < 2 || segments.front() != "assets") return false;
  const std::string& name = segments.back();
  const size_t dot = name.find('.');
  const size_t dash = name.rfind('-', dot);
  if (dot == std::string::npos || dash == std::string::npos) return false;
  if (dot - dash - 1 < 8) return false;
  for (size_t i = dash + 1; i < dot; ++i) {
    if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Accept-Encoding names gzip (or *) without q=0.
bool AcceptsGzip(std::string_view header) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = Trim(header.substr(start, end - start));
    std::string_view coding = Trim(item.substr(0, item.find(';')));
    const std::string name = Lower(coding);
    if (name == "gzip" || name == "x-gzip" || name == "*") {
      bool refused = false;
      const size_t q = item.find(';');
      if (q != std::string_view::npos) {
        std::string params = Lower(item.substr(q + 1));
        params.erase(std::remove_if(params.begin(), params.end(),
                                    [](char c) { return c == ' ' || c == '\t'; }),
                     params.end());
        if (params.rfind("q=", 0) == 0) {
          const std::string value = params.substr(2);
          refused = value.find_first_not_of("0.") == std::string::npos;
        }
      }
      if (!refused) return true;
    }
    start = end + 1;
  }
  return false;
}

// If-None-Match lists `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`.
bool NoneMatchHits(std::string_view header, std::string_view etag) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view tag = Trim(header.substr(start, end - start));
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == etag) return true;
    start = end + 1;
  }
  return false;
}

std::string HeaderOf(const HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

std::string ContentHashEtag(std::string_view content) {
  std::array<unsigned char, 16> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(content.data()), content.size(),
                     nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string etag = "\"";
  for (unsigned char b : digest) {
    etag.push_back(kHex[b >> 4]);
    etag.push_back(kHex[b & 15]);
  }
  etag.push_back('"');
  return etag;
}

bool IsRegularFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

}  // namespace

StaticFiles::StaticFiles(std::string root_dir, Options options) : options_(options) {
  std::error_code ec;
  fs::path root = fs::canonical(root_dir, ec);
  if (ec) {
    // Not fatal: the API works without the web client, and every page answers 404.
    spdlog::warn("web_root {} cannot be served: {}", root_dir, ec.message());
    return;
  }
  root_ = std::move(root);
}

std::shared_ptr<const StaticFiles::File> StaticFiles::Load(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return nullptr;
  const fs::file_time_type mtime = fs::last_write_time(path, ec);
  if (ec) return nullptr;
  const std::string key = path.string();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second->size == size && it->second->mtime == mtime) {
      return it->second;
    }
  }
  std::optional<std::string> content = ReadFile(path);
  if (!content) return nullptr;
  auto file = std::make_shared<File>();
  // The size read wins over the stat: a file replaced in between gets re-read next time.
  file->size = content->size() == size ? size : content->size() + 1;
  file->mtime = mtime;
  file->etag = ContentHashEtag(*content);
  file->content = std::make_shared<const std::string>(std::move(*content));
  const size_t bytes = file->content->size();
  if (bytes <= options_.max_cached_file_bytes) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      cached_bytes_ -= it->second->content->size();
      cache_.erase(it);
    }
    // Over the bound: start afresh. Old builds' names fall out this way too.
    if (cached_bytes_ + bytes > options_.max_cached_bytes) {
      cache_.clear();
      cached_bytes_ = 0;
    }
    cache_.emplace(key, file);
    cached_bytes_ += bytes;
  }
  return file;
}

HttpReply StaticFiles::Serve(const HttpRequest& request) {
  const auto not_found = [&] {
    return HttpReply::FromError(Error::NotFound("no such file: " + request.path));
  };
  if (root_.empty()) return not_found();
  std::optional<std::vector<std::string>> segments = SafeSegments(request.path);
  if (!segments) return not_found();

  fs::path relative;
  for (const std::string& segment : *segments) relative /= segment;
  fs::path target = segments->empty() ? root_ / "index.html" : root_ / relative;

  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(target, ec);
  if (ec) return not_found();
  // Symlinks are resolved: whatever the path says, the file must lie inside the root.
  const std::string root_prefix = root_.string() + "/";
  if (resolved.string().rfind(root_prefix, 0) != 0) return not_found();

  bool spa_route = false;
  if (!IsRegularFile(resolved)) {
    // A path like /c/123 is a route of the client, not a file: the page handles it.
    const bool has_extension =
        !segments->empty() && segments->back().find('.') != std::string::npos;
    if (has_extension) return not_found();
    resolved = root_ / "index.html";
    spa_route = true;
    if (!IsRegularFile(resolved)) return not_found();
  }

  const std::string extension = resolved.extension().string();
  const bool hashed = !spa_route && IsHashedAsset(*segments);
  const fs::path gz_path = resolved.string() + ".gz";
  const bool has_gz = extension != ".gz" && IsRegularFile(gz_path);
  const bool send_gz = has_gz && AcceptsGzip(HeaderOf(request, "accept-encoding"));

  std::shared_ptr<const File> file = Load(send_gz ? gz_path : resolved);
  if (!file) return not_found();

  HttpReply reply;
  reply.headers.emplace_back("ETag", file->etag);
  reply.headers.emplace_back("Cache-Control", std::string(hashed ? kImmutable : kRevalidate));
  if (has_gz) reply.headers.emplace_back("Vary", "Accept-Encoding");
  if (NoneMatchHits(HeaderOf(request, "if-none-match"), file->etag)) {
    reply.status = 304;
    reply.content_type.clear();
    return reply;
  }
  reply.status = 200;
  reply.content_type = std::string(ContentType(extension));
  reply.body = *file->content;
  if (send_gz) reply.headers.emplace_back("Content-Encoding", "gzip");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (extension == ".html") {
    reply.headers.emplace_back("Content-Security-Policy", std::string(kHtmlPolicy));
    reply.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return reply;
}

void AddStaticFiles(Router& router, std::string root_dir) {
  auto files = std::make_shared<StaticFiles>(std::move(root_dir));
  router.SetFallback(HandlerKind::kBlocking,
                     [files](HttpRequest& request) { return files->Serve(request); });
}

}  // namespace parley
