// Every bound of the wire, by name, in one place: body, frame and token sizes, queue depths
// and timeouts; it includes engine/limits.h (batch sizes, names), so this one header names
// every bound. docs/protocol.md lists the same numbers for other clients.
// Thread rules: compile-time constants only.
#pragma once

#include <cstddef>

#include "engine/limits.h"

namespace outpost::limits {

// kKiB and kMiB come from engine/limits.h.

// --- HTTP ------------------------------------------------------------------------------

// A request or response body as it travels (zstd-compressed). Larger bodies are refused
// before they are read to the end.
inline constexpr size_t kMaxCompressedBody = 8 * kMiB;
// The same body after decompression. The decoder stops at this size, whatever the zstd
// frame header claims, so a small zstd bomb cannot make the server allocate more.
inline constexpr size_t kMaxDecompressedBody = 32 * kMiB;
// The request line plus all headers (the bearer token travels here).
inline constexpr size_t kMaxHeaderBytes = 16 * kKiB;

// --- Blobs (docs/protocol.md §9; the size bounds per kind are BlobLimits, engine/blob.h) ---

// One upload chunk (PUT /v1/uploads/<hash> body, raw bytes): within the HTTP body bound.
inline constexpr size_t kMaxUploadChunk = kMaxCompressedBody;
// What a device sends per upload chunk.
inline constexpr size_t kClientBlobChunk = 4 * kMiB;
// What a device reads, hashes and writes at a time while downloading (one request): small
// enough that the piece is still in the CPU's cache when it is hashed and written (1 MiB
// measured 0.2-0.3x a plain copy, 64-256 KiB 0.5-1.2x; decision 031).
inline constexpr size_t kClientBlobBuffer = 256 * kKiB;
// The largest blob a device accepts from a server (past every server's configurable bound).
inline constexpr uint64_t kMaxClientBlobBytes = 4ull * 1024 * kMiB;
// A Range header's characters; anything longer is refused unparsed.
inline constexpr size_t kMaxRangeHeader = 100;
// The blob reference of a download (`?ref=<collection>/<key>`), percent-decoded.
inline constexpr size_t kMaxBlobRefLength = 512;
// The piece of a blob the server reads and writes at a time while streaming a response.
inline constexpr size_t kBlobStreamPiece = 256 * kKiB;
static_assert(kClientBlobChunk <= kMaxUploadChunk);

// --- WebSocket -------------------------------------------------------------------------

// One WebSocket message as it travels (one zstd-compressed protocol message).
inline constexpr size_t kMaxFrame = 8 * kMiB;
// One WebSocket message after decompression.
inline constexpr size_t kMaxDecompressedFrame = 32 * kMiB;
// Outgoing messages waiting behind a slow reader; past this the connection is closed
// rather than letting one device hold the server's memory.
inline constexpr size_t kMaxQueuedFramesPerConnection = 256;
// The same queue in bytes (serialized frames): 256 answers of a few MiB each would
// otherwise let one reader that never reads hold a gigabyte. Room for four full batches;
// a single message larger than this is still queued when it is the only one.
inline constexpr size_t kMaxQueuedBytesPerConnection = 16 * kMiB;
// Open connections per server process, HTTP and WebSocket together. One accepted past
// this is answered 503 "unavailable" with Retry-After and closed, before its request is
// read. The process's descriptor limit must be above it.
inline constexpr size_t kMaxConnections = 10000;
// The Retry-After (seconds) of that refusal; devices back off at least this long.
inline constexpr int kConnectionRefusalRetryAfterSeconds = 1;
// The device's compressed frames waiting to be written on its stream. It sends one
// request at a time (two with a pipelined pull), so this is a guard: past it the device
// drops the connection ("unavailable") and reconnects with backoff. A single frame larger
// than this is still sent when it is the only one.
inline constexpr size_t kMaxQueuedBytesToServer = 16 * kMiB;
// log2 of the zstd window of a per-connection streaming context (64 KiB of history).
// Both sides hold one compressor and one decompressor per connection, so this bounds the
// memory of an idle connection; a peer whose frames ask for a larger window is refused.
inline constexpr int kStreamWindowLog = 16;
// log2 of the largest zstd window of a standalone message (stream format 2, decision 039):
// each message is its own frame, decoded with a context kept per thread, not per
// connection. 4 MiB covers a whole page (kMaxBatchBytes); a frame asking for more is
// refused (too_large).
inline constexpr int kMessageWindowLog = 22;

// --- Sync batches: in engine/limits.h (the engine enforces them) ------------------------

// --- Authentication --------------------------------------------------------------------

// A bearer token, as text. Longer ones are refused before any decoding.
inline constexpr size_t kMaxTokenLength = 2048;
// kMaxNameLength (a tenant, user or device name) lives in engine/limits.h.

// --- Timeouts --------------------------------------------------------------------------

// A connection with no traffic in either direction for this long is closed; keep-alive
// pings must be sent more often than this.
inline constexpr int kIdleTimeoutSeconds = 60;
// From TCP accept to a completed HTTP request or WebSocket upgrade.
inline constexpr int kHandshakeTimeoutSeconds = 10;

static_assert(kMaxCompressedBody <= kMaxDecompressedBody);
static_assert(kMaxFrame <= kMaxDecompressedFrame);
// A full batch must fit in one frame even when it does not compress at all.
static_assert(kMaxBatchBytes <= kMaxFrame);
static_assert(4 * kMaxBatchBytes <= kMaxQueuedBytesPerConnection);
static_assert(kMaxFrame <= kMaxQueuedBytesToServer);
static_assert(kHandshakeTimeoutSeconds < kIdleTimeoutSeconds);

}  // namespace outpost::limits
