// Starting a scope over without wiping it: the compaction reset (a manifest of keys and
// versions, the keys to fetch, then finish_reset) and the restart of a scope whose cursor
// the server refused (decision 015). Both keep the rows visible and the outbox pending.
#include "engine/replica_internal.h"

namespace outpost {
namespace replica_internal {

void ApplyRun::store_manifest(const protocol::ScopeChanges& scope) {
  SQLite::Statement state(impl_.db, "SELECT complete FROM _reset WHERE scope = ?");
  state.bind(1, scope.scope());
  bool restart = !state.executeStep() || state.getColumn(0).getInt() != 0;
  state.reset();
  if (restart) {
    SQLite::Statement clear(impl_.db, "DELETE FROM _manifest WHERE scope = ?");
    clear.bind(1, scope.scope());
    clear.exec();
  }
  SQLite::Statement insert(impl_.db,
                           "INSERT OR REPLACE INTO _manifest (scope, collection, key, version) "
                           "VALUES (?, ?, ?, ?)");
  for (const protocol::KeyRef& ref : scope.manifest()) {
    insert.reset();
    insert.bind(1, scope.scope());
    insert.bind(2, ref.collection());
    insert.bind(3, ref.key());
    insert.bind(4, static_cast<int64_t>(ref.version()));
    insert.exec();
  }
  SQLite::Statement upsert(impl_.db,
                           "INSERT OR REPLACE INTO _reset (scope, target_seq, complete) "
                           "VALUES (?, ?, ?)");
  upsert.bind(1, scope.scope());
  upsert.bind(2, static_cast<int64_t>(scope.has_more() ? 0 : scope.cursor()));
  upsert.bind(3, scope.has_more() ? 0 : 1);
  upsert.exec();
  // Keep the old seq; the token lets the server continue the manifest. The last page
  // clears it, so every page moves the stored cursor (a request built before it is
  // then stale, see apply's basis) and the fetches go out with the bare seq.
  const std::string next_token = scope.has_more() ? scope.cursor_token() : std::string();
  SQLite::Statement token(impl_.db,
                          "INSERT INTO _cursors (scope, seq, token) VALUES (?, 0, ?) "
                          "ON CONFLICT(scope) DO UPDATE SET token = excluded.token");
  token.bind(1, scope.scope());
  token.bind(2, next_token.data(), static_cast<int>(next_token.size()));
  token.exec();
}

void ApplyRun::restart(const std::string& scope) {
  for (const auto& collection : schema_.collections()) {
    if (!collection_in_scope(*collection, scope)) continue;
    impl_.db.exec("UPDATE " + table_name(*collection) + " SET _version = 0");
    SQLite::Statement shadow(impl_.db, "UPDATE _shadow SET version = 0 WHERE collection = ?");
    shadow.bind(1, collection->name);
    shadow.exec();
  }
  SQLite::Statement clear(impl_.db, "DELETE FROM _manifest WHERE scope = ?");
  clear.bind(1, scope);
  clear.exec();
  SQLite::Statement state(impl_.db,
                          "INSERT OR REPLACE INTO _reset (scope, target_seq, complete) "
                          "VALUES (?, 0, ?)");
  state.bind(1, scope);
  state.bind(2, kRestarting);
  state.exec();
  impl_.no_restart_known = false;
  set_cursor(scope, 0, "");
}

// After the restart's snapshot: rows it did not deliver (still version 0) are gone on
// the server. Rows with pending local changes keep their local state; their parked
// server version becomes "absent" and the rebase decides.
void ApplyRun::finish_restart(const std::string& scope) {
  // Asked after every complete log page (a carried change too): answered from memory
  // while this connection knows that no scope restarts (decision 051).
  if (impl_.no_restart_known) return;
  SQLite::Statement& state = impl_.cached("SELECT 1 FROM _reset WHERE scope = ? AND complete = ?");
  state.bind(1, scope);
  state.bind(2, kRestarting);
  const bool restarting = state.executeStep();
  state.reset();
  if (!restarting) {
    SQLite::Statement& any = impl_.cached("SELECT 1 FROM _reset WHERE complete = ? LIMIT 1");
    any.bind(1, kRestarting);
    impl_.no_restart_known = !any.executeStep();
    any.reset();
    return;
  }
  for (const auto& collection : schema_.collections()) {
    if (!collection_in_scope(*collection, scope)) continue;
    const std::string table = table_name(*collection);
    const std::string key = collection->key_field->name();
    std::vector<std::string> gone;
    SQLite::Statement select(impl_.db, "SELECT " + key + " FROM " + table +
                                           " WHERE _version = 0 AND " + key +
                                           " NOT IN (SELECT key FROM _shadow WHERE "
                                           "collection = ?)");
    select.bind(1, collection->name);
    while (select.executeStep()) gone.push_back(select.getColumn(0).getString());
    for (const std::string& k : gone) {
      impl_.table(*collection).remove(k);
      impl_.pending_changes.add(collection->name, k);
      ++report.changes_applied;
    }
    SQLite::Statement park(impl_.db,
                           "UPDATE _shadow SET present = 0 WHERE collection = ? AND "
                           "present = 1 AND version = 0");
    park.bind(1, collection->name);
    if (park.exec() > 0) touched_shadow_ = true;
  }
  SQLite::Statement clear(impl_.db, "DELETE FROM _reset WHERE scope = ?");
  clear.bind(1, scope);
  clear.exec();
}

}  // namespace replica_internal

using replica_internal::ApplyRun;
using replica_internal::collection_in_scope;
using replica_internal::from_sqlite;
using replica_internal::in_apply_transaction;
using replica_internal::ResetOnExit;

Result<std::optional<uint64_t>> Replica::reset_target(const std::string& scope) {
  try {
    // Asked before every pull: a cached statement, reset however the read ends.
    SQLite::Statement& select =
        impl_->cached("SELECT target_seq FROM _reset WHERE scope = ? AND complete = 1");
    ResetOnExit reset{select};
    select.bind(1, scope);
    if (!select.executeStep()) return std::optional<uint64_t>();
    return std::optional<uint64_t>(static_cast<uint64_t>(select.getColumn(0).getInt64()));
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read reset state");
  }
}

Result<std::vector<protocol::KeyRef>> Replica::reset_fetch_list(const std::string& scope,
                                                                size_t max_count) {
  std::vector<protocol::KeyRef> out;
  try {
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      // Keys whose local server version is older than the manifest's, or absent. Rows with
      // pending local changes compare the parked server version instead.
      const std::string table = table_name(*collection);
      const std::string key = collection->key_field->name();
      SQLite::Statement select(
          impl_->db,
          "SELECT m.key, m.version FROM _manifest m LEFT JOIN " + table + " c ON c." + key +
              " = m.key LEFT JOIN _shadow s ON s.collection = m.collection AND s.key = m.key "
              "WHERE m.scope = ? AND m.collection = ? AND "
              "(CASE WHEN s.key IS NOT NULL THEN s.version ELSE coalesce(c._version, 0) END) "
              "< m.version");
      select.bind(1, scope);
      select.bind(2, collection->name);
      while (select.executeStep()) {
        if (max_count > 0 && out.size() >= max_count) return out;
        protocol::KeyRef ref;
        ref.set_collection(collection->name);
        ref.set_key(select.getColumn(0).getString());
        ref.set_version(static_cast<uint64_t>(select.getColumn(1).getInt64()));
        out.push_back(std::move(ref));
      }
    }
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "read reset fetch list");
  }
  return out;
}

Result<ApplyReport> Replica::restart_scope(const std::string& scope) {
  ApplyRun run(*impl_, schema_, mutators_, MutationOrigin{tenant_, user_, client_id_});
  auto report = in_apply_transaction(*impl_, run, "restart scope", true, [&]() -> Status {
    run.restart(scope);
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl_->pending_changes));
  return report;
}

Result<ApplyReport> Replica::finish_reset(const std::string& scope) {
  Impl& impl = *impl_;
  ApplyRun run(impl, schema_, mutators_, MutationOrigin{tenant_, user_, client_id_});
  auto report = in_apply_transaction(impl, run, "finish reset", true, [&]() -> Status {
    SQLite::Statement state(impl.db,
                            "SELECT target_seq FROM _reset WHERE scope = ? AND complete = 1");
    state.bind(1, scope);
    if (!state.executeStep()) {
      return error(ErrorCode::kFailedPrecondition,
                   "no complete reset manifest for '" + scope + "'");
    }
    const uint64_t target = static_cast<uint64_t>(state.getColumn(0).getInt64());
    state.reset();
    for (const auto& collection : schema_.collections()) {
      if (!collection_in_scope(*collection, scope)) continue;
      const std::string table = table_name(*collection);
      const std::string key = collection->key_field->name();
      // Rows the server no longer has. Rows with pending local changes keep their local
      // state; their parked server version becomes "absent" and the rebase decides.
      std::vector<std::string> gone;
      SQLite::Statement select(impl.db,
                               "SELECT " + key + " FROM " + table + " WHERE " + key +
                                   " NOT IN (SELECT key FROM _manifest WHERE scope = ? "
                                   "AND collection = ?) AND " +
                                   key + " NOT IN (SELECT key FROM _shadow WHERE collection = ?)");
      select.bind(1, scope);
      select.bind(2, collection->name);
      select.bind(3, collection->name);
      while (select.executeStep()) gone.push_back(select.getColumn(0).getString());
      for (const std::string& k : gone) {
        impl.table(*collection).remove(k);
        impl.pending_changes.add(collection->name, k);
        ++run.report.changes_applied;
      }
      SQLite::Statement park(impl.db,
                             "UPDATE _shadow SET present = 0, version = ? WHERE collection = ? "
                             "AND present = 1 AND key NOT IN (SELECT key FROM _manifest WHERE "
                             "scope = ? AND collection = ?)");
      park.bind(1, static_cast<int64_t>(target));
      park.bind(2, collection->name);
      park.bind(3, scope);
      park.bind(4, collection->name);
      if (park.exec() > 0) run.mark_shadow_touched();
    }
    run.set_cursor(scope, target, "");
    SQLite::Statement clear_manifest(impl.db, "DELETE FROM _manifest WHERE scope = ?");
    clear_manifest.bind(1, scope);
    clear_manifest.exec();
    SQLite::Statement clear_reset(impl.db, "DELETE FROM _reset WHERE scope = ?");
    clear_reset.bind(1, scope);
    clear_reset.exec();
    return Status::Ok();
  });
  if (!report.ok()) return report;
  notify(std::move(impl.pending_changes));
  return report;
}

}  // namespace outpost
