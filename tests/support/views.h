// What a device and the server hold, as comparable maps, for convergence checks:
// "collection/key" -> (version, serialized record), byte for byte.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/replica.h"
#include "engine/server_store.h"

namespace outpost::testing {

using RecordView = std::map<std::string, std::pair<uint64_t, std::string>>;

// Every current record of these scopes on the server.
RecordView server_view(ServerStore& store, const std::vector<std::string>& scopes);

// Every row of the device's collections (of one scope kind when given).
RecordView device_view(Replica& replica, std::optional<Scope> scope = std::nullopt);

}  // namespace outpost::testing
