// A flat record's column values read straight from its protobuf bytes, for the device's apply
// path (decision 060): no message, no parse into one, no reflection per field. Only the
// common case takes this path — every tag a column's field in its own wire type, valid
// varints, lengths and UTF-8 — and anything else answers false, so the caller parses the
// body with protobuf as before, which accepts or refuses it. The fast path therefore never
// accepts what protobuf refuses, nor reads a value differently.
// Thread rules: immutable after construction; read() is safe from several threads.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/schema.h"

namespace outpost {

// One column's value: `integer` for kInteger columns, `real` for kReal, `bytes` (a view into
// the body read) for kText and kBlob.
struct WireValue {
  int64_t integer = 0;
  double real = 0;
  std::string_view bytes;
};

class WireRecordReader {
 public:
  // Inactive (read() always false) when the collection's message has a field that is not a
  // column (a message, repeated or map field), a oneof, or a field number past 4096.
  explicit WireRecordReader(const Collection& collection);

  bool active() const { return !by_number_.empty(); }

  // Fills `out` (one value per collection.columns, in order; an absent field reads as its
  // default, as reflection would) from `body`. False: not on the fast path.
  bool read(std::string_view body, std::vector<WireValue>& out) const;

 private:
  enum class Kind : uint8_t {
    kNone,  // not a field of the message: the body goes to protobuf
    kInt32,
    kInt64,
    kUInt32,
    kUInt64,
    kBool,
    kEnum,
    kSInt32,
    kSInt64,
    kFixed32,
    kSFixed32,
    kFloat,
    kFixed64,
    kSFixed64,
    kDouble,
    kString,  // UTF-8 checked
    kBytes,
  };
  struct Slot {
    Kind kind = Kind::kNone;
    uint16_t column = 0;
  };
  bool read_field(const Slot& slot, uint32_t wire_type, const uint8_t*& at, const uint8_t* end,
                  WireValue& value) const;

  const Collection& collection_;
  std::vector<Slot> by_number_;      // indexed by field number
  std::vector<WireValue> defaults_;  // per column
};

// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as protobuf requires of a proto3 string.
bool valid_utf8(std::string_view bytes);

}  // namespace outpost
