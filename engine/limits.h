// The bounds the engine enforces, by name, in one place: batch and push sizes, names inside
// scopes and tokens, and the defaults a device asks for (kept within the server's caps).
// transport/limits.h includes this beside the wire's bounds; docs/protocol.md §7 lists the
// same numbers for other clients. The engine includes nothing from transport/.
// Thread rules: compile-time constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace outpost::limits {

inline constexpr size_t kKiB = 1024;
inline constexpr size_t kMiB = 1024 * kKiB;

// --- Sync batches (ServerCoreOptions' defaults) -----------------------------------------

// Changes in one pull response or live batch, as a client may ask for them.
inline constexpr uint32_t kMaxChangesPerBatch = 2000;
// What the server sends when the client does not say.
inline constexpr uint32_t kDefaultChangesPerBatch = 1000;
// Serialized size of one batch of changes; a batch ends before the change that would
// pass it.
inline constexpr uint64_t kMaxBatchBytes = 4 * kMiB;
// The same when the client does not say.
inline constexpr uint64_t kDefaultBatchBytes = 2 * kMiB;
// Mutations in one push request.
inline constexpr uint32_t kMaxMutationsPerPush = 500;
// Keys in one pull's `fetch` list.
inline constexpr uint32_t kMaxFetchKeysPerPull = 2000;
// Rejection records returned by one pull.
inline constexpr uint32_t kMaxRejectionsPerPull = 100;
// A push's client id, in bytes.
inline constexpr size_t kMaxClientIdLength = 128;
// A commit's changes travel with its poke (ServerFrame.carried, decision 032) up to this
// many changes and bytes (as a pull budget counts them); a bigger commit is a plain poke.
inline constexpr uint32_t kMaxCarriedChanges = 256;
inline constexpr uint64_t kMaxCarriedBytes = 256 * kKiB;

// --- What a device asks for (SyncClientOptions' defaults) --------------------------------

inline constexpr uint32_t kClientChangesPerPull = kDefaultChangesPerBatch;
inline constexpr uint64_t kClientBytesPerPull = kDefaultBatchBytes;
inline constexpr uint32_t kClientMutationsPerPush = 200;
inline constexpr uint32_t kClientFetchKeysPerPull = 1000;

// --- Names -----------------------------------------------------------------------------

// A tenant, user or device name ([A-Za-z0-9._-]{1,64}), inside a token and a scope.
inline constexpr size_t kMaxNameLength = 64;
// A device report's app version (protocol DeviceReport): longer ones are cut, by the
// device when it sends and by the server when it keeps one.
inline constexpr size_t kMaxAppVersionBytes = 64;

// --- Push targets (register_push_target) -------------------------------------------------

// An APNs device token (64 hex characters today) or an FCM registration token (~160).
inline constexpr size_t kMaxPushTokenLength = 512;
// An APNs topic (bundle id) or FCM app id.
inline constexpr size_t kMaxPushAppIdLength = 255;
// Push targets one user's devices are woken through (one per device): past it, the most
// recently registered are kept and the others counted, not woken.
inline constexpr size_t kMaxPushTargetsPerUser = 32;
// The push thread reads at most this many of a user's push_target records to choose them.
inline constexpr size_t kMaxPushTargetsScanned = 256;
static_assert(kMaxPushTargetsPerUser <= kMaxPushTargetsScanned);

static_assert(kDefaultChangesPerBatch <= kMaxChangesPerBatch);
static_assert(kDefaultBatchBytes <= kMaxBatchBytes);
// A carried batch is never more than a device asks for in one pull.
static_assert(kMaxCarriedChanges <= kClientChangesPerPull);
static_assert(kMaxCarriedBytes <= kClientBytesPerPull);
// A device's defaults stay within the server's caps, so it is never refused for them.
static_assert(kClientChangesPerPull <= kMaxChangesPerBatch);
static_assert(kClientBytesPerPull <= kMaxBatchBytes);
static_assert(kClientMutationsPerPush <= kMaxMutationsPerPush);
static_assert(kClientFetchKeysPerPull <= kMaxFetchKeysPerPull);

}  // namespace outpost::limits
