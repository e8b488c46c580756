// The idle_connections scenario: how many idle streaming devices the servers hold.
// Lightweight Beast WebSocket clients on one io_context (a connection, a handshake with a
// device token, a pending read that answers the server's pings) rather than one
// SyncAgent each; opened a bounded number at a time, held, then measured from /proc:
// first at 10,000 (the earlier runs' figure), then at the number asked for, each client
// bound to its own 127.1.0.X source address so ephemeral ports do not run out.
// Thread rules: called from the benchmark's main thread, which runs the io_context.
#pragma once

#include <chrono>

#include "apps/outpost-bench/bench_context.h"
#include "apps/outpost-bench/idle_fleet.h"
#include "engine/status.h"

namespace outpost::bench {

// The servers' --max-connections is the idle connections asked for plus this (the
// writer device, the scrapes), and never below the default cap.
inline constexpr size_t kIdleConnectionsHeadroom = 1000;

// Opens `connections` streams (spread over the servers; no more than the descriptor limit
// lets the bench and each server hold), holds them for `hold`, reports how many stayed
// open and the servers' RSS per connection beside the same at 10,000; then `poke_rounds`
// times a change in their scope, until each connection has its poke frame
// (idle_connections.poke); then each connection sends one pull announcing carried changes
// (decision 032) and the same rounds run again until each has the change itself
// (idle_connections.carried, beside the poke). All of that in stream format 1; then the
// servers are restarted and a fleet of the same size in stream format 2 (decision 039)
// is opened, pinged and sent the carried rounds (idle_connections.message_format.*,
// beside format 1 of the same run).
// Errors: none could be opened.
Status run_idle_connections(BenchContext& context, int connections, std::chrono::seconds hold,
                            int poke_rounds);

}  // namespace outpost::bench
