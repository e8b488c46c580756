// A mutation's fingerprint, so that an id the server has processed is never mistaken for
// another mutation that reuses it. A replica file restored from an older copy (a phone
// restored from its backup, app data copied to a new phone) numbers its next mutations
// from its own past: ids the server already processed for that client, for other
// mutations. The server keeps the prints of each client's newest kMutationPrintWindow ids;
// a push whose mutation at such an id has another print, or a pull whose pending
// mutations' prints differ, is refused with mutation_ids_reused(first, last), and the
// device renumbers its pending mutations from `first` to follow `last`
// (docs/protocol.md §4 "Push", decision 042).
// Thread rules: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost {

// How many of a client's newest processed ids keep their print on the server. A device
// retries only mutations of its last push (at most limits::kMaxMutationsPerPush, 500), so
// an id further back than this can only be a reused one.
inline constexpr uint64_t kMutationPrintWindow = 512;

// 64-bit FNV-1a over the mutation's name, arguments and creation time (length-prefixed):
// the same on every platform and build, never 0.
uint64_t mutation_print(std::string_view name, std::string_view args, int64_t created_ms);

// The ids a refused request reused: from `first` on, the device's pending mutations are
// not the ones the server processed; the server has processed through `last`.
struct ReusedIds {
  uint64_t first = 0;
  uint64_t last = 0;
};

// The detail that leads the message of such a refusal (409 failed_precondition):
// "mutation_ids_reused(<first>,<last>)".
std::string mutation_ids_reused(const ReusedIds& reused);
// The ids named by `message` (an error's, as received: it may carry a prefix), if any.
std::optional<ReusedIds> find_mutation_ids_reused(std::string_view message);

}  // namespace outpost
