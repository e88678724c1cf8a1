#include "notify/channels.h"

#include <algorithm>

namespace parley {
namespace {

std::string StatusDetail(const HttpPostReply& reply) {
  std::string detail = "HTTP " + std::to_string(reply.status);
  if (!reply.body.empty()) detail += ": " + reply.body.substr(0, 200);
  return detail;
}

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// Composes the notification; fills `out` with the job's fate when there is nothing to send.
std::optional<Notification> ComposeOrFinish(Composer& composer, const NotifyTarget& target,
                                            Delivery& out) {
  Result<std::optional<Notification>> n = composer.Compose(target);
  if (!n.ok()) {
    out = {DeliveryOutcome::kRetry, "cannot compose: " + n.error().message};
    return std::nullopt;
  }
  if (!n->has_value()) {
    out = {DeliveryOutcome::kSkipped, "already read, left, or deleted"};
    return std::nullopt;
  }
  return std::move(**n);
}

}  // namespace

Delivery WebhookChannel::Deliver(const Job& job) {
  Result<NotifyTarget> target = NotifyTarget::FromJson(job.payload);
  if (!target.ok()) return {DeliveryOutcome::kFailed, target.error().message};
  Delivery finished;
  std::optional<Notification> n = ComposeOrFinish(composer_, *target, finished);
  if (!n) return finished;
  const int64_t now = clock_.NowMs();
  const std::string body = WebhookBody(*n, job.id, now);
  const std::vector<std::string> headers = {
      "Content-Type: application/json",
      "User-Agent: parleyd",
      "X-Parley-Signature: sha256=" + push::HmacSha256Hex(secret_, body),
      "X-Parley-Timestamp: " + std::to_string(now),
  };
  Result<HttpPostReply> reply = http_.Post(url_, headers, body);
  if (!reply.ok()) return {DeliveryOutcome::kRetry, reply.error().message};
  if (reply->status >= 200 && reply->status < 300) return {DeliveryOutcome::kDelivered, ""};
  return {DeliveryOutcome::kRetry, StatusDetail(*reply)};
}

bool PushEndpointAllowed(std::string_view endpoint, const std::vector<std::string>& allowed_hosts) {
  std::optional<std::string> host = push::HostOf(endpoint);
  std::optional<std::string> origin = push::OriginOf(endpoint);
  if (!host || !origin) return false;
  const bool https = endpoint.starts_with("https://");
  // What follows the host in the authority: "" (the default port) or ":PORT".
  std::string_view authority(*origin);
  authority.remove_prefix(authority.find("://") + 3);
  const size_t host_end = authority.front() == '[' ? authority.find(']') + 1 : host->size();
  const std::string_view port = authority.substr(host_end);
  // A loopback host named exactly in the list is a test or development push service: any
  // scheme and port. It is never reached through a subdomain rule.
  if (IsLoopback(*host)) {
    return std::find(allowed_hosts.begin(), allowed_hosts.end(), *host) != allowed_hosts.end();
  }
  // Everything else is a real push service: https on its default port, so that an endpoint
  // cannot aim the server's POSTs at another service on a push host (issue 17 #15).
  if (!https || !(port.empty() || port == ":443")) return false;
  return std::any_of(allowed_hosts.begin(), allowed_hosts.end(), [&](const std::string& allowed) {
    if (allowed.empty()) return false;
    if (*host == allowed) return true;
    return host->size() > allowed.size() && host->ends_with(allowed) &&
           (*host)[host->size() - allowed.size() - 1] == '.';
  });
}

Delivery WebPushChannel::Deliver(const Job& job) {
  Result<NotifyTarget> target = NotifyTarget::FromJson(job.payload);
  if (!target.ok()) return {DeliveryOutcome::kFailed, target.error().message};
  // The job's user's own row: another user's registration of the same endpoint is theirs.
  Result<PushSubscription> sub = store_.FindSubscription(target->user_id, target->endpoint);
  if (!sub.ok()) {
    if (sub.error().code == ErrorCode::kNotFound)
      return {DeliveryOutcome::kSkipped, "unsubscribed"};
    return {DeliveryOutcome::kRetry, sub.error().message};
  }
  if (!PushEndpointAllowed(sub->endpoint, options_.allowed_hosts)) {
    return {DeliveryOutcome::kFailed, "push endpoint host is not allowed"};
  }
  std::optional<push::Bytes> p256dh = push::Base64UrlDecode(sub->p256dh);
  std::optional<push::Bytes> auth = push::Base64UrlDecode(sub->auth);
  if (!p256dh || !auth) return {DeliveryOutcome::kFailed, "malformed subscription keys"};

  Delivery finished;
  std::optional<Notification> n = ComposeOrFinish(composer_, *target, finished);
  if (!n) return finished;
  Result<push::Bytes> body = push::Encrypt(PushPayload(*n), *p256dh, *auth);
  if (!body.ok()) return {DeliveryOutcome::kFailed, body.error().message};

  const int64_t now_s = clock_.NowMs() / 1000;
  // RFC 8292: at most 24 hours ahead; 12 leaves room for clock skew.
  Result<std::string> jwt =
      vapid_.SignJwt(*push::OriginOf(sub->endpoint), now_s + 12 * 3600, options_.subject);
  if (!jwt.ok()) return {DeliveryOutcome::kRetry, jwt.error().message};
  const std::vector<std::string> headers = {
      "Content-Type: application/octet-stream",
      "Content-Encoding: aes128gcm",
      "TTL: " + std::to_string(options_.ttl_s),
      "Urgency: normal",
      "Authorization: vapid t=" + *jwt + ", k=" + vapid_.PublicKeyBase64Url(),
  };
  Result<HttpPostReply> reply =
      http_.Post(sub->endpoint, headers,
                 std::string_view(reinterpret_cast<const char*>(body->data()), body->size()));
  if (!reply.ok()) return {DeliveryOutcome::kRetry, reply.error().message};
  const long status = reply->status;
  if (status >= 200 && status < 300) return {DeliveryOutcome::kDelivered, ""};
  if (status == 404 || status == 410) {
    // RFC 8030 section 7.3: the subscription expired or was removed; never try it again.
    if (Status s = store_.DropSubscription(sub->endpoint); !s.ok()) {
      return {DeliveryOutcome::kRetry, s.error().message};
    }
    return {DeliveryOutcome::kSkipped, "subscription gone (" + std::to_string(status) + ")"};
  }
  if (status == 429 || status >= 500) return {DeliveryOutcome::kRetry, StatusDetail(*reply)};
  return {DeliveryOutcome::kFailed, StatusDetail(*reply)};
}

}  // namespace parley
