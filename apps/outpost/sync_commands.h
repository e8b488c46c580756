// The device CLI's network commands: `sync` (one shot until caught up or out of budget,
// with progress bars on a terminal) and `watch` (stay connected and print each change
// until SIGINT/SIGTERM). Both run a SyncAgent on the replica file named by --db, with the
// identity read from --token.
// Thread rules: run on the main thread of the CLI; the agent's callbacks print from its
// loop thread while the main thread only waits.
#pragma once

#include <iosfwd>
#include <string>

#include "support/cli_args.h"

namespace outpost::cli {

// Exit codes of `sync`: caught up, an error (message printed), the budget ran out first.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitBudget = 3;

// True for "sync", "watch" and "wake" (a push woke the app: sync within --budget, show the
// unread voicemail, exit).
bool is_sync_command(const std::string& command);

// Runs sync|watch with --db, --server, --token (and --budget SECONDS for sync). Results go
// to `out`, errors and connection news to `err`. Returns the process exit code.
int run_sync_command(const ParsedArgs& args, std::ostream& out, std::ostream& err);

}  // namespace outpost::cli
