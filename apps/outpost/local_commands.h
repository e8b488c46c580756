// The device CLI's offline commands: they open the replica file and work with no server.
// Thread rules: run on the main thread of the CLI.
#pragma once

#include <iosfwd>

#include "apps/outpost/cli_args.h"
#include "engine/replica.h"

namespace outpost::cli {

// Runs get|query|search|sql|mutate|status|pending|rejected|discard. Writes results to `out`.
Status run_local_command(Replica& replica, const ParsedArgs& args, bool json, std::ostream& out);

// True when `command` is one of the commands above.
bool is_local_command(const std::string& command);

}  // namespace outpost::cli
