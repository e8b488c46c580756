// The contact center of a simulated run: adapters/sim_platform.h's SimPlatform (the one
// model outpost-server's --upstream sim runs too), seeded from the run's seed. Its events
// are applied through the engine's DomainServer as the real server applies them, retrying
// one the platform could not serve; the words its web edits type go to the ledger (unique
// words such as "web17", or with --platform-kind sim the server's phrases, which (3)
// checks as a set per record). It also answers the devices' intents: the Platform the
// server's authoritative mutators ask (refusals, and 2% "unavailable, try later").
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <functional>
#include <memory>

#include "adapters/sim_platform.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/world.h"
#include "engine/server_core.h"

namespace outpost::sim {

class SimContactCenter {
 public:
  // `clock_driven`: the platform runs on the simulated clock as outpost-server runs it
  // (SimPlatform::poll, every 200 ms) rather than one action per platform step.
  SimContactCenter(const World& world, Ledger& ledger, Trace& trace, ServerStore& store,
                   uint64_t seed, bool clock_driven);

  // What the server's authoritative mutators forward intents to.
  Platform& platform() { return platform_; }
  // One platform step for `user`, applied through `core` (which changes across server
  // restarts). An error is a server failure the run reports.
  Status step(ServerCore& core, const SimUser& user, int64_t now_ms);
  // A voicemail of the user deleted on the web: a tombstone in the user's scope (for a
  // device asleep past the compaction horizon to miss). No upstream event deletes a
  // voicemail, so the server's store is written directly.
  Status delete_something(ServerCore& core, const SimUser& user, int64_t now_ms);
  // Hears each event once applied (the push actor).
  void set_observer(std::function<void(const upstream::Event&, int64_t now_ms)> observer) {
    observer_ = std::move(observer);
  }
  // Quiescence: the platform answers every intent (refusals go on).
  void calm() { platform_.calm(); }

 private:
  Status apply(ServerCore& core, const upstream::Event& event, int64_t now_ms);

  Ledger& ledger_;
  Trace& trace_;
  bool clock_driven_;
  SimPlatform platform_;
  const ServerStore* bound_ = nullptr;  // the store platform_ reads
  std::function<void(const upstream::Event&, int64_t)> observer_;
};

}  // namespace outpost::sim
