// The bookkeeping both server stores' write transactions share (sqlite_server_store.cpp,
// postgres_server_store.cpp): the argument checks of put, remove and record_outcome, each
// touched scope's head, record count and bytes as the transaction moves them, the copy
// kept at its one savepoint, and the heads it reports on commit. No SQL: each store runs
// its own statements around these, so both count and refuse the same way.
// Thread rules: one TxScopes per write transaction, used by the thread that runs it.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/server_store.h"
#include "engine/status.h"

namespace outpost::store_detail {

// What a record or a log entry costs in ScopeInfo::record_bytes.
inline uint64_t record_cost(size_t collection, size_t key, size_t body) {
  return collection + key + body;
}

// put/remove: a collection name and a priority the log can order by.
inline Status check_key(const std::string& collection, int priority) {
  if (collection.empty()) return error(ErrorCode::kInvalidArgument, "empty collection name");
  if (priority < 0) {
    return error(ErrorCode::kInvalidArgument,
                 "negative priority " + std::to_string(priority) + " for '" + collection + "'");
  }
  return Status::Ok();
}

// put: check_key, and a body both databases can bind.
inline Status check_put(const std::string& collection, int priority, const std::string& body) {
  OUTPOST_RETURN_IF_ERROR(check_key(collection, priority));
  if (body.size() > static_cast<size_t>(INT_MAX)) {
    return error(ErrorCode::kTooLarge, "record body of " + std::to_string(body.size()) +
                                           " bytes for '" + collection + "'");
  }
  return Status::Ok();
}

// record_outcome, before the transaction looks at the client: ids start at 1.
inline Status check_outcome_id(const std::string& client_id, const RecordedOutcome& outcome) {
  if (outcome.mutation_id == 0) {
    return error(ErrorCode::kInvalidArgument, "mutation id 0 for client '" + client_id + "'");
  }
  return Status::Ok();
}

// record_outcome, given the client's stored last id: an outcome only ever moves it on.
inline Status check_outcome_after(const std::string& client_id, const RecordedOutcome& outcome,
                                  uint64_t last) {
  if (outcome.mutation_id <= last) {
    return error(ErrorCode::kAlreadyExists,
                 "client '" + client_id + "' mutation " + std::to_string(outcome.mutation_id) +
                     " is not after its last mutation " + std::to_string(last));
  }
  return Status::Ok();
}

// A scope as one write transaction sees it; written back on commit when its head moved.
struct ScopeState {
  int64_t id = 0;
  uint64_t head = 0;
  uint64_t initial_head = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;

  uint64_t next_seq() const { return head + 1; }
  // A put written at `seq` that replaced a body of `old_body` bytes (none: a new record).
  void put(uint64_t seq, const std::string& collection, const std::string& key,
           std::optional<uint64_t> old_body, size_t body) {
    head = seq;
    if (old_body) {
      bytes -= record_cost(collection.size(), key.size(), *old_body);
    } else {
      ++count;
    }
    bytes += record_cost(collection.size(), key.size(), body);
  }
  // A remove written at `seq` of a record whose body had `old_body` bytes.
  void remove(uint64_t seq, const std::string& collection, const std::string& key,
              uint64_t old_body) {
    head = seq;
    --count;
    bytes -= record_cost(collection.size(), key.size(), old_body);
  }
  bool written() const { return head != initial_head; }  // every record change moves it
};

// The scopes one write transaction touched, and their copy at its savepoint (seqs handed
// out after the savepoint are free again once it is rolled back to).
class TxScopes {
 public:
  ScopeState* find(const std::string& scope) {
    auto it = scopes_.find(scope);
    return it == scopes_.end() ? nullptr : &it->second;
  }
  // A scope as loaded (or created) by the store; its head so far is the initial one.
  ScopeState* add(const std::string& scope, ScopeState state) {
    state.initial_head = state.head;
    return &scopes_.insert_or_assign(scope, state).first->second;
  }
  // True if `scope` sorts below every scope already held (or none is): locking it keeps
  // the descending order in which a store takes its scope locks.
  bool sorts_below_all(const std::string& scope) const {
    return scopes_.empty() || scope < scopes_.begin()->first;
  }

  // Each runs the store's statement `sql` between the check and the copy; an exception
  // from it leaves the copy as it was (the store's run() turns it into a Status).
  template <typename Sql>
  Status open_savepoint(Sql&& sql) {
    if (saved_) return error(ErrorCode::kFailedPrecondition, "a savepoint is already open");
    sql();
    saved_ = scopes_;
    return Status::Ok();
  }
  template <typename Sql>
  Status release_savepoint(Sql&& sql) {
    if (!saved_) return error(ErrorCode::kFailedPrecondition, "no savepoint is open");
    sql();
    saved_.reset();
    return Status::Ok();
  }
  template <typename Sql>
  Status rollback_to_savepoint(Sql&& sql) {
    if (!saved_) return error(ErrorCode::kFailedPrecondition, "no savepoint is open");
    sql();
    scopes_ = std::move(*saved_);
    saved_.reset();
    return Status::Ok();
  }

  bool savepoint_open() const { return saved_.has_value(); }
  Status check_can_commit() const {
    if (saved_) return error(ErrorCode::kFailedPrecondition, "a savepoint is still open");
    return Status::Ok();
  }
  // save(name, state) for every scope whose head moved; their new heads, for the caller.
  std::vector<CommittedHead> save_written(
      const std::function<void(const std::string&, const ScopeState&)>& save) const {
    std::vector<CommittedHead> heads;
    for (const auto& [name, state] : scopes_) {
      if (!state.written()) continue;
      save(name, state);
      heads.push_back(CommittedHead{name, state.head, state.initial_head});
    }
    return heads;
  }

 private:
  std::map<std::string, ScopeState, std::less<>> scopes_;
  std::optional<std::map<std::string, ScopeState, std::less<>>> saved_;
};

}  // namespace outpost::store_detail
