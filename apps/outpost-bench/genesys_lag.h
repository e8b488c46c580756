// The genesys_lag scenario: platform event -> device store lag through the Genesys adapter.
// A fake Genesys Cloud (the script given with --genesys-fake, run with /usr/bin/python3)
// routes a conversation; outpost-server --upstream genesys receives the notification,
// applies it, and a streaming device commits it. The baseline, in the same run and through
// the same server: another device of the agent saves a draft and the same device commits it.
// Thread rules: the benchmark's main thread.
#pragma once

#include "apps/outpost-bench/bench_context.h"

namespace outpost::bench {

// Errors: the fake or the server did not start, the device did not catch up.
Status run_genesys_lag(BenchContext& context, int rounds);

}  // namespace outpost::bench
