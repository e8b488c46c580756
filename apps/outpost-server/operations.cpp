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

void Operations::on_stream(const Principal& who, bool open) {
  if (open) {
    telemetry_.on_stream_opened(who);
  } else {
    telemetry_.on_stream_closed(who);
  }
}

namespace {

// The transport's counters as Prometheus counters.
void add_transport_counters(ops::Registry& registry, const SyncServer& server) {
  registry.add_collector([&server](ops::Sample& sample) {
    SyncServerStats stats = server.stats();
    const std::pair<const char*, uint64_t> kCounters[] = {
        {"connections_accepted", stats.connections_accepted},
        {"connections_refused", stats.connections_refused},
        {"accept_failures", stats.accept_failures},
        {"http_requests", stats.http_requests},
        {"frames_received", stats.frames_received},
        {"frames_sent", stats.frames_sent},
        {"slow_peers_cut", stats.slow_peers_cut},
        {"carried_encodings", stats.carried_encodings},
        {"carried_sent", stats.carried_sent},
        {"carried_compressions", stats.carried_compressions},
        {"direct_sends", stats.direct_sends},
        {"direct_partial_sends", stats.direct_partial_sends},
        {"column_pages_sent", stats.column_pages_sent}};
    sample.family(
        "outpost_transport_events_total",
        "Transport events: accepts, refusals past the connection cap, accept "
        "failures, HTTP requests, WebSocket frames, slow readers cut, commits' changes encoded "
        "to travel with the poke, carried frames sent, carried frames compressed once for "
        "every stream in format 2, and carried frames put on a socket by one send (the partial "
        "ones apart).",
        ops::MetricType::kCounter);
    for (const auto& [event, value] : kCounters) {
      sample.value("outpost_transport_events_total", {{"event", event}},
                   static_cast<double>(value));
    }
  });
}

}  // namespace

Status Operations::start(ServerCore& core, const SyncServer& server,
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
  health.connections = [&server] { return server.connection_count(); };
  add_transport_counters(registry_, server);
  ops::add_admin_routes(admin_, registry_, fleet_, std::move(health), now_ms_);
  return admin_.start();
}

}  // namespace outpost::server_app
