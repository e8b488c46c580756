// Mutators: named, deterministic functions with protobuf arguments that change records.
// The device runs its version against the local replica inside mutate(); the server runs
// its authoritative version exactly once per (client, mutation id). Both see records
// through RecordAccess, so one function can serve both sides.
// Thread rules: a MutatorRegistry is immutable once built and safe to share; a
// MutationContext lives for one call on one thread.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/platform.h"
#include "engine/schema.h"
#include "engine/status.h"

namespace outpost {

// Record reads and writes inside one mutation's transaction.
class RecordAccess {
 public:
  virtual ~RecordAccess() = default;
  // nullptr when the record does not exist.
  virtual Result<std::unique_ptr<google::protobuf::Message>> get(const Collection& collection,
                                                                 const std::string& key) = 0;
  // Inserts or replaces the record; its collection comes from its message type.
  virtual Status put(const google::protobuf::Message& record) = 0;
  virtual Status remove(const Collection& collection, const std::string& key) = 0;
};

// Who runs a mutation: the device (mutate() and the rebase replay) or the server.
struct MutationOrigin {
  std::string tenant;
  std::string user;
  // The device's client id as it travels in PushRequest.client_id ("" for a server write
  // that no device asked for). Never a key derived from it: what a mutator derives from the
  // client id must be equal on both sides.
  std::string client_id;
};

// Everything a mutator may depend on. Deterministic: no clock or randomness besides these.
// Built only through the named constructors below, so the device, the rebase and the
// server fill the same fields the same way.
struct MutationContext {
  RecordAccess& records;
  const Schema& schema;
  std::string tenant;
  std::string user;
  std::string client_id;  // as the device names itself (MutationOrigin::client_id)
  uint64_t mutation_id = 0;
  int64_t created_ms = 0;  // when mutate() ran on the device
  int64_t now_ms = 0;      // server: its clock when applying; device: created_ms
  bool on_server = false;
  // The contact-center platform (server only; nullptr: every intent is accepted).
  Platform* platform = nullptr;

  // mutate() on the device: the mutation id is set once the outbox assigned it.
  static MutationContext on_device(RecordAccess& records, const Schema& schema,
                                   const MutationOrigin& origin, int64_t created_ms) {
    return MutationContext(records, schema, origin, 0, created_ms, created_ms, false, nullptr);
  }
  // The rebase replaying a pending mutation of the outbox on the device.
  static MutationContext for_rebase(RecordAccess& records, const Schema& schema,
                                    const MutationOrigin& origin, uint64_t mutation_id,
                                    int64_t created_ms) {
    return MutationContext(records, schema, origin, mutation_id, created_ms, created_ms, false,
                           nullptr);
  }
  // The server applying a pushed mutation (the authoritative run).
  static MutationContext on_server_push(RecordAccess& records, const Schema& schema,
                                        const MutationOrigin& origin, uint64_t mutation_id,
                                        int64_t created_ms, int64_t now_ms, Platform* platform) {
    return MutationContext(records, schema, origin, mutation_id, created_ms, now_ms, true,
                           platform);
  }
  // A server write no device pushed (platform events, seeding): no client, no mutation id.
  static MutationContext on_server_write(RecordAccess& records, const Schema& schema,
                                         const std::string& tenant, const std::string& user,
                                         int64_t now_ms, Platform* platform) {
    return MutationContext(records, schema, MutationOrigin{tenant, user, ""}, 0, now_ms, now_ms,
                           true, platform);
  }

  // Asks the platform; accepted when there is none.
  template <typename Call>
  Result<PlatformAnswer> ask_platform(Call call) {
    if (!on_server || platform == nullptr) return PlatformAnswer::accept();
    std::string mutation;
    if (mutation_id != 0) mutation = client_id + "#" + std::to_string(mutation_id);
    return call(*platform, AgentRef{tenant, user, std::move(mutation)});
  }

  // Typed helpers over `records`.
  template <typename T>
  Result<std::optional<T>> get(const std::string& key) {
    const Collection* collection = schema.find(T::descriptor());
    if (collection == nullptr) {
      return error(ErrorCode::kNotFound,
                   "type " + T::descriptor()->full_name() + " is not a collection of this schema");
    }
    OUTPOST_ASSIGN_OR_RETURN(auto record, records.get(*collection, key));
    if (record == nullptr) return std::optional<T>();
    T typed;
    typed.CopyFrom(*record);
    return std::optional<T>(std::move(typed));
  }
  Status put(const google::protobuf::Message& record) { return records.put(record); }
  template <typename T>
  Status remove(const std::string& key) {
    const Collection* collection = schema.find(T::descriptor());
    if (collection == nullptr) {
      return error(ErrorCode::kNotFound,
                   "type " + T::descriptor()->full_name() + " is not a collection of this schema");
    }
    return records.remove(*collection, key);
  }

 private:
  MutationContext(RecordAccess& records_in, const Schema& schema_in, const MutationOrigin& origin,
                  uint64_t mutation_id_in, int64_t created_ms_in, int64_t now_ms_in,
                  bool on_server_in, Platform* platform_in)
      : records(records_in),
        schema(schema_in),
        tenant(origin.tenant),
        user(origin.user),
        client_id(origin.client_id),
        mutation_id(mutation_id_in),
        created_ms(created_ms_in),
        now_ms(now_ms_in),
        on_server(on_server_in),
        platform(platform_in) {}
};

// Returns Ok to apply; an error rejects the mutation. kRejected carries a reason for the
// user; kUnavailable on the server means "retry later" (the push stops there).
using MutatorFn = std::function<Status(MutationContext&, const google::protobuf::Message& args)>;
// Runs once on the device inside mutate(), before `local`, and may complete the arguments
// from the local store (e.g. the base text an edit started from). What it leaves in the
// arguments is what the outbox stores, the rebase replays and the server receives.
using PrepareFn = std::function<Status(MutationContext&, google::protobuf::Message& args)>;

struct Mutator {
  std::string name;
  const google::protobuf::Descriptor* args_type = nullptr;
  MutatorFn local;    // the device's optimistic version
  MutatorFn server;   // the authoritative version (defaults to `local`)
  PrepareFn prepare;  // optional
};

class MutatorRegistry {
 public:
  Status add(Mutator mutator);

  // Registers a mutator whose arguments are the message type Args.
  template <typename Args>
  Status add(const std::string& name, std::function<Status(MutationContext&, const Args&)> local,
             std::function<Status(MutationContext&, const Args&)> server = nullptr,
             std::function<Status(MutationContext&, Args&)> prepare = nullptr) {
    auto wrap = [](std::function<Status(MutationContext&, const Args&)> fn) -> MutatorFn {
      if (!fn) return nullptr;
      return [fn](MutationContext& ctx, const google::protobuf::Message& args) {
        return fn(ctx, static_cast<const Args&>(args));
      };
    };
    PrepareFn wrapped_prepare;
    if (prepare) {
      wrapped_prepare = [prepare](MutationContext& ctx, google::protobuf::Message& args) {
        return prepare(ctx, static_cast<Args&>(args));
      };
    }
    return add(
        Mutator{name, Args::descriptor(), wrap(local), wrap(server), std::move(wrapped_prepare)});
  }

  // nullptr when unknown.
  const Mutator* find(const std::string& name) const;
  Result<const Mutator*> require(const std::string& name) const;

  // Parses serialized arguments for the named mutator; kInvalidArgument when malformed.
  Result<std::unique_ptr<google::protobuf::Message>> parse_args(const Mutator& mutator,
                                                                const std::string& bytes) const;
  // Parses JSON arguments (protobuf JSON mapping), for the CLI and C bindings.
  Result<std::unique_ptr<google::protobuf::Message>> parse_json_args(const Mutator& mutator,
                                                                     const std::string& json) const;

  const std::map<std::string, Mutator>& all() const { return mutators_; }

 private:
  std::map<std::string, Mutator> mutators_;
};

}  // namespace outpost
