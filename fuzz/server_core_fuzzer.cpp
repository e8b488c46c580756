// Protobuf requests through ServerCore::push and ::pull on a real SQLite server store, as
// principal() (user/acme/alice, org/acme):
//   byte 0 % 3 == 0: rest is a serialized PushRequest (the corpus holds one per mutator);
//                 1: rest is a serialized PullRequest;
//                 2: a FuzzedDataProvider builds a push (known and unknown mutators, fuzzed
//                    args, ids that follow on or skip, versions) and then a pull (granted,
//                    foreign and duplicate scopes, fuzzed seqs, cursor tokens sealed with
//                    the core's key naming unknown collections, forged ones, fetches,
//                    limits).
// Contract: no crash, UB or escaping exception; only the documented error codes; a push
// answers each mutation at most once; a pull stays within its change budget.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "engine/cursor_token.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "fuzz/fuzz_support.h"
#include "outpost/protocol.pb.h"
#include "transport/limits.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
using outpost::fuzz::kNowMs;
namespace protocol = outpost::protocol;

void push(const protocol::PushRequest& request) {
  auto response = outpost::fuzz::server_core().push(outpost::fuzz::principal(), request, kNowMs);
  check_code(response.status(),
             {ErrorCode::kInvalidArgument, ErrorCode::kFailedPrecondition, ErrorCode::kSchemaTooNew,
              ErrorCode::kTooLarge},
             "push");
  if (!response.ok()) return;
  check(response->results_size() <= request.mutations_size(),
        "push answered more mutations than it was sent");
}

void pull(const protocol::PullRequest& request) {
  auto response = outpost::fuzz::server_core().pull(outpost::fuzz::principal(), request);
  check_code(response.status(),
             {ErrorCode::kInvalidArgument, ErrorCode::kFailedPrecondition,
              ErrorCode::kPermissionDenied, ErrorCode::kSchemaTooNew, ErrorCode::kTooLarge},
             "pull");
  if (!response.ok()) return;
  size_t changes = 0;
  for (const auto& scope : response->scopes()) {
    changes += scope.changes_size() + scope.manifest_size();
  }
  check(changes <= outpost::limits::kMaxChangesPerBatch, "pull passed kMaxChangesPerBatch");
  check(response->rejections_size() <= 100, "pull returned more than 100 rejections");
}

std::string pick_scope(FuzzedDataProvider& input) {
  switch (input.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return "user/acme/alice";
    case 1:
      return "org/acme";
    case 2:
      return "org/globex";
    case 3:
      return "user/acme/bob";
    default:
      return input.ConsumeRandomLengthString(64);
  }
}

std::string pick_collection(FuzzedDataProvider& input) {
  const auto& collections = outpost::Schema::domain().collections();
  size_t index = input.ConsumeIntegralInRange<size_t>(0, collections.size());
  if (index < collections.size()) return collections[index]->name;
  return input.ConsumeRandomLengthString(32);  // an unknown collection
}

void structured(FuzzedDataProvider& input) {
  const uint32_t schema = outpost::Schema::domain().version();
  const auto& mutators = outpost::domain_mutators().all();
  std::vector<std::string> names;
  for (const auto& [name, mutator] : mutators) names.push_back(name);

  protocol::PushRequest request;
  request.set_client_id(input.ConsumeBool() ? "fuzz-client" : input.ConsumeRandomLengthString(8));
  request.set_schema_version(input.ConsumeBool() ? schema : input.ConsumeIntegral<uint32_t>());
  request.set_protocol_version(input.ConsumeBool() ? protocol::VERSION_CURRENT
                                                   : input.ConsumeIntegral<uint32_t>());
  // Ids that follow on from the client's last one reach the mutators; others are refused.
  uint64_t id = input.ConsumeIntegralInRange<uint64_t>(0, 1'000'000);
  if (input.ConsumeBool()) {
    auto last = outpost::fuzz::server_core().store().last_mutation_id(
        "acme/alice/" + request.client_id());  // ServerCore's key: tenant/user/client
    if (last.ok()) id = *last;
  }
  int count = input.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < count; ++i) {
    protocol::Mutation* mutation = request.add_mutations();
    id += input.ConsumeIntegralInRange<uint64_t>(0, 3);
    mutation->set_id(id);
    size_t which = input.ConsumeIntegralInRange<size_t>(0, names.size());
    mutation->set_name(which < names.size() ? names[which] : input.ConsumeRandomLengthString(16));
    mutation->set_args(input.ConsumeRandomLengthString(256));
    mutation->set_created_ms(input.ConsumeIntegral<int64_t>());
  }
  push(request);

  protocol::PullRequest pulled;
  pulled.set_client_id(request.client_id());
  pulled.set_schema_version(request.schema_version());
  pulled.set_protocol_version(request.protocol_version());
  int cursors = input.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < cursors; ++i) {
    protocol::Cursor* cursor = pulled.add_cursors();
    cursor->set_scope(pick_scope(input));
    cursor->set_seq(input.ConsumeBool() ? input.ConsumeIntegralInRange<uint64_t>(0, 16)
                                        : input.ConsumeIntegral<uint64_t>());
    switch (input.ConsumeIntegralInRange<int>(0, 2)) {
      case 0:
        break;
      case 1: {
        protocol::CursorToken token;
        token.set_kind(
            static_cast<protocol::CursorToken::Kind>(input.ConsumeIntegralInRange(0, 3)));
        token.set_head_seq(input.ConsumeIntegral<uint64_t>());
        token.set_priority(input.ConsumeIntegral<int32_t>());
        token.set_collection(pick_collection(input));
        token.set_key(input.ConsumeRandomLengthString(32));
        // Sealed as the core seals (its key is empty here), so the token's fields are
        // reached; the default case below covers tokens that do not verify.
        cursor->set_token(input.ConsumeBool()
                              ? outpost::seal_cursor_token(token, cursor->scope(), "")
                              : token.SerializeAsString());
        break;
      }
      default:
        cursor->set_token(input.ConsumeRandomLengthString(32));
    }
  }
  int fetches = input.ConsumeIntegralInRange<int>(0, 4);
  if (fetches > 0) pulled.set_fetch_scope(pick_scope(input));
  for (int i = 0; i < fetches; ++i) {
    protocol::KeyRef* ref = pulled.add_fetch();
    ref->set_collection(pick_collection(input));
    ref->set_key(input.ConsumeRandomLengthString(32));
    ref->set_version(input.ConsumeIntegral<uint64_t>());
  }
  pulled.set_max_changes(input.ConsumeIntegral<uint32_t>());
  pulled.set_max_bytes(input.ConsumeIntegral<uint64_t>());
  pulled.set_urgent_first(input.ConsumeBool());
  pulled.set_pending_from(input.ConsumeIntegral<uint64_t>());
  pull(pulled);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: {
        protocol::PushRequest request;
        if (request.ParseFromString(rest)) push(request);
        break;
      }
      case 1: {
        protocol::PullRequest request;
        if (request.ParseFromString(rest)) pull(request);
        break;
      }
      default: {
        FuzzedDataProvider input(data + 1, size - 1);
        structured(input);
      }
    }
  } catch (const std::exception& e) {
    outpost::fuzz::fail(std::string("exception escaped ServerCore: ") + e.what());
  }
  return 0;
}
