// The idle_connections scenario: how many idle streaming devices the servers hold.
// Lightweight Beast WebSocket clients on one io_context (a connection, a handshake with a
// device token, a pending read that answers the server's pings) rather than one
// SyncAgent each; opened a bounded number at a time, held, then measured from /proc.
// Thread rules: called from the benchmark's main thread, which runs the io_context.
#pragma once

#include <chrono>

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

inline constexpr const char* kIdleTenant = "idle";

// Opens `connections` streams (spread over the servers), holds them for `hold`, reports
// how many stayed open and the servers' RSS; then `poke_rounds` times a change in their
// scope, until each connection has its poke frame (idle_connections.poke); then each
// connection sends one pull announcing carried changes (decision 032) and the same rounds
// run again until each has the change itself (idle_connections.carried, beside the poke).
// Errors: none could be opened.
Status run_idle_connections(BenchContext& context, int connections, std::chrono::seconds hold,
                            int poke_rounds);

}  // namespace outpost::bench
