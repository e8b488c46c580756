// outpost: the device CLI. Opens a replica file and reads or writes it with no server
// (get, query, search, sql, mutate, status, pending, rejected, discard); with --server and
// --token it syncs (sync, watch, wake); blob and play read blobs from the device's cache,
// downloading what is missing when --server and --token are given.
#include <iostream>

#include "apps/outpost/blob_commands.h"
#include "apps/outpost/local_commands.h"
#include "apps/outpost/sync_commands.h"
#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "support/cli_args.h"
#include "transport/client_id.h"

namespace {

constexpr const char* kUsage = R"(usage: outpost --db FILE [--json] COMMAND ...

Offline commands (no server needed):
  get COLLECTION KEY                  one record
  query COLLECTION [--where C=V]... [--order C] [--desc] [--limit N]
  search COLLECTION TEXT [--order C] [--desc] [--limit N]   "contains", 3+ characters
  sql 'SELECT ...'                    read-only SQL on c_<collection> tables
  mutate NAME '{json}'                run a mutator; durable when it returns
  status                              identity, counts, outbox, cursors
  pending | rejected                  the outbox; refused mutations and why
  discard ID                          forget a rejected mutation
  retry ID ['{json}']                 run a rejected mutation again, with edited arguments
  dump                                every record, sorted (compare two devices)

Sync commands (--server http://HOST:PORT --token TOKEN; tenant and user come from the token):
  sync [--budget SECONDS] [--prefetch]  until caught up; exit 0, 1 on error, 3 out of budget;
                                      --prefetch: then today's unheard voicemail audio
  watch                               stay connected, print each change until Ctrl-C
                                      (COLLECTION<TAB>KEY<TAB>put|delete; "*<TAB>*<TAB>reload"
                                      when another process changed too much to list;
                                      on exit, on stderr: changes received and commits
                                      carried with the poke)
  wake [--budget SECONDS] [--prefetch]  what a push-woken app does: sync within the budget
                                      (default 25), urgent first; print unread voicemail;
                                      --prefetch: then its audio, within the budget
  (--app-version TEXT: what the device reports to the server's fleet console)
  An https:// (or wss://) server is verified against the system's CA certificates, or:
  --ca FILE                           the CA certificates (PEM) to trust instead
  --pin FILE                          accept only this server certificate (PEM)

Blob commands (the cache is --blobs DIR, default FILE.blobs; --server and --token only for
what is not cached):
  blob get HASH -o FILE               a blob, verified by its SHA-256
  play VOICEMAIL_ID [-o FILE]         write the voicemail's audio (VOICEMAIL_ID.wav), mark it read
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace outpost;
  auto parsed = cli::parse_args(argc, argv, cli::device_valued_flags(), cli::device_switches());
  if (!parsed.ok()) {
    std::cerr << "outpost: " << parsed.status().message() << "\n" << kUsage;
    return 2;
  }
  const cli::ParsedArgs& args = parsed.value();
  if (Status built = check_built_in_domain(); !built.ok()) {
    std::cerr << "outpost: " << built.to_string() << "\n";
    return 1;
  }
  if (args.has("help") || args.positional.empty()) {
    std::cout << kUsage;
    return args.has("help") ? 0 : 2;
  }
  auto db = args.flag("db");
  if (!db) {
    std::cerr << "outpost: --db FILE is required\n" << kUsage;
    return 2;
  }
  const std::string& command = args.positional[0];
  if (cli::is_sync_command(command)) return cli::run_sync_command(args, std::cout, std::cerr);
  if (cli::is_blob_command(command)) return cli::run_blob_command(args, std::cout, std::cerr);
  if (!cli::is_local_command(command)) {
    std::cerr << "outpost: unknown command '" << command << "'\n" << kUsage;
    return 2;
  }
  // A new file keeps this client id for life; an existing one keeps its own.
  auto replica =
      Replica::open(*db, Schema::domain(), &domain_mutators(), {.client_id = new_client_id()});
  if (!replica.ok()) {
    std::cerr << "outpost: " << replica.status().to_string() << "\n";
    return 1;
  }
  Status status = cli::run_local_command(**replica, args, args.has("json"), std::cout);
  if (!status.ok()) {
    std::cerr << "outpost: " << status.to_string() << "\n";
    return status.code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
