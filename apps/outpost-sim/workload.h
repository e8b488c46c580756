// The devices' users, drawn from the seed: one domain mutation per call, chosen from what
// the device's replica shows (its drafts, voicemails, interactions, queues, codes), like
// an app would. Every id mutate() returns goes into the Ledger; every word typed is a
// unique token ("d<device>n<counter>") recorded with the save that carried it, and a word
// the user erases on purpose is recorded as such.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <string>

#include "adapters/sim_random.h"
#include "apps/outpost-sim/device.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/world.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {

struct WorkloadStats {
  uint64_t mutations = 0;       // mutate() returned an id
  uint64_t local_refusals = 0;  // the device's own mutator refused (nothing recorded)
};

class Workload {
 public:
  Workload(const World& world, Ledger& ledger, Trace& trace, SimRandom& random)
      : world_(world), ledger_(ledger), trace_(trace), random_(random) {}

  // One user action on `device` (alive). Errors are replica failures, not refusals.
  Status step(SimDevice& device, int64_t now_ms);
  const WorkloadStats& stats() const { return stats_; }
  // --platform-kind genesys: this tenant's drafts answer its mirrored interactions (an email
  // reply, an SMS) or ask a callback, so their sends reach the Genesys model (decision 055).
  void set_genesys_tenant(std::string tenant) { genesys_tenant_ = std::move(tenant); }

 private:
  Status type_draft(SimDevice& device, int64_t now_ms);
  Status erase_word(SimDevice& device, int64_t now_ms);
  Status type_note(SimDevice& device, int64_t now_ms);
  Status simple(SimDevice& device, int64_t now_ms, size_t kind);
  // Runs mutate() and records the outcome; returns the id (0 when refused locally).
  Result<uint64_t> mutate(SimDevice& device, const std::string& name,
                          const google::protobuf::Message& args, int64_t now_ms,
                          const std::string& summary);
  std::string new_word(SimDevice& device);
  // What a Genesys tenant's new (or refused) draft answers: one of the device's connected
  // email or message interactions, or a callback on queue-1.
  Status aim_at_genesys(SimDevice& device, domain::Draft& draft);
  std::string genesys_tenant_;

  const World& world_;
  Ledger& ledger_;
  Trace& trace_;
  SimRandom& random_;
  WorkloadStats stats_;
};

}  // namespace outpost::sim
