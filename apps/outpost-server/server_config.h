// outpost-server's command line: the commands (serve, token) and their settings, parsed
// from argv into plain structs. New options (an upstream simulator, a PostgreSQL store)
// are one more entry in kValuedFlags and one more field here.
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "apps/outpost-server/config_sources.h"
#include "engine/status.h"
#include "transport/limits.h"

namespace outpost::server_app {

inline constexpr int64_t kDefaultTokenTtlSeconds = 30LL * 24 * 3600;
// The largest --max-connections accepted (each connection holds a descriptor).
inline constexpr size_t kMaxServeConnections = 1'000'000;
// --genesys-requests-per-minute: at least a burst of one request (N/6), at most 100 a second.
inline constexpr int kMinGenesysRequestsPerMinute = 6;
inline constexpr int kMaxGenesysRequestsPerMinute = 6000;

struct ServeConfig {
  std::string data_dir;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 2;
  // Open connections (HTTP and WebSocket); one past it is answered 503 (decision 033).
  size_t max_connections = limits::kMaxConnections;
  // Compaction: every `compact_every_seconds`, each scope written since the last pass keeps
  // its newest `keep_log` log entries; older ones are compacted (devices behind reset).
  int compact_every_seconds = 300;
  uint64_t keep_log = 100000;
  // The contact-center platform mirrored: "" (none: every intent accepted) or "sim" (the
  // seeded simulator of adapters/sim_platform.h, stepping every sim_step_ms).
  std::string upstream;
  uint64_t sim_seed = 1;
  std::string sim_agents = "acme/agent-1";  // "tenant/user,tenant/user"
  int sim_step_ms = 1000;
  int sim_web_edit_delay_ms = 1500;  // the web interface opens a new draft this much later
  // "genesys" (adapters/genesys, docs/genesys.md): the org at these base URLs, for these
  // agents (one tenant). The client credentials are read from genesys_credentials (a JSON
  // file {"client_id", "client_secret"}) or the environment (OUTPOST_GENESYS_CLIENT_ID,
  // OUTPOST_GENESYS_CLIENT_SECRET), never from the command line.
  std::string genesys_api;
  std::string genesys_login;
  std::string genesys_agents = "acme/agent-1";
  std::string genesys_credentials;
  std::string genesys_ca;
  int genesys_step_ms = 200;  // how often the server applies the adapter's events
  // The org's REST budget (genesys::RestOptions::requests_per_minute; the burst is a
  // sixth of it). The default stays under the documented 300 a minute per client.
  int genesys_requests_per_minute = 240;
  // Empty: the embedded SQLite store DIR/outpost.db. Else a PostgreSQL URL.
  std::string store;
  uint32_t pg_connections = 8;
  // Push (docs/push.md): an APNs sender when apns_key is set, an FCM one when
  // fcm_account is set; neither: no pushes (targets are still stored).
  std::string apns_key;  // the .p8 file
  std::string apns_key_id;
  std::string apns_team;
  std::string apns_url;       // empty: Apple's hosts; else used for production and sandbox
  std::string fcm_account;    // the service-account JSON file
  std::string fcm_url;        // empty: fcm.googleapis.com
  std::string fcm_token_url;  // empty: the account's token_uri
  std::string push_ca;        // a CA file to trust instead of the system's (tests)

  // The admin listener (/metrics, /healthz, /readyz, the fleet console): loopback by
  // default, an ephemeral port unless given. Off loopback it needs admin_token.
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 0;
  std::string admin_token;  // from --admin-token-file or OUTPOST_ADMIN_TOKEN; never logged
  // SIGTERM: /readyz fails at once, the listeners close drain_ms later (let the load
  // balancer see it), then the streams close with a reconnect hint.
  int drain_ms = 0;
  std::string log_format = "json";  // "json" (JSON lines) or "text"
  std::string config_file;          // where settings came from, for the start line
  // Both set: serve TLS with this certificate chain and key (PEM), re-read on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
  // Blobs: the store's directory (default data_dir/blobs), the size bounds, the GC period.
  std::string blobs_dir;
  uint64_t max_voicemail_mb = 10;
  uint64_t max_attachment_mb = 25;
  int blob_gc_every_seconds = 3600;
};

// Queues a platform event for a running server (DIR/inbox, applied within ~200 ms).
struct EventConfig {
  std::string data_dir;
  std::string json;  // an upstream::Event in protobuf JSON
};

struct TokenConfig {
  std::string data_dir;
  std::string tenant;
  std::string user;
  std::string device;
  int64_t ttl_seconds = kDefaultTokenTtlSeconds;
};

// Writes the demo contact center (adapters/demo_data.h) into the store.
struct SeedConfig {
  std::string data_dir;
  std::string tenant = "acme";
  std::string user = "agent-1";
  uint32_t contacts = 200;
  std::string store;  // as ServeConfig::store
};

struct HelpRequest {};

using Command = std::variant<HelpRequest, ServeConfig, TokenConfig, SeedConfig, EventConfig>;

// Errors: kInvalidArgument with a message naming the bad or missing argument and, for
// `serve`, where a setting from the environment or the config file came from.
Result<Command> parse_command_line(int argc, char** argv, const Environment& env = {});

// "HOST:PORT" or "[IPv6]:PORT" into its parts.
Status parse_listen(const std::string& text, std::string& host, uint16_t& port,
                    const std::string& flag = "listen");

extern const char* const kUsage;

}  // namespace outpost::server_app
