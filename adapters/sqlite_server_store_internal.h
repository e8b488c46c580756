// Internals of the SQLite server store, shared by its .cpp files: the connections with
// their cached statements, exception-to-Status conversion and the store file format.
// Thread rules: WriteConn only under the store's writer lock; a ReadConn belongs to one
// thread at a time (leased from ReaderPool, which is thread-safe).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/sqlite_server_store.h"
#include "engine/status.h"

namespace outpost::sqlite_detail {

// Maps a SQLite result code to the error registry.
ErrorCode code_for_sqlite(int rc);

// Checks that `db` is empty or an outpost store this build can read, without writing.
Status check_format(SQLite::Database& db, const std::string& path);
// Sets WAL, synchronous=FULL and the other pragmas of the write connection, then creates or
// migrates the schema in one transaction. Call check_format first. May throw.
Status configure_and_migrate(SQLite::Database& db, const std::string& path);

inline const Status& status_of(const Status& status) {
  return status;
}
template <typename T>
const Status& status_of(const Result<T>& result) {
  return result.status();
}

// Runs f, turning exceptions into a Status. *threw tells the caller that the database
// may be half-way through something (a write transaction must then be rolled back).
template <typename F>
auto guarded(std::string_view what, F&& f, bool* threw = nullptr) -> decltype(f()) {
  std::string prefix(what);
  prefix += ": ";
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    if (threw) *threw = true;
    return error(code_for_sqlite(e.getErrorCode()), prefix + e.what());
  } catch (const std::bad_alloc&) {
    if (threw) *threw = true;
    return error(ErrorCode::kInternal, prefix + "out of memory");
  } catch (const std::exception& e) {
    if (threw) *threw = true;
    return error(ErrorCode::kInternal, prefix + e.what());
  }
}

// Resets a cached statement when the scope ends, so it neither holds a read snapshot
// open nor keeps stale state for the next user.
class Use {
 public:
  explicit Use(SQLite::Statement& stmt) : stmt_(stmt) {}
  ~Use() { stmt_.tryReset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  SQLite::Statement* operator->() { return &stmt_; }

 private:
  SQLite::Statement& stmt_;
};

inline int64_t i64(uint64_t value) {
  return static_cast<int64_t>(value);
}
inline uint64_t u64(const SQLite::Column& column) {
  return static_cast<uint64_t>(column.getInt64());
}

inline std::string blob(const SQLite::Column& column) {
  const void* data = column.getBlob();
  const int size = column.getBytes();
  return size > 0 ? std::string(static_cast<const char*>(data), size) : std::string();
}

inline void bind_blob(SQLite::Statement& stmt, int index, const std::string& value) {
  stmt.bind(index, value.data(), static_cast<int>(value.size()));
}

// The one write connection with its cached statements; used under the store's write_mu_.
struct WriteConn {
  explicit WriteConn(SQLite::Database database) : db(std::move(database)) {}

  SQLite::Database db;
  SQLite::Statement begin{db, "BEGIN IMMEDIATE"};
  SQLite::Statement commit{db, "COMMIT"};
  SQLite::Statement scope_load{
      db, "SELECT id, head_seq, record_count, record_bytes FROM scopes WHERE scope = ?1"};
  SQLite::Statement scope_create{db,
                                 "INSERT INTO scopes (scope, head_seq, horizon_seq, compacted_seq, "
                                 "record_count, record_bytes) VALUES (?1, 0, 0, 0, 0, 0)"};
  SQLite::Statement scope_save{
      db, "UPDATE scopes SET head_seq = ?2, record_count = ?3, record_bytes = ?4 WHERE id = ?1"};
  SQLite::Statement record_get{
      db,
      "SELECT version, body FROM records WHERE scope_id = (SELECT id FROM scopes WHERE scope = "
      "?1) AND collection = ?2 AND key = ?3"};
  SQLite::Statement record_size{
      db, "SELECT length(body) FROM records WHERE scope_id = ?1 AND collection = ?2 AND key = ?3"};
  SQLite::Statement record_upsert{
      db,
      "INSERT INTO records (scope_id, collection, key, version, priority, body) VALUES (?1, ?2, "
      "?3, ?4, ?5, ?6) ON CONFLICT (scope_id, collection, key) DO UPDATE SET version = "
      "excluded.version, priority = excluded.priority, body = excluded.body"};
  SQLite::Statement record_delete{
      db, "DELETE FROM records WHERE scope_id = ?1 AND collection = ?2 AND key = ?3"};
  SQLite::Statement change_insert{
      db,
      "INSERT INTO changes (scope_id, seq, collection, key, op, priority, body) VALUES (?1, ?2, "
      "?3, ?4, ?5, ?6, ?7)"};
  SQLite::Statement client_get{db, "SELECT last_mutation_id FROM clients WHERE client_id = ?1"};
  SQLite::Statement client_set{
      db,
      "INSERT INTO clients (client_id, last_mutation_id) VALUES (?1, ?2) ON CONFLICT (client_id) "
      "DO UPDATE SET last_mutation_id = excluded.last_mutation_id"};
  SQLite::Statement outcome_insert{
      db, "INSERT INTO outcomes (client_id, mutation_id, code, reason) VALUES (?1, ?2, ?3, ?4)"};
  SQLite::Statement print_insert{
      db, "INSERT OR REPLACE INTO prints (client_id, mutation_id, print) VALUES (?1, ?2, ?3)"};
  // Keeps the prints of a client's ids above ?2 (its newest kMutationPrintWindow).
  SQLite::Statement print_prune{db,
                                "DELETE FROM prints WHERE client_id = ?1 AND mutation_id <= ?2"};
  // Keeps the newest ?2 + 1 rejections of a client.
  SQLite::Statement outcome_prune{
      db,
      "DELETE FROM outcomes WHERE client_id = ?1 AND mutation_id < (SELECT mutation_id FROM "
      "outcomes WHERE client_id = ?1 ORDER BY mutation_id DESC LIMIT 1 OFFSET ?2)"};
};

// One read connection with its cached statements; leased to one thread at a time.
struct ReadConn {
  explicit ReadConn(const std::string& path)
      : db(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, SqliteServerStore::kBusyTimeoutMs) {}

  SQLite::Database db;
  SQLite::Statement begin{db, "BEGIN"};
  SQLite::Statement end{db, "ROLLBACK"};
  SQLite::Statement scope_info{
      db, "SELECT head_seq, horizon_seq, record_count, record_bytes FROM scopes WHERE scope = ?1"};
  SQLite::Statement log_scope{db, "SELECT id, head_seq, horizon_seq FROM scopes WHERE scope = ?1"};
  SQLite::Statement log_all{
      db,
      "SELECT seq, collection, key, op, priority, body FROM changes WHERE scope_id = ?1 AND seq > "
      "?2 ORDER BY seq"};
  SQLite::Statement log_filtered{
      db,
      "SELECT seq, collection, key, op, priority, body FROM changes WHERE scope_id = ?1 AND seq > "
      "?2 AND priority <= ?3 ORDER BY seq"};
  SQLite::Statement snapshot_start{
      db,
      "SELECT priority, collection, key, version, body FROM records WHERE scope_id = (SELECT id "
      "FROM scopes WHERE scope = ?1) ORDER BY priority, collection, key"};
  SQLite::Statement snapshot_after{
      db,
      "SELECT priority, collection, key, version, body FROM records WHERE scope_id = (SELECT id "
      "FROM scopes WHERE scope = ?1) AND (priority, collection, key) > (?2, ?3, ?4) ORDER BY "
      "priority, collection, key"};
  SQLite::Statement manifest{
      db,
      "SELECT collection, key, version FROM records WHERE scope_id = (SELECT id FROM scopes WHERE "
      "scope = ?1) AND (collection, key) > (?2, ?3) ORDER BY collection, key LIMIT ?4"};
  SQLite::Statement record_get{
      db,
      "SELECT version, body FROM records WHERE scope_id = (SELECT id FROM scopes WHERE scope = "
      "?1) AND collection = ?2 AND key = ?3"};
  SQLite::Statement scan_collection{
      db,
      "SELECT s.scope, r.key, r.version, r.body FROM records r JOIN scopes s ON s.id = r.scope_id "
      "WHERE r.collection = ?1 AND (s.scope, r.key) > (?2, ?3) ORDER BY s.scope, r.key LIMIT ?4"};
  SQLite::Statement client_get{db, "SELECT last_mutation_id FROM clients WHERE client_id = ?1"};
  SQLite::Statement rejections{
      db,
      "SELECT mutation_id, code, reason FROM outcomes WHERE client_id = ?1 AND mutation_id > ?2 "
      "ORDER BY mutation_id LIMIT ?3"};
  SQLite::Statement prints{
      db,
      "SELECT mutation_id, print FROM prints WHERE client_id = ?1 AND mutation_id > ?2 AND "
      "mutation_id <= ?3 ORDER BY mutation_id"};
};

// Read connections: SQLite connections must not be shared between threads, so each read
// leases one. WAL readers see the last committed state and never block the writer.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  void add(std::unique_ptr<ReadConn> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < SqliteServerStore::kMaxIdleReaders) idle_.push_back(std::move(conn));
  }

  template <typename F>
  auto run(std::string_view what, F&& f) -> decltype(f(std::declval<ReadConn&>())) {
    std::unique_ptr<ReadConn> conn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool threw = false;
    auto result = guarded(
        what,
        [&]() -> decltype(f(std::declval<ReadConn&>())) {
          if (!conn) conn = std::make_unique<ReadConn>(path_);
          return f(*conn);
        },
        &threw);
    if (!threw && conn) add(std::move(conn));  // a connection that threw is closed
    return result;
  }

 private:
  const std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<ReadConn>> idle_;
};

}  // namespace outpost::sqlite_detail
