// The commit feed's NOTIFY payloads (adapters/postgres_commit_feed.h): whatever a process
// with access to the database sends on the channel reaches parse_commit_payload. Contract:
// no crash; a payload it takes names an instance without ':' or ' ', a base below the head,
// and "all scopes" only as "<instance> *"; and what it took, written back in the form the
// store writes, parses to the same thing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/postgres_commit_feed.h"
#include "fuzz/fuzz_support.h"

namespace {

using outpost::fuzz::check;

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string written_back(const std::string& instance, const outpost::CommittedHead& head) {
  if (head.scope.empty()) return instance + " *";
  std::string tag = instance;
  if (head.base_seq) tag += ":" + std::to_string(*head.base_seq);
  return tag + " " + std::to_string(head.head_seq) + " " + hex(head.scope);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  std::string instance;
  outpost::CommittedHead head;
  if (!outpost::parse_commit_payload(payload, instance, head)) return 0;
  check(!instance.empty(), "a payload without an instance was taken");
  check(instance.find_first_of(": ") == std::string::npos, "the instance holds ':' or ' '");
  if (head.scope.empty()) {
    check(head.head_seq == 0 && !head.base_seq, "an all-scopes payload carries a head or base");
    check(payload == instance + " *", "an all-scopes payload in another form was taken");
  } else if (head.base_seq) {
    check(*head.base_seq < head.head_seq, "a base at or above its head was taken");
  }
  std::string again_instance;
  outpost::CommittedHead again;
  check(outpost::parse_commit_payload(written_back(instance, head), again_instance, again),
        "the written-back payload does not parse");
  check(again_instance == instance && again.scope == head.scope &&
            again.head_seq == head.head_seq && again.base_seq == head.base_seq,
        "the written-back payload parses to something else");
  return 0;
}
