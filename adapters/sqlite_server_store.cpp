// The store and its write transaction: seq allocation, reads, compaction.
#include "adapters/sqlite_server_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "adapters/sqlite_server_store_internal.h"
#include "adapters/write_bookkeeping.h"
#include "engine/mutation_print.h"

namespace outpost {
namespace {

using sqlite_detail::bind_blob;
using sqlite_detail::blob;
using sqlite_detail::guarded;
using sqlite_detail::i64;
using sqlite_detail::ReadConn;
using sqlite_detail::status_of;
using sqlite_detail::u64;
using sqlite_detail::Use;
using sqlite_detail::WriteConn;

constexpr int kOpPut = static_cast<int>(ChangeOp::kPut);
constexpr int kOpDelete = static_cast<int>(ChangeOp::kDelete);

using store_detail::record_cost;
using store_detail::ScopeState;

// A read transaction, so that several statements see one snapshot. It only ever reads,
// so ending it with ROLLBACK is as good as COMMIT; declare it before the statements' Use
// guards so they are reset first.
class ReadTx {
 public:
  explicit ReadTx(ReadConn& conn) : conn_(conn) {
    Use use(conn_.begin);
    conn_.begin.exec();
  }
  ~ReadTx() {
    conn_.end.tryExecuteStep();
    conn_.end.tryReset();
  }
  ReadTx(const ReadTx&) = delete;
  ReadTx& operator=(const ReadTx&) = delete;

 private:
  ReadConn& conn_;
};

// The store's writer mutex, remembering which thread holds it, so that a second write
// from the same thread fails instead of deadlocking.
class WriterLock {
 public:
  WriterLock(std::mutex& mu, std::atomic<std::thread::id>& owner) : lock_(mu), owner_(&owner) {
    owner_->store(std::this_thread::get_id());
  }
  ~WriterLock() { unlock(); }
  WriterLock(WriterLock&&) = default;
  WriterLock& operator=(WriterLock&&) = delete;

  static Status check_not_held(const std::atomic<std::thread::id>& owner) {
    if (owner.load() != std::this_thread::get_id()) return Status::Ok();
    return error(ErrorCode::kFailedPrecondition,
                 "this thread already holds a write transaction on this store");
  }
  bool held() const { return lock_.owns_lock(); }
  void unlock() noexcept {
    if (!lock_.owns_lock()) return;
    owner_->store(std::thread::id());
    lock_.unlock();
  }

 private:
  std::unique_lock<std::mutex> lock_;
  std::atomic<std::thread::id>* owner_;
};

// Rolls back whatever an earlier failure may have left open on the write connection.
void ensure_no_transaction(WriteConn& w) {
  if (sqlite3_get_autocommit(w.db.getHandle()) == 0) w.db.tryExec("ROLLBACK");
}

// Runs f(w) in one IMMEDIATE transaction under the write mutex; commits if it returns ok.
template <typename F>
Status write_section(std::mutex& mu, std::atomic<std::thread::id>& owner, WriteConn& w,
                     std::string_view what, F&& f) {
  OUTPOST_RETURN_IF_ERROR(WriterLock::check_not_held(owner));
  WriterLock lock(mu, owner);
  bool threw = false;
  Status status = guarded(
      what,
      [&]() -> Status {
        ensure_no_transaction(w);
        {
          Use use(w.begin);
          w.begin.exec();
        }
        Status inner = f(w);
        if (!inner.ok()) {
          w.db.tryExec("ROLLBACK");
          return inner;
        }
        Use use(w.commit);
        w.commit.exec();
        return Status::Ok();
      },
      &threw);
  if (threw) w.db.tryExec("ROLLBACK");
  return status;
}

class SqliteWriteTx final : public ServerWriteTx {
 public:
  SqliteWriteTx(WriteConn& conn, WriterLock lock) : w_(conn), lock_(std::move(lock)) {}
  ~SqliteWriteTx() override { abort(); }
  SqliteWriteTx(const SqliteWriteTx&) = delete;
  SqliteWriteTx& operator=(const SqliteWriteTx&) = delete;

  Result<std::optional<StoredRecord>> get(const std::string& scope, const std::string& collection,
                                          const std::string& key) override {
    return run("get", [&]() -> Result<std::optional<StoredRecord>> {
      Use use(w_.record_get);
      w_.record_get.bind(1, scope);
      w_.record_get.bind(2, collection);
      w_.record_get.bind(3, key);
      if (!w_.record_get.executeStep()) return std::optional<StoredRecord>();
      return std::optional<StoredRecord>(StoredRecord{
          collection, key, u64(w_.record_get.getColumn(0)), blob(w_.record_get.getColumn(1))});
    });
  }

  Result<uint64_t> put(const std::string& scope, const std::string& collection,
                       const std::string& key, int priority, const std::string& body) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_put(collection, priority, body));
    return run("put", [&]() -> Result<uint64_t> {
      ScopeState& s = *find_scope(scope, /*create=*/true);
      const std::optional<uint64_t> old_body = body_size(s.id, collection, key);
      const uint64_t seq = s.next_seq();
      {
        Use use(w_.record_upsert);
        w_.record_upsert.bind(1, s.id);
        w_.record_upsert.bind(2, collection);
        w_.record_upsert.bind(3, key);
        w_.record_upsert.bind(4, i64(seq));
        w_.record_upsert.bind(5, priority);
        bind_blob(w_.record_upsert, 6, body);
        w_.record_upsert.exec();
      }
      append_change(s.id, seq, collection, key, kOpPut, priority, body);
      s.put(seq, collection, key, old_body, body.size());
      return seq;
    });
  }

  Result<uint64_t> remove(const std::string& scope, const std::string& collection,
                          const std::string& key, int priority) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_key(collection, priority));
    return run("remove", [&]() -> Result<uint64_t> {
      ScopeState* s = find_scope(scope, /*create=*/false);
      if (s == nullptr) return uint64_t{0};
      const std::optional<uint64_t> old_body = body_size(s->id, collection, key);
      if (!old_body) return uint64_t{0};
      const uint64_t seq = s->next_seq();
      {
        Use use(w_.record_delete);
        w_.record_delete.bind(1, s->id);
        w_.record_delete.bind(2, collection);
        w_.record_delete.bind(3, key);
        w_.record_delete.exec();
      }
      append_change(s->id, seq, collection, key, kOpDelete, priority, std::string());
      s->remove(seq, collection, key, *old_body);
      return seq;
    });
  }

  Result<uint64_t> last_mutation_id(const std::string& client_id) override {
    return run("last_mutation_id", [&]() -> Result<uint64_t> { return stored_last(client_id); });
  }

  Status record_outcome(const std::string& client_id, const RecordedOutcome& outcome) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_outcome_id(client_id, outcome));
    return run("record_outcome", [&]() -> Status {
      OUTPOST_RETURN_IF_ERROR(
          store_detail::check_outcome_after(client_id, outcome, stored_last(client_id)));
      {
        Use use(w_.client_set);
        w_.client_set.bind(1, client_id);
        w_.client_set.bind(2, i64(outcome.mutation_id));
        w_.client_set.exec();
      }
      if (outcome.print != 0) {
        {
          Use use(w_.print_insert);
          w_.print_insert.bind(1, client_id);
          w_.print_insert.bind(2, i64(outcome.mutation_id));
          w_.print_insert.bind(3, static_cast<int64_t>(outcome.print));
          w_.print_insert.exec();
        }
        if (outcome.mutation_id > kMutationPrintWindow) {
          Use use(w_.print_prune);
          w_.print_prune.bind(1, client_id);
          w_.print_prune.bind(2, i64(outcome.mutation_id - kMutationPrintWindow));
          w_.print_prune.exec();
        }
      }
      if (outcome.applied) return Status::Ok();
      {
        Use use(w_.outcome_insert);
        w_.outcome_insert.bind(1, client_id);
        w_.outcome_insert.bind(2, i64(outcome.mutation_id));
        w_.outcome_insert.bind(3, outcome.code);
        w_.outcome_insert.bind(4, outcome.reason);
        w_.outcome_insert.exec();
      }
      Use use(w_.outcome_prune);
      w_.outcome_prune.bind(1, client_id);
      w_.outcome_prune.bind(2, SqliteServerStore::kMaxRejectionsPerClient - 1);
      w_.outcome_prune.exec();
      return Status::Ok();
    });
  }

  Status savepoint() override {
    return run("savepoint", [&]() -> Status {
      return scopes_.open_savepoint([&] { w_.db.exec("SAVEPOINT outpost_mutation"); });
    });
  }

  Status release_savepoint() override {
    return run("release savepoint", [&]() -> Status {
      return scopes_.release_savepoint([&] { w_.db.exec("RELEASE outpost_mutation"); });
    });
  }

  Status rollback_to_savepoint() override {
    return run("rollback to savepoint", [&]() -> Status {
      return scopes_.rollback_to_savepoint([&] {
        w_.db.exec("ROLLBACK TO outpost_mutation");
        w_.db.exec("RELEASE outpost_mutation");
      });
    });
  }

  Result<std::vector<CommittedHead>> commit() override {
    OUTPOST_RETURN_IF_ERROR(scopes_.check_can_commit());
    return run("commit", [&]() -> Result<std::vector<CommittedHead>> {
      std::vector<CommittedHead> heads =
          scopes_.save_written([&](const std::string&, const ScopeState& s) {
            Use use(w_.scope_save);
            w_.scope_save.bind(1, s.id);
            w_.scope_save.bind(2, i64(s.head));
            w_.scope_save.bind(3, i64(s.count));
            w_.scope_save.bind(4, i64(s.bytes));
            w_.scope_save.exec();
          });
      {
        Use use(w_.commit);
        w_.commit.exec();
      }
      lock_.unlock();  // the next writer may start while the caller still holds this object
      return heads;
    });
  }

 private:
  // Runs one operation; a database error rolls the whole transaction back at once.
  template <typename F>
  auto run(std::string_view what, F&& f) -> decltype(f()) {
    if (!failure_.ok()) {
      return error(ErrorCode::kFailedPrecondition,
                   "write transaction was rolled back after an error: " + failure_.to_string());
    }
    if (!lock_.held()) {
      return error(ErrorCode::kFailedPrecondition, "write transaction already committed");
    }
    bool threw = false;
    auto result = guarded(what, f, &threw);
    if (threw) {
      failure_ = status_of(result);
      abort();
    }
    return result;
  }

  void abort() noexcept {
    if (!lock_.held()) return;
    w_.db.tryExec("ROLLBACK");
    lock_.unlock();
  }

  ScopeState* find_scope(const std::string& scope, bool create) {
    if (ScopeState* known = scopes_.find(scope)) return known;
    ScopeState s;
    bool found = false;
    {
      Use use(w_.scope_load);
      w_.scope_load.bind(1, scope);
      if (w_.scope_load.executeStep()) {
        found = true;
        s.id = w_.scope_load.getColumn(0).getInt64();
        s.head = u64(w_.scope_load.getColumn(1));
        s.count = u64(w_.scope_load.getColumn(2));
        s.bytes = u64(w_.scope_load.getColumn(3));
      }
    }
    if (!found) {
      if (!create) return nullptr;
      Use use(w_.scope_create);
      w_.scope_create.bind(1, scope);
      w_.scope_create.exec();
      s.id = w_.db.getLastInsertRowid();
    }
    return scopes_.add(scope, s);
  }

  std::optional<uint64_t> body_size(int64_t scope_id, const std::string& collection,
                                    const std::string& key) {
    Use use(w_.record_size);
    w_.record_size.bind(1, scope_id);
    w_.record_size.bind(2, collection);
    w_.record_size.bind(3, key);
    if (!w_.record_size.executeStep()) return std::nullopt;
    return u64(w_.record_size.getColumn(0));
  }

  void append_change(int64_t scope_id, uint64_t seq, const std::string& collection,
                     const std::string& key, int op, int priority, const std::string& body) {
    Use use(w_.change_insert);
    w_.change_insert.bind(1, scope_id);
    w_.change_insert.bind(2, i64(seq));
    w_.change_insert.bind(3, collection);
    w_.change_insert.bind(4, key);
    w_.change_insert.bind(5, op);
    w_.change_insert.bind(6, priority);
    bind_blob(w_.change_insert, 7, body);
    w_.change_insert.exec();
  }

  uint64_t stored_last(const std::string& client_id) {
    Use use(w_.client_get);
    w_.client_get.bind(1, client_id);
    return w_.client_get.executeStep() ? u64(w_.client_get.getColumn(0)) : 0;
  }

  WriteConn& w_;
  WriterLock lock_;  // held while the transaction is open
  store_detail::TxScopes scopes_;
  Status failure_;
};

}  // namespace

SqliteServerStore::SqliteServerStore(std::string path, std::unique_ptr<WriteConn> writer,
                                     std::unique_ptr<sqlite_detail::ReaderPool> readers)
    : path_(std::move(path)), writer_(std::move(writer)), readers_(std::move(readers)) {}

SqliteServerStore::~SqliteServerStore() = default;

Result<std::unique_ptr<SqliteServerStore>> SqliteServerStore::open(const std::string& path) {
  auto result = guarded(
      "open server store '" + path + "'", [&]() -> Result<std::unique_ptr<SqliteServerStore>> {
        SQLite::Database db(path,
                            SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
                            kBusyTimeoutMs);
        // Identify the file before anything could write to it (even a journal mode switch).
        OUTPOST_RETURN_IF_ERROR(sqlite_detail::check_format(db, path));
        OUTPOST_RETURN_IF_ERROR(sqlite_detail::configure_and_migrate(db, path));
        auto writer = std::make_unique<WriteConn>(std::move(db));
        auto readers = std::make_unique<sqlite_detail::ReaderPool>(path);
        readers->add(std::make_unique<ReadConn>(path));  // fail now rather than at first read
        return std::unique_ptr<SqliteServerStore>(
            new SqliteServerStore(path, std::move(writer), std::move(readers)));
      });
  if (!result.ok() && result.status().code() == ErrorCode::kIo) {
    return error(ErrorCode::kIo,
                 result.status().message() + " (does the directory exist and is it writable?)");
  }
  return result;
}

Result<std::unique_ptr<ServerWriteTx>> SqliteServerStore::begin_write() {
  OUTPOST_RETURN_IF_ERROR(WriterLock::check_not_held(writer_thread_));
  WriterLock lock(write_mu_, writer_thread_);
  OUTPOST_RETURN_IF_ERROR(guarded("begin write transaction", [&]() -> Status {
    ensure_no_transaction(*writer_);
    Use use(writer_->begin);
    writer_->begin.exec();
    return Status::Ok();
  }));
  return std::unique_ptr<ServerWriteTx>(std::make_unique<SqliteWriteTx>(*writer_, std::move(lock)));
}

Result<ScopeInfo> SqliteServerStore::scope_info(const std::string& scope) {
  return readers_->run("scope_info", [&](ReadConn& c) -> Result<ScopeInfo> {
    ScopeInfo info;
    Use use(c.scope_info);
    c.scope_info.bind(1, scope);
    if (c.scope_info.executeStep()) {
      info.head_seq = u64(c.scope_info.getColumn(0));
      info.horizon_seq = u64(c.scope_info.getColumn(1));
      info.record_count = u64(c.scope_info.getColumn(2));
      info.record_bytes = u64(c.scope_info.getColumn(3));
    }
    return info;
  });
}

Result<std::vector<std::string>> SqliteServerStore::list_scopes() {
  return readers_->run("list_scopes", [&](ReadConn& c) -> Result<std::vector<std::string>> {
    SQLite::Statement query(c.db, "SELECT scope FROM scopes ORDER BY scope");
    std::vector<std::string> out;
    while (query.executeStep()) out.push_back(query.getColumn(0).getString());
    return out;
  });
}

Result<LogPage> SqliteServerStore::read_log(const std::string& scope, uint64_t after_seq,
                                            uint32_t max_entries, uint64_t max_bytes,
                                            int max_priority) {
  return readers_->run("read_log", [&](ReadConn& c) -> Result<LogPage> {
    LogPage page;
    page.next_after_seq = after_seq;
    ReadTx tx(c);  // the head, the horizon and the entries from one snapshot
    int64_t scope_id = 0;
    uint64_t head = 0;
    uint64_t horizon = 0;
    {
      Use use(c.log_scope);
      c.log_scope.bind(1, scope);
      if (!c.log_scope.executeStep()) return page;  // nothing written yet
      scope_id = c.log_scope.getColumn(0).getInt64();
      head = u64(c.log_scope.getColumn(1));
      horizon = u64(c.log_scope.getColumn(2));
    }
    if (after_seq != 0 && after_seq < horizon) {
      return error(ErrorCode::kFailedPrecondition,
                   "cursor " + std::to_string(after_seq) + " of scope '" + scope +
                       "' is older than its compaction horizon " + std::to_string(horizon) +
                       ": reset from a snapshot");
    }
    SQLite::Statement& q = max_priority < 0 ? c.log_all : c.log_filtered;
    Use use(q);
    q.bind(1, scope_id);
    q.bind(2, i64(after_seq));
    if (max_priority >= 0) q.bind(3, max_priority);
    const size_t limit = std::max<uint32_t>(max_entries, 1);
    uint64_t bytes = 0;
    while (q.executeStep()) {
      const uint64_t size = record_cost(q.getColumn(1).getBytes(), q.getColumn(2).getBytes(),
                                        q.getColumn(5).getBytes());
      if (page.entries.size() >= limit || (!page.entries.empty() && bytes + size > max_bytes)) {
        page.has_more = true;
        break;
      }
      bytes += size;
      LogEntry& entry = page.entries.emplace_back();
      entry.seq = u64(q.getColumn(0));
      entry.collection = q.getColumn(1).getString();
      entry.key = q.getColumn(2).getString();
      entry.op = q.getColumn(3).getInt() == kOpDelete ? ChangeOp::kDelete : ChangeOp::kPut;
      entry.priority = q.getColumn(4).getInt();
      entry.body = blob(q.getColumn(5));
    }
    if (page.has_more) {
      page.next_after_seq = page.entries.back().seq;
    } else {
      page.next_after_seq = std::max(after_seq, head);
    }
    return page;
  });
}

Result<SnapshotPage> SqliteServerStore::read_snapshot(const std::string& scope,
                                                      const SnapshotPosition& after,
                                                      uint32_t max_records, uint64_t max_bytes) {
  return readers_->run("read_snapshot", [&](ReadConn& c) -> Result<SnapshotPage> {
    SnapshotPage page;
    page.next = after;
    const bool from_start = after.priority < 0;
    SQLite::Statement& q = from_start ? c.snapshot_start : c.snapshot_after;
    Use use(q);
    q.bind(1, scope);
    if (!from_start) {
      q.bind(2, after.priority);
      q.bind(3, after.collection);
      q.bind(4, after.key);
    }
    const size_t limit = std::max<uint32_t>(max_records, 1);
    uint64_t bytes = 0;
    while (q.executeStep()) {
      const uint64_t size = record_cost(q.getColumn(1).getBytes(), q.getColumn(2).getBytes(),
                                        q.getColumn(4).getBytes());
      if (page.records.size() >= limit || (!page.records.empty() && bytes + size > max_bytes)) {
        page.has_more = true;
        break;
      }
      bytes += size;
      SnapshotRecord& r = page.records.emplace_back();
      r.priority = q.getColumn(0).getInt();
      r.record.collection = q.getColumn(1).getString();
      r.record.key = q.getColumn(2).getString();
      r.record.version = u64(q.getColumn(3));
      r.record.body = blob(q.getColumn(4));
    }
    if (!page.records.empty()) {
      const SnapshotRecord& last = page.records.back();
      page.next = SnapshotPosition{last.priority, last.record.collection, last.record.key};
    }
    return page;
  });
}

Result<std::vector<KeyVersion>> SqliteServerStore::read_manifest(
    const std::string& scope, const std::string& after_collection, const std::string& after_key,
    uint32_t max_keys) {
  return readers_->run("read_manifest", [&](ReadConn& c) -> Result<std::vector<KeyVersion>> {
    std::vector<KeyVersion> keys;
    Use use(c.manifest);
    c.manifest.bind(1, scope);
    c.manifest.bind(2, after_collection);
    c.manifest.bind(3, after_key);
    c.manifest.bind(4, std::max<uint32_t>(max_keys, 1));
    while (c.manifest.executeStep()) {
      keys.push_back(KeyVersion{c.manifest.getColumn(0).getString(),
                                c.manifest.getColumn(1).getString(), u64(c.manifest.getColumn(2))});
    }
    return keys;
  });
}

Result<std::vector<ScopedRecord>> SqliteServerStore::scan_collection(const std::string& collection,
                                                                     const std::string& after_scope,
                                                                     const std::string& after_key,
                                                                     uint32_t max_records) {
  return readers_->run("scan_collection", [&](ReadConn& c) -> Result<std::vector<ScopedRecord>> {
    std::vector<ScopedRecord> found;
    SQLite::Statement& q = c.scan_collection;
    Use use(q);
    q.bind(1, collection);
    q.bind(2, after_scope);
    q.bind(3, after_key);
    q.bind(4, std::max<uint32_t>(max_records, 1));
    while (q.executeStep()) {
      found.push_back(ScopedRecord{q.getColumn(0).getString(),
                                   StoredRecord{collection, q.getColumn(1).getString(),
                                                u64(q.getColumn(2)), blob(q.getColumn(3))}});
    }
    return found;
  });
}

Result<std::optional<StoredRecord>> SqliteServerStore::get(const std::string& scope,
                                                           const std::string& collection,
                                                           const std::string& key) {
  return readers_->run("get", [&](ReadConn& c) -> Result<std::optional<StoredRecord>> {
    Use use(c.record_get);
    c.record_get.bind(1, scope);
    c.record_get.bind(2, collection);
    c.record_get.bind(3, key);
    if (!c.record_get.executeStep()) return std::optional<StoredRecord>();
    return std::optional<StoredRecord>(StoredRecord{collection, key, u64(c.record_get.getColumn(0)),
                                                    blob(c.record_get.getColumn(1))});
  });
}

Result<uint64_t> SqliteServerStore::last_mutation_id(const std::string& client_id) {
  return readers_->run("last_mutation_id", [&](ReadConn& c) -> Result<uint64_t> {
    Use use(c.client_get);
    c.client_get.bind(1, client_id);
    return c.client_get.executeStep() ? u64(c.client_get.getColumn(0)) : uint64_t{0};
  });
}

Result<std::vector<RecordedOutcome>> SqliteServerStore::rejections(const std::string& client_id,
                                                                   uint64_t after_id,
                                                                   uint32_t max_count) {
  return readers_->run("rejections", [&](ReadConn& c) -> Result<std::vector<RecordedOutcome>> {
    std::vector<RecordedOutcome> out;
    Use use(c.rejections);
    c.rejections.bind(1, client_id);
    c.rejections.bind(2, i64(after_id));
    c.rejections.bind(3, max_count);
    while (c.rejections.executeStep()) {
      out.push_back(RecordedOutcome{u64(c.rejections.getColumn(0)), false,
                                    c.rejections.getColumn(1).getString(),
                                    c.rejections.getColumn(2).getString()});
    }
    return out;
  });
}

Result<std::vector<StoredPrint>> SqliteServerStore::mutation_prints(const std::string& client_id,
                                                                    uint64_t after_id,
                                                                    uint64_t through_id) {
  return readers_->run("mutation_prints", [&](ReadConn& c) -> Result<std::vector<StoredPrint>> {
    std::vector<StoredPrint> out;
    Use use(c.prints);
    c.prints.bind(1, client_id);
    c.prints.bind(2, i64(after_id));
    c.prints.bind(3, i64(through_id));
    while (c.prints.executeStep()) {
      out.push_back(StoredPrint{u64(c.prints.getColumn(0)),
                                static_cast<uint64_t>(c.prints.getColumn(1).getInt64())});
    }
    return out;
  });
}

Status SqliteServerStore::compact(const std::string& scope, uint64_t horizon_seq) {
  // 1. Superseded entries, in batches. Only entries after compacted_seq need a look: an
  // entry can only supersede older ones, and older pairs were handled by earlier passes.
  // Dropping a superseded entry is safe at any time, so writers may run between batches.
  for (bool done = false; !done;) {
    OUTPOST_RETURN_IF_ERROR(
        write_section(write_mu_, writer_thread_, *writer_, "compact", [&](WriteConn& w) {
          SQLite::Statement state(w.db, "SELECT id, compacted_seq FROM scopes WHERE scope = ?1");
          state.bind(1, scope);
          if (!state.executeStep()) {
            done = true;
            return Status::Ok();
          }
          const int64_t id = state.getColumn(0).getInt64();
          const int64_t compacted = state.getColumn(1).getInt64();
          state.reset();
          struct Entry {
            int64_t seq;
            std::string collection;
            std::string key;
          };
          std::vector<Entry> batch;
          {
            SQLite::Statement q(
                w.db,
                "SELECT seq, collection, key FROM changes WHERE scope_id = ?1 AND seq "
                "> ?2 ORDER BY seq LIMIT ?3");
            q.bind(1, id);
            q.bind(2, compacted);
            q.bind(3, kCompactBatch);
            while (q.executeStep()) {
              batch.push_back(Entry{q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                                    q.getColumn(2).getString()});
            }
          }
          SQLite::Statement drop(
              w.db,
              "DELETE FROM changes WHERE scope_id = ?1 AND collection = ?2 AND key "
              "= ?3 AND seq < ?4");
          for (const Entry& e : batch) {
            drop.bind(1, id);
            drop.bind(2, e.collection);
            drop.bind(3, e.key);
            drop.bind(4, e.seq);
            drop.exec();
            drop.reset();
          }
          if (!batch.empty()) {
            SQLite::Statement mark(w.db, "UPDATE scopes SET compacted_seq = ?2 WHERE id = ?1");
            mark.bind(1, id);
            mark.bind(2, batch.back().seq);
            mark.exec();
          }
          done = batch.size() < kCompactBatch;
          return Status::Ok();
        }));
  }
  // 2. Tombstones up to the new horizon, in the same transaction that raises it, so no
  // reader sees them gone while the horizon still admits its cursor.
  return write_section(write_mu_, writer_thread_, *writer_, "compact", [&](WriteConn& w) {
    SQLite::Statement state(w.db, "SELECT id, head_seq, horizon_seq FROM scopes WHERE scope = ?1");
    state.bind(1, scope);
    if (!state.executeStep()) return Status::Ok();
    const int64_t id = state.getColumn(0).getInt64();
    const uint64_t head = u64(state.getColumn(1));
    const uint64_t old_horizon = u64(state.getColumn(2));
    state.reset();
    const uint64_t horizon = std::max(old_horizon, std::min(horizon_seq, head));
    if (horizon == old_horizon) return Status::Ok();
    SQLite::Statement drop(w.db,
                           "DELETE FROM changes WHERE scope_id = ?1 AND seq > ?2 AND seq <= ?3 AND "
                           "op = ?4");
    drop.bind(1, id);
    drop.bind(2, i64(old_horizon));
    drop.bind(3, i64(horizon));
    drop.bind(4, kOpDelete);
    drop.exec();
    SQLite::Statement mark(w.db, "UPDATE scopes SET horizon_seq = ?2 WHERE id = ?1");
    mark.bind(1, id);
    mark.bind(2, i64(horizon));
    mark.exec();
    return Status::Ok();
  });
}

Status SqliteServerStore::checkpoint() {
  OUTPOST_RETURN_IF_ERROR(WriterLock::check_not_held(writer_thread_));
  WriterLock lock(write_mu_, writer_thread_);
  return guarded("checkpoint", [&]() -> Status {
    SQLite::Statement q(writer_->db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (q.executeStep() && q.getColumn(0).getInt() != 0) {
      return error(ErrorCode::kUnavailable, "checkpoint of '" + path_ + "': readers kept it busy");
    }
    return Status::Ok();
  });
}

}  // namespace outpost
