#include "engine/wire_record.h"

#include <cstring>

namespace outpost {
namespace {

using google::protobuf::FieldDescriptor;

constexpr int kMaxFieldNumber = 4096;

enum WireType : uint32_t { kVarint = 0, kFixed64Wire = 1, kLengthDelimited = 2, kFixed32Wire = 5 };

// Protobuf's own varint rule: at most 10 bytes, the bits past 64 dropped.
bool read_varint(const uint8_t*& at, const uint8_t* end, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (at == end) return false;
    const uint8_t byte = *at++;
    value |= static_cast<uint64_t>(byte & 0x7F) << (shift < 64 ? shift : 63);
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

template <typename T>
T read_fixed(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));  // little-endian, as the wire format
  return value;
}

}  // namespace

bool valid_utf8(std::string_view text) {
  const auto* at = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t* end = at + text.size();
  while (at != end) {
    // Eight ASCII bytes at a time: most of what a record holds.
    if (end - at >= 8) {
      uint64_t chunk;
      std::memcpy(&chunk, at, 8);
      if ((chunk & 0x8080808080808080ULL) == 0) {
        at += 8;
        continue;
      }
    }
    const uint8_t lead = *at;
    if (lead < 0x80) {
      ++at;
      continue;
    }
    int length = 0;
    uint8_t low = 0x80, high = 0xBF;  // the second byte's range
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // no overlong forms
      if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // no overlong forms
      if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
    } else {
      return false;
    }
    if (end - at < length || at[1] < low || at[1] > high) return false;
    for (int i = 2; i < length; ++i) {
      if ((at[i] & 0xC0) != 0x80) return false;
    }
    at += length;
  }
  return true;
}

WireRecordReader::WireRecordReader(const Collection& collection) : collection_(collection) {
  const google::protobuf::Descriptor* descriptor = collection.descriptor;
  std::vector<Slot> slots;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->number() > kMaxFieldNumber || field->real_containing_oneof() != nullptr) return;
    size_t column = collection.columns.size();
    for (size_t c = 0; c < collection.columns.size(); ++c) {
      if (collection.columns[c].field == field) column = c;
    }
    if (column == collection.columns.size()) return;  // not a column: protobuf reads it
    Kind kind = Kind::kNone;
    switch (field->type()) {
      case FieldDescriptor::TYPE_INT32:
        kind = Kind::kInt32;
        break;
      case FieldDescriptor::TYPE_INT64:
        kind = Kind::kInt64;
        break;
      case FieldDescriptor::TYPE_UINT32:
        kind = Kind::kUInt32;
        break;
      case FieldDescriptor::TYPE_UINT64:
        kind = Kind::kUInt64;
        break;
      case FieldDescriptor::TYPE_BOOL:
        kind = Kind::kBool;
        break;
      case FieldDescriptor::TYPE_ENUM:
        kind = Kind::kEnum;
        break;
      case FieldDescriptor::TYPE_SINT32:
        kind = Kind::kSInt32;
        break;
      case FieldDescriptor::TYPE_SINT64:
        kind = Kind::kSInt64;
        break;
      case FieldDescriptor::TYPE_FIXED32:
        kind = Kind::kFixed32;
        break;
      case FieldDescriptor::TYPE_SFIXED32:
        kind = Kind::kSFixed32;
        break;
      case FieldDescriptor::TYPE_FLOAT:
        kind = Kind::kFloat;
        break;
      case FieldDescriptor::TYPE_FIXED64:
        kind = Kind::kFixed64;
        break;
      case FieldDescriptor::TYPE_SFIXED64:
        kind = Kind::kSFixed64;
        break;
      case FieldDescriptor::TYPE_DOUBLE:
        kind = Kind::kDouble;
        break;
      case FieldDescriptor::TYPE_STRING:
        kind = Kind::kString;
        break;
      case FieldDescriptor::TYPE_BYTES:
        kind = Kind::kBytes;
        break;
      default:
        return;  // groups and messages are never columns
    }
    if (slots.size() <= static_cast<size_t>(field->number())) slots.resize(field->number() + 1);
    slots[field->number()] = Slot{kind, static_cast<uint16_t>(column)};
  }
  // What reflection answers for an absent field.
  defaults_.resize(collection.columns.size());
  for (size_t c = 0; c < collection.columns.size(); ++c) {
    const FieldDescriptor* field = collection.columns[c].field;
    WireValue& value = defaults_[c];
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        value.integer = field->default_value_int32();
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        value.integer = field->default_value_int64();
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        value.integer = field->default_value_uint32();
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        value.integer = static_cast<int64_t>(field->default_value_uint64());
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        value.integer = field->default_value_bool() ? 1 : 0;
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        value.integer = field->default_value_enum()->number();
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        value.real = static_cast<double>(field->default_value_float());
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        value.real = field->default_value_double();
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        value.bytes = field->default_value_string();  // the descriptor's, alive as long
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return;  // never a column
    }
  }
  by_number_ = std::move(slots);
}

bool WireRecordReader::read_field(const Slot& slot, uint32_t wire_type, const uint8_t*& at,
                                  const uint8_t* end, WireValue& value) const {
  switch (slot.kind) {
    case Kind::kNone:
      return false;
    case Kind::kInt32:
    case Kind::kInt64:
    case Kind::kUInt32:
    case Kind::kUInt64:
    case Kind::kBool:
    case Kind::kEnum:
    case Kind::kSInt32:
    case Kind::kSInt64: {
      uint64_t raw = 0;
      if (wire_type != kVarint || !read_varint(at, end, raw)) return false;
      switch (slot.kind) {
        case Kind::kInt32:
          value.integer = static_cast<int32_t>(static_cast<uint32_t>(raw));
          break;
        case Kind::kUInt32:
          value.integer = static_cast<uint32_t>(raw);
          break;
        case Kind::kBool:
          value.integer = raw != 0 ? 1 : 0;
          break;
        case Kind::kEnum: {
          const int32_t number = static_cast<int32_t>(static_cast<uint32_t>(raw));
          // A number the enum does not name: protobuf decides (a closed enum keeps it
          // among the unknown fields).
          const FieldDescriptor* field = collection_.columns[slot.column].field;
          if (field->enum_type()->FindValueByNumber(number) == nullptr) return false;
          value.integer = number;
          break;
        }
        case Kind::kSInt32: {
          const uint32_t n = static_cast<uint32_t>(raw);
          value.integer = static_cast<int32_t>((n >> 1) ^ (~(n & 1) + 1));
          break;
        }
        case Kind::kSInt64:
          value.integer = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
          break;
        default:  // kInt64, kUInt64 (stored as its bits, as bind_record does)
          value.integer = static_cast<int64_t>(raw);
      }
      return true;
    }
    case Kind::kFixed32:
    case Kind::kSFixed32:
    case Kind::kFloat:
      if (wire_type != kFixed32Wire || end - at < 4) return false;
      if (slot.kind == Kind::kFloat) {
        value.real = static_cast<double>(read_fixed<float>(at));
      } else if (slot.kind == Kind::kFixed32) {
        value.integer = read_fixed<uint32_t>(at);
      } else {
        value.integer = read_fixed<int32_t>(at);
      }
      at += 4;
      return true;
    case Kind::kFixed64:
    case Kind::kSFixed64:
    case Kind::kDouble:
      if (wire_type != kFixed64Wire || end - at < 8) return false;
      if (slot.kind == Kind::kDouble) {
        value.real = read_fixed<double>(at);
      } else {
        value.integer = read_fixed<int64_t>(at);
      }
      at += 8;
      return true;
    case Kind::kString:
    case Kind::kBytes: {
      uint64_t length = 0;
      if (wire_type != kLengthDelimited || !read_varint(at, end, length) ||
          length > static_cast<uint64_t>(end - at)) {
        return false;
      }
      value.bytes = std::string_view(reinterpret_cast<const char*>(at), length);
      if (slot.kind == Kind::kString && !valid_utf8(value.bytes)) return false;
      at += length;
      return true;
    }
  }
  return false;
}

bool WireRecordReader::read(std::string_view body, std::vector<WireValue>& out) const {
  if (!active()) return false;
  out = defaults_;
  const auto* at = reinterpret_cast<const uint8_t*>(body.data());
  const uint8_t* end = at + body.size();
  while (at != end) {
    uint64_t tag = 0;
    if (!read_varint(at, end, tag) || tag > 0xFFFFFFFFu) return false;
    const uint64_t number = tag >> 3;
    if (number == 0 || number >= by_number_.size()) return false;
    const Slot& slot = by_number_[number];
    // The last occurrence of a singular field wins, as in protobuf's parse.
    if (!read_field(slot, static_cast<uint32_t>(tag & 7), at, end, out[slot.column])) return false;
  }
  return true;
}

}  // namespace outpost
