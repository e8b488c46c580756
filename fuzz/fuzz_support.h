// What the libFuzzer targets share: a temporary directory that lives for the process, the
// fixed key, clock and principal every target uses (so the checked-in corpus holds tokens
// that verify), a real SQLite server store and ServerCore, and the check that turns a broken
// contract into a crash libFuzzer reports. docs/reliability-hostile-input.md explains the
// targets; fuzz/make_corpus.cpp writes their seeds with the same constants.
// Thread rules: libFuzzer runs one input at a time on one thread; so does everything here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/replica.h"
#include "engine/server_core.h"
#include "engine/status.h"
#include "transport/token.h"

namespace outpost::fuzz {

// The clock of every target: tokens in the corpus are valid at this instant.
inline constexpr int64_t kNowMs = 1'700'000'000'000;
inline constexpr std::string_view kTenant = "acme";
inline constexpr std::string_view kUser = "alice";
inline constexpr std::string_view kDevice = "phone";

// Reports a broken contract (with the input's own context) and aborts: libFuzzer saves
// the input as a crash-* reproducer.
[[noreturn]] void fail(std::string_view what);
inline void check(bool condition, std::string_view what) {
  if (!condition) fail(what);
}
// Fails unless `status` is ok or one of `allowed`.
void check_code(const Status& status, std::initializer_list<ErrorCode> allowed,
                std::string_view where);

// A directory under $TMPDIR created on first use and removed at normal exit.
const std::string& temp_dir();

// The signing key of the corpus tokens (32 bytes).
const TokenAuthority& token_authority();
// A token for kTenant/kUser/kDevice valid at kNowMs.
std::string valid_token();
Principal principal();

// A real SqliteServerStore in temp_dir() behind a ServerCore with the domain schema and
// mutators, seeded with a few records in both of principal()'s scopes. Recreated from
// scratch every `kRecreateEvery` calls so a long campaign does not grow the file forever
// (a crash found with state from earlier inputs may then need -runs to reproduce; the
// single-input reproducer is tried first).
inline constexpr int kRecreateEvery = 4000;
ServerCore& server_core();

// A domain replica of kTenant/kUser (client "fuzz-device") in a fresh directory
// temp_dir()/NAME-N, opened from scratch every kRecreateEvery calls of get() (its outbox
// and the pulls it applies grow); `fresh` runs on each new one.
class FuzzReplica {
 public:
  explicit FuzzReplica(std::string name, std::function<void(Replica&)> fresh = nullptr)
      : name_(std::move(name)), fresh_(std::move(fresh)) {}
  Replica& get();

 private:
  std::string name_;
  std::function<void(Replica&)> fresh_;
  std::unique_ptr<Replica> current_;
  int calls_ = 0;
  int generation_ = 0;
};

// The next message of an input made of messages, each a 2-byte little-endian length and
// then that many bytes (the last one cut short at the end of the input). False when fewer
// than two bytes are left.
bool next_message(std::string_view& rest, std::string_view& message);

}  // namespace outpost::fuzz
