// The device CLI's blob commands: `blob get HASH -o FILE` (the verified blob, from the
// cache or downloaded, naming the local record that references it) and `play VOICEMAIL_ID
// [-o FILE]` (writes the voicemail's audio and marks it read, as playing does in the app).
// The cache is --blobs DIR (default: the --db file + ".blobs"); --server and --token are
// needed only for what is not cached: offline, a prefetched voicemail still plays.
// Thread rules: the CLI's main thread.
#pragma once

#include <iosfwd>
#include <string>

#include "support/cli_args.h"

namespace outpost::cli {

// True for "blob" and "play".
bool is_blob_command(const std::string& command);

// Runs the command; results to `out`, errors to `err`. Returns the process exit code
// (0, 1 on error, 2 on a usage error).
int run_blob_command(const ParsedArgs& args, std::ostream& out, std::ostream& err);

}  // namespace outpost::cli
