// The contact-center platform acting on its own while devices work, mirrored the way the
// real server mirrors it: every event is an upstream::Event applied by the engine's
// DomainServer (three-way merge of web edits, delete-wins voicemail, presence rules). The
// web interface opens a draft or a notepad (loading it from the server's store), the agent
// types a unique word there ("web17") and saves some steps later, so web saves race the
// devices' saves. Interactions are routed and ended, voicemails left (and deleted on the
// web: a tombstone), presence changed, contacts edited. Behind PlatformEvents so another
// source (the lead's adapters/sim_platform.h) can drive the same run.
// SimIntents is the platform's authority over the devices' intents (presence, wrap-up,
// send, queue): seeded refusals and, rarely, "unavailable, try later".
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <memory>
#include <string>

#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/sim_random.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/world.h"
#include "engine/platform.h"
#include "engine/server_core.h"

namespace outpost::sim {

class PlatformEvents {
 public:
  virtual ~PlatformEvents() = default;
  // One event for `user`, applied through `core` (which changes across server restarts).
  // Text edits go to the ledger; an error is a server failure the run reports.
  virtual Status step(ServerCore& core, const SimUser& user, int64_t now_ms) = 0;
  // An event that leaves a tombstone in the user's scope (for a device asleep past the
  // compaction horizon to miss).
  virtual Status delete_something(ServerCore& core, const SimUser& user, int64_t now_ms) = 0;
};

// Seeded events with unique typed words, applied through engine/domain_server.h.
std::unique_ptr<PlatformEvents> make_upstream_platform(const World& world, Ledger& ledger,
                                                       Trace& trace, SimRandom& random);

// The events of adapters/sim_platform.h (seeded from `seed`), applied through
// engine/domain_server.h; the words its web edits add count as typed (they are phrases,
// not unique tokens, so (3) checks them as a set per record). step() polls it up to now
// whatever the user; delete_something falls back to the unique-word platform's.
std::unique_ptr<PlatformEvents> make_sim_platform_events(const World& world, Ledger& ledger,
                                                         Trace& trace, SimRandom& random,
                                                         uint64_t seed);

struct IntentOdds {
  double refuse_wrap_up = 0.1;  // "the interaction is already qualified on the platform"
  double refuse_send = 0.05;    // "mailbox unavailable"
  double unavailable = 0.02;    // any intent: the platform did not answer (push retried)
};

// Answers the intents the authoritative mutators forward (engine/platform.h). Presence
// changes to the AUX reason "aux-training" are always refused, as a supervisor's plan.
class SimIntents final : public Platform {
 public:
  SimIntents(SimRandom& random, Trace& trace, IntentOdds odds = {})
      : random_(random), trace_(trace), odds_(odds) {}

  Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                      const std::string& aux_reason_id, int64_t now_ms) override;
  Result<PlatformAnswer> wrap_up(const AgentRef& agent, const domain::Interaction& interaction,
                                 const std::string& code_id, int64_t now_ms) override;
  Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft,
                              int64_t now_ms) override;
  Result<PlatformAnswer> set_queue_joined(const AgentRef& agent, const std::string& queue_id,
                                          bool joined, int64_t now_ms) override;
  // Quiescence: the platform stays reachable (refusals go on).
  void calm() { odds_.unavailable = 0; }

 private:
  Status maybe_unavailable(const std::string& what);

  SimRandom& random_;
  Trace& trace_;
  IntentOdds odds_;
};

}  // namespace outpost::sim
