// What a device and the server hold, as comparable maps, for convergence checks:
// "collection/key" -> (version, serialized record), byte for byte. Shared by the sync
// test suites and the deterministic simulator (apps/outpost-sim), so it uses no test
// framework: a side that cannot be read shows up as an "!error" entry, which makes any
// comparison with a readable side fail visibly.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/replica.h"
#include "engine/replica_views.h"
#include "engine/server_store.h"

namespace outpost::support {

using RecordView = std::map<std::string, std::pair<uint64_t, std::string>>;

// Key of the entry that reports a read error (it sorts before every "collection/key").
inline constexpr const char* kViewErrorKey = "!error";

// Every current record of these scopes on the server.
RecordView server_view(ServerStore& store, const std::vector<std::string>& scopes);

// Every row of the device's collections (of one scope kind when given).
RecordView device_view(ReplicaReader replica, std::optional<Scope> scope = std::nullopt);

}  // namespace outpost::support
