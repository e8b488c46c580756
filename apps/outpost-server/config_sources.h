// Where `outpost-server serve` takes its settings from, besides its flags: the environment
// (OUTPOST_<FLAG>, e.g. OUTPOST_LISTEN, OUTPOST_ADMIN_LISTEN) and an optional config file
// (--config FILE or OUTPOST_CONFIG: "name = value" lines named like the flags, '#'
// comments). A flag beats the environment, which beats the file. Every setting remembers
// where it came from, so a bad value is reported with its source.
// Thread rules: plain values.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/status.h"
#include "support/cli_args.h"

namespace outpost::server_app {

using Environment = std::map<std::string, std::string>;

// This process's environment (the OUTPOST_* variables only).
Environment process_environment();

// "admin-listen" -> "OUTPOST_ADMIN_LISTEN".
std::string environment_name(const std::string& flag);

// Fills `args` with the settings of `allowed` flags not given on the command line, from
// `env` and then the config file. `sources` maps each setting taken this way to where it
// came from ("environment OUTPOST_X", "FILE line N"). Errors: kInvalidArgument for an
// unreadable file, a line that is not "name = value", or a name that is not a setting.
Status merge_config_sources(cli::ParsedArgs& args, const Environment& env,
                            const std::vector<std::string>& allowed,
                            std::map<std::string, std::string>& sources);

// `failure` with " (from SOURCE)" added when its message names a flag that came from the
// environment or the file.
Status with_source(const Status& failure, const std::map<std::string, std::string>& sources);

}  // namespace outpost::server_app
