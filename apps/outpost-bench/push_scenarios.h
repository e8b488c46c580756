// The push scenarios (docs/push.md): a server with push configured, sending to the fake
// APNs (given with --push-fake: the test fake's script; apps do not build on tests/).
//  - push.commit_to_request: a commit to a user whose `devices` devices all sleep, until
//    each device's wake request is at the fake; beside the same commit reaching a device
//    whose stream is open (the live path) in the same rounds.
//  - push.wake_to_voicemail: a cold `outpost wake` (process start, open, connect, pull,
//    exit) on a device with 1,000 other changes and a voicemail pending; beside the same
//    cold wake with only the voicemail pending.
// Thread rules: called from the benchmark's main thread.
#pragma once

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

inline constexpr const char* kPushTenant = "push";

// Errors: a fake or server that does not start, a round that does not complete in time.
Status run_push(BenchContext& context, int devices, int rounds, int wakes);

}  // namespace outpost::bench
