// `serve --upstream genesys`: the adapter's options from the server's configuration, with
// the OAuth client credentials read from a file or the environment (never the command
// line; the secret appears in no message).
// Thread rules: plain functions.
#pragma once

#include <functional>
#include <string>

#include "adapters/genesys/genesys_upstream.h"
#include "apps/outpost-server/server_config.h"
#include "engine/status.h"

namespace outpost::server_app {

using Getenv = std::function<const char*(const char*)>;

// Errors: kInvalidArgument (agents of several tenants, no credentials, an unreadable or
// malformed credentials file).
Result<genesys::GenesysOptions> genesys_options(const ServeConfig& config, const Getenv& getenv);

}  // namespace outpost::server_app
