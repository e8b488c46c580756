// outpost-server's operator side, in one object: the metrics registry, the fleet, the
// server's instruments (ops::ServerTelemetry, wired into the ServerCore and its commits),
// the admin listener with its routes, and the drain flag /readyz reads.
// Thread rules: start(), begin_drain() and stop() on the main thread; the rest is used by
// the server's threads through the ServerCore. Construct it before the ServerCore it
// observes, so that it outlives it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "apps/outpost-server/json_log.h"
#include "apps/outpost-server/server_config.h"
#include "engine/server_core.h"
#include "ops/admin_server.h"
#include "ops/fleet.h"
#include "ops/metrics.h"
#include "ops/server_telemetry.h"
#include "transport/sync_server.h"

namespace outpost::server_app {

class Operations {
 public:
  Operations(const ServeConfig& config, Logger& log, std::function<int64_t()> now_ms);
  ~Operations();

  // A device's stream opened or closed (SyncServerOptions::on_stream; only counts).
  void on_stream(const Principal& who, bool open);
  // Observes `core` (and its commits) and `server` (connections, transport counters), and
  // starts the admin listener. `upstream_connected` is empty without an upstream. Errors:
  // the admin listener's (ops::AdminServer::start).
  Status start(ServerCore& core, const SyncServer& server,
               std::function<bool()> upstream_connected);
  uint16_t admin_port() const { return admin_.port(); }
  ops::ServerTelemetry& telemetry() { return telemetry_; }
  // /readyz fails from now on.
  void begin_drain() { draining_ = true; }
  void stop() { admin_.stop(); }

 private:
  Logger& log_;
  std::function<int64_t()> now_ms_;
  ops::Registry registry_;
  ops::Fleet fleet_;
  ops::ServerTelemetry telemetry_;
  ops::AdminServer admin_;
  std::atomic<bool> draining_{false};
};

}  // namespace outpost::server_app
