// The contact-center platform acting on its own while devices work: the web interface
// typing into a draft or a notepad, an interaction routed or ended, a voicemail left or
// deleted on the web, the agent's presence changed, a contact edited. Each event is one
// ServerCore::write, like the upstream events of the real server. Behind this interface
// so the simulator can switch to the lead's seeded platform (adapters/sim_platform.h)
// once it lands.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <memory>
#include <string>

#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/sim_random.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/world.h"
#include "engine/server_core.h"

namespace outpost::sim {

class PlatformEvents {
 public:
  virtual ~PlatformEvents() = default;
  // One event for `user`, written through `core` (which changes across server restarts).
  // Text edits go to the ledger; an error is a server failure the run reports.
  virtual Status step(ServerCore& core, const SimUser& user, int64_t now_ms) = 0;
  // An event that leaves a tombstone in the user's scope (for a device asleep past the
  // compaction horizon to miss).
  virtual Status delete_something(ServerCore& core, const SimUser& user, int64_t now_ms) = 0;
};

// Events written directly as server records.
std::unique_ptr<PlatformEvents> make_server_write_platform(const World& world, Ledger& ledger,
                                                           Trace& trace, SimRandom& random);

}  // namespace outpost::sim
