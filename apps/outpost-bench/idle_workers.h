// idle_connections past one process's descriptor limit (decision 052): the idle clients
// live in child processes of the bench (`outpost-bench --idle-worker SPEC`), each holding
// its share, so that several server processes on one store can be measured holding more
// connections together than one process may open (20,000 descriptors here, a hard limit).
// The bench writes each worker a spec (stages, hold, format, its clients), then steps them
// through the stages with SIGUSR1 and reads their progress lines from their logs.
// Thread rules: the benchmark's main thread; a worker is single-threaded.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

// A worker's main: opens its clients stage by stage, holds them, pings them, closes them
// (each step after a SIGUSR1 from the bench), printing one line per step. Exit code 0,
// or 1 when the spec cannot be read.
int run_idle_worker(const std::string& spec_path);

// Whether `connections` idle clients need worker processes: more than this process may
// hold and more than one server to hold them.
bool idle_needs_workers(const BenchContext& context, int connections);

// Opens `connections` idle clients in stream format 2 from worker processes (as many as the
// descriptor limit needs), spread over the running servers (started fresh), in two stages
// (10,000, then all), each held for `hold`; reads the servers' summed RSS at each, then
// has every client ping once and reads it again. Reports idle_connections,
// idle_connections.server_rss, .kib_per_connection (beside 10,000 in the same run) and
// .kib_per_connection_after_ping, with the number of client processes and servers.
// Errors: a worker that cannot start or reports nothing in time; none opened.
Status run_idle_in_workers(BenchContext& context, const std::vector<std::string>& tokens,
                           int connections, std::chrono::seconds hold);

}  // namespace outpost::bench
