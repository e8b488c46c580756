// What outpost-server serves on its admin listener (ops/admin_server.h):
//   /metrics            Prometheus text: the registry plus fleet and health gauges
//   /healthz            200 "ok" while the process runs (open, for load balancers)
//   /readyz             200 when the store answers, the upstream is connected (if any) and
//                       the server is not draining; else 503 naming what failed (open)
//   /                   the fleet console (ops/console_page.h): one page, no external files
//   /api/summary, /api/tenants, /api/devices?offset&limit&tenant&behind,
//   /api/rejections?limit, /api/scopes?offset&limit     JSON for the console
//   /api/events         server-sent events: the summary once a second when it changed
// Thread rules: the handlers run on the admin thread; what they read is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "engine/json_quote.h"
#include "engine/status.h"
#include "ops/admin_server.h"
#include "ops/fleet.h"
#include "ops/metrics.h"

namespace outpost::ops {

inline constexpr size_t kMaxPageRows = 500;

struct HealthChecks {
  // A cheap store round trip (a scope_info read). Ok: reachable.
  std::function<Status()> store;
  // Empty when the server mirrors no platform; else whether it is connected.
  std::function<bool()> upstream_connected;
  // Set when SIGTERM began the drain: /readyz fails first.
  const std::atomic<bool>* draining = nullptr;
  // Open device connections and streams, for /metrics.
  std::function<size_t()> connections;
};

// Registers every route above on `server`. Everything given must outlive it.
void add_admin_routes(AdminServer& server, Registry& registry, Fleet& fleet, HealthChecks health,
                      std::function<int64_t()> now_ms);

}  // namespace outpost::ops
