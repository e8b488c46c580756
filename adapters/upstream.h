// The upstream contact-center platform the server mirrors: a source of platform events
// (engine/domain_server.h applies them) and the authority the devices' intents are
// forwarded to (engine/platform.h). adapters/sim_platform.h is the seeded simulator; a
// Genesys Cloud adapter would feed poll() from the notification channel and answer the
// intents with its REST calls.
// Thread rules: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/platform.h"
#include "engine/status.h"
#include "outpost/upstream.pb.h"

namespace outpost {

class Upstream : public Platform {
 public:
  // The events that happened on the platform up to now_ms, oldest first.
  virtual Result<std::vector<upstream::Event>> poll(int64_t now_ms) = 0;
  // The agents whose data the server mirrors (for the clock-driven rules).
  virtual std::vector<AgentRef> agents() const = 0;
};

}  // namespace outpost
