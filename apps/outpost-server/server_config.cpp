#include "apps/outpost-server/server_config.h"

#include <charconv>
#include <vector>

#include "apps/outpost/cli_args.h"

namespace outpost::server_app {

const char* const kUsage = R"(usage:
  outpost-server serve --data DIR --listen HOST:PORT [--threads N]
                       [--compact-every SECONDS] [--keep-log ENTRIES]
      Serves the sync protocol (docs/protocol.md) from DIR/outpost.db, signing tokens with
      DIR/token.key (both created when missing). PORT 0 picks a free port; the first line
      on stdout is "outpost-server listening on HOST:PORT". SIGINT/SIGTERM stop gracefully.
      Every --compact-every seconds (default 300) each scope written since the last pass
      keeps its newest --keep-log log entries (default 100000); devices whose cursor is
      older reset per key.
  outpost-server token --data DIR --tenant T --user U --device D [--ttl SECONDS]
      Prints a bearer token signed with DIR/token.key (default ttl: 30 days).
  outpost-server seed --data DIR [--tenant T] [--user U] [--contacts N]
      Writes a demo contact center into DIR/outpost.db: org data of tenant T (contacts,
      canned responses, AUX reasons, wrap-up codes, colleagues) and agent U's state,
      queues, today's journal and voicemail (defaults: acme, agent-1, 200 contacts).
  outpost-server --help
)";

namespace {

const std::vector<std::string> kValuedFlags = {"data",          "listen",  "threads", "tenant",
                                               "user",          "device",  "ttl",     "contacts",
                                               "compact-every", "keep-log"};
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

}  // namespace

Status parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return invalid("--listen must be HOST:PORT, not '" + text + "'");
  }
  std::string h = text.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return invalid("--listen: bad IPv6 host '" + h + "'");
    h = h.substr(1, h.size() - 2);
  }
  OUTPOST_RETURN_IF_ERROR(
      parse_int<uint16_t>("listen port", text.substr(colon + 1), 0, 65535, port));
  host = h;
  return Status::Ok();
}

Result<Command> parse_command_line(int argc, char** argv) {
  OUTPOST_ASSIGN_OR_RETURN(cli::ParsedArgs args,
                           cli::parse_args(argc, argv, kValuedFlags, kSwitches));
  if (args.has("help")) return Command(HelpRequest{});
  if (args.positional.empty()) return invalid("a command is required (serve, token or seed)");
  if (args.positional.size() > 1)
    return invalid("unexpected argument '" + args.positional[1] + "'");
  const std::string& command = args.positional[0];
  if (command == "serve") {
    OUTPOST_RETURN_IF_ERROR(
        only(args, command, {"data", "listen", "threads", "compact-every", "keep-log"}));
    ServeConfig config;
    OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
    OUTPOST_ASSIGN_OR_RETURN(std::string listen, required(args, "listen"));
    OUTPOST_RETURN_IF_ERROR(parse_listen(listen, config.host, config.port));
    if (auto threads = args.flag("threads")) {
      OUTPOST_RETURN_IF_ERROR(parse_int("threads", *threads, 1, 256, config.threads));
    }
    if (auto every = args.flag("compact-every")) {
      OUTPOST_RETURN_IF_ERROR(
          parse_int("compact-every", *every, 1, 7 * 24 * 3600, config.compact_every_seconds));
    }
    if (auto keep = args.flag("keep-log")) {
      OUTPOST_RETURN_IF_ERROR(
          parse_int<uint64_t>("keep-log", *keep, 0, uint64_t{1} << 40, config.keep_log));
    }
    return Command(config);
  }
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
    OUTPOST_RETURN_IF_ERROR(only(args, command, {"data", "tenant", "user", "contacts"}));
    SeedConfig config;
    OUTPOST_ASSIGN_OR_RETURN(config.data_dir, required(args, "data"));
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

}  // namespace outpost::server_app
