// The genesys_mirror scenario: the Genesys adapter's REST cost, in process against the fake
// Genesys Cloud (--genesys-fake). (1) The initial mirror of an org with many external
// contacts (50,000; --quick 5,000) under the adapter's default request budget (240 a
// minute), beside the same mirror with an unbounded budget in the same run. (2) REST
// requests per agent per hour at steady state: the requests of the agents' and the org's
// reconciles (counted by path on the fake over a window with short intervals), scaled to
// the default intervals (agents every 15 min, the org every hour), and the largest org one
// server mirrors within the budget.
// Thread rules: the benchmark's main thread.
#pragma once

#include "apps/outpost-bench/bench_context.h"

namespace outpost::bench {

// Errors: the fake did not start, a mirror did not finish within its bound.
Status run_genesys_mirror(BenchContext& context, int contacts, int agents);

}  // namespace outpost::bench
