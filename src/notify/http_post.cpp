#include "notify/http_post.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace parley {
namespace {

constexpr size_t kMaxReplyBytes = 4096;

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (out->size() < kMaxReplyBytes) out->append(data, std::min(n, kMaxReplyBytes - out->size()));
  return n;  // the rest is read and dropped: the connection ends cleanly
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort != nullptr && abort->load() ? 1 : 0;  // non-zero aborts the transfer
}

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

CurlPoster::CurlPoster(int timeout_ms, const std::atomic<bool>* abort)
    : timeout_ms_(timeout_ms), abort_(abort) {
  // curl_global_init is not thread-safe; constructing posters happens at start-up.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<HttpPostReply> CurlPoster::Post(const std::string& url,
                                       const std::vector<std::string>& headers,
                                       std::string_view body) {
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Error::Internal("curl_easy_init failed");
  std::unique_ptr<curl_slist, ListDeleter> list;
  for (const std::string& header : headers) {
    curl_slist* grown = curl_slist_append(list.get(), header.c_str());
    if (grown == nullptr) return Error::Internal("out of memory");
    (void)list.release();
    list.reset(grown);
  }
  // No "Expect: 100-continue" round trip for bodies over 1 KiB.
  curl_slist* grown = curl_slist_append(list.get(), "Expect:");
  if (grown == nullptr) return Error::Internal("out of memory");
  (void)list.release();
  list.reset(grown);

  HttpPostReply reply;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // ignore *_proxy in the environment
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, abort_);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Error::Unavailable(std::string("POST failed: ") + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace parley
