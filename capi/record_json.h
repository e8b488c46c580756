// Records as protobuf JSON (the .proto field names), printed straight from reflection for
// the field types outpost's collections use — strings, integers (64-bit ones quoted, as the
// JSON mapping says), booleans, enums by name, nested and repeated messages, maps — and by
// protobuf's own printer for anything else (floats, bytes, well-known types). Protobuf's
// printer serializes and re-parses every record through a type resolver; this is what a
// JSON caller (React Native, Python) pays per row, so the common case avoids it.
// Equivalence with protobuf's printer is a differential test (tests/capi/record_json_test).
// Thread rules: free functions; the per-type cache is guarded, safe from any thread.
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace outpost::capi {

// Appends `message` as protobuf JSON to `out`, leaving out fields at their default values
// (as protobuf's printer does). False, with `out` unchanged, when the message type holds a
// field kind this printer leaves to protobuf's.
bool append_record_json(const google::protobuf::Message& message, std::string& out);

// Whether append_record_json can print messages of this type (cached per type).
bool record_json_supported(const google::protobuf::Descriptor* type);

}  // namespace outpost::capi
