// What a device receives from a server, through the device's own sync logic: the input
// is a sequence of ServerFrames (each prefixed by a 2-byte little-endian length, as
// serialized protobuf: the compression layer has its own target) dispatched the way
// SyncAgent's loop does (push and pull answers to the request in flight, pokes, changes
// carried with a poke, errors)
// into a SyncClient over a real replica file with pending mutations.
// Contract: no crash, UB or escaping exception; a bad frame is an error value, and the
// replica stays usable (its outbox can still be read).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "engine/sync_client.h"
#include "fuzz/fuzz_support.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
namespace protocol = outpost::protocol;

// Errors a replica may answer a hostile server with.
const std::initializer_list<ErrorCode> kServerDataErrors = {
    ErrorCode::kInvalidArgument, ErrorCode::kNotFound,         ErrorCode::kFailedPrecondition,
    ErrorCode::kTooLarge,        ErrorCode::kPermissionDenied, ErrorCode::kSchemaTooNew};

// A replica of acme/alice with two pending mutations.
outpost::Replica& replica() {
  static outpost::fuzz::FuzzReplica replica("device", [](outpost::Replica& fresh) {
    for (const char* value : {"dark", "light"}) {
      outpost::mutations::SetUserSetting args;
      args.set_name("theme");
      args.set_value(value);
      check(fresh.mutate("set_user_setting", args, outpost::fuzz::kNowMs).ok(),
            "cannot add a pending mutation");
    }
  });
  return replica.get();
}

void run(std::string_view rest) {
  outpost::Replica& device = replica();
  outpost::SyncClient client(device);
  client.on_connected();
  for (std::string_view bytes; outpost::fuzz::next_message(rest, bytes);) {
    if (!client.request_in_flight()) {
      auto next = client.next_request();
      check_code(next.status(), kServerDataErrors, "next_request");
    }
    protocol::ServerFrame frame;
    if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
    outpost::Status status;
    switch (frame.body_case()) {
      case protocol::ServerFrame::kPush:
        if (client.request_in_flight()) status = client.on_push_response(frame.push());
        break;
      case protocol::ServerFrame::kPull:
        if (client.request_in_flight()) {
          (void)client.pipelined_pull(frame.pull());
          status = client.on_pull_response(frame.pull());
        }
        break;
      case protocol::ServerFrame::kPoke:
        client.on_poke(frame.poke());
        break;
      case protocol::ServerFrame::kCarried:
        status = client.on_carried(frame.carried()).status();
        break;
      case protocol::ServerFrame::kError:
        // As SyncAgent: a refusal may restart a scope or renumber the pending mutations.
        if (client.request_in_flight()) {
          status = client
                       .on_request_refused(
                           outpost::Status(outpost::error_code_from_name(frame.error().code()),
                                           "server: " + frame.error().message()))
                       .status();
        }
        break;
      default:
        break;
    }
    check_code(status, kServerDataErrors, "applying a server frame");
    // SyncAgent reconnects after an error: a new connection starts from the replica.
    if (!status.ok()) client.on_connected();
    (void)client.progress();
  }
  check(device.pending().ok(), "the replica's outbox is unreadable after the input");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& e) {
    outpost::fuzz::fail(std::string("exception escaped the device sync: ") + e.what());
  }
  return 0;
}
