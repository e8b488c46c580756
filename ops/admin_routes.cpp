#include "ops/admin_routes.h"

#include <charconv>
#include <cstdio>

#include "ops/console_page.h"

namespace outpost::ops {
namespace {

constexpr std::string_view kJson = "application/json";

size_t query_number(const AdminRequest& request, const std::string& name, size_t fallback,
                    size_t max) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  size_t value = fallback;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (ec != std::errc()) return fallback;
  return std::min(value, max);
}

std::string query_text(const AdminRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  return it == request.query.end() ? std::string() : it->second.substr(0, 128);
}

std::string summary_json(const FleetSummary& summary, bool ready, const std::string& why) {
  return "{\"devices\":" + std::to_string(summary.devices) +
         ",\"live\":" + std::to_string(summary.live) +
         ",\"behind\":" + std::to_string(summary.behind) +
         ",\"scopes\":" + std::to_string(summary.scopes) +
         ",\"rejections\":" + std::to_string(summary.rejections) +
         ",\"version\":" + std::to_string(summary.version) +
         ",\"ready\":" + (ready ? "true" : "false") + ",\"not_ready\":" + json_quote(why) + "}";
}

std::string device_json(const DeviceRow& row) {
  return "{\"tenant\":" + json_quote(row.tenant) + ",\"user\":" + json_quote(row.user) +
         ",\"device\":" + json_quote(row.device) +
         ",\"last_seen_ms\":" + std::to_string(row.last_seen_ms) +
         ",\"live\":" + (row.live ? "true" : "false") +
         ",\"lag_changes\":" + std::to_string(row.lag_changes) +
         ",\"lag_ms\":" + std::to_string(row.lag_ms) +
         ",\"reported\":" + (row.reported ? "true" : "false") +
         ",\"app_version\":" + json_quote(row.app_version) +
         ",\"outbox_depth\":" + std::to_string(row.outbox_depth) +
         ",\"last_sync_ms\":" + std::to_string(row.last_sync_ms) +
         ",\"pushes\":" + std::to_string(row.pushes) + ",\"pulls\":" + std::to_string(row.pulls) +
         ",\"rejected\":" + std::to_string(row.rejected) + "}";
}

// Why the server is not ready, or "" when it is.
std::string not_ready(const HealthChecks& health) {
  if (health.draining && health.draining->load()) return "draining";
  if (health.store) {
    Status store = health.store();
    if (!store.ok()) return "store unreachable: " + store.to_string();
  }
  if (health.upstream_connected && !health.upstream_connected()) return "upstream not connected";
  return "";
}

}  // namespace

void add_admin_routes(AdminServer& server, Registry& registry, Fleet& fleet, HealthChecks health,
                      std::function<int64_t()> now_ms) {
  registry.add_collector([&fleet, health, now_ms](Sample& sample) {
    sample.family("outpost_connections", "Open device connections (HTTP and WebSocket).",
                  MetricType::kGauge);
    sample.value("outpost_connections", {}, health.connections ? health.connections() : 0);
    FleetSummary summary = fleet.summary(now_ms());
    sample.family("outpost_streams", "Devices streaming (WebSocket open).", MetricType::kGauge);
    sample.value("outpost_streams", {}, static_cast<double>(summary.live));
    sample.family("outpost_fleet_devices", "Devices the server remembers (bounded).",
                  MetricType::kGauge);
    sample.value("outpost_fleet_devices", {}, static_cast<double>(summary.devices));
    sample.family("outpost_fleet_devices_behind",
                  "Devices whose cursors are behind their scopes' heads.", MetricType::kGauge);
    sample.value("outpost_fleet_devices_behind", {}, static_cast<double>(summary.behind));
    sample.family("outpost_fleet_devices_evicted_total",
                  "Devices forgotten to keep the fleet bounded.", MetricType::kCounter);
    sample.value("outpost_fleet_devices_evicted_total", {},
                 static_cast<double>(fleet.evicted_devices()));
    sample.family("outpost_scopes_tracked", "Scopes whose heads the server has seen move.",
                  MetricType::kGauge);
    sample.value("outpost_scopes_tracked", {}, static_cast<double>(summary.scopes));
    sample.family("outpost_draining", "1 while the server drains before stopping.",
                  MetricType::kGauge);
    sample.value("outpost_draining", {}, health.draining && health.draining->load() ? 1 : 0);
    if (health.upstream_connected) {
      sample.family("outpost_upstream_connected", "1 while the platform upstream is connected.",
                    MetricType::kGauge);
      sample.value("outpost_upstream_connected", {}, health.upstream_connected() ? 1 : 0);
    }
  });

  server.route("/metrics", [&registry](const AdminRequest&) {
    return AdminReply{200, std::string(kPrometheusContentType), registry.render()};
  });
  server.route(
      "/healthz",
      [](const AdminRequest&) {
        return AdminReply{200, "text/plain", "ok\n"};
      },
      true);
  server.route(
      "/readyz",
      [health](const AdminRequest&) {
        std::string why = not_ready(health);
        if (why.empty()) return AdminReply{200, "text/plain", "ready\n"};
        return AdminReply{503, "text/plain", "not ready: " + why + "\n"};
      },
      true);
  server.route("/", [](const AdminRequest&) {
    return AdminReply{200, "text/html; charset=utf-8", std::string(console_page())};
  });
  server.route("/api/summary", [&fleet, health, now_ms](const AdminRequest&) {
    std::string why = not_ready(health);
    return AdminReply{200, std::string(kJson),
                      summary_json(fleet.summary(now_ms()), why.empty(), why)};
  });
  server.route("/api/tenants", [&fleet, now_ms](const AdminRequest&) {
    std::string body = "[";
    for (const TenantRow& row : fleet.tenants(now_ms())) {
      if (body.size() > 1) body += ',';
      body +=
          "{\"tenant\":" + json_quote(row.tenant) + ",\"devices\":" + std::to_string(row.devices) +
          ",\"live\":" + std::to_string(row.live) + ",\"behind\":" + std::to_string(row.behind) +
          ",\"outbox\":" + std::to_string(row.outbox) +
          ",\"rejected\":" + std::to_string(row.rejected) + "}";
    }
    return AdminReply{200, std::string(kJson), body + "]"};
  });
  server.route("/api/devices", [&fleet, now_ms](const AdminRequest& request) {
    size_t offset = query_number(request, "offset", 0, SIZE_MAX);
    size_t limit = query_number(request, "limit", 100, kMaxPageRows);
    DevicePage page = fleet.devices(now_ms(), offset, limit, query_text(request, "tenant"),
                                    query_text(request, "behind") == "1");
    std::string body = "{\"total\":" + std::to_string(page.total) +
                       ",\"offset\":" + std::to_string(offset) + ",\"rows\":[";
    for (size_t i = 0; i < page.rows.size(); ++i) {
      if (i > 0) body += ',';
      body += device_json(page.rows[i]);
    }
    return AdminReply{200, std::string(kJson), body + "]}"};
  });
  server.route("/api/rejections", [&fleet](const AdminRequest& request) {
    std::string body = "[";
    for (const RejectionRow& row : fleet.rejections(query_number(request, "limit", 50, 200))) {
      if (body.size() > 1) body += ',';
      body += "{\"at_ms\":" + std::to_string(row.at_ms) + ",\"tenant\":" + json_quote(row.tenant) +
              ",\"user\":" + json_quote(row.user) + ",\"device\":" + json_quote(row.device) +
              ",\"mutation_id\":" + std::to_string(row.mutation_id) +
              ",\"code\":" + json_quote(row.code) + ",\"reason\":" + json_quote(row.reason) + "}";
    }
    return AdminReply{200, std::string(kJson), body + "]"};
  });
  server.route("/api/scopes", [&fleet](const AdminRequest& request) {
    size_t total = 0;
    auto rows = fleet.scopes(query_number(request, "offset", 0, SIZE_MAX),
                             query_number(request, "limit", 100, kMaxPageRows), &total);
    std::string body = "{\"total\":" + std::to_string(total) + ",\"rows\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) body += ',';
      body += "{\"scope\":" + json_quote(rows[i].scope) +
              ",\"head_seq\":" + std::to_string(rows[i].head_seq) +
              ",\"horizon_seq\":" + std::to_string(rows[i].horizon_seq) +
              ",\"head_moved_ms\":" + std::to_string(rows[i].head_moved_ms) +
              ",\"compacted_ms\":" + std::to_string(rows[i].compacted_ms) + "}";
    }
    return AdminReply{200, std::string(kJson), body + "]}"};
  });
  // Once a second, the summary: the page refreshes what it shows when its version moved
  // (and its lag columns, which grow with time, every few events).
  server.event_stream(
      "/api/events",
      [&fleet, health, now_ms] {
        std::string why = not_ready(health);
        return summary_json(fleet.summary(now_ms()), why.empty(), why);
      },
      std::chrono::milliseconds(1000));
}

}  // namespace outpost::ops
