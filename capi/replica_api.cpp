// The replica half of outpost/outpost.h: open/close, mutate, reads, SQL cursors, the
// outbox and rejections, change subscriptions.
#include <chrono>
#include <string>

#include "capi/boundary.h"
#include "capi/handles.h"
#include "capi/records.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "transport/client_id.h"

namespace outpost::capi {
namespace {

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status need(const void* pointer, std::string_view what) {
  if (pointer == nullptr) return error(ErrorCode::kInvalidArgument, std::string(what) + " is NULL");
  return Status::Ok();
}

Status check_format(outpost_format format) {
  if (format != OUTPOST_FORMAT_JSON && format != OUTPOST_FORMAT_PROTO) {
    return error(ErrorCode::kInvalidArgument, "unknown format");
  }
  return Status::Ok();
}

// Runs `body` on the replica, its exceptions caught on the thread that runs it.
Status run_guarded(Replica& replica, const std::function<Status(Replica&)>& body) {
  try {
    return body(replica);
  } catch (const std::exception& e) {
    return error(ErrorCode::kInternal, std::string("unexpected: ") + e.what());
  } catch (...) {
    return error(ErrorCode::kInternal, "unexpected exception");
  }
}

}  // namespace

Status with_replica(outpost_replica* handle, const std::function<Status(Replica&)>& body) {
  OUTPOST_RETURN_IF_ERROR(need(handle, "replica"));
  if (handle->agent == nullptr) {
    Status result;
    {
      std::lock_guard lock(handle->mutex);
      if (handle->owned == nullptr) return error(ErrorCode::kFailedPrecondition, "closed");
      result = run_guarded(*handle->owned, body);
    }
    handle->hub.flush();  // no lock held: the callbacks may call back in
    return result;
  }
  // Lent by an agent: on its loop thread while it runs (inline while stopped, which the
  // agent's mutex serializes with start/stop; a callback of the agent already runs there).
  outpost_agent* agent = handle->agent;
  Status result;
  auto task = [&](Replica& replica) { result = run_guarded(replica, body); };
  Status ran;
  if (CallbackScope::active_for(agent)) {
    ran = agent->agent->with_replica(task);
  } else {
    std::lock_guard lock(agent->mutex);
    ran = agent->agent->with_replica(task);
  }
  OUTPOST_RETURN_IF_ERROR(ran);
  return result;
}

}  // namespace outpost::capi

using namespace outpost;
using namespace outpost::capi;

extern "C" {

void outpost_replica_options_init(outpost_replica_options* options) {
  if (options == nullptr) return;
  *options = outpost_replica_options{};
  options->struct_size = sizeof(outpost_replica_options);
}

outpost_status outpost_replica_open(const char* path, size_t path_len,
                                    const outpost_replica_options* options, outpost_replica** out,
                                    outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = nullptr;
    std::string file;
    OUTPOST_RETURN_IF_ERROR(read_string(path, path_len, "path", &file));
    if (file.empty()) return outpost::error(ErrorCode::kInvalidArgument, "path is empty");
    ReplicaOptions replica_options;
    if (options != nullptr) {
      if (options->struct_size < sizeof(outpost_replica_options)) {
        return outpost::error(ErrorCode::kInvalidArgument,
                              "options: call outpost_replica_options_init first");
      }
      replica_options.read_only = options->read_only;
      replica_options.sync_on_commit = options->sync_on_commit;
      OUTPOST_RETURN_IF_ERROR(
          read_string(options->tenant, options->tenant_len, "tenant", &replica_options.tenant));
      OUTPOST_RETURN_IF_ERROR(
          read_string(options->user, options->user_len, "user", &replica_options.user));
    }
    // Used only when the file is new: a file keeps the id it was created with.
    replica_options.client_id = new_client_id();
    OUTPOST_ASSIGN_OR_RETURN(auto replica, Replica::open(file, Schema::domain(), &domain_mutators(),
                                                         std::move(replica_options)));
    auto handle = std::make_unique<outpost_replica>(nullptr);
    outpost_replica* raw = handle.get();
    // Inline on the committing thread, under the handle's lock: only queue; the call
    // delivers after it lets go (with_replica).
    raw->engine_subscription =
        replica->subscribe([raw](const ChangeSet& changes) { raw->hub.enqueue(changes); });
    handle->owned = std::move(replica);
    *out = handle.release();
    return Status::Ok();
  });
}

outpost_status outpost_replica_close(outpost_replica* replica, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    if (replica == nullptr) return Status::Ok();
    if (replica->agent != nullptr) {
      return outpost::error(ErrorCode::kFailedPrecondition,
                            "an agent's replica closes with outpost_agent_close");
    }
    if (CallbackScope::active()) {
      return outpost::error(ErrorCode::kFailedPrecondition, "not from a callback");
    }
    std::unique_ptr<outpost_replica> owned(replica);
    std::lock_guard lock(owned->mutex);
    owned->owned.reset();
    return Status::Ok();
  });
}

outpost_status outpost_replica_mutate(outpost_replica* replica, outpost_format format,
                                      const char* name, size_t name_len, const char* args,
                                      size_t args_len, uint64_t* mutation_id,
                                      outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(check_format(format));
    std::string mutator, bytes;
    OUTPOST_RETURN_IF_ERROR(read_string(name, name_len, "name", &mutator));
    OUTPOST_RETURN_IF_ERROR(read_string(args, args_len, "args", &bytes));
    return with_replica(replica, [&](Replica& r) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto parsed, decode_args(r.mutators(), mutator, format, bytes));
      OUTPOST_ASSIGN_OR_RETURN(uint64_t id, r.mutate(mutator, *parsed, wall_clock_ms()));
      if (mutation_id != nullptr) *mutation_id = id;
      return Status::Ok();
    });
  });
}

outpost_status outpost_replica_get(outpost_replica* replica, outpost_format format,
                                   const char* collection, size_t collection_len, const char* key,
                                   size_t key_len, outpost_bytes* out, bool* found,
                                   outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(check_format(format));
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = outpost_bytes{};
    if (found != nullptr) *found = false;
    std::string name, id;
    OUTPOST_RETURN_IF_ERROR(read_string(collection, collection_len, "collection", &name));
    OUTPOST_RETURN_IF_ERROR(read_string(key, key_len, "key", &id));
    std::string encoded;
    bool present = false;
    OUTPOST_RETURN_IF_ERROR(with_replica(replica, [&](Replica& r) -> Status {
      if (format == OUTPOST_FORMAT_PROTO) {  // the stored bytes as they are
        OUTPOST_ASSIGN_OR_RETURN(auto body, r.get_bytes(name, id));
        present = body.has_value();
        if (present) encoded = std::move(*body);
        return Status::Ok();
      }
      OUTPOST_ASSIGN_OR_RETURN(auto record, r.get(name, id));
      if (record == nullptr) return Status::Ok();
      present = true;
      OUTPOST_ASSIGN_OR_RETURN(encoded, encode_record(*record, format));
      return Status::Ok();
    }));
    if (found != nullptr) *found = present;
    if (!present) return Status::Ok();
    return set_bytes(out, encoded);
  });
}

outpost_status outpost_replica_query(outpost_replica* replica, outpost_format format,
                                     const char* spec_json, size_t spec_len, outpost_bytes* out,
                                     outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(check_format(format));
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = outpost_bytes{};
    std::string text;
    OUTPOST_RETURN_IF_ERROR(read_string(spec_json, spec_len, "spec", &text));
    OUTPOST_ASSIGN_OR_RETURN(Query query, parse_query_spec(text));
    std::string encoded;
    OUTPOST_RETURN_IF_ERROR(with_replica(replica, [&](Replica& r) -> Status {
      if (format == OUTPOST_FORMAT_PROTO) {  // the stored bytes, length-delimited
        OUTPOST_ASSIGN_OR_RETURN(auto bodies, r.query_bytes(query));
        encoded = delimited(bodies);
        return Status::Ok();
      }
      OUTPOST_ASSIGN_OR_RETURN(auto records, r.query(query));
      OUTPOST_ASSIGN_OR_RETURN(encoded, encode_records(records, format));
      return Status::Ok();
    }));
    return set_bytes(out, encoded);
  });
}

outpost_status outpost_replica_search(outpost_replica* replica, outpost_format format,
                                      const char* collection, size_t collection_len,
                                      const char* text, size_t text_len, const char* order_by,
                                      size_t order_by_len, bool descending, uint32_t limit,
                                      outpost_bytes* out, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(check_format(format));
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = outpost_bytes{};
    std::string name, needle;
    SearchOptions options;
    OUTPOST_RETURN_IF_ERROR(read_string(collection, collection_len, "collection", &name));
    OUTPOST_RETURN_IF_ERROR(read_string(text, text_len, "text", &needle));
    OUTPOST_RETURN_IF_ERROR(read_string(order_by, order_by_len, "order_by", &options.order_by));
    options.descending = descending;
    if (limit != 0) options.limit = limit;
    std::string encoded;
    OUTPOST_RETURN_IF_ERROR(with_replica(replica, [&](Replica& r) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto records, r.search(name, needle, options));
      OUTPOST_ASSIGN_OR_RETURN(encoded, encode_records(records, format));
      return Status::Ok();
    }));
    return set_bytes(out, encoded);
  });
}

outpost_status outpost_replica_sql(outpost_replica* replica, const char* sql, size_t sql_len,
                                   const char* params_json, size_t params_len, outpost_cursor** out,
                                   outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = nullptr;
    std::string statement, params_text;
    OUTPOST_RETURN_IF_ERROR(read_string(sql, sql_len, "sql", &statement));
    OUTPOST_RETURN_IF_ERROR(read_string(params_json, params_len, "params", &params_text));
    OUTPOST_ASSIGN_OR_RETURN(std::vector<SqlValue> params, parse_sql_params(params_text));
    auto cursor = std::make_unique<outpost_cursor>();
    OUTPOST_RETURN_IF_ERROR(with_replica(replica, [&](Replica& r) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(cursor->rows, r.sql(statement, params));
      return Status::Ok();
    }));
    *out = cursor.release();
    return Status::Ok();
  });
}

outpost_status outpost_cursor_step(outpost_cursor* cursor, bool* has_row, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(cursor, "cursor"));
    OUTPOST_RETURN_IF_ERROR(need(has_row, "has_row"));
    cursor->on_row = cursor->next < cursor->rows.rows.size();
    if (cursor->on_row) cursor->next++;
    *has_row = cursor->on_row;
    return Status::Ok();
  });
}

size_t outpost_cursor_column_count(const outpost_cursor* cursor) {
  return cursor == nullptr ? 0 : cursor->rows.columns.size();
}

const char* outpost_cursor_column_name(const outpost_cursor* cursor, size_t column, size_t* len) {
  if (cursor == nullptr || column >= cursor->rows.columns.size()) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  const std::string& name = cursor->rows.columns[column];
  if (len != nullptr) *len = name.size();
  return name.c_str();
}

namespace {
const SqlValue* current_value(const outpost_cursor* cursor, size_t column) {
  if (cursor == nullptr || !cursor->on_row) return nullptr;
  const auto& row = cursor->rows.rows[cursor->next - 1];
  return column < row.size() ? &row[column] : nullptr;
}
}  // namespace

outpost_value_type outpost_cursor_type(const outpost_cursor* cursor, size_t column) {
  const SqlValue* value = current_value(cursor, column);
  if (value == nullptr) return OUTPOST_VALUE_NULL;
  if (std::holds_alternative<int64_t>(*value)) return OUTPOST_VALUE_INTEGER;
  if (std::holds_alternative<double>(*value)) return OUTPOST_VALUE_REAL;
  if (std::holds_alternative<std::string>(*value)) return OUTPOST_VALUE_TEXT;
  return OUTPOST_VALUE_NULL;
}

int64_t outpost_cursor_int64(const outpost_cursor* cursor, size_t column) {
  const SqlValue* value = current_value(cursor, column);
  if (value == nullptr) return 0;
  if (const auto* integer = std::get_if<int64_t>(value)) return *integer;
  if (const auto* real = std::get_if<double>(value)) return static_cast<int64_t>(*real);
  return 0;
}

double outpost_cursor_double(const outpost_cursor* cursor, size_t column) {
  const SqlValue* value = current_value(cursor, column);
  if (value == nullptr) return 0;
  if (const auto* real = std::get_if<double>(value)) return *real;
  if (const auto* integer = std::get_if<int64_t>(value)) return static_cast<double>(*integer);
  return 0;
}

const char* outpost_cursor_text(const outpost_cursor* cursor, size_t column, size_t* len) {
  const SqlValue* value = current_value(cursor, column);
  const auto* text = value == nullptr ? nullptr : std::get_if<std::string>(value);
  if (text == nullptr) {
    if (len != nullptr) *len = 0;
    return "";
  }
  if (len != nullptr) *len = text->size();
  return text->c_str();
}

void outpost_cursor_close(outpost_cursor* cursor) {
  delete cursor;
}

outpost_status outpost_replica_pending_count(outpost_replica* replica, uint64_t* count,
                                             outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(count, "count"));
    return with_replica(replica, [&](Replica& r) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto pending, r.pending());
      *count = pending.size();
      return Status::Ok();
    });
  });
}

outpost_status outpost_replica_rejected(outpost_replica* replica, outpost_bytes* out,
                                        outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = outpost_bytes{};
    std::string json;
    OUTPOST_RETURN_IF_ERROR(with_replica(replica, [&](Replica& r) -> Status {
      OUTPOST_ASSIGN_OR_RETURN(auto rejected, r.rejected());
      OUTPOST_ASSIGN_OR_RETURN(json, rejected_json(rejected, r.mutators()));
      return Status::Ok();
    }));
    return set_bytes(out, json);
  });
}

outpost_status outpost_replica_retry_rejected(outpost_replica* replica, uint64_t rejected_id,
                                              outpost_format format, const char* args,
                                              size_t args_len, uint64_t* mutation_id,
                                              outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(check_format(format));
    std::string bytes;
    OUTPOST_RETURN_IF_ERROR(read_string(args, args_len, "args", &bytes));
    const bool edited = args != nullptr;
    return with_replica(replica, [&](Replica& r) -> Status {
      std::unique_ptr<google::protobuf::Message> replacement;
      if (edited) {
        OUTPOST_ASSIGN_OR_RETURN(auto rejected, r.rejected());
        const RejectedMutation* item = nullptr;
        for (const auto& candidate : rejected) {
          if (candidate.id == rejected_id) item = &candidate;
        }
        if (item == nullptr) {
          return outpost::error(ErrorCode::kNotFound,
                                "no rejected mutation " + std::to_string(rejected_id));
        }
        OUTPOST_ASSIGN_OR_RETURN(replacement, decode_args(r.mutators(), item->name, format, bytes));
      }
      OUTPOST_ASSIGN_OR_RETURN(uint64_t id,
                               r.retry_rejected(rejected_id, wall_clock_ms(), replacement.get()));
      if (mutation_id != nullptr) *mutation_id = id;
      return Status::Ok();
    });
  });
}

outpost_status outpost_replica_discard_rejected(outpost_replica* replica, uint64_t rejected_id,
                                                outpost_error* error) {
  return guarded(error, [&]() -> Status {
    return with_replica(replica,
                        [&](Replica& r) -> Status { return r.discard_rejected(rejected_id); });
  });
}

outpost_status outpost_replica_subscribe(outpost_replica* replica, outpost_changes_fn fn,
                                         void* user_data, uint64_t* subscription,
                                         outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(replica, "replica"));
    OUTPOST_RETURN_IF_ERROR(need(reinterpret_cast<const void*>(fn), "fn"));
    uint64_t id = replica->hub.add_callback(fn, user_data);
    if (subscription != nullptr) *subscription = id;
    return Status::Ok();
  });
}

outpost_status outpost_replica_subscribe_pending(outpost_replica* replica, outpost_signal_fn signal,
                                                 void* user_data, uint64_t* subscription,
                                                 outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(replica, "replica"));
    OUTPOST_RETURN_IF_ERROR(need(reinterpret_cast<const void*>(signal), "signal"));
    uint64_t id = replica->hub.add_pending(signal, user_data);
    if (subscription != nullptr) *subscription = id;
    return Status::Ok();
  });
}

outpost_status outpost_replica_drain_changes(outpost_replica* replica, uint64_t subscription,
                                             outpost_bytes* out, bool* had_changes,
                                             outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(replica, "replica"));
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = outpost_bytes{};
    if (had_changes != nullptr) *had_changes = false;
    bool known = false;
    auto waiting = replica->hub.drain(subscription, &known);
    if (!known) {
      return outpost::error(ErrorCode::kNotFound,
                            "no pending subscription " + std::to_string(subscription));
    }
    if (!waiting.has_value()) return Status::Ok();
    if (had_changes != nullptr) *had_changes = true;
    return set_bytes(out, change_set_json(*waiting));
  });
}

outpost_status outpost_replica_unsubscribe(outpost_replica* replica, uint64_t subscription,
                                           outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(replica, "replica"));
    if (!replica->hub.remove(subscription)) {
      return outpost::error(ErrorCode::kNotFound,
                            "no subscription " + std::to_string(subscription));
    }
    return Status::Ok();
  });
}

outpost_status outpost_replica_refresh(outpost_replica* replica, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    return with_replica(replica, [&](Replica& r) -> Status { return r.refresh().status(); });
  });
}

}  // extern "C"
