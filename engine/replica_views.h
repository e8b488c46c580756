// Narrower views of one Replica, so each caller sees what it may touch (decision 016):
// `ReplicaReader` is what a UI reads (records, queries, search, read-only SQL, change
// notifications) and `ReplicaSync` is what SyncClient drives (the outbox to push, the
// cursors, apply, the compaction reset and the restart of a refused scope). Neither owns
// anything: each is a reference to a Replica that must outlive it, and converts from a
// `Replica&` implicitly, so code that holds the whole Replica passes it where a view is
// asked for.
// Thread rules: as the Replica viewed (one owner thread at a time; a UI on another thread
// views its own read-only Replica of the same file).
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/replica.h"

namespace outpost {

// What the UI reads. Errors as the Replica's functions of the same names.
class ReplicaReader {
 public:
  ReplicaReader(Replica& replica)
      : replica_(&replica) {}  // implicit: a Replica is each of its views

  const Schema& schema() const { return replica_->schema(); }
  const std::string& tenant() const { return replica_->tenant(); }
  const std::string& user() const { return replica_->user(); }

  Result<std::unique_ptr<google::protobuf::Message>> get(const std::string& collection,
                                                         const std::string& key) const {
    return replica_->get(collection, key);
  }
  template <typename T>
  Result<std::optional<T>> get(const std::string& key) const {
    return replica_->get<T>(key);
  }
  Result<bool> get_into(const std::string& key, google::protobuf::Message& out) const {
    return replica_->get_into(key, out);
  }
  Result<std::vector<std::unique_ptr<google::protobuf::Message>>> query(const Query& query) const {
    return replica_->query(query);
  }
  Result<std::vector<std::unique_ptr<google::protobuf::Message>>> search(
      const std::string& collection, const std::string& text,
      const SearchOptions& options = {}) const {
    return replica_->search(collection, text, options);
  }
  Result<SqlRows> sql(const std::string& statement,
                      const std::vector<SqlValue>& params = {}) const {
    return replica_->sql(statement, params);
  }
  Result<uint64_t> count(const std::string& collection) const {
    return replica_->count(collection);
  }
  // What the user's mutations are waiting for and what the server refused (to show them).
  Result<std::vector<PendingMutation>> pending(size_t max_count = 0) const {
    return replica_->pending(max_count);
  }
  Result<std::vector<RejectedMutation>> rejected() const { return replica_->rejected(); }

  uint64_t subscribe(Replica::Listener listener, Replica::Executor executor = nullptr) const {
    return replica_->subscribe(std::move(listener), std::move(executor));
  }
  void unsubscribe(uint64_t id) const { replica_->unsubscribe(id); }
  Result<ChangeSet> refresh() const { return replica_->refresh(); }

 private:
  Replica* replica_;
};

// What SyncClient drives. Errors as the Replica's functions of the same names.
class ReplicaSync {
 public:
  ReplicaSync(Replica& replica) : replica_(&replica) {}  // implicit: a Replica is each of its views

  const std::string& client_id() const { return replica_->client_id(); }
  const std::string& tenant() const { return replica_->tenant(); }
  const std::string& user() const { return replica_->user(); }
  const Schema& schema() const { return replica_->schema(); }

  Result<std::vector<PendingMutation>> pending(size_t max_count = 0) {
    return replica_->pending(max_count);
  }
  Result<uint64_t> processed_through() { return replica_->processed_through(); }
  Result<std::vector<ScopeCursor>> cursors() { return replica_->cursors(); }
  Result<ApplyReport> apply(const protocol::PullResponse& response,
                            const PullBasis* basis = nullptr) {
    return replica_->apply(response, basis);
  }
  Result<ApplyReport> apply_carried(const protocol::ScopeChanges& changes, uint64_t base) {
    return replica_->apply_carried(changes, base);
  }
  uint64_t outbox_generation() const { return replica_->outbox_generation(); }
  Result<ApplyReport> apply_push_results(const protocol::PushResponse& response) {
    return replica_->apply_push_results(response);
  }
  Result<std::optional<uint64_t>> reset_target(const std::string& scope) {
    return replica_->reset_target(scope);
  }
  Result<std::vector<protocol::KeyRef>> reset_fetch_list(const std::string& scope,
                                                         size_t max_count) {
    return replica_->reset_fetch_list(scope, max_count);
  }
  Result<ApplyReport> finish_reset(const std::string& scope) {
    return replica_->finish_reset(scope);
  }
  Result<ApplyReport> restart_scope(const std::string& scope) {
    return replica_->restart_scope(scope);
  }
  Result<ApplyReport> renumber_pending(const ReusedIds& reused) {
    return replica_->renumber_pending(reused);
  }

 private:
  Replica* replica_;
};

}  // namespace outpost
