// The scenarios that sync real devices (SyncAgents over real loopback WebSockets) with the
// outpost-server processes: initial_sync and catch_up (each beside a raw SQLite bulk
// insert of the same rows) and fanout (a server change until it is in every device's
// store). Figures go to the context's report.
// Thread rules: called from the benchmark's main thread.
#pragma once

#include <cstdint>
#include <string>

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

// The tenant initial_sync seeds with `records` contacts (plus the rest of the demo set).
std::string sync_tenant(uint64_t records);
inline constexpr const char* kFanoutTenant = "fanout";
inline constexpr uint32_t kFanoutContacts = 50;
inline constexpr const char* kBenchUser = "agent-1";

// Syncs a fresh device from sync_tenant(records) and, when `then_catch_up`, changes 1%
// inserts + 1% updates + 0.1% deletes on the server while it is offline and syncs again
// (the embedded store only: the changes are written to it directly while the servers are
// stopped). Errors: a device that does not catch up, a server that fails.
Status run_initial_sync(BenchContext& context, uint64_t records, bool then_catch_up);

// TLS's cost: a fresh device syncs sync_tenant(records) over ws, then another over wss
// (servers restarted with a certificate made for the run, the device trusting its CA);
// the wss rate is reported against the ws one, and the servers' CPU time likewise.
Status run_tls_sync(BenchContext& context, uint64_t records);

// `devices` streaming devices of one agent; another device of the agent saves a draft,
// `rounds` times; each time, until the draft is committed in each device's store.
Status run_fanout(BenchContext& context, int devices, int rounds);

}  // namespace outpost::bench
