// Record bodies from a hostile server through the device's fast column reader
// (engine/wire_record.h, decision 060), differentially against protobuf:
//   byte 0 picks one of the domain's collections the reader serves (`active()`), the rest is
//   the record body as a pull answer or a carried frame would bring it.
// Contract: read() never accepts a body protobuf refuses, and whatever it accepts it reads
// exactly as protobuf's parse and reflection do, column by column (text and blob bytes
// equal, integers equal, reals bit for bit). A body read() leaves alone goes to protobuf as
// before, so nothing else is checked of it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/schema.h"
#include "engine/wire_record.h"
#include "fuzz/fuzz_support.h"

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using outpost::Collection;
using outpost::WireRecordReader;
using outpost::WireValue;
using outpost::fuzz::check;

struct Served {
  const Collection* collection;
  std::unique_ptr<WireRecordReader> reader;
};

// Every domain collection the fast path serves, once per process.
const std::vector<Served>& served() {
  static const std::vector<Served> kServed = [] {
    std::vector<Served> out;
    for (const auto& collection : outpost::Schema::domain().collections()) {
      auto reader = std::make_unique<WireRecordReader>(*collection);
      if (reader->active()) out.push_back({collection.get(), std::move(reader)});
    }
    check(!out.empty(), "no domain collection is read from its bytes");
    return out;
  }();
  return kServed;
}

// Column `i` of `record` as CollectionTable binds it through reflection, against `wire`.
void check_column(const Message& record, const Collection& collection, size_t i,
                  const WireValue& wire) {
  const FieldDescriptor* field = collection.columns[i].field;
  const auto* reflection = record.GetReflection();
  int64_t integer = 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      integer = reflection->GetInt32(record, field);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      integer = reflection->GetInt64(record, field);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      integer = reflection->GetUInt32(record, field);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      integer = static_cast<int64_t>(reflection->GetUInt64(record, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      integer = reflection->GetBool(record, field) ? 1 : 0;
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      integer = reflection->GetEnumValue(record, field);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double real = field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT
                              ? static_cast<double>(reflection->GetFloat(record, field))
                              : reflection->GetDouble(record, field);
      check(std::memcmp(&real, &wire.real, sizeof real) == 0,
            "a real column read other than protobuf reads it");
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      check(reflection->GetString(record, field) == wire.bytes,
            "a text or blob column read other than protobuf reads it");
      return;
    default:
      check(false, "an active reader serves a column that is not a scalar");
  }
  check(integer == wire.integer, "an integer column read other than protobuf reads it");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<Served>& all = served();
  const Served& target = all[data[0] % all.size()];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::vector<WireValue> wire;
  if (!target.reader->read(body, wire)) return 0;  // left to protobuf, as on the apply path
  check(wire.size() == target.collection->columns.size(), "not one value per column");
  std::unique_ptr<Message> record = target.collection->new_record();
  check(record->ParseFromArray(body.data(), static_cast<int>(body.size())),
        "the fast path accepted a body protobuf refuses");
  for (size_t i = 0; i < wire.size(); ++i) check_column(*record, *target.collection, i, wire[i]);
  return 0;
}
