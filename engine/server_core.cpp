#include "engine/server_core.h"

#include <algorithm>
#include <map>

#include "engine/cursor_token.h"
#include "engine/mutation_print.h"

namespace outpost {
namespace {

using google::protobuf::Message;

// A push that finds its mutations committed by a concurrent push starts over (reporting
// the recorded outcomes); more than this many rounds in a row is reported as unavailable.
constexpr int kMaxPushAttempts = 3;

std::string client_key(const Principal& who, const std::string& client_id) {
  return who.tenant + "/" + who.user + "/" + client_id;
}

uint64_t print_of(const protocol::Mutation& mutation) {
  return mutation_print(mutation.name(), mutation.args(), mutation.created_ms());
}

// Records seen by a server mutator: each collection lives in the caller's user scope or
// their tenant's org scope.
class ServerRecordAccess : public RecordAccess {
 public:
  ServerRecordAccess(ServerWriteTx& tx, const Principal& who, const Schema& schema)
      : tx_(tx), who_(who), schema_(schema) {}

  Result<std::unique_ptr<Message>> get(const Collection& collection,
                                       const std::string& key) override {
    OUTPOST_ASSIGN_OR_RETURN(auto stored, tx_.get(scope_of(collection), collection.name, key));
    if (!stored) return std::unique_ptr<Message>();
    auto record = collection.new_record();
    if (!record->ParseFromString(stored->body)) {
      return error(ErrorCode::kCorrupt,
                   "stored " + collection.name + " '" + key + "' does not parse");
    }
    return record;
  }

  Status put(const Message& record) override {
    const Collection* collection = schema_.find(record.GetDescriptor());
    if (collection == nullptr) {
      return error(ErrorCode::kNotFound,
                   record.GetDescriptor()->full_name() + " is not a collection");
    }
    std::string key = collection->key_of(record);
    if (key.empty()) return error(ErrorCode::kInvalidArgument, collection->name + ": empty key");
    auto version = tx_.put(scope_of(*collection), collection->name, key, collection->priority,
                           record.SerializeAsString());
    return version.ok() ? Status::Ok() : version.status();
  }

  Status remove(const Collection& collection, const std::string& key) override {
    auto version = tx_.remove(scope_of(collection), collection.name, key, collection.priority);
    return version.ok() ? Status::Ok() : version.status();
  }

 private:
  std::string scope_of(const Collection& collection) const {
    return collection.scope == SCOPE_ORG ? who_.org_scope() : who_.user_scope();
  }

  ServerWriteTx& tx_;
  const Principal& who_;
  const Schema& schema_;
};

Status check_versions(uint32_t schema_version, uint32_t protocol_version, const Schema& schema) {
  if (protocol_version == 0) {
    return error(ErrorCode::kInvalidArgument, "protocol_version is required");
  }
  if (protocol_version > protocol::VERSION_CURRENT) {
    return error(ErrorCode::kSchemaTooNew, "protocol version " + std::to_string(protocol_version) +
                                               " is newer than this server's " +
                                               std::to_string(protocol::VERSION_CURRENT));
  }
  if (schema_version > schema.version()) {
    return error(ErrorCode::kSchemaTooNew, "schema version " + std::to_string(schema_version) +
                                               " is newer than this server's " +
                                               std::to_string(schema.version()));
  }
  return Status::Ok();
}

Status check_client_id(const std::string& client_id) {
  if (client_id.empty() || client_id.size() > limits::kMaxClientIdLength) {
    return error(ErrorCode::kInvalidArgument, "client_id must have 1 to 128 characters");
  }
  return Status::Ok();
}

// A scope name a pull may name: empty is malformed, not a scope the token lacks.
Status check_scope_name(const std::string& scope, const char* what) {
  if (scope.empty()) return error(ErrorCode::kInvalidArgument, std::string(what) + " is empty");
  return Status::Ok();
}

// A cursor the server issued is never ahead of the scope's head (heads only grow).
Status check_cursor_seq(const protocol::Cursor& cursor, const ScopeInfo& info) {
  if (cursor.seq() <= info.head_seq) return Status::Ok();
  return error(ErrorCode::kFailedPrecondition,
               cursor_not_issued(cursor.scope()) + ": cursor " + std::to_string(cursor.seq()) +
                   " of scope '" + cursor.scope() + "' is ahead of its head " +
                   std::to_string(info.head_seq) + ": this server never issued it");
}

protocol::Change to_change(const std::string& collection, const std::string& key, ChangeOp op,
                           uint64_t version, const std::string& body) {
  protocol::Change change;
  change.set_collection(collection);
  change.set_key(key);
  change.set_op(op == ChangeOp::kPut ? protocol::Change::PUT : protocol::Change::DELETE);
  change.set_version(version);
  if (op == ChangeOp::kPut) change.set_body(body);
  return change;
}

uint64_t change_cost(const std::string& collection, const std::string& key,
                     const std::string& body) {
  return collection.size() + key.size() + body.size();
}

}  // namespace

// The per-response budget shared by the scopes of one pull.
struct ServerCore::PullBudget {
  uint32_t changes;
  uint64_t bytes;
  bool exhausted() const { return changes == 0 || bytes == 0; }
  void spend(uint32_t n, uint64_t b) {
    changes -= std::min(changes, n);
    bytes -= std::min(bytes, b);
  }
};

ServerCore::ServerCore(ServerStore& store, const Schema& schema, const MutatorRegistry& mutators,
                       ServerCoreOptions options)
    : store_(store), schema_(schema), mutators_(mutators), options_(options) {}

std::vector<std::string> ServerCore::scopes_of(const Principal& who) const {
  return {who.user_scope(), who.org_scope()};
}

Result<std::optional<protocol::ScopeChanges>> ServerCore::carried_changes(const CommittedHead& head,
                                                                          uint32_t max_changes,
                                                                          uint64_t max_bytes) {
  using None = std::optional<protocol::ScopeChanges>;
  if (!head.base_seq || *head.base_seq == 0 || *head.base_seq >= head.head_seq) return None();
  protocol::Cursor cursor;
  cursor.set_scope(head.scope);
  cursor.set_seq(*head.base_seq);
  PullBudget budget{max_changes, max_bytes};
  protocol::ScopeChanges out;
  // The pull's own mode choice: behind the horizon it is a reset manifest, not carried.
  OUTPOST_RETURN_IF_ERROR(pull_scope(cursor, false, budget, out));
  if (out.reset() || out.has_more() || !out.cursor_token().empty() ||
      out.cursor() < head.head_seq) {
    return None();
  }
  return None(std::move(out));
}

void ServerCore::add_commit_listener(CommitListener listener) {
  std::lock_guard<std::mutex> lock(listeners_mutex_);
  listeners_.push_back(std::move(listener));
}

void ServerCore::notify(const std::vector<CommittedHead>& heads) {
  if (heads.empty()) return;
  std::vector<CommitListener> listeners;
  {
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    listeners = listeners_;
  }
  for (const auto& listener : listeners) listener(heads);
}

Status ServerCore::write(const std::function<Status(ServerWriteTx&)>& write) {
  std::vector<CommittedHead> heads;
  {
    OUTPOST_ASSIGN_OR_RETURN(auto tx, store_.begin_write());
    OUTPOST_RETURN_IF_ERROR(write(*tx));
    OUTPOST_ASSIGN_OR_RETURN(heads, tx->commit());
  }
  notify(heads);
  return Status::Ok();
}

Status ServerCore::write_as(const Principal& who, int64_t now_ms,
                            const std::function<Status(MutationContext&)>& write_records) {
  return write([&](ServerWriteTx& tx) {
    OUTPOST_RETURN_IF_ERROR(tx.lock_scopes({who.user_scope()}));
    ServerRecordAccess access(tx, who, schema_);
    auto context =
        MutationContext::on_server_write(access, schema_, who.tenant, who.user, now_ms, platform_);
    return write_records(context);
  });
}

Status ServerCore::compact(const std::string& scope, uint64_t keep_recent) {
  auto info = store_.scope_info(scope);
  uint64_t horizon = 0;
  Status compacted = info.status();
  if (info.ok()) {
    horizon = info->head_seq > keep_recent ? info->head_seq - keep_recent : 0;
    compacted = store_.compact(scope, horizon);
  }
  if (observer_) observer_->on_compact(scope, horizon, compacted);
  return compacted;
}

Result<protocol::MutationResult> ServerCore::apply_one(const Principal& who,
                                                       const std::string& client_id,
                                                       const std::string& key,
                                                       const protocol::Mutation& mutation,
                                                       int64_t now_ms, ServerWriteTx& tx) {
  protocol::MutationResult result;
  result.set_id(mutation.id());
  Status outcome;
  const Mutator* mutator = mutators_.find(mutation.name());
  std::unique_ptr<Message> args;
  if (mutator == nullptr) {
    outcome = error(ErrorCode::kNotFound, "unknown mutation '" + mutation.name() + "'");
  } else {
    auto parsed = mutators_.parse_args(*mutator, mutation.args());
    if (parsed.ok()) {
      args = std::move(parsed).value();
    } else {
      outcome = parsed.status();
    }
  }
  if (outcome.ok()) {
    // The mutation's effects and its id land together, or not at all.
    OUTPOST_RETURN_IF_ERROR(tx.savepoint());
    ServerRecordAccess access(tx, who, schema_);
    // The client id as the device knows it, not the bookkeeping key: what a mutator derives
    // from it (a favourite's added_token) must match what the device derived.
    auto context = MutationContext::on_server_push(
        access, schema_, MutationOrigin{who.tenant, who.user, client_id}, mutation.id(),
        mutation.created_ms(), now_ms, platform_);
    outcome = mutator->server(context, *args);
    if (outcome.ok()) {
      OUTPOST_RETURN_IF_ERROR(
          tx.record_outcome(key, RecordedOutcome{mutation.id(), true, "", "", print_of(mutation)}));
      OUTPOST_RETURN_IF_ERROR(tx.release_savepoint());
      result.set_outcome(protocol::MutationResult::APPLIED);
      return result;
    }
    OUTPOST_RETURN_IF_ERROR(tx.rollback_to_savepoint());
    if (outcome.code() == ErrorCode::kUnavailable) return outcome;  // retry later
  }
  // Rejected: none of the mutation's effects, only the outcome.
  result.set_outcome(protocol::MutationResult::REJECTED);
  result.set_code(std::string(error_code_name(outcome.code())));
  result.set_reason(outcome.message());
  OUTPOST_RETURN_IF_ERROR(tx.record_outcome(
      key,
      RecordedOutcome{mutation.id(), false, result.code(), result.reason(), print_of(mutation)}));
  return result;
}

Result<protocol::PushResponse> ServerCore::push(const Principal& who,
                                                const protocol::PushRequest& request,
                                                int64_t now_ms) {
  if (observer_ == nullptr) return push_attempt(who, request, now_ms, 0);
  observer_->before_request();
  auto result = push_attempt(who, request, now_ms, 0);
  observer_->on_push(who, request, result);
  return result;
}

Result<protocol::PullResponse> ServerCore::pull(const Principal& who,
                                                const protocol::PullRequest& request) {
  if (observer_ == nullptr) return pull_unobserved(who, request);
  observer_->before_request();
  auto result = pull_unobserved(who, request);
  observer_->on_pull(who, request, result);
  return result;
}

Result<protocol::PushResponse> ServerCore::push_attempt(const Principal& who,
                                                        const protocol::PushRequest& request,
                                                        int64_t now_ms, int attempt) {
  OUTPOST_RETURN_IF_ERROR(
      check_versions(request.schema_version(), request.protocol_version(), schema_));
  OUTPOST_RETURN_IF_ERROR(check_client_id(request.client_id()));
  if (static_cast<uint32_t>(request.mutations_size()) > options_.max_mutations_per_push) {
    return error(
        ErrorCode::kTooLarge,
        "at most " + std::to_string(options_.max_mutations_per_push) + " mutations per push");
  }
  uint64_t previous = 0;
  for (const auto& mutation : request.mutations()) {
    if (mutation.id() <= previous) {
      return error(ErrorCode::kInvalidArgument, "mutation ids must be strictly increasing");
    }
    previous = mutation.id();
  }
  const std::string key = client_key(who, request.client_id());
  OUTPOST_ASSIGN_OR_RETURN(uint64_t last, store_.last_mutation_id(key));
  // A server restored from a backup may have lost mutations a server once reported
  // processed (and the device then dropped): they can never come again, so new ids follow
  // on from what the device was told. The claim reaches only this client's own numbering.
  last = std::max(last, request.processed_through());
  // New ids follow on from the last processed one: a device that skipped one (lost it)
  // must learn it, not have the server step over it for good. Ids at or below `last` are
  // retries; a rejected mutation counts as processed, so legitimate devices never skip.
  uint64_t expected = last + 1;
  for (const auto& mutation : request.mutations()) {
    if (mutation.id() <= last) continue;
    if (mutation.id() != expected) {
      return error(ErrorCode::kFailedPrecondition, "mutation " + std::to_string(mutation.id()) +
                                                       " of client '" + request.client_id() +
                                                       "' skips past " + std::to_string(expected) +
                                                       ", the next id this server expects");
    }
    ++expected;
  }
  std::vector<StoredPrint> claimed;
  for (const auto& mutation : request.mutations()) {
    if (mutation.id() > last) break;
    claimed.push_back(StoredPrint{mutation.id(), print_of(mutation)});
  }
  OUTPOST_RETURN_IF_ERROR(
      check_reused_ids(key, request.client_id(), last, request.processed_through(), claimed));
  std::map<uint64_t, RecordedOutcome> recorded;
  if (request.mutations_size() > 0 && request.mutations(0).id() <= last) {
    OUTPOST_ASSIGN_OR_RETURN(auto old,
                             store_.rejections(key, request.mutations(0).id() - 1,
                                               static_cast<uint32_t>(request.mutations_size())));
    for (auto& outcome : old) recorded[outcome.mutation_id] = outcome;
  }

  protocol::PushResponse response;
  std::vector<CommittedHead> heads;
  Status stopped;
  std::unique_ptr<ServerWriteTx> tx;
  for (const auto& mutation : request.mutations()) {
    if (mutation.id() <= last) {
      // Already processed (a retried push): report what happened the first time.
      auto* result = response.add_results();
      result->set_id(mutation.id());
      auto it = recorded.find(mutation.id());
      if (it != recorded.end()) {
        result->set_outcome(protocol::MutationResult::REJECTED);
        result->set_code(it->second.code);
        result->set_reason(it->second.reason);
      } else {
        result->set_outcome(protocol::MutationResult::APPLIED);
      }
      continue;
    }
    if (!tx) {
      // One transaction (one durable commit) for every new mutation of the push.
      OUTPOST_ASSIGN_OR_RETURN(tx, store_.begin_write());
      // Read again inside the transaction (a store that shares its database with other
      // server processes locks the client's row here): a concurrent push of the same
      // mutations may have committed since `last` was read. Then this push is a retry.
      OUTPOST_ASSIGN_OR_RETURN(uint64_t locked_last, tx->last_mutation_id(key));
      if (locked_last > last) {
        tx.reset();
        if (attempt + 1 >= kMaxPushAttempts) {
          return error(ErrorCode::kUnavailable, "concurrent pushes of this client; retry");
        }
        if (observer_) observer_->on_push_retry();
        return push_attempt(who, request, now_ms, attempt + 1);
      }
      // The user scope first, in the store's fixed lock order (engine/server_store.h).
      OUTPOST_RETURN_IF_ERROR(tx->lock_scopes({who.user_scope()}));
    }
    auto result = apply_one(who, request.client_id(), key, mutation, now_ms, *tx);
    if (!result.ok()) {
      stopped = result.status();
      break;
    }
    last = mutation.id();
    *response.add_results() = std::move(result).value();
  }
  if (tx) {
    if (!stopped.ok() && stopped.code() != ErrorCode::kUnavailable) return stopped;
    OUTPOST_ASSIGN_OR_RETURN(heads, tx->commit());
  }
  response.set_last_mutation_id(last);
  notify(heads);
  if (!stopped.ok() && response.results_size() == 0) return stopped;
  return response;
}

// docs/protocol.md §4 "Pull": the checks every pull passes, then either a fetch (which
// answers only that) or one ScopeChanges per cursor, the user scope first.
Result<protocol::PullResponse> ServerCore::pull_unobserved(const Principal& who,
                                                           const protocol::PullRequest& request) {
  OUTPOST_RETURN_IF_ERROR(
      check_versions(request.schema_version(), request.protocol_version(), schema_));
  OUTPOST_RETURN_IF_ERROR(check_client_id(request.client_id()));
  OUTPOST_ASSIGN_OR_RETURN(auto cursors, pull_cursors(who, request));
  PullBudget budget{
      request.max_changes() == 0 ? options_.default_changes_per_batch
                                 : std::min(request.max_changes(), options_.max_changes_per_batch),
      request.max_bytes() == 0 ? options_.default_batch_bytes
                               : std::min(request.max_bytes(), options_.max_batch_bytes)};

  const std::string key = client_key(who, request.client_id());
  protocol::PullResponse response;
  // Read before the logs: every mutation up to it has its effects in what follows.
  OUTPOST_ASSIGN_OR_RETURN(uint64_t last, store_.last_mutation_id(key));
  response.set_last_mutation_id(last);
  if (request.pending_prints_size() > 0) {
    if (static_cast<uint64_t>(request.pending_prints_size()) > kMutationPrintWindow) {
      return error(ErrorCode::kTooLarge,
                   "at most " + std::to_string(kMutationPrintWindow) + " pending prints per pull");
    }
    std::vector<StoredPrint> claimed;
    uint64_t previous = 0;
    for (const auto& pending : request.pending_prints()) {
      if (pending.id() <= previous) {
        return error(ErrorCode::kInvalidArgument, "pending prints must have increasing ids");
      }
      previous = pending.id();
      if (pending.id() <= last) claimed.push_back(StoredPrint{pending.id(), pending.print()});
    }
    OUTPOST_RETURN_IF_ERROR(
        check_reused_ids(key, request.client_id(), last, request.processed_through(), claimed));
  }
  OUTPOST_RETURN_IF_ERROR(pull_rejections(key, request.pending_from(), response));

  if (request.fetch_size() > 0) {
    OUTPOST_RETURN_IF_ERROR(pull_fetch(who, request, response));
    return response;
  }
  for (const protocol::Cursor* cursor : cursors) {
    OUTPOST_RETURN_IF_ERROR(
        pull_scope(*cursor, request.urgent_first(), budget, *response.add_scopes()));
  }
  return response;
}

Result<std::vector<const protocol::Cursor*>> ServerCore::pull_cursors(
    const Principal& who, const protocol::PullRequest& request) const {
  std::vector<const protocol::Cursor*> cursors;
  for (const auto& cursor : request.cursors()) {
    OUTPOST_RETURN_IF_ERROR(check_scope_name(cursor.scope(), "a cursor's scope"));
    if (!who.may_read(cursor.scope())) {
      return error(ErrorCode::kPermissionDenied,
                   "this token does not grant scope '" + cursor.scope() + "'");
    }
    for (const auto* seen : cursors) {
      if (seen->scope() == cursor.scope()) {
        return error(ErrorCode::kInvalidArgument, "scope '" + cursor.scope() + "' given twice");
      }
    }
    cursors.push_back(&cursor);
  }
  // The user scope first: it holds the urgent records (agent state, voicemail).
  std::stable_sort(cursors.begin(), cursors.end(), [&](const auto* a, const auto* b) {
    return (a->scope() == who.user_scope()) > (b->scope() == who.user_scope());
  });
  return cursors;
}

Status ServerCore::check_reused_ids(const std::string& client_key, const std::string& client_id,
                                    uint64_t last, uint64_t processed_through,
                                    const std::vector<StoredPrint>& claimed) {
  if (claimed.empty()) return Status::Ok();
  // Prints are kept for the newest ids only. An id further back that the device was never
  // told is processed cannot be one of its retries: a device learns the outcome of each
  // push before it goes that far past it.
  const uint64_t floor = last > kMutationPrintWindow ? last - kMutationPrintWindow : 0;
  OUTPOST_ASSIGN_OR_RETURN(
      auto stored,
      store_.mutation_prints(client_key, std::max(claimed.front().mutation_id - 1, floor), last));
  std::map<uint64_t, uint64_t> by_id;
  for (const StoredPrint& print : stored) by_id[print.mutation_id] = print.print;
  for (const StoredPrint& mine : claimed) {
    auto it = by_id.find(mine.mutation_id);
    const bool reused = it != by_id.end()
                            ? it->second != mine.print
                            : mine.mutation_id <= floor && mine.mutation_id > processed_through;
    if (!reused) continue;
    return error(ErrorCode::kFailedPrecondition,
                 mutation_ids_reused(ReusedIds{mine.mutation_id, last}) + ": mutation " +
                     std::to_string(mine.mutation_id) + " of client '" + client_id +
                     "' is not the one this server processed under that id (a replica " +
                     "restored from an older copy?); its pending mutations from there on " +
                     "take ids after " + std::to_string(last));
  }
  return Status::Ok();
}

Status ServerCore::pull_rejections(const std::string& client_key, uint64_t pending_from,
                                   protocol::PullResponse& response) {
  if (pending_from == 0) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto rejected, store_.rejections(client_key, pending_from - 1,
                                                            limits::kMaxRejectionsPerPull));
  for (const auto& outcome : rejected) {
    auto* result = response.add_rejections();
    result->set_id(outcome.mutation_id);
    result->set_outcome(protocol::MutationResult::REJECTED);
    result->set_code(outcome.code);
    result->set_reason(outcome.reason);
  }
  return Status::Ok();
}

// §4 Reset, the fetch: one ScopeChanges for fetch_scope with a PUT per key (a DELETE if
// the record is gone), echoing the request's cursor for that scope, has_more = true.
Status ServerCore::pull_fetch(const Principal& who, const protocol::PullRequest& request,
                              protocol::PullResponse& response) {
  OUTPOST_RETURN_IF_ERROR(check_scope_name(request.fetch_scope(), "fetch_scope"));
  if (!who.may_read(request.fetch_scope())) {
    return error(ErrorCode::kPermissionDenied,
                 "this token does not grant scope '" + request.fetch_scope() + "'");
  }
  if (static_cast<uint32_t>(request.fetch_size()) > options_.max_fetch_keys) {
    return error(ErrorCode::kTooLarge,
                 "at most " + std::to_string(options_.max_fetch_keys) + " keys per fetch");
  }
  // A device only fetches keys a manifest listed, so a collection this schema does not
  // know is a malformed request, not a key to report as deleted.
  for (const auto& ref : request.fetch()) {
    if (schema_.find(ref.collection()) == nullptr) {
      return error(ErrorCode::kInvalidArgument,
                   "fetch names an unknown collection '" + ref.collection() + "'");
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(ScopeInfo info, store_.scope_info(request.fetch_scope()));
  auto* scope = response.add_scopes();
  scope->set_scope(request.fetch_scope());
  scope->set_head_seq(info.head_seq);
  for (const auto& ref : request.fetch()) {
    OUTPOST_ASSIGN_OR_RETURN(auto stored,
                             store_.get(request.fetch_scope(), ref.collection(), ref.key()));
    if (stored) {
      *scope->add_changes() =
          to_change(ref.collection(), ref.key(), ChangeOp::kPut, stored->version, stored->body);
    } else {
      *scope->add_changes() =
          to_change(ref.collection(), ref.key(), ChangeOp::kDelete, info.head_seq, "");
    }
  }
  for (const auto& cursor : request.cursors()) {
    if (cursor.scope() == request.fetch_scope()) {
      // Echoed, so only what this server issued.
      OUTPOST_RETURN_IF_ERROR(check_cursor_seq(cursor, info));
      if (!cursor.token().empty()) {
        OUTPOST_RETURN_IF_ERROR(
            open_cursor_token(cursor.token(), cursor.scope(), cursor_key_).status());
      }
      scope->set_cursor(cursor.seq());
      scope->set_cursor_token(cursor.token());
    }
  }
  scope->set_has_more(true);
  return Status::Ok();
}

// §4 "For each scope the server picks one of four modes": a snapshot for a fresh device
// (or one under way), a reset manifest behind the horizon (or one under way), an urgent
// preview for a woken device far behind, else the log.
Status ServerCore::pull_scope(const protocol::Cursor& cursor, bool urgent_first, PullBudget& budget,
                              protocol::ScopeChanges& out) {
  const std::string& scope_name = cursor.scope();
  OUTPOST_ASSIGN_OR_RETURN(ScopeInfo info, store_.scope_info(scope_name));
  out.set_scope(scope_name);
  out.set_head_seq(info.head_seq);
  out.set_total_records(info.record_count);
  out.set_total_bytes(info.record_bytes);
  out.set_cursor(cursor.seq());
  out.set_cursor_token(cursor.token());

  // Only a position this server issued: never adopt (or echo) another.
  OUTPOST_RETURN_IF_ERROR(check_cursor_seq(cursor, info));
  protocol::CursorToken token;
  if (!cursor.token().empty()) {
    OUTPOST_ASSIGN_OR_RETURN(token, open_cursor_token(cursor.token(), scope_name, cursor_key_));
  }
  if (budget.exhausted()) {
    out.set_has_more(cursor.seq() < info.head_seq || !cursor.token().empty());
    return Status::Ok();
  }
  const bool fresh = cursor.seq() == 0 && cursor.token().empty();
  const bool behind_horizon = cursor.seq() > 0 && cursor.seq() < info.horizon_seq;
  const bool far_behind = info.head_seq - std::min(info.head_seq, cursor.seq()) > budget.changes;

  if (token.kind() == protocol::CursorToken::SNAPSHOT || (fresh && info.head_seq > 0)) {
    return pull_snapshot(token, info, budget, out);
  }
  if (token.kind() == protocol::CursorToken::MANIFEST || behind_horizon) {
    return pull_manifest(cursor, token, info, budget, out);
  }
  if (urgent_first && far_behind) return pull_urgent(cursor, budget, out);
  return pull_log(cursor, budget, out);
}

// §4 mode 2, Snapshot: the scope's records in (priority, collection, key) order, a sealed
// token while more follow, then the head when the snapshot began as the cursor.
Status ServerCore::pull_snapshot(const protocol::CursorToken& token, const ScopeInfo& info,
                                 PullBudget& budget, protocol::ScopeChanges& out) {
  const std::string& scope_name = out.scope();
  const bool continued = token.kind() == protocol::CursorToken::SNAPSHOT;
  const uint64_t head_at_start = continued ? token.head_seq() : info.head_seq;
  SnapshotPosition after;
  if (continued) after = SnapshotPosition{token.priority(), token.collection(), token.key()};
  OUTPOST_ASSIGN_OR_RETURN(SnapshotPage page,
                           store_.read_snapshot(scope_name, after, budget.changes, budget.bytes));
  uint64_t bytes = 0;
  for (const auto& item : page.records) {
    const StoredRecord& record = item.record;
    *out.add_changes() =
        to_change(record.collection, record.key, ChangeOp::kPut, record.version, record.body);
    bytes += change_cost(record.collection, record.key, record.body);
  }
  budget.spend(static_cast<uint32_t>(page.records.size()), bytes);
  if (page.has_more) {
    protocol::CursorToken next;
    next.set_kind(protocol::CursorToken::SNAPSHOT);
    next.set_head_seq(head_at_start);
    next.set_priority(page.next.priority);
    next.set_collection(page.next.collection);
    next.set_key(page.next.key);
    out.set_cursor(0);
    out.set_cursor_token(seal_cursor_token(next, scope_name, cursor_key_));
    out.set_has_more(true);
  } else {
    // Changes after the snapshot began follow from the log; versions make overlap harmless.
    out.set_cursor(head_at_start);
    out.set_cursor_token("");
    out.set_has_more(info.head_seq > head_at_start);
  }
  return Status::Ok();
}

// §4 mode 3, Reset: a page of the scope's (collection, key, version) manifest, a sealed
// token while more follow; the last page's cursor is the head when the reset began.
Status ServerCore::pull_manifest(const protocol::Cursor& cursor, const protocol::CursorToken& token,
                                 const ScopeInfo& info, PullBudget& budget,
                                 protocol::ScopeChanges& out) {
  const std::string& scope_name = out.scope();
  const uint64_t head_at_start =
      token.kind() == protocol::CursorToken::MANIFEST ? token.head_seq() : info.head_seq;
  const uint32_t limit = budget.changes;
  OUTPOST_ASSIGN_OR_RETURN(
      auto keys, store_.read_manifest(scope_name, token.collection(), token.key(), limit));
  out.set_reset(true);
  for (const auto& entry : keys) {
    auto* ref = out.add_manifest();
    ref->set_collection(entry.collection);
    ref->set_key(entry.key);
    ref->set_version(entry.version);
  }
  budget.spend(static_cast<uint32_t>(keys.size()), keys.size() * 48);
  const bool maybe_more = keys.size() >= limit;
  protocol::CursorToken next;
  next.set_kind(protocol::CursorToken::MANIFEST);
  next.set_head_seq(head_at_start);
  if (maybe_more) {
    next.set_collection(keys.back().collection);
    next.set_key(keys.back().key);
    out.set_cursor(cursor.seq());
    out.set_cursor_token(seal_cursor_token(next, scope_name, cursor_key_));
    out.set_has_more(true);
  } else {
    // The whole manifest was sent: the device fetches what differs, deletes what is
    // absent, then follows the log from head_at_start (carried in cursor).
    out.set_cursor(head_at_start);
    out.set_cursor_token("");
    out.set_has_more(false);
  }
  return Status::Ok();
}

// §4 mode 4, Urgent preview: the urgent records put since the cursor, without moving it.
// Deletes wait for the log so an older PUT can never resurrect a row.
Status ServerCore::pull_urgent(const protocol::Cursor& cursor, PullBudget& budget,
                               protocol::ScopeChanges& out) {
  OUTPOST_ASSIGN_OR_RETURN(
      LogPage page, store_.read_log(out.scope(), cursor.seq(), budget.changes, budget.bytes, 0));
  uint64_t bytes = 0;
  for (const auto& entry : page.entries) {
    if (entry.op != ChangeOp::kPut) continue;
    *out.add_changes() = to_change(entry.collection, entry.key, entry.op, entry.seq, entry.body);
    bytes += change_cost(entry.collection, entry.key, entry.body);
  }
  budget.spend(static_cast<uint32_t>(out.changes_size()), bytes);
  out.set_has_more(true);
  return Status::Ok();
}

// §4 mode 1, Log: the changes after the cursor in seq order, and the new cursor.
Status ServerCore::pull_log(const protocol::Cursor& cursor, PullBudget& budget,
                            protocol::ScopeChanges& out) {
  OUTPOST_ASSIGN_OR_RETURN(
      LogPage page, store_.read_log(out.scope(), cursor.seq(), budget.changes, budget.bytes, -1));
  uint64_t bytes = 0;
  for (const auto& entry : page.entries) {
    *out.add_changes() = to_change(entry.collection, entry.key, entry.op, entry.seq, entry.body);
    bytes += change_cost(entry.collection, entry.key, entry.body);
  }
  budget.spend(static_cast<uint32_t>(page.entries.size()), bytes);
  out.set_cursor(page.next_after_seq);
  out.set_cursor_token("");
  out.set_has_more(page.has_more);
  return Status::Ok();
}

}  // namespace outpost
