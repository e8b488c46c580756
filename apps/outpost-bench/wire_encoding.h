// The wire_encoding scenario: how many bytes a snapshot's pages and single carried changes
// take on the wire under each encoding, beside the raw protobuf record bodies (the
// baseline of initial_sync.wire) — computed in this process, no server: the pages are the
// ServerFrames a pull of 2,000 changes answers. Two record shapes: the bench's demo
// contacts (what initial_sync syncs) and ~300-byte interaction records (id, agent, queue,
// media, direction, peer name and number, start/end, duration, wrap-up code, a ~100-
// character note: the shape other engines were measured with). Encodings: stream format 1
// (one zstd stream per connection), format 2 (one frame per message, decision 039), format
// 2 with a zstd dictionary per collection trained from the data (ZDICT_trainFromBuffer,
// its bytes counted once), and column-wise pages (each protobuf field's values together)
// in format 2.
// Thread rules: the benchmark's main thread.
#pragma once

#include <cstdint>

#include "apps/outpost-bench/bench_context.h"

namespace outpost::bench {

// `records` per record shape. Errors: zstd failures (no memory).
Status run_wire_encoding(BenchContext& context, uint64_t records);

}  // namespace outpost::bench
