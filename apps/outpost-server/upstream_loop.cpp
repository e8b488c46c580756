#include "apps/outpost-server/upstream_loop.h"

namespace outpost::server_app {

UpstreamLoop::UpstreamLoop(Upstream& upstream, DomainServer& domain,
                           std::chrono::milliseconds every, Clock clock, Log log, Observer observer)
    : upstream_(upstream),
      domain_(domain),
      clock_(std::move(clock)),
      log_(std::move(log)),
      observer_(std::move(observer)),
      thread_(every, [this] { step(); }) {}

void UpstreamLoop::stop() {
  thread_.stop();
}

void UpstreamLoop::step() {
  const int64_t now_ms = clock_();
  auto events = upstream_.poll(now_ms);
  if (!events.ok()) {
    log_("upstream: " + events.status().to_string());
    return;
  }
  for (const upstream::Event& event : *events) {
    Status applied = domain_.apply(event, now_ms);
    if (!applied.ok()) {
      log_("upstream event: " + applied.to_string());
    } else if (observer_) {
      observer_(event);
    }
  }
  auto ticked = domain_.tick(upstream_.agents(), now_ms);
  if (!ticked.ok()) log_("upstream tick: " + ticked.status().to_string());
}

Result<std::vector<AgentRef>> parse_agents(const std::string& text) {
  std::vector<AgentRef> agents;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    size_t slash = item.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == item.size() ||
        item.find('/', slash + 1) != std::string::npos) {
      return error(ErrorCode::kInvalidArgument,
                   "--sim-agents takes TENANT/USER[,TENANT/USER...], not '" + item + "'");
    }
    agents.push_back(AgentRef{item.substr(0, slash), item.substr(slash + 1)});
    start = comma + 1;
  }
  return agents;
}

}  // namespace outpost::server_app
