#include "apps/outpost-server/server_config.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <vector>

#include "support/cli_args.h"

namespace outpost::server_app {

const char* const kUsage = R"(usage:
  outpost-server serve --data DIR --listen HOST:PORT [--threads N] [--max-connections N]
                       [--compact-every SECONDS] [--keep-log ENTRIES]
                       [--store postgres://USER@HOST:PORT/DB] [--pg-connections N]
                       [--blobs DIR] [--max-voicemail-mb N] [--max-attachment-mb N]
                       [--blob-gc-every SECONDS]
                       [--tls-cert FILE --tls-key FILE]
      Serves the sync protocol (docs/protocol.md) from DIR/outpost.db, signing tokens with
      DIR/token.key (both created when missing). PORT 0 picks a free port; the first line
      on stdout is "outpost-server listening on HOST:PORT". SIGINT/SIGTERM stop gracefully.
      --max-connections N (default 10000) open connections, streams and HTTP together;
      one past it is answered 503 with Retry-After and closed. The descriptor limit
      (ulimit -n) must be above it: the server raises its soft limit to the hard one.
      Every --compact-every seconds (default 300) each scope written since the last pass
      keeps its newest --keep-log log entries (default 100000); devices whose cursor is
      older reset per key.
      --upstream sim mirrors a simulated contact center (seeded by --sim-seed, default 1;
      agents --sim-agents TENANT/USER[,...], default acme/agent-1; one step every
      --sim-step-ms, default 1000): interactions routed and ended, voicemails, web edits of
      drafts (each new draft --sim-web-edit-delay-ms after it appears, default 1500) and
      notepads, presence changes, and the platform's refusals.
      --store postgres://... keeps the store in PostgreSQL instead (tables created or
      migrated on start); several processes may serve one database, each holding at most
      --pg-connections pooled connections (default 8) plus one for LISTEN.
      --upstream genesys mirrors a Genesys Cloud org (docs/genesys.md): --genesys-api URL
      and --genesys-login URL (the region's https://api.… and https://login.… hosts),
      --genesys-agents TENANT/USER[,...] (one tenant; USER is the Genesys user id), the
      client credentials from --genesys-credentials FILE (JSON {"client_id",
      "client_secret"}) or OUTPOST_GENESYS_CLIENT_ID / OUTPOST_GENESYS_CLIENT_SECRET,
      optionally --genesys-ca PEM; events applied every --genesys-step-ms (default 200).
      --genesys-requests-per-minute N (6..6000, default 240) is the org's REST budget
      (a burst of N/6); raise it only as far as the org's own rate limits allow.
      Push (docs/push.md): --apns-key FILE.p8 --apns-key-id ID --apns-team ID [--apns-url
      URL] sends to APNs; --fcm-account FILE.json [--fcm-url URL] [--fcm-token-url URL]
      to FCM; --push-ca FILE trusts that CA instead of the system's (the test fakes).
      Platform events dropped into DIR/inbox (see `event`) are applied as they arrive.
      --admin-listen HOST:PORT (default 127.0.0.1:0) serves /metrics, /healthz, /readyz and
      the fleet console; off loopback it needs --admin-token-file FILE (or the token in
      OUTPOST_ADMIN_TOKEN). Its address is the second stdout line ("outpost-server admin
      on HOST:PORT"). SIGTERM drains: /readyz fails, --drain-ms later (default 0) the
      listeners close and streams end with a reconnect hint. --log-format json|text
      (default json: one JSON object per line on stderr).
      Every setting may come from the environment (OUTPOST_LISTEN, OUTPOST_ADMIN_LISTEN...)
      or a file (--config FILE or OUTPOST_CONFIG; "name = value" lines named like the
      flags); a flag beats the environment, which beats the file.
      --tls-cert FILE --tls-key FILE serve TLS (https/wss) on the port instead of plain
      HTTP: FILE holds the certificate chain (PEM, the server's first), the key its
      unencrypted PEM key. SIGHUP reads both again: new connections get the new
      certificate, open ones continue (a bad file is logged and the old one kept).
      Blobs (voicemail audio, attachments; docs/protocol.md §9) live in --blobs DIR
      (default DIR/blobs; with PostgreSQL, a directory every process shares, decision 027),
      at most --max-voicemail-mb (10) and --max-attachment-mb (25) each. Every
      --blob-gc-every seconds (3600) blobs no record references, stored over a day ago, go.
  outpost-server token --data DIR --tenant T --user U --device D [--ttl SECONDS]
      Prints a bearer token signed with DIR/token.key (default ttl: 30 days).
  outpost-server seed --data DIR [--store URL] [--tenant T] [--user U] [--contacts N]
      Writes a demo contact center into DIR/outpost.db: org data of tenant T (contacts,
      canned responses, AUX reasons, wrap-up codes, colleagues) and agent U's state,
      queues, today's journal and voicemail (defaults: acme, agent-1, 200 contacts).
  outpost-server event --data DIR JSON
      Queues one platform event (an outpost.upstream.Event in protobuf JSON, e.g.
      '{"tenant":"acme","user":"agent-1","voicemailLeft":{"id":"vm-9","callerName":"Ann"}}')
      for the server serving DIR, which applies it as the platform's.
  outpost-server --help
)";

namespace {

constexpr size_t kMaxAdminToken = 512;
// The settings of `serve`: flags, OUTPOST_<FLAG> variables and config file lines.
const std::vector<std::string> kServeSettings = {"data",
                                                 "listen",
                                                 "threads",
                                                 "max-connections",
                                                 "compact-every",
                                                 "keep-log",
                                                 "store",
                                                 "pg-connections",
                                                 "upstream",
                                                 "sim-seed",
                                                 "sim-agents",
                                                 "sim-step-ms",
                                                 "sim-web-edit-delay-ms",
                                                 "config",
                                                 "admin-listen",
                                                 "admin-token-file",
                                                 "drain-ms",
                                                 "log-format",
                                                 "apns-key",
                                                 "apns-key-id",
                                                 "apns-team",
                                                 "apns-url",
                                                 "fcm-account",
                                                 "fcm-url",
                                                 "fcm-token-url",
                                                 "push-ca",
                                                 "tls-cert",
                                                 "tls-key",
                                                 "genesys-api",
                                                 "genesys-login",
                                                 "genesys-agents",
                                                 "genesys-credentials",
                                                 "genesys-ca",
                                                 "genesys-step-ms",
                                                 "genesys-requests-per-minute",
                                                 "blobs",
                                                 "max-voicemail-mb",
                                                 "max-attachment-mb",
                                                 "blob-gc-every"};
// Every flag that takes a value: serve's settings, and those of token and seed.
const std::vector<std::string> kValuedFlags = [] {
  std::vector<std::string> flags = kServeSettings;
  flags.insert(flags.end(), {"tenant", "user", "device", "ttl", "contacts"});
  return flags;
}();
const std::vector<std::string> kSwitches = {"help"};

Status invalid(const std::string& message) {
  return error(ErrorCode::kInvalidArgument, message);
}

using cli::parse_int;

Result<std::string> required(const cli::ParsedArgs& args, const std::string& flag) {
  auto value = args.flag(flag);
  if (!value || value->empty()) return invalid("--" + flag + " is required");
  return *value;
}

// Every flag given must belong to the command.
Status only(const cli::ParsedArgs& args, const std::string& command,
            const std::vector<std::string>& allowed) {
  for (const auto& [name, values] : args.flags) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == name;
    if (!ok) return invalid("--" + name + " is not an option of '" + command + "'");
  }
  return Status::Ok();
}

// --store: empty (the embedded SQLite store in --data) or a PostgreSQL URL.
Status parse_store(const cli::ParsedArgs& args, std::string& store) {
  auto value = args.flag("store");
  if (!value) return Status::Ok();
  if (value->rfind("postgres://", 0) != 0 && value->rfind("postgresql://", 0) != 0) {
    return invalid("--store must be a postgres:// or postgresql:// URL, not '" + *value + "'");
  }
  store = *value;
  return Status::Ok();
}

}  // namespace

Status parse_listen(const std::string& text, std::string& host, uint16_t& port,
                    const std::string& flag) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return invalid("--" + flag + " must be HOST:PORT, not '" + text + "'");
  }
  std::string h = text.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') {
      return invalid("--" + flag + ": bad IPv6 host '" + h + "'");
    }
    h = h.substr(1, h.size() - 2);
  }
  OUTPOST_RETURN_IF_ERROR(
      parse_int<uint16_t>(flag + " port", text.substr(colon + 1), 0, 65535, port));
  host = h;
  return Status::Ok();
}

namespace {

// The admin settings of `serve`: listener, token, drain, log format.
Status parse_admin(const cli::ParsedArgs& args, const Environment& env, ServeConfig& config) {
  if (auto listen = args.flag("admin-listen")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_listen(*listen, config.admin_host, config.admin_port, "admin-listen"));
  }
  if (auto path = args.flag("admin-token-file")) {
    std::ifstream in(*path);
    if (!in) return invalid("--admin-token-file: cannot read '" + *path + "'");
    std::getline(in, config.admin_token);
  } else if (auto it = env.find("OUTPOST_ADMIN_TOKEN"); it != env.end()) {
    config.admin_token = it->second;
  }
  while (!config.admin_token.empty() &&
         std::isspace(static_cast<unsigned char>(config.admin_token.back()))) {
    config.admin_token.pop_back();
  }
  if (config.admin_token.size() > kMaxAdminToken) {
    return invalid("the admin token is longer than " + std::to_string(kMaxAdminToken) + " bytes");
  }
  if (!config.admin_token.empty() && config.admin_token.size() < 16) {
    return invalid("the admin token must be at least 16 characters");
  }
  if (auto drain = args.flag("drain-ms")) {
    OUTPOST_RETURN_IF_ERROR(parse_int("drain-ms", *drain, 0, 600'000, config.drain_ms));
  }
  if (auto format = args.flag("log-format")) {
    if (*format != "json" && *format != "text") {
      return invalid("--log-format must be 'json' or 'text', not '" + *format + "'");
    }
    config.log_format = *format;
  }
  if (auto file = args.flag("config")) config.config_file = *file;
  return Status::Ok();
}

Result<Command> parse_serve(cli::ParsedArgs args, const Environment& env);

}  // namespace

Result<Command> parse_command_line(int argc, char** argv, const Environment& env) {
  OUTPOST_ASSIGN_OR_RETURN(cli::ParsedArgs args,
                           cli::parse_args(argc, argv, kValuedFlags, kSwitches));
  if (args.has("help")) return Command(HelpRequest{});
  if (args.positional.empty()) return invalid("a command is required (serve, token or seed)");
  const std::string& command = args.positional[0];
  if (command == "event") {
    OUTPOST_RETURN_IF_ERROR(only(args, command, {"data"}));
    if (args.positional.size() != 2) return invalid("event takes one JSON argument");
    EventConfig config;
    OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
    config.json = args.positional[1];
    return Command(config);
  }
  if (args.positional.size() > 1)
    return invalid("unexpected argument '" + args.positional[1] + "'");
  if (command == "serve") return parse_serve(std::move(args), env);
  if (command == "token") {
    OUTPOST_RETURN_IF_ERROR(only(args, command, {"data", "tenant", "user", "device", "ttl"}));
    TokenConfig config;
    OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
    OUTPOST_ASSIGN_OR_RETURN(config.tenant, required(args, "tenant"));
    OUTPOST_ASSIGN_OR_RETURN(config.user, required(args, "user"));
    OUTPOST_ASSIGN_OR_RETURN(config.device, required(args, "device"));
    if (auto ttl = args.flag("ttl")) {
      OUTPOST_RETURN_IF_ERROR(
          parse_int<int64_t>("ttl", *ttl, 1, 10LL * 365 * 24 * 3600, config.ttl_seconds));
    }
    return Command(config);
  }
  if (command == "seed") {
    OUTPOST_RETURN_IF_ERROR(only(args, command, {"data", "store", "tenant", "user", "contacts"}));
    SeedConfig config;
    OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
    OUTPOST_RETURN_IF_ERROR(parse_store(args, config.store));
    if (auto tenant = args.flag("tenant")) config.tenant = *tenant;
    if (auto user = args.flag("user")) config.user = *user;
    if (auto contacts = args.flag("contacts")) {
      OUTPOST_RETURN_IF_ERROR(
          parse_int<uint32_t>("contacts", *contacts, 0, 10'000'000, config.contacts));
    }
    return Command(config);
  }
  return invalid("unknown command '" + command + "'");
}

namespace {

// The settings checks of `serve`, on flags merged with the environment and the file.
// The push senders (docs/push.md): each needs its whole set of flags.
Status parse_push(const cli::ParsedArgs& args, ServeConfig& config) {
  auto text = [&](const char* flag, std::string& out) {
    if (auto value = args.flag(flag)) out = *value;
  };
  text("apns-key", config.apns_key);
  text("apns-key-id", config.apns_key_id);
  text("apns-team", config.apns_team);
  text("apns-url", config.apns_url);
  text("fcm-account", config.fcm_account);
  text("fcm-url", config.fcm_url);
  text("fcm-token-url", config.fcm_token_url);
  text("push-ca", config.push_ca);
  if (!config.apns_key.empty() && (config.apns_key_id.empty() || config.apns_team.empty())) {
    return invalid("--apns-key needs --apns-key-id and --apns-team");
  }
  if (config.apns_key.empty() && (!config.apns_key_id.empty() || !config.apns_url.empty())) {
    return invalid("--apns-... flags need --apns-key");
  }
  if (config.fcm_account.empty() && (!config.fcm_url.empty() || !config.fcm_token_url.empty())) {
    return invalid("--fcm-... flags need --fcm-account");
  }
  return Status::Ok();
}

Status parse_genesys(const cli::ParsedArgs& args, ServeConfig& config) {
  const bool genesys_flags = args.flag("genesys-api") || args.flag("genesys-login") ||
                             args.flag("genesys-agents") || args.flag("genesys-credentials") ||
                             args.flag("genesys-ca") || args.flag("genesys-step-ms") ||
                             args.flag("genesys-requests-per-minute");
  if (config.upstream != "genesys") {
    if (genesys_flags) return invalid("--genesys-... flags need --upstream genesys");
    return Status::Ok();
  }
  OUTPOST_ASSIGN_OR_RETURN(config.genesys_api, required(args, "genesys-api"));
  OUTPOST_ASSIGN_OR_RETURN(config.genesys_login, required(args, "genesys-login"));
  for (std::string* url : {&config.genesys_api, &config.genesys_login}) {
    if (url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) {
      return invalid("--genesys-api and --genesys-login are http(s):// base URLs");
    }
    while (!url->empty() && url->back() == '/') url->pop_back();
  }
  if (auto agents = args.flag("genesys-agents")) config.genesys_agents = *agents;
  if (auto file = args.flag("genesys-credentials")) config.genesys_credentials = *file;
  if (auto ca = args.flag("genesys-ca")) config.genesys_ca = *ca;
  if (auto step = args.flag("genesys-step-ms")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int("genesys-step-ms", *step, 10, 60'000, config.genesys_step_ms));
  }
  if (auto budget = args.flag("genesys-requests-per-minute")) {
    OUTPOST_RETURN_IF_ERROR(parse_int("genesys-requests-per-minute", *budget,
                                      kMinGenesysRequestsPerMinute, kMaxGenesysRequestsPerMinute,
                                      config.genesys_requests_per_minute));
  }
  return Status::Ok();
}

// The blob store's directory, its size bounds and the GC period (docs/protocol.md §9).
Status parse_blobs(const cli::ParsedArgs& args, ServeConfig& config) {
  config.blobs_dir = args.flag("blobs").value_or(config.data_dir + "/blobs");
  if (auto mb = args.flag("max-voicemail-mb")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int<uint64_t>("max-voicemail-mb", *mb, 1, 4096, config.max_voicemail_mb));
  }
  if (auto mb = args.flag("max-attachment-mb")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int<uint64_t>("max-attachment-mb", *mb, 1, 4096, config.max_attachment_mb));
  }
  if (auto every = args.flag("blob-gc-every")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int("blob-gc-every", *every, 1, 7 * 24 * 3600, config.blob_gc_every_seconds));
  }
  return Status::Ok();
}

Status check_serve(const cli::ParsedArgs& args, const Environment& env, ServeConfig& config) {
  OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
  OUTPOST_ASSIGN_OR_RETURN(std::string listen, required(args, "listen"));
  OUTPOST_RETURN_IF_ERROR(parse_listen(listen, config.host, config.port));
  if (auto threads = args.flag("threads")) {
    OUTPOST_RETURN_IF_ERROR(parse_int("threads", *threads, 1, 256, config.threads));
  }
  if (auto connections = args.flag("max-connections")) {
    OUTPOST_RETURN_IF_ERROR(parse_int<size_t>("max-connections", *connections, 1,
                                              kMaxServeConnections, config.max_connections));
  }
  if (auto every = args.flag("compact-every")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int("compact-every", *every, 1, 7 * 24 * 3600, config.compact_every_seconds));
  }
  if (auto keep = args.flag("keep-log")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int<uint64_t>("keep-log", *keep, 0, uint64_t{1} << 40, config.keep_log));
  }
  OUTPOST_RETURN_IF_ERROR(parse_store(args, config.store));
  OUTPOST_RETURN_IF_ERROR(parse_blobs(args, config));
  if (auto connections = args.flag("pg-connections")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int<uint32_t>("pg-connections", *connections, 1, 1000, config.pg_connections));
  }
  if (auto upstream = args.flag("upstream")) {
    if (*upstream != "sim" && *upstream != "genesys") {
      return invalid("--upstream must be 'sim' or 'genesys', not '" + *upstream + "'");
    }
    config.upstream = *upstream;
  }
  const bool sim_flags = args.flag("sim-seed") || args.flag("sim-agents") ||
                         args.flag("sim-step-ms") || args.flag("sim-web-edit-delay-ms");
  if (sim_flags && config.upstream != "sim") return invalid("--sim-... flags need --upstream sim");
  if (auto delay = args.flag("sim-web-edit-delay-ms")) {
    OUTPOST_RETURN_IF_ERROR(
        parse_int("sim-web-edit-delay-ms", *delay, 0, 86'400'000, config.sim_web_edit_delay_ms));
  }
  if (auto seed = args.flag("sim-seed")) {
    OUTPOST_RETURN_IF_ERROR(parse_int<uint64_t>("sim-seed", *seed, 0, UINT64_MAX, config.sim_seed));
  }
  if (auto agents = args.flag("sim-agents")) config.sim_agents = *agents;
  if (auto step = args.flag("sim-step-ms")) {
    OUTPOST_RETURN_IF_ERROR(parse_int("sim-step-ms", *step, 10, 3'600'000, config.sim_step_ms));
  }
  config.tls_cert = args.flag("tls-cert").value_or("");
  config.tls_key = args.flag("tls-key").value_or("");
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return invalid("--tls-cert and --tls-key go together");
  }
  OUTPOST_RETURN_IF_ERROR(parse_push(args, config));
  OUTPOST_RETURN_IF_ERROR(parse_genesys(args, config));
  return parse_admin(args, env, config);
}

Result<Command> parse_serve(cli::ParsedArgs args, const Environment& env) {
  OUTPOST_RETURN_IF_ERROR(only(args, "serve", kServeSettings));
  std::map<std::string, std::string> sources;
  OUTPOST_RETURN_IF_ERROR(merge_config_sources(args, env, kServeSettings, sources));
  ServeConfig config;
  OUTPOST_RETURN_IF_ERROR(with_source(check_serve(args, env, config), sources));
  return Command(config);
}

}  // namespace

}  // namespace outpost::server_app
