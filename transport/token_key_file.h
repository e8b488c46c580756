// The server's token signing key on disk: DIR/token.key, 32 random bytes, mode 0600.
// This is the only file I/O in transport/; everything else here is I/O-free.
// Thread rules: safe from any thread; concurrent first calls (even from several
// processes) agree on one key, because the file is published with link(), which never
// replaces an existing file.
#pragma once

#include <cstddef>
#include <string>

#include "engine/status.h"

namespace outpost {

inline constexpr size_t kTokenKeyBytes = 32;

// Reads DIR/token.key, or creates it (random bytes from the OpenSSL CSPRNG, written to a
// temporary file, fsynced, then published atomically) when it does not exist.
// Errors: kCorrupt when the file exists but is not exactly kTokenKeyBytes long;
// kIo when the directory or file cannot be read or written; kInternal when the random
// generator fails.
Result<std::string> load_or_create_key(const std::string& dir);

}  // namespace outpost
