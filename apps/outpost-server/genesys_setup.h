// `serve --upstream genesys`: the adapter's options from the server's configuration, with
// the OAuth client credentials read from a file or the environment (never the command
// line; the secret appears in no message).
// Thread rules: plain functions.
#pragma once

#include <functional>
#include <string>

#include "adapters/genesys/genesys_upstream.h"
#include "apps/outpost-server/login_vault.h"
#include "apps/outpost-server/server_config.h"
#include "engine/blob_store.h"
#include "engine/server_store.h"
#include "engine/status.h"
#include "ops/metrics.h"

namespace outpost::server_app {

using Getenv = std::function<const char*(const char*)>;

// Errors: kInvalidArgument (agents of several tenants, no credentials, an unreadable or
// malformed credentials file).
Result<genesys::GenesysOptions> genesys_options(const ServeConfig& config, const Getenv& getenv);

// Voicemail recordings (decision 034): the adapter asks the store whether a voicemail's audio
// is already named (not downloaded again after a restart) and hands the bytes it downloads
// to the blob store. Email reply drafts (decision 057): at start the adapter reads the
// agents' stored drafts, so a web edit after a restart is for the app's draft.
// `store` and `blobs` outlive the adapter.
void wire_genesys_media(genesys::GenesysOptions& options, ServerStore& store, BlobStore& blobs,
                        std::function<void(const std::string&)> log);

// Per-user logins across restarts (decision 035): every login the adapter takes, renews or
// ends is sealed in (or removed from) `vault`; restore_genesys_logins() gives the adapter
// back the ones kept (expired ones are renewed with their refresh token at first use).
// `vault` outlives the adapter.
void wire_genesys_logins(genesys::GenesysOptions& options, LoginVault& vault);
void restore_genesys_logins(genesys::GenesysUpstream& upstream,
                            const genesys::GenesysOptions& options, LoginVault& vault);

// The adapter's counters on /metrics: outpost_genesys_connected (the notification channel),
// outpost_genesys_events_total{event} (notifications, heartbeats, gaps, reconciles, decode
// errors, refusals, pending intents...), outpost_genesys_rest_total{event} (requests,
// 429/5xx retries, token fetches, refreshes, transport errors), and the request budget
// it was given (outpost_genesys_budget_requests_per_minute). `upstream` outlives
// `registry`'s renders.
void add_genesys_metrics(ops::Registry& registry, const genesys::GenesysUpstream& upstream);

}  // namespace outpost::server_app
