// outpost-server's command line: the commands (serve, token) and their settings, parsed
// from argv into plain structs. New options (an upstream simulator, a PostgreSQL store)
// are one more entry in kValuedFlags and one more field here.
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "engine/status.h"

namespace outpost::server_app {

inline constexpr int64_t kDefaultTokenTtlSeconds = 30LL * 24 * 3600;

struct ServeConfig {
  std::string data_dir;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 2;
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
  // Empty: the embedded SQLite store DIR/outpost.db. Else a PostgreSQL URL.
  std::string store;
  uint32_t pg_connections = 8;
  // Blobs: the store's directory (default data_dir/blobs), the size bounds, the GC period.
  std::string blobs_dir;
  uint64_t max_voicemail_mb = 10;
  uint64_t max_attachment_mb = 25;
  int blob_gc_every_seconds = 3600;
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

using Command = std::variant<HelpRequest, ServeConfig, TokenConfig, SeedConfig>;

// Errors: kInvalidArgument with a message naming the bad or missing argument.
Result<Command> parse_command_line(int argc, char** argv);

// "HOST:PORT" or "[IPv6]:PORT" into its parts.
Status parse_listen(const std::string& text, std::string& host, uint16_t& port);

extern const char* const kUsage;

}  // namespace outpost::server_app
