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
#include "ops/metrics.h"

namespace outpost::server_app {

using Getenv = std::function<const char*(const char*)>;

// Errors: kInvalidArgument (agents of several tenants, no credentials, an unreadable or
// malformed credentials file).
Result<genesys::GenesysOptions> genesys_options(const ServeConfig& config, const Getenv& getenv);

// The adapter's counters on /metrics: outpost_genesys_connected (the notification channel),
// outpost_genesys_events_total{event} (notifications, heartbeats, gaps, reconciles, decode
// errors, refusals, pending intents...), outpost_genesys_rest_total{event} (requests,
// 429/5xx retries, token fetches, refreshes, transport errors). `upstream` outlives
// `registry`'s renders.
void add_genesys_metrics(ops::Registry& registry, const genesys::GenesysUpstream& upstream);

}  // namespace outpost::server_app
