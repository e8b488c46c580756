#include "capi/record_json.h"

#include <google/protobuf/descriptor.h>

#include <map>
#include <mutex>
#include <set>

#include "engine/json_quote.h"

namespace outpost::capi {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool supported_uncached(const Descriptor* type, std::set<const Descriptor*>& visiting) {
  if (type->file()->package() == "google.protobuf") return false;  // well-known types
  if (!visiting.insert(type).second) return true;                  // recursive: judged above
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_BOOL:
      case FieldDescriptor::CPPTYPE_ENUM:
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        if (field->type() == FieldDescriptor::TYPE_BYTES) return false;  // base64
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (field->type() == FieldDescriptor::TYPE_GROUP) return false;
        if (!supported_uncached(field->message_type(), visiting)) return false;
        break;
      default:  // float, double
        return false;
    }
  }
  return true;
}

void append_scalar(const Message& message, const Reflection& reflection,
                   const FieldDescriptor* field, int index, std::string& out) {
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out += std::to_string(repeated ? reflection.GetRepeatedInt32(message, field, index)
                                     : reflection.GetInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out += std::to_string(repeated ? reflection.GetRepeatedUInt32(message, field, index)
                                     : reflection.GetUInt32(message, field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:  // 64-bit integers are JSON strings
      out += '"';
      out += std::to_string(repeated ? reflection.GetRepeatedInt64(message, field, index)
                                     : reflection.GetInt64(message, field));
      out += '"';
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out += '"';
      out += std::to_string(repeated ? reflection.GetRepeatedUInt64(message, field, index)
                                     : reflection.GetUInt64(message, field));
      out += '"';
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (repeated ? reflection.GetRepeatedBool(message, field, index)
                       : reflection.GetBool(message, field))
                 ? "true"
                 : "false";
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = repeated ? reflection.GetRepeatedEnumValue(message, field, index)
                                  : reflection.GetEnumValue(message, field);
      const auto* value = field->enum_type()->FindValueByNumber(number);
      if (value != nullptr) {
        out += json_quote(value->name());
      } else {
        out += std::to_string(number);  // an unknown (newer) value: its number
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text =
          repeated ? reflection.GetRepeatedStringReference(message, field, index, &scratch)
                   : reflection.GetStringReference(message, field, &scratch);
      out += json_quote(text);
      return;
    }
    default:
      return;  // excluded by record_json_supported
  }
}

void append_message(const Message& message, std::string& out);

// A map entry's key as a JSON object key: always a string.
void append_map_key(const Message& entry, const FieldDescriptor* key, std::string& out) {
  if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    append_scalar(entry, *entry.GetReflection(), key, 0, out);
    return;
  }
  std::string text;
  append_scalar(entry, *entry.GetReflection(), key, 0, text);
  if (!text.empty() && text.front() == '"') {
    out += text;  // 64-bit integers are quoted already
  } else {
    out += '"';
    out += text;
    out += '"';
  }
}

void append_value(const Message& message, const Reflection& reflection,
                  const FieldDescriptor* field, int index, std::string& out) {
  if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    append_scalar(message, reflection, field, index, out);
  } else if (field->is_repeated()) {
    append_message(reflection.GetRepeatedMessage(message, field, index), out);
  } else {
    append_message(reflection.GetMessage(message, field), out);
  }
}

void append_message(const Message& message, std::string& out) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);  // set fields, in field-number order
  out += '{';
  bool first = true;
  for (const FieldDescriptor* field : fields) {
    if (!first) out += ',';
    first = false;
    out += '"';
    if (field->is_extension()) {
      out += '[' + field->full_name() + ']';  // as protobuf prints an extension
    } else {
      out += field->name();  // .proto names are [A-Za-z0-9_]: nothing to escape
    }
    out += "\":";
    if (field->is_map()) {
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* value = field->message_type()->map_value();
      out += '{';
      const int size = reflection.FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        const Message& entry = reflection.GetRepeatedMessage(message, field, i);
        if (i > 0) out += ',';
        append_map_key(entry, key, out);
        out += ':';
        append_value(entry, *entry.GetReflection(), value, 0, out);
      }
      out += '}';
    } else if (field->is_repeated()) {
      out += '[';
      const int size = reflection.FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        if (i > 0) out += ',';
        append_value(message, reflection, field, i, out);
      }
      out += ']';
    } else {
      append_value(message, reflection, field, 0, out);
    }
  }
  out += '}';
}

}  // namespace

bool record_json_supported(const Descriptor* type) {
  static std::mutex mutex;
  static std::map<const Descriptor*, bool> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(type);
  if (it != cache.end()) return it->second;
  std::set<const Descriptor*> visiting;
  return cache[type] = supported_uncached(type, visiting);
}

bool append_record_json(const Message& message, std::string& out) {
  if (!record_json_supported(message.GetDescriptor())) return false;
  append_message(message, out);
  return true;
}

}  // namespace outpost::capi
