#include "apps/outpost/local_commands.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ostream>
#include <set>

#include "engine/replica_views.h"

namespace outpost::cli {
namespace {

using google::protobuf::Message;

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string to_json(const Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  if (pretty && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string sql_value_text(const SqlValue& value, bool json) {
  if (std::holds_alternative<int64_t>(value)) return std::to_string(std::get<int64_t>(value));
  if (std::holds_alternative<double>(value)) return std::to_string(std::get<double>(value));
  if (std::holds_alternative<std::string>(value)) {
    return json ? json_string(std::get<std::string>(value)) : std::get<std::string>(value);
  }
  return json ? "null" : "NULL";
}

void print_records(const std::vector<std::unique_ptr<Message>>& records, bool json,
                   std::ostream& out) {
  for (const auto& record : records) out << to_json(*record, !json) << "\n";
}

Result<uint64_t> parse_count(const std::optional<std::string>& text, uint64_t fallback,
                             const std::string& what) {
  if (!text) return fallback;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = strtoull(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno != 0 || (*text)[0] == '-') {
    return error(ErrorCode::kInvalidArgument,
                 what + " must be a non-negative number, not '" + *text + "'");
  }
  return static_cast<uint64_t>(value);
}

Status need(const ParsedArgs& args, size_t count, const std::string& usage) {
  if (args.positional.size() < count + 1) {
    return error(ErrorCode::kInvalidArgument, "usage: outpost --db FILE " + usage);
  }
  return Status::Ok();
}

// "--where col=value" or "col<value" etc.; numbers compare as numbers.
Result<Condition> parse_condition(const std::string& text) {
  static const std::vector<std::pair<std::string, Condition::Op>> kOps = {
      {"<=", Condition::Op::kLe}, {">=", Condition::Op::kGe}, {"!=", Condition::Op::kNe},
      {"=", Condition::Op::kEq},  {"<", Condition::Op::kLt},  {">", Condition::Op::kGt}};
  for (const auto& [symbol, op] : kOps) {
    auto at = text.find(symbol);
    if (at == std::string::npos || at == 0) continue;
    Condition condition;
    condition.column = text.substr(0, at);
    condition.op = op;
    std::string value = text.substr(at + symbol.size());
    char* end = nullptr;
    long long number = strtoll(value.c_str(), &end, 10);
    if (!value.empty() && end != nullptr && *end == '\0') {
      condition.value = static_cast<int64_t>(number);
    } else if (value == "true" || value == "false") {
      condition.value = static_cast<int64_t>(value == "true");
    } else {
      condition.value = value;
    }
    return condition;
  }
  return error(ErrorCode::kInvalidArgument,
               "bad --where '" + text + "' (use column=value, <, >, <=, >=, !=)");
}

Status status_command(Replica& replica, bool json, std::ostream& out) {
  OUTPOST_ASSIGN_OR_RETURN(auto pending, replica.pending());
  OUTPOST_ASSIGN_OR_RETURN(auto rejected, replica.rejected());
  OUTPOST_ASSIGN_OR_RETURN(auto cursors, replica.cursors());
  std::vector<std::pair<std::string, uint64_t>> counts;
  for (const auto& collection : replica.schema().collections()) {
    OUTPOST_ASSIGN_OR_RETURN(uint64_t n, replica.count(collection->name));
    counts.emplace_back(collection->name, n);
  }
  if (json) {
    out << "{\"client_id\":" << json_string(replica.client_id())
        << ",\"tenant\":" << json_string(replica.tenant())
        << ",\"user\":" << json_string(replica.user())
        << ",\"schema_version\":" << replica.schema().version() << ",\"pending\":" << pending.size()
        << ",\"rejected\":" << rejected.size() << ",\"collections\":{";
    for (size_t i = 0; i < counts.size(); ++i) {
      out << (i ? "," : "") << json_string(counts[i].first) << ":" << counts[i].second;
    }
    out << "},\"cursors\":{";
    for (size_t i = 0; i < cursors.size(); ++i) {
      out << (i ? "," : "") << json_string(cursors[i].scope) << ":" << cursors[i].seq;
    }
    out << "}}\n";
    return Status::Ok();
  }
  out << "replica    " << replica.path() << "\n"
      << "client     " << replica.client_id() << "\n"
      << "identity   "
      << (replica.tenant().empty() ? "(none yet)" : replica.tenant() + "/" + replica.user()) << "\n"
      << "schema     version " << replica.schema().version() << "\n"
      << "outbox     " << pending.size() << " pending, " << rejected.size() << " rejected\n";
  for (const auto& cursor : cursors) {
    out << "cursor     " << cursor.scope << " at " << cursor.seq
        << (cursor.token.empty() ? "" : " (snapshot in progress)") << "\n";
  }
  for (const auto& [name, n] : counts) out << "  " << name << ": " << n << "\n";
  return Status::Ok();
}

// The commands that only read, through the view a UI gets.
Status read_command(ReplicaReader replica, const ParsedArgs& args, bool json, std::ostream& out) {
  const std::string& command = args.positional.at(0);
  if (command == "get") {
    OUTPOST_RETURN_IF_ERROR(need(args, 2, "get COLLECTION KEY"));
    OUTPOST_ASSIGN_OR_RETURN(auto record, replica.get(args.positional[1], args.positional[2]));
    if (record == nullptr) {
      return error(ErrorCode::kNotFound,
                   "no " + args.positional[1] + " with key '" + args.positional[2] + "'");
    }
    out << to_json(*record, !json) << "\n";
    return Status::Ok();
  }
  if (command == "query") {
    OUTPOST_RETURN_IF_ERROR(
        need(args, 1, "query COLLECTION [--where C=V]... [--order C] [--desc] [--limit N]"));
    Query query;
    query.collection = args.positional[1];
    if (args.flags.count("where")) {
      for (const std::string& text : args.flags.at("where")) {
        OUTPOST_ASSIGN_OR_RETURN(Condition condition, parse_condition(text));
        query.where.push_back(std::move(condition));
      }
    }
    query.order_by = args.flag("order").value_or("");
    query.descending = args.has("desc");
    OUTPOST_ASSIGN_OR_RETURN(uint64_t limit, parse_count(args.flag("limit"), 100, "--limit"));
    query.limit = static_cast<uint32_t>(std::min<uint64_t>(limit, 1000000));
    OUTPOST_ASSIGN_OR_RETURN(auto records, replica.query(query));
    print_records(records, json, out);
    return Status::Ok();
  }
  if (command == "search") {
    OUTPOST_RETURN_IF_ERROR(
        need(args, 2, "search COLLECTION TEXT [--order C] [--desc] [--limit N]"));
    SearchOptions options;
    options.order_by = args.flag("order").value_or("");
    options.descending = args.has("desc");
    OUTPOST_ASSIGN_OR_RETURN(uint64_t limit, parse_count(args.flag("limit"), 50, "--limit"));
    options.limit = static_cast<uint32_t>(std::min<uint64_t>(limit, 1000000));
    OUTPOST_ASSIGN_OR_RETURN(auto records,
                             replica.search(args.positional[1], args.positional[2], options));
    print_records(records, json, out);
    return Status::Ok();
  }
  if (command == "sql") {
    OUTPOST_RETURN_IF_ERROR(need(args, 1, "sql 'SELECT ...'"));
    OUTPOST_ASSIGN_OR_RETURN(SqlRows rows, replica.sql(args.positional[1]));
    for (const auto& row : rows.rows) {
      if (json) {
        out << "{";
        for (size_t i = 0; i < row.size(); ++i) {
          out << (i ? "," : "") << json_string(rows.columns[i]) << ":"
              << sql_value_text(row[i], true);
        }
        out << "}\n";
      } else {
        for (size_t i = 0; i < row.size(); ++i)
          out << (i ? "\t" : "") << sql_value_text(row[i], false);
        out << "\n";
      }
    }
    return Status::Ok();
  }
  return error(ErrorCode::kInvalidArgument, "not a read command: " + command);
}

}  // namespace

bool is_local_command(const std::string& command) {
  static const std::set<std::string> kCommands = {"get",     "query",  "search",  "sql",
                                                  "mutate",  "status", "pending", "rejected",
                                                  "discard", "retry",  "dump"};
  return kCommands.count(command) != 0;
}

const std::vector<std::string>& device_valued_flags() {
  static const std::vector<std::string> kFlags = {"db",    "server", "token",  "where",
                                                  "order", "limit",  "budget", "app-version",
                                                  "ca",    "pin",    "blobs",  "o"};
  return kFlags;
}

const std::vector<std::string>& device_switches() {
  static const std::vector<std::string> kSwitches = {"json", "desc", "help", "prefetch"};
  return kSwitches;
}

Status run_local_command(Replica& replica, const ParsedArgs& args, bool json, std::ostream& out) {
  const std::string& command = args.positional.at(0);
  if (command == "status") return status_command(replica, json, out);
  if (command == "get" || command == "query" || command == "search" || command == "sql") {
    return read_command(replica, args, json, out);
  }
  if (command == "mutate") {
    OUTPOST_RETURN_IF_ERROR(need(args, 2, "mutate NAME '{json arguments}'"));
    OUTPOST_ASSIGN_OR_RETURN(
        uint64_t id, replica.mutate_json(args.positional[1], args.positional[2], wall_clock_ms()));
    if (json) {
      out << "{\"mutation_id\":" << id << "}\n";
    } else {
      out << "mutation " << id << " saved (pending sync)\n";
    }
    return Status::Ok();
  }
  if (command == "pending" || command == "rejected") {
    std::vector<PendingMutation> pending;
    std::vector<RejectedMutation> rejected;
    if (command == "pending") {
      OUTPOST_ASSIGN_OR_RETURN(pending, replica.pending());
    } else {
      OUTPOST_ASSIGN_OR_RETURN(rejected, replica.rejected());
      for (const auto& r : rejected) pending.push_back({r.id, r.name, r.args, r.created_ms});
    }
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto& p = pending[i];
      out << "{\"id\":" << p.id << ",\"name\":" << json_string(p.name)
          << ",\"created_ms\":" << p.created_ms;
      if (command == "rejected") {
        out << ",\"code\":" << json_string(rejected[i].code)
            << ",\"reason\":" << json_string(rejected[i].reason);
      }
      out << "}\n";
    }
    return Status::Ok();
  }
  if (command == "dump") {
    // Every record as "collection<TAB>key<TAB>version<TAB>hex(body)", sorted: two devices
    // (or a device and the server) hold the same data when their dumps are equal.
    std::vector<std::string> lines;
    for (const auto& collection : replica.schema().collections()) {
      OUTPOST_ASSIGN_OR_RETURN(SqlRows rows,
                               replica.sql("SELECT " + collection->key_field->name() +
                                           ", _version, hex(_body) FROM c_" + collection->name));
      for (const auto& row : rows.rows) {
        lines.push_back(collection->name + "\t" + sql_value_text(row[0], false) + "\t" +
                        sql_value_text(row[1], false) + "\t" + sql_value_text(row[2], false));
      }
    }
    std::sort(lines.begin(), lines.end());
    for (const std::string& line : lines) out << line << "\n";
    return Status::Ok();
  }
  if (command == "retry") {
    OUTPOST_RETURN_IF_ERROR(need(args, 1, "retry MUTATION_ID ['{edited json arguments}']"));
    OUTPOST_ASSIGN_OR_RETURN(uint64_t id, parse_count(args.positional[1], 0, "ID"));
    std::unique_ptr<google::protobuf::Message> edited;
    if (args.positional.size() > 2) {
      OUTPOST_ASSIGN_OR_RETURN(auto all, replica.rejected());
      auto item = std::find_if(all.begin(), all.end(), [&](const auto& r) { return r.id == id; });
      if (item == all.end()) {
        return error(ErrorCode::kNotFound, "no rejected mutation " + std::to_string(id));
      }
      if (replica.mutators() == nullptr) {
        return error(ErrorCode::kNotFound, "no mutators are registered");
      }
      OUTPOST_ASSIGN_OR_RETURN(const Mutator* mutator, replica.mutators()->require(item->name));
      OUTPOST_ASSIGN_OR_RETURN(edited,
                               replica.mutators()->parse_json_args(*mutator, args.positional[2]));
    }
    OUTPOST_ASSIGN_OR_RETURN(uint64_t retried,
                             replica.retry_rejected(id, wall_clock_ms(), edited.get()));
    out << (json ? "{\"mutation_id\":" + std::to_string(retried) + "}"
                 : "mutation " + std::to_string(retried) + " saved (pending sync)")
        << "\n";
    return Status::Ok();
  }
  if (command == "discard") {
    OUTPOST_RETURN_IF_ERROR(need(args, 1, "discard MUTATION_ID"));
    OUTPOST_ASSIGN_OR_RETURN(uint64_t id, parse_count(args.positional[1], 0, "ID"));
    return replica.discard_rejected(id);
  }
  return error(ErrorCode::kInvalidArgument, "unknown command '" + command + "'");
}

}  // namespace outpost::cli
