// Server changes in: apply() of a pull response and apply_push_results(), and the rebase
// that restores parked rows and re-runs the pending mutations on top (decision 001). The
// reset and restart steps of ApplyRun live in replica_reset.cpp.
#include <algorithm>

#include "engine/replica_internal.h"
#include "engine/scope.h"

namespace outpost {
namespace replica_internal {

using google::protobuf::Message;

Status ApplyRun::apply_change(const protocol::Change& change) {
  const Collection* collection = schema_.find(change.collection());
  if (collection == nullptr) {
    ++report.changes_skipped;  // a collection from a newer schema: not ours to show
    return Status::Ok();
  }
  bool put = change.op() == protocol::Change::PUT;
  if (!put && change.op() != protocol::Change::DELETE) {
    return error(ErrorCode::kInvalidArgument, "change with an unknown op");
  }
  CollectionTable& table = impl_.table(*collection);
  // The fast path (decision 060): a flat record's columns read straight from its bytes,
  // no message. Anything else is parsed by protobuf into one message per collection,
  // reused for every record (parsing into it keeps its strings' buffers).
  Message* record = nullptr;
  const bool wire = put && table.read_wire(change.body());
  if (wire && table.wire_key() != change.key()) {
    return error(ErrorCode::kInvalidArgument,
                 "server sent a malformed " + collection->name + " '" + change.key() + "'");
  }
  if (put && !wire) {
    std::unique_ptr<Message>& scratch = impl_.scratch_records[collection];
    if (!scratch) scratch = collection->new_record();
    std::string copied;
    if (!scratch->ParseFromString(change.body()) ||
        scratch->GetReflection()->GetStringReference(*scratch, collection->key_field, &copied) !=
            change.key()) {
      return error(ErrorCode::kInvalidArgument,
                   "server sent a malformed " + collection->name + " '" + change.key() + "'");
    }
    record = scratch.get();
  }
  if (!impl_.shadowed.empty() &&
      impl_.shadowed.count(std::make_pair(collection->name, change.key())) != 0) {
    // A pending mutation touched this row: the server's version goes to the shadow and
    // the rebase rebuilds the row from it.
    SQLite::Statement& update = impl_.cached(
        "UPDATE _shadow SET present = ?, version = ?, body = ? "
        "WHERE collection = ? AND key = ? AND version < ?");
    update.bind(1, put ? 1 : 0);
    update.bind(2, static_cast<int64_t>(change.version()));
    update.bind(3, change.body().data(), static_cast<int>(change.body().size()));
    update.bind(4, collection->name);
    update.bind(5, change.key());
    update.bind(6, static_cast<int64_t>(change.version()));
    bool wrote = update.exec() > 0;
    wrote ? ++report.changes_applied : ++report.changes_skipped;
    touched_shadow_ |= wrote;
    return Status::Ok();
  }
  bool wrote = !put   ? table.remove_if_older(change.key(), change.version())
               : wire ? table.upsert_wire_if_newer(change.body(), change.version())
                      : table.upsert_if_newer(*record, change.body(), change.version());
  if (wrote) {
    ++report.changes_applied;
    impl_.pending_changes.add(collection->name, change.key());
  } else {
    ++report.changes_skipped;
  }
  return Status::Ok();
}

void ApplyRun::defer_search(const std::string& scope) {
  for (const auto& collection : schema_.collections()) {
    if (!collection_in_scope(*collection, scope)) continue;
    CollectionTable& table = impl_.table(*collection);
    if (!table.searchable() || table.search_deferred()) continue;
    SQLite::Statement& insert =
        impl_.cached("INSERT INTO _meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING");
    insert.bind(1, Replica::Impl::search_deferred_meta(*collection));
    insert.bind(2, scope);
    insert.exec();
    table.set_search_deferred(true);
  }
}

void ApplyRun::defer_indexes(const std::string& scope) {
  for (const auto& collection : schema_.collections()) {
    if (collection_in_scope(*collection, scope)) impl_.table(*collection).defer_indexes();
  }
}

void ApplyRun::build_pending_indexes() {
  for (const std::string& scope : index_scopes_) {
    for (const auto& collection : schema_.collections()) {
      if (collection_in_scope(*collection, scope)) impl_.table(*collection).build_indexes();
    }
  }
  index_scopes_.clear();
}

void ApplyRun::finish_deferred_search(const std::string& scope) {
  // Asked after every complete page (a carried change too): mostly nothing is deferred.
  if (!impl_.any_search_deferred()) return;
  for (const auto& collection : schema_.collections()) {
    if (!collection_in_scope(*collection, scope)) continue;
    CollectionTable& table = impl_.table(*collection);
    if (!table.search_deferred()) continue;
    table.rebuild_search_index();
    SQLite::Statement& remove = impl_.cached("DELETE FROM _meta WHERE name = ?");
    remove.bind(1, Replica::Impl::search_deferred_meta(*collection));
    remove.exec();
  }
}

uint64_t ApplyRun::stored_seq(const std::string& scope) {
  SQLite::Statement& select = impl_.cached("SELECT seq FROM _cursors WHERE scope = ?");
  select.bind(1, scope);
  const uint64_t seq =
      select.executeStep() ? static_cast<uint64_t>(select.getColumn(0).getInt64()) : 0;
  select.reset();
  return seq;
}

// Whether each scope's stored cursor (absent: seq 0, no token) is still `expected`'s.
bool ApplyRun::cursors_still(const std::vector<ScopeCursor>& expected) {
  for (const ScopeCursor& cursor : expected) {
    if (!cursor_still(cursor.scope, cursor.seq, cursor.token)) return false;
  }
  return true;
}

bool ApplyRun::cursor_still(const std::string& scope, uint64_t seq, std::string_view token) {
  SQLite::Statement& select = impl_.cached("SELECT seq, token FROM _cursors WHERE scope = ?");
  select.bind(1, scope);
  uint64_t stored_seq = 0;
  bool same_token = token.empty();
  if (select.executeStep()) {
    stored_seq = static_cast<uint64_t>(select.getColumn(0).getInt64());
    SQLite::Column stored = select.getColumn(1);
    same_token = std::string_view(static_cast<const char*>(stored.getBlob()),
                                  static_cast<size_t>(stored.getBytes())) == token;
  }
  select.reset();
  return stored_seq == seq && same_token;
}

Status ApplyRun::apply_scope(const protocol::ScopeChanges& scope,
                             std::optional<uint64_t> seq_before, bool& complete) {
  if (scope.has_columns()) {
    // Decision 045: the transport expands column pages; one that reached here was not.
    return error(ErrorCode::kInvalidArgument,
                 "a column page reached the replica unexpanded (scope '" + scope.scope() + "')");
  }
  // A snapshot page (the scope's cursor at 0: a fresh device or a restart): the search
  // index (decision 029) and an empty table's secondary indexes (decision 060) are built
  // once the snapshot is in, not per row.
  const bool snapshot =
      !scope.reset() && (seq_before ? *seq_before : stored_seq(scope.scope())) == 0;
  if (snapshot && scope.changes_size() > 0) {
    defer_search(scope.scope());
    // Not with pending mutations: their rebase may roll back to a savepoint while it reads
    // the outbox, and after a schema change in the transaction SQLite's ROLLBACK TO aborts
    // every open cursor (SQLITE_ABORT_ROLLBACK), not only the writers. (The indexes are
    // built after the rebase for the same reason.)
    if (impl_.shadowed.empty()) defer_indexes(scope.scope());
  }
  for (const protocol::Change& change : scope.changes()) {
    OUTPOST_RETURN_IF_ERROR(apply_change(change));
  }
  if (scope.reset()) {
    store_manifest(scope);
    complete = false;
    return Status::Ok();
  }
  set_cursor(scope.scope(), scope.cursor(), scope.cursor_token());
  // The end of a restart's snapshot: a cursor without a token that is a real position (not
  // a scope the page budget skipped before the snapshot began). The snapshot is then also
  // complete (a log page for a scope never deferred is a no-op).
  if (scope.cursor_token().empty() && (scope.cursor() > 0 || !scope.has_more())) {
    finish_restart(scope.scope());
    finish_deferred_search(scope.scope());
    if (snapshot) index_scopes_.push_back(scope.scope());
  }
  complete &= !scope.has_more();
  return Status::Ok();
}

void ApplyRun::set_cursor(const std::string& scope, uint64_t seq, const std::string& token) {
  SQLite::Statement& upsert = impl_.cached(
      "INSERT INTO _cursors (scope, seq, token) VALUES (?, ?, ?) "
      "ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq, token = excluded.token");
  upsert.bind(1, scope);
  upsert.bind(2, static_cast<int64_t>(seq));
  upsert.bind(3, token.data(), static_cast<int>(token.size()));
  upsert.exec();
}

void ApplyRun::reject(const protocol::MutationResult& result) {
  if (result.outcome() != protocol::MutationResult::REJECTED) return;
  SQLite::Statement select(impl_.db, "SELECT name, args, created_ms FROM _outbox WHERE id = ?");
  select.bind(1, static_cast<int64_t>(result.id()));
  if (!select.executeStep()) return;  // already handled
  SQLite::Column args = select.getColumn(1);
  RejectedMutation rejected{result.id(),
                            select.getColumn(0).getString(),
                            std::string(static_cast<const char*>(args.getBlob()), args.getBytes()),
                            select.getColumn(2).getInt64(),
                            result.code(),
                            result.reason()};
  select.reset();
  SQLite::Statement& remember = impl_.cached(replica_internal::kRememberIssuedMutationIds);
  remember.bind(1, static_cast<int64_t>(result.id()));
  remember.exec();  // before its row leaves the outbox (decision 065)
  SQLite::Statement insert(impl_.db,
                           "INSERT OR REPLACE INTO _rejected (id, name, args, created_ms, "
                           "code, reason) VALUES (?, ?, ?, ?, ?, ?)");
  insert.bind(1, static_cast<int64_t>(rejected.id));
  insert.bind(2, rejected.name);
  insert.bind(3, rejected.args.data(), static_cast<int>(rejected.args.size()));
  insert.bind(4, rejected.created_ms);
  insert.bind(5, rejected.code);
  insert.bind(6, rejected.reason);
  insert.exec();
  SQLite::Statement remove(impl_.db, "DELETE FROM _outbox WHERE id = ?");
  remove.bind(1, static_cast<int64_t>(result.id()));
  remove.exec();
  report.mutations_rejected.push_back(std::move(rejected));
  outbox_changed = true;
}

void ApplyRun::note_processed(uint64_t last_mutation_id) {
  if (last_mutation_id == 0) return;
  SQLite::Statement& upsert = impl_.cached(
      "INSERT INTO _meta (name, value) VALUES ('processed_through', ?1) "
      "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
      "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)");
  upsert.bind(1, std::to_string(last_mutation_id));
  upsert.exec();
}

void ApplyRun::confirm_through(uint64_t last_mutation_id) {
  // The newest id is remembered before the outbox may lose it (decision 065).
  SQLite::Statement& remember = impl_.cached(replica_internal::kRememberIssuedMutationIds);
  remember.bind(1, static_cast<int64_t>(last_mutation_id));
  remember.exec();
  SQLite::Statement& remove = impl_.cached("DELETE FROM _outbox WHERE id <= ?");
  remove.bind(1, static_cast<int64_t>(last_mutation_id));
  int removed = remove.exec();
  report.mutations_confirmed += static_cast<uint64_t>(removed);
  if (removed > 0) outbox_changed = true;
}

bool ApplyRun::needs_rebase() const {
  return !impl_.shadowed.empty() &&
         (touched_shadow_ || outbox_changed || report.changes_applied > 0);
}

Status ApplyRun::restore_shadow() {
  SQLite::Statement select(impl_.db, "SELECT collection, key, present, version, body FROM _shadow");
  while (select.executeStep()) {
    std::string collection_name = select.getColumn(0).getString();
    std::string key = select.getColumn(1).getString();
    const Collection* collection = schema_.find(collection_name);
    if (collection == nullptr) continue;
    CollectionTable& table = impl_.table(*collection);
    if (select.getColumn(2).getInt() != 0) {
      SQLite::Column body_column = select.getColumn(4);
      std::string body(static_cast<const char*>(body_column.getBlob()), body_column.getBytes());
      auto record = parse_record(*collection, body);
      if (!record)
        return error(ErrorCode::kCorrupt, "parked " + collection_name + " does not parse");
      table.upsert(*record, body, static_cast<uint64_t>(select.getColumn(3).getInt64()));
    } else {
      table.remove(key);
    }
    impl_.pending_changes.add(collection_name, key);
  }
  select.reset();
  impl_.db.exec("DELETE FROM _shadow");
  impl_.shadowed.clear();
  impl_.shadow_added.clear();

  return Status::Ok();
}

Status ApplyRun::rebase() {
  OUTPOST_RETURN_IF_ERROR(restore_shadow());
  if (mutators_ == nullptr) return Status::Ok();
  SQLite::Statement outbox(impl_.db, "SELECT id, name, args, created_ms FROM _outbox ORDER BY id");
  while (outbox.executeStep()) {
    uint64_t id = static_cast<uint64_t>(outbox.getColumn(0).getInt64());
    const Mutator* mutator = mutators_->find(outbox.getColumn(1).getString());
    if (mutator == nullptr) continue;
    SQLite::Column args_column = outbox.getColumn(2);
    std::string args_bytes(static_cast<const char*>(args_column.getBlob()), args_column.getBytes());
    int64_t created_ms = outbox.getColumn(3).getInt64();
    auto args = mutators_->parse_args(*mutator, args_bytes);
    if (!args.ok()) continue;
    impl_.db.exec("SAVEPOINT replay");
    impl_.shadow_added.clear();
    auto search_before = impl_.save_search();
    auto context = MutationContext::for_rebase(impl_, schema_, origin_, id, created_ms);
    Status status = mutator->local(context, **args);
    if (status.ok()) {
      impl_.db.exec("RELEASE replay");
    } else {
      // The mutation no longer applies locally; it stays pending and the server decides.
      impl_.db.exec("ROLLBACK TO replay");
      impl_.db.exec("RELEASE replay");
      impl_.forget_shadow_added();
      impl_.restore_search(std::move(search_before));
    }
    impl_.shadow_added.clear();
    ++report.mutations_replayed;
  }
  return Status::Ok();
}

namespace {

// Reloads the in-memory shadow set (and search deferral) after a rolled-back transaction.
void reload_shadow(Replica::Impl& impl) {
  impl.discard_search();
  impl.load_shadow();
  impl.load_search_deferral();
}

}  // namespace

Result<ApplyReport> in_apply_transaction(Replica::Impl& impl, ApplyRun& run, const char* what,
                                         bool cursors_changed, StepsRef steps) {
  impl.pending_changes = ChangeSet();
  try {
    WriteTransaction tx(impl);
    impl.revalidate();
    Status status = steps();
    if (status.ok() && run.needs_rebase()) status = run.rebase();
    if (status.ok()) run.build_pending_indexes();  // after the rebase's savepoints
    if (!status.ok()) {
      reload_shadow(impl);
      return status;
    }
    impl.flush_search();
    impl.pending_changes.cursors_changed = cursors_changed;
    impl.pending_changes.outbox_changed = run.outbox_changed;
    impl.pending_changes.rejections_changed = !run.report.mutations_rejected.empty();
    impl.journal(impl.pending_changes);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    reload_shadow(impl);
    return from_sqlite(e, what);
  }
  return run.report;
}

}  // namespace replica_internal

using replica_internal::ApplyRun;
using replica_internal::in_apply_transaction;

Result<ApplyReport> Replica::apply(const protocol::PullResponse& response, const PullBasis* basis) {
  ApplyRun run(*impl_, schema_, mutators_, MutationOrigin{tenant_, user_, client_id_});
  auto report =
      in_apply_transaction(*impl_, run, "apply", response.scopes_size() > 0, [&]() -> Status {
        if (basis != nullptr && !run.cursors_still(basis->cursors)) {
          run.report.stale = true;
          return Status::Ok();
        }
        bool complete = true;
        for (int i = 0; i < response.scopes_size(); ++i) {
          const protocol::ScopeChanges& scope = response.scopes(i);
          // The cursor the basis named was just checked in this transaction: no second
          // read of it (unless the scope came earlier in this response and moved it).
          std::optional<uint64_t> seq_before;
          if (basis != nullptr) {
            for (const ScopeCursor& cursor : basis->cursors) {
              if (cursor.scope == scope.scope()) seq_before = cursor.seq;
            }
            for (int j = 0; j < i && seq_before; ++j) {
              if (response.scopes(j).scope() == scope.scope()) seq_before.reset();
            }
          }
          OUTPOST_RETURN_IF_ERROR(run.apply_scope(scope, seq_before, complete));
        }
        // Complete only if it covers every scope this replica follows: a mutation's effects
        // may be in either, so a response silent about one has not delivered them all.
        if (!tenant_.empty()) {
          for (const std::string& followed :
               {ScopeName::format_user(tenant_, user_), ScopeName::format_org(tenant_)}) {
            complete &= std::any_of(response.scopes().begin(), response.scopes().end(),
                                    [&](const auto& scope) { return scope.scope() == followed; });
          }
        }
        // Rejections of ids the request named only: an id the outbox took after the request
        // left is a new mutation, and an outcome the server holds for that id belongs to
        // another one (a file restored from an older copy reuses ids; decision 042).
        for (const protocol::MutationResult& result : response.rejections()) {
          if (basis == nullptr || result.id() <= basis->newest_pending) run.reject(result);
        }
        // Only a complete response carries every effect of the mutations it confirms.
        run.note_processed(response.last_mutation_id());
        uint64_t confirmed = response.last_mutation_id();
        if (basis != nullptr) confirmed = std::min(confirmed, basis->newest_pending);
        if (complete && confirmed > 0) run.confirm_through(confirmed);
        return Status::Ok();
      });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

Result<ApplyReport> Replica::apply_carried(const protocol::ScopeChanges& changes, uint64_t base) {
  // apply() of {scopes: [changes]} with the basis {(scope, base, no token)}: one scope never
  // covers both followed scopes, so nothing is confirmed, and there are no rejections.
  ApplyRun run(*impl_, schema_, mutators_, MutationOrigin{tenant_, user_, client_id_});
  auto report = in_apply_transaction(*impl_, run, "apply", true, [&]() -> Status {
    if (!run.cursor_still(changes.scope(), base, {})) {
      run.report.stale = true;
      return Status::Ok();
    }
    bool complete = true;
    OUTPOST_RETURN_IF_ERROR(run.apply_scope(changes, base, complete));
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

Result<ApplyReport> Replica::apply_push_results(const protocol::PushResponse& response) {
  ApplyRun run(*impl_, schema_, mutators_, MutationOrigin{tenant_, user_, client_id_});
  auto report = in_apply_transaction(*impl_, run, "apply push results", false, [&]() -> Status {
    for (const protocol::MutationResult& result : response.results()) run.reject(result);
    run.note_processed(response.last_mutation_id());
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

}  // namespace outpost
