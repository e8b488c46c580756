// Drives the server's mirror of the contact-center platform on its own thread: every step
// it polls the Upstream for events, applies them through DomainServer, and runs the
// domain's clock rules (auto-ready, journal window) with the wall clock. stop() joins.
// Thread rules: constructed and stopped on one thread; the loop runs on its own.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/upstream.h"
#include "apps/outpost-server/periodic_thread.h"
#include "engine/domain_server.h"
#include "engine/status.h"

namespace outpost::server_app {

class UpstreamLoop {
 public:
  using Clock = std::function<int64_t()>;
  using Log = std::function<void(std::string_view)>;
  // Hears each event once it is applied (the push thread's on_platform_event); may be empty.
  using Observer = std::function<void(const upstream::Event&)>;
  UpstreamLoop(Upstream& upstream, DomainServer& domain, std::chrono::milliseconds every,
               Clock clock, Log log, Observer observer = nullptr);
  ~UpstreamLoop() { stop(); }
  void stop();

 private:
  void step();

  Upstream& upstream_;
  DomainServer& domain_;
  Clock clock_;
  Log log_;
  Observer observer_;
  PeriodicThread thread_;  // last: starts after, stops before the members above
};

// "acme/agent-1,acme/agent-2" into agents. Errors: kInvalidArgument.
Result<std::vector<AgentRef>> parse_agents(const std::string& text);

}  // namespace outpost::server_app
