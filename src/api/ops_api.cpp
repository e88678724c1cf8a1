#include "api/ops_api.h"

namespace parley {

void AddOpsRoutes(Router& router, const MetricsRegistry& metrics, std::function<bool()> ready) {
  router.Add("GET", "/healthz", HandlerKind::kInline,
             [](HttpRequest&) { return HttpReply::Json(200, R"({"status":"ok"})"); });
  router.Add("GET", "/readyz", HandlerKind::kInline, [ready = std::move(ready)](HttpRequest&) {
    if (ready()) return HttpReply::Json(200, R"({"status":"ready"})");
    return HttpReply::FromError(Error::Unavailable("server is shutting down"));
  });
  router.Add("GET", "/metrics", HandlerKind::kInline, [&metrics](HttpRequest&) {
    HttpReply reply = HttpReply::Json(200, metrics.Render());
    reply.content_type = std::string(kPrometheusContentType);
    return reply;
  });
}

}  // namespace parley
