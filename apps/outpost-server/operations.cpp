#include "apps/outpost-server/operations.h"

#include "ops/admin_routes.h"

namespace outpost::server_app {
namespace {

// A scope name no device uses: reading its info is one cheap store round trip.
constexpr const char* kProbeScope = "org/-readyz-probe";

ops::AdminServerOptions admin_options(const ServeConfig& config, Logger& log) {
  ops::AdminServerOptions options;
  options.address = config.admin_host;
  options.port = config.admin_port;
  options.token = config.admin_token;
  options.log = [&log](std::string_view line) { log.warn(line, {{"component", "admin"}}); };
  return options;
}

}  // namespace

Operations::Operations(const ServeConfig& config, Logger& log, std::function<int64_t()> now_ms)
    : log_(log),
      now_ms_(std::move(now_ms)),
      telemetry_(registry_, fleet_, now_ms_),
      admin_(admin_options(config, log)) {
  telemetry_.set_request_log([&log](const ops::RequestEvent& event) {
    LogFields fields = {{"request_id", event.request_id}, {"kind", event.kind},
                        {"tenant", event.tenant},         {"user", event.user},
                        {"device", event.device},         {"code", event.code}};
    if (event.mutation_id) fields.emplace_back("mutation_id", std::to_string(event.mutation_id));
    if (event.seconds > 0) fields.emplace_back("seconds", std::to_string(event.seconds));
    log.log(event.code == "ok" || event.mutation_id ? LogLevel::kInfo : LogLevel::kWarn,
            event.message, fields);
  });
}

Operations::~Operations() {
  admin_.stop();
}

Status Operations::start(ServerCore& core, std::function<size_t()> connections,
                         std::function<bool()> upstream_connected) {
  core.set_observer(&telemetry_);
  core.add_commit_listener(
      [this](const std::vector<CommittedHead>& heads) { telemetry_.on_commit(heads); });
  ops::HealthChecks health;
  ServerStore* store = &core.store();
  health.store = [store] {
    auto info = store->scope_info(kProbeScope);
    return info.ok() ? Status::Ok() : info.status();
  };
  health.upstream_connected = std::move(upstream_connected);
  health.draining = &draining_;
  health.connections = std::move(connections);
  ops::add_admin_routes(admin_, registry_, fleet_, std::move(health), now_ms_);
  return admin_.start();
}

}  // namespace outpost::server_app
