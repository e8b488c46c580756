// What crosses the C boundary as text or bytes: records as protobuf JSON (the .proto field
// names) or protobuf bytes (lists length-delimited), the query spec and SQL parameters
// read from JSON, rejected mutations as JSON.
// Thread rules: free functions on values.
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/json_quote.h"
#include "engine/mutator.h"
#include "engine/replica.h"
#include "engine/status.h"
#include "outpost/outpost.h"

namespace outpost::capi {

Result<std::string> encode_record(const google::protobuf::Message& record, outpost_format format);
// A JSON array, or each record as a varint length and its bytes.
Result<std::string> encode_records(
    const std::vector<std::unique_ptr<google::protobuf::Message>>& records, outpost_format format);

// Stored records' bytes, each as a varint length and its bytes.
std::string delimited(const std::vector<std::string>& bodies);

// The args of mutator `name` from JSON or protobuf bytes. kNotFound for an unknown
// mutator, kInvalidArgument for args that do not parse.
Result<std::unique_ptr<google::protobuf::Message>> decode_args(const MutatorRegistry* mutators,
                                                               const std::string& name,
                                                               outpost_format format,
                                                               const std::string& args);

// {"collection": ..., "where": [{"column", "op", "value"}], "order_by", "descending", "limit"}
Result<Query> parse_query_spec(const std::string& json);
// A JSON array of null, numbers (integral ones bind as integers), strings and booleans.
Result<std::vector<SqlValue>> parse_sql_params(const std::string& json);

// [{"id", "name", "args" (JSON), "created_ms", "code", "reason"}]
Result<std::string> rejected_json(const std::vector<RejectedMutation>& rejected,
                                  const MutatorRegistry* mutators);

}  // namespace outpost::capi
