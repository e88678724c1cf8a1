#pragma once

#include <functional>

#include "api/router.h"
#include "metrics/metrics.h"

namespace parley {

/// Operational routes: /healthz (the process serves), /readyz (it accepts new work: false
/// while draining), /metrics (Prometheus text).
void AddOpsRoutes(Router& router, const MetricsRegistry& metrics, std::function<bool()> ready);

}  // namespace parley
