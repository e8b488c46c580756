// The device CLI's offline commands: they open the replica file and work with no server.
// Thread rules: run on the main thread of the CLI.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/replica.h"
#include "support/cli_args.h"

namespace outpost::cli {

// Runs get|query|search|sql|mutate|status|pending|rejected|discard. Writes results to `out`.
Status run_local_command(Replica& replica, const ParsedArgs& args, bool json, std::ostream& out);

// True when `command` is one of the commands above.
bool is_local_command(const std::string& command);

// The device CLI's global and command flags: those taking a value, and the switches.
// main() parses with these; so does the fuzz target fuzz/cli_fuzzer.cpp.
const std::vector<std::string>& device_valued_flags();
const std::vector<std::string>& device_switches();

}  // namespace outpost::cli
