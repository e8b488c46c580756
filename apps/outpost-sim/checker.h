// The four invariants, checked at quiescence against the Ledger (what really happened)
// and the real stores:
// (1) every id mutate() returned was applied on the server exactly once, or rejected with
//     a reason that the device holds in rejected() (and the server recorded); nothing is
//     still pending, and the server applied nothing the devices never issued, nor another
//     mutation (another print) at an id a device used; a mutation a restore from a backup
//     took back (issued after the copy, unsent) may be lost, never applied twice;
// (2) every device's records equal the server's records of its two scopes, byte for byte;
// (3) every typed word that was not deliberately deleted is in the final text, or its
//     conflict copy, of its draft or note, on the server and on every device of the user
//     (docs/reliability.md defines "typed" and "deliberately deleted" precisely);
// (4) no device holds a record of a scope it may not read.
// A fifth, (5) never log out an agent who has a live stream or a voice interaction, is
// checked at every step by the push actor (push_actor.h). A sixth, (6) every blob a device
// holds verifies and every referenced blob is on the device or fetchable, is checked at
// quiescence by SimBlobs (blobs.h).
// Thread rules: plain functions over objects of one simulation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/outpost-sim/device.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/server.h"
#include "apps/outpost-sim/world.h"

namespace outpost::sim {

struct Violation {
  std::string invariant;  // "(1) exactly once", ...
  std::string detail;
  std::vector<std::string> terms;  // trace tokens to show ("d2", "m14", "d2n7")
};

std::vector<Violation> check_invariants(std::vector<std::unique_ptr<SimDevice>>& devices,
                                        SimServer& server, const World& world,
                                        const Ledger& ledger);

}  // namespace outpost::sim
