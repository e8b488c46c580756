// The blob scenario against a real outpost-server: an attachment of `bytes` uploaded,
// referenced by a draft the device saves and syncs, then downloaded by the device's
// BlobClient into its cache — beside a plain file copy of the same bytes over the same
// loopback (a socket, sendfile, write) in the same run. Figures: download and upload
// throughput, the device's RSS while the blob streams (bounded by the chunk, not the
// blob), and a download killed at 50% resumed (only the rest travels).
// Thread rules: called from the benchmark's main thread.
#pragma once

#include <cstdint>

#include "apps/outpost-bench/bench_context.h"
#include "engine/status.h"

namespace outpost::bench {

// The server's attachment bound the blob scenario needs (outpost-server --max-attachment-mb).
inline constexpr uint64_t kBenchMaxAttachmentMb = 256;

Status run_blob_transfer(BenchContext& context, uint64_t bytes);

}  // namespace outpost::bench
