// The device CLI's input (apps/outpost): its argument parser and the JSON arguments of
// every domain mutator, run against a real replica file:
//   byte 0 % 2 == 0: rest split at '\0' into argv (at most 32 words), parsed with the
//                    CLI's own flags (cli::parse_args); a parsed local command other than
//                    `sql` (arbitrary SQL would fuzz SQLite itself) runs on the replica,
//                    so `mutate NAME '{json}'`, --where, --limit and ids are all reached;
//                 1: byte 1 picks a domain mutator, the rest is its JSON arguments
//                    (MutatorRegistry::parse_json_args); what parses round-trips through
//                    the binary form the outbox stores and is run by Replica::mutate.
// Contract: no crash, UB or escaping exception; errors are values with expected codes.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "apps/outpost/local_commands.h"
#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "fuzz/fuzz_support.h"
#include "support/cli_args.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;

// Errors a command may return for bad input (kRejected: a mutator's refusal).
const std::initializer_list<ErrorCode> kInputErrors = {
    ErrorCode::kInvalidArgument,    ErrorCode::kNotFound,      ErrorCode::kRejected,
    ErrorCode::kFailedPrecondition, ErrorCode::kAlreadyExists, ErrorCode::kTooLarge};

outpost::Replica& replica() {
  static outpost::fuzz::FuzzReplica replica("replica");
  return replica.get();
}

void command_line(const std::string& rest) {
  std::vector<std::string> words = {"outpost"};
  size_t start = 0;
  while (start <= rest.size() && words.size() < 33) {
    size_t end = rest.find('\0', start);
    if (end == std::string::npos) end = rest.size();
    words.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  auto parsed = outpost::cli::parse_args(static_cast<int>(words.size()), argv.data(),
                                         outpost::cli::device_valued_flags(),
                                         outpost::cli::device_switches());
  check_code(parsed.status(), {ErrorCode::kInvalidArgument}, "cli::parse_args");
  if (!parsed.ok() || parsed->positional.empty()) return;
  const std::string& command = parsed->positional[0];
  if (!outpost::cli::is_local_command(command) || command == "sql") return;
  std::ostringstream out;
  outpost::Status status =
      outpost::cli::run_local_command(replica(), parsed.value(), parsed->has("json"), out);
  check_code(status, kInputErrors, "run_local_command");
}

void json_args(uint8_t which, const std::string& json) {
  const auto& mutators = outpost::domain_mutators().all();
  auto it = mutators.begin();
  std::advance(it, which % mutators.size());
  const outpost::Mutator& mutator = it->second;
  auto args = outpost::domain_mutators().parse_json_args(mutator, json);
  check_code(args.status(), {ErrorCode::kInvalidArgument}, "parse_json_args");
  if (!args.ok()) return;
  std::string bytes;
  check((*args)->SerializeToString(&bytes), "parsed JSON arguments do not serialize");
  auto back = outpost::domain_mutators().parse_args(mutator, bytes);
  check(back.ok() && (*back)->SerializeAsString() == bytes,
        "JSON arguments do not round-trip through their binary form");
  auto id = replica().mutate(mutator.name, **args, outpost::fuzz::kNowMs);
  check_code(id.status(), kInputErrors, "Replica::mutate");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  try {
    if (data[0] % 2 == 0) {
      command_line(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    } else {
      json_args(data[1], std::string(reinterpret_cast<const char*>(data) + 2, size - 2));
    }
  } catch (const std::exception& e) {
    outpost::fuzz::fail(std::string("exception escaped the CLI: ") + e.what());
  }
  return 0;
}
