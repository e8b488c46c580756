#include "capi/records.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdio>

#include "outpost_capi_query.pb.h"

namespace outpost::capi {
namespace {

using google::protobuf::Message;
using google::protobuf::Value;
using outpost::capi::QueryCondition;
using outpost::capi::QuerySpec;

Result<std::string> to_json(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return error(ErrorCode::kInternal, "record to JSON: " + std::string(status.message()));
  }
  return out;
}

Result<SqlValue> sql_value(const Value& value, std::string_view what) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      return SqlValue();
    case Value::kBoolValue:
      return SqlValue(int64_t{value.bool_value() ? 1 : 0});
    case Value::kNumberValue: {
      double number = value.number_value();
      if (std::trunc(number) == number && std::fabs(number) < 9.007199254740992e15) {
        return SqlValue(static_cast<int64_t>(number));
      }
      return SqlValue(number);
    }
    case Value::kStringValue:
      return SqlValue(value.string_value());
    default:
      return error(ErrorCode::kInvalidArgument,
                   std::string(what) + ": a value must be null, a number, a string or a boolean");
  }
}

template <typename T>
Status parse_json(const std::string& json, T& out, std::string_view what) {
  auto status = google::protobuf::util::JsonStringToMessage(json, &out);
  if (!status.ok()) {
    return error(ErrorCode::kInvalidArgument,
                 std::string(what) + ": " + std::string(status.message()));
  }
  return Status::Ok();
}

Result<Condition::Op> parse_op(const std::string& op) {
  if (op == "=" || op == "==") return Condition::Op::kEq;
  if (op == "!=") return Condition::Op::kNe;
  if (op == "<") return Condition::Op::kLt;
  if (op == "<=") return Condition::Op::kLe;
  if (op == ">") return Condition::Op::kGt;
  if (op == ">=") return Condition::Op::kGe;
  return error(ErrorCode::kInvalidArgument, "query: unknown op '" + op + "'");
}

}  // namespace

Result<std::string> encode_record(const Message& record, outpost_format format) {
  if (format == OUTPOST_FORMAT_PROTO) return record.SerializeAsString();
  return to_json(record);
}

Result<std::string> encode_records(const std::vector<std::unique_ptr<Message>>& records,
                                   outpost_format format) {
  std::string out;
  if (format == OUTPOST_FORMAT_PROTO) {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    for (const auto& record : records) {
      coded.WriteVarint32(static_cast<uint32_t>(record->ByteSizeLong()));
      record->SerializeWithCachedSizes(&coded);
    }
    coded.Trim();
    return out;
  }
  out += '[';
  for (size_t i = 0; i < records.size(); ++i) {
    OUTPOST_ASSIGN_OR_RETURN(std::string json, to_json(*records[i]));
    if (i > 0) out += ',';
    out += json;
  }
  out += ']';
  return out;
}

std::string delimited(const std::vector<std::string>& bodies) {
  std::string out;
  size_t total = 0;
  for (const std::string& body : bodies) total += body.size() + 5;
  out.reserve(total);
  for (const std::string& body : bodies) {
    uint64_t length = body.size();
    while (length >= 0x80) {
      out += static_cast<char>((length & 0x7f) | 0x80);
      length >>= 7;
    }
    out += static_cast<char>(length);
    out += body;
  }
  return out;
}

Result<std::unique_ptr<Message>> decode_args(const MutatorRegistry* mutators,
                                             const std::string& name, outpost_format format,
                                             const std::string& args) {
  if (mutators == nullptr) return error(ErrorCode::kNotFound, "no mutators are registered");
  OUTPOST_ASSIGN_OR_RETURN(const Mutator* mutator, mutators->require(name));
  if (format == OUTPOST_FORMAT_PROTO) return mutators->parse_args(*mutator, args);
  return mutators->parse_json_args(*mutator, args);
}

Result<Query> parse_query_spec(const std::string& json) {
  // A typed message rather than a google.protobuf.Struct: no protobuf Map to walk (its
  // inline code does not match an uninstrumented libprotobuf under ThreadSanitizer).
  QuerySpec spec;
  OUTPOST_RETURN_IF_ERROR(parse_json(json, spec, "query spec"));
  if (spec.collection().empty()) {
    return error(ErrorCode::kInvalidArgument, "query: collection is required");
  }
  Query query;
  query.collection = spec.collection();
  query.order_by = spec.order_by();
  query.descending = spec.descending();
  query.limit = spec.limit();
  for (const QueryCondition& item : spec.where()) {
    if (item.column().empty() || !item.has_value()) {
      return error(ErrorCode::kInvalidArgument, "query: a where item needs column and value");
    }
    Condition condition;
    condition.column = item.column();
    if (!item.op().empty()) {
      OUTPOST_ASSIGN_OR_RETURN(condition.op, parse_op(item.op()));
    }
    OUTPOST_ASSIGN_OR_RETURN(condition.value, sql_value(item.value(), "query"));
    query.where.push_back(std::move(condition));
  }
  return query;
}

Result<std::vector<SqlValue>> parse_sql_params(const std::string& json) {
  std::vector<SqlValue> params;
  if (json.empty()) return params;
  google::protobuf::ListValue list;
  OUTPOST_RETURN_IF_ERROR(parse_json(json, list, "SQL parameters (a JSON array)"));
  for (const Value& value : list.values()) {
    OUTPOST_ASSIGN_OR_RETURN(SqlValue param, sql_value(value, "SQL parameters"));
    params.push_back(std::move(param));
  }
  return params;
}

Result<std::string> rejected_json(const std::vector<RejectedMutation>& rejected,
                                  const MutatorRegistry* mutators) {
  std::string out = "[";
  for (size_t i = 0; i < rejected.size(); ++i) {
    const RejectedMutation& item = rejected[i];
    std::string args = "null";
    if (auto parsed = decode_args(mutators, item.name, OUTPOST_FORMAT_PROTO, item.args);
        parsed.ok()) {
      OUTPOST_ASSIGN_OR_RETURN(args, to_json(**parsed));
    }
    if (i > 0) out += ',';
    out += "{\"id\":" + std::to_string(item.id) + ",\"name\":" + json_quote(item.name) +
           ",\"args\":" + args + ",\"created_ms\":" + std::to_string(item.created_ms) +
           ",\"code\":" + json_quote(item.code) + ",\"reason\":" + json_quote(item.reason) + "}";
  }
  out += ']';
  return out;
}

}  // namespace outpost::capi
