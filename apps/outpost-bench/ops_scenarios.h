// Operating figures (docs/operations.md): the admin listener's /metrics scrape (time and
// bytes) and the console's device page at a given fleet size, the console's first paint
// in headless chromium (scripts/console-paint, when chromium is installed), and what
// device reports cost on the push/pull path (the same device work with and without them,
// alternated in one run).
// Thread rules: called from the benchmark's main thread.
#pragma once

#include <string>

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

inline constexpr const char* kReportTenant = "reports";

// Scrapes the first server's admin listener `scrapes` times while `connections` devices
// are connected; reports ms (p50) and bytes of /metrics and of one console device page,
// and the console's first paint when `paint`.
Status measure_admin(BenchContext& context, int connections, int scrapes, bool paint);

// The first server's `outpost_transport_events_total{event="<event>"}` from its /metrics
// (e.g. carried_sent, carried_encodings: decision 032). Errors: unreachable, not found.
Result<uint64_t> transport_event(BenchContext& context, const std::string& event);

// `rounds` rounds of one draft save pushed and pulled back, by a device with reports and
// one without, alternating; p50 and p99 of each.
Status run_device_reports(BenchContext& context, int rounds);

}  // namespace outpost::bench
