#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "notify/dispatcher.h"
#include "notify/http_post.h"
#include "notify/notification.h"
#include "notify/notify_store.h"
#include "notify/push_crypto.h"

namespace parley {

/// Job kinds.
inline constexpr std::string_view kWebhookJob = "webhook";
inline constexpr std::string_view kWebPushJob = "webpush";

/// The server-wide webhook: a JSON POST (WebhookBody) signed with HMAC-SHA256 over the exact
/// body bytes, in `X-Parley-Signature: sha256=<hex>`, with `X-Parley-Timestamp: <sent_ms>`
/// (also inside the signed body, so a receiver can refuse replays). Any 2xx is delivered;
/// anything else, or no answer, is retried.
class WebhookChannel {
 public:
  WebhookChannel(std::string url, std::string secret, Composer& composer, HttpPoster& http,
                 const Clock& clock)
      : url_(std::move(url)),
        secret_(std::move(secret)),
        composer_(composer),
        http_(http),
        clock_(clock) {}
  Delivery Deliver(const Job& job);

 private:
  std::string url_;
  std::string secret_;
  Composer& composer_;
  HttpPoster& http_;
  const Clock& clock_;
};

/// Is `endpoint` a push endpoint the server will POST to? https on the default port (none
/// given, or 443) to a host that is, or ends in "." + an entry of `allowed_hosts`. A loopback
/// host (127.x, ::1, localhost) only when it is itself an entry, and then with http or https
/// and any port (test and development push services). Anything else could point the server
/// at internal services, or at another service on a push host's other ports (SSRF).
bool PushEndpointAllowed(std::string_view endpoint, const std::vector<std::string>& allowed_hosts);

struct WebPushOptions {
  std::string subject = "mailto:admin@localhost";  // the VAPID `sub` claim
  int ttl_s = 24 * 3600;  // how long the push service keeps an undelivered message
  std::vector<std::string> allowed_hosts;
};

/// Web Push: the PushPayload encrypted per RFC 8291 (aes128gcm), POSTed to the subscription's
/// endpoint with a VAPID (RFC 8292) Authorization header. 2xx is delivered; 404 and 410 mean
/// the subscription is gone (it is dropped, the job skipped); 429, 5xx and no answer are
/// retried; any other status is permanent (dead letter).
class WebPushChannel {
 public:
  WebPushChannel(const push::VapidKey& vapid, WebPushOptions options, Composer& composer,
                 NotifyStore& store, HttpPoster& http, const Clock& clock)
      : vapid_(vapid),
        options_(std::move(options)),
        composer_(composer),
        store_(store),
        http_(http),
        clock_(clock) {}
  Delivery Deliver(const Job& job);

 private:
  const push::VapidKey& vapid_;
  WebPushOptions options_;
  Composer& composer_;
  NotifyStore& store_;
  HttpPoster& http_;
  const Clock& clock_;
};

}  // namespace parley
