// The PostgreSQL store and its write transaction: seq allocation under the scope's row
// lock, reads from one snapshot, compaction.
#include "adapters/postgres_server_store.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "adapters/postgres_server_store_internal.h"
#include "adapters/write_bookkeeping.h"
#include "engine/mutation_print.h"

namespace outpost {
namespace {

using pg_detail::bytes;
using pg_detail::Conn;
using pg_detail::i64;
using pg_detail::Pool;
using pg_detail::text_of_bytea;
using pg_detail::u64;

constexpr int kOpDelete = static_cast<int>(ChangeOp::kDelete);
// A NOTIFY payload must stay under 8000 bytes; longer scopes make a "poke all" payload.
constexpr size_t kMaxNotifiedScope = 3000;

using store_detail::ScopeState;

std::string hex(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string random_instance_id() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> any;
  return hex(std::to_string(any(device))).substr(0, 16);
}

// Reads that must agree with each other (a head and its entries) share one snapshot.
using ReadTx = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

class PostgresWriteTx final : public ServerWriteTx {
 public:
  PostgresWriteTx(Pool::Lease lease, std::unique_ptr<pqxx::work> tx, const std::string& instance)
      : lease_(std::move(lease)), instance_(instance), tx_(std::move(tx)) {}
  ~PostgresWriteTx() override { abort(); }
  PostgresWriteTx(const PostgresWriteTx&) = delete;
  PostgresWriteTx& operator=(const PostgresWriteTx&) = delete;

  Result<std::optional<StoredRecord>> get(const std::string& scope, const std::string& collection,
                                          const std::string& key) override {
    return run("get", [&]() -> Result<std::optional<StoredRecord>> {
      flush_puts();  // a transaction reads its own writes
      pqxx::result r =
          tx_->exec_prepared("record_get", bytes(scope), bytes(collection), bytes(key));
      if (r.empty()) return std::optional<StoredRecord>();
      return std::optional<StoredRecord>(
          StoredRecord{collection, key, u64(r[0][0]), text_of_bytea(r[0][1])});
    });
  }

  Result<uint64_t> put(const std::string& scope, const std::string& collection,
                       const std::string& key, int priority, const std::string& body) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_put(collection, priority, body));
    return run("put", /*after_sent=*/false, [&]() -> Result<uint64_t> {
      // A scope not yet locked takes a statement: the connection must be free.
      if (scopes_.find(scope) == nullptr) wait_sent();
      ScopeState& s = *lock_scope(scope, /*create=*/true);
      // Held back until the next statement; a key already held goes first (one statement
      // may not write a row twice).
      if (!buffered_keys_.emplace(s.id, collection, key).second) {
        send_puts();
        buffered_keys_.emplace(s.id, collection, key);
      }
      const uint64_t seq = s.next_seq();
      s.head = seq;  // taken now; the count and bytes follow when the put is written
      buffered_bytes_ += collection.size() + key.size() + body.size();
      buffered_.push_back(pg_detail::BufferedPut{s.id, collection, key, seq, priority, body});
      buffered_scopes_.push_back(scope);
      // A batch goes out while the caller makes the next one (pipelined): a full one at
      // once (after the one being written), and from kMinSentPuts on whenever PostgreSQL
      // has finished the one before, so that it is never idle while puts are held.
      const size_t held = buffered_.size();
      if (held >= kMaxBufferedPuts || buffered_bytes_ >= kMaxBufferedBytes) {
        send_puts();
      } else if (held >= kMinSentPuts && held % kReadyCheckEvery == 0 &&
                 (!sent_ || pg_detail::bulk_put_answered(lease_->raw))) {
        send_puts();
      }
      return seq;
    });
  }

  Result<uint64_t> remove(const std::string& scope, const std::string& collection,
                          const std::string& key, int priority) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_key(collection, priority));
    return run("remove", [&]() -> Result<uint64_t> {
      flush_puts();
      ScopeState* s = lock_scope(scope, /*create=*/false);
      if (s == nullptr) return uint64_t{0};
      const uint64_t seq = s->next_seq();
      pqxx::result gone =
          tx_->exec_prepared("remove", s->id, bytes(collection), bytes(key), i64(seq), priority);
      if (gone.empty()) return uint64_t{0};  // absent: nothing written, the seq stays free
      s->remove(seq, collection, key, u64(gone[0][0]));
      return seq;
    });
  }

  Status lock_scopes(const std::vector<std::string>& scopes) override {
    return run("lock scopes", [&]() -> Status {
      std::vector<std::string> ordered = scopes;
      std::sort(ordered.begin(), ordered.end(), std::greater<>());
      // Created if new: two first writes of a scope would otherwise wait for each other's
      // uncommitted insert of its row, outside any order.
      for (const std::string& scope : ordered) lock_scope(scope, /*create=*/true);
      return Status::Ok();
    });
  }

  Result<uint64_t> last_mutation_id(const std::string& client_id) override {
    return run("last_mutation_id", [&]() -> Result<uint64_t> { return locked_last(client_id); });
  }

  Status record_outcome(const std::string& client_id, const RecordedOutcome& outcome) override {
    OUTPOST_RETURN_IF_ERROR(store_detail::check_outcome_id(client_id, outcome));
    return run("record_outcome", [&]() -> Status {
      OUTPOST_RETURN_IF_ERROR(
          store_detail::check_outcome_after(client_id, outcome, locked_last(client_id)));
      if (outcome.print != 0) {
        tx_->exec_prepared0("client_set_print", bytes(client_id), i64(outcome.mutation_id),
                            static_cast<int64_t>(outcome.print), i64(kMutationPrintWindow));
      } else {
        tx_->exec_prepared0("client_set", bytes(client_id), i64(outcome.mutation_id));
      }
      if (outcome.applied) return Status::Ok();
      tx_->exec_prepared0("outcome_insert", bytes(client_id), i64(outcome.mutation_id),
                          bytes(outcome.code), bytes(outcome.reason));
      tx_->exec_prepared0("outcome_prune", bytes(client_id),
                          static_cast<int64_t>(PostgresServerStore::kMaxRejectionsPerClient - 1));
      return Status::Ok();
    });
  }

  // Locks taken after a savepoint are released by rolling back to it; the savepoint's copy
  // only keeps scopes locked before it, so later ones are locked again on their next touch.
  Status savepoint() override {
    return run("savepoint", [&]() -> Status {
      flush_puts();
      return scopes_.open_savepoint([&] { tx_->exec0("SAVEPOINT outpost_mutation"); });
    });
  }

  Status release_savepoint() override {
    return run("release savepoint", [&]() -> Status {
      flush_puts();
      return scopes_.release_savepoint([&] { tx_->exec0("RELEASE SAVEPOINT outpost_mutation"); });
    });
  }

  Status rollback_to_savepoint() override {
    return run("rollback to savepoint", [&]() -> Status {
      // Held puts all came after the savepoint (it flushed): dropped unsent. A batch sent
      // after it was written (run waited for it) and is undone with the rest below.
      if (scopes_.savepoint_open()) drop_puts();
      return scopes_.rollback_to_savepoint([&] {
        tx_->exec0("ROLLBACK TO SAVEPOINT outpost_mutation");
        tx_->exec0("RELEASE SAVEPOINT outpost_mutation");
      });
    });
  }

  Result<std::vector<CommittedHead>> commit() override {
    return run("commit", [&]() -> Result<std::vector<CommittedHead>> {
      // Inside run(): a transaction PostgreSQL already aborted (a deadlock, a lost
      // connection) reports that, retryable, not the savepoint its failure left open.
      OUTPOST_RETURN_IF_ERROR(scopes_.check_can_commit());
      flush_puts();
      std::vector<CommittedHead> heads =
          scopes_.save_written([&](const std::string& name, const ScopeState& s) {
            // The NOTIFY is delivered to listeners only if this transaction commits. The
            // base (the head before this commit, under this transaction's lock) lets the
            // other processes carry the changes with their pokes (decision 041).
            const std::string payload = name.size() > kMaxNotifiedScope
                                            ? instance_ + " *"
                                            : instance_ + ":" + std::to_string(s.initial_head) +
                                                  " " + std::to_string(s.head) + " " + hex(name);
            tx_->exec_prepared("scope_save", s.id, i64(s.head), i64(s.count), i64(s.bytes),
                               PostgresServerStore::kChannel, payload);
          });
      tx_->commit();
      tx_.reset();
      lease_.release();  // the connection serves others while the caller holds this object
      return heads;
    });
  }

 private:
  // Runs one operation; a database error rolls the whole transaction back at once. Every
  // operation but a put first waits for the batch of puts being written (wait_sent): only
  // one statement runs on the connection at a time, and its error is the operation's.
  template <typename F>
  auto run(std::string_view what, F&& f) -> decltype(f()) {
    return run(what, /*after_sent=*/true, std::forward<F>(f));
  }
  template <typename F>
  auto run(std::string_view what, bool after_sent, F&& f) -> decltype(f()) {
    if (!failure_.ok()) {
      // A retryable failure stays retryable for the caller that goes on to commit.
      const ErrorCode code = failure_.code() == ErrorCode::kUnavailable
                                 ? ErrorCode::kUnavailable
                                 : ErrorCode::kFailedPrecondition;
      return error(code,
                   "write transaction was rolled back after an error: " + failure_.to_string());
    }
    if (!tx_) return error(ErrorCode::kFailedPrecondition, "write transaction already committed");
    try {
      if (after_sent) wait_sent();
      return f();
    } catch (const std::exception& e) {
      if (pg_detail::connection_lost(e)) lease_.mark_lost();
      failure_ = pg_detail::status_for(what, e);
      abort();
      return failure_;
    }
  }

  void abort() noexcept {
    if (!tx_) return;
    // The connection is free again once the batch sent is answered; its outcome is moot.
    if (sent_ && lease_->db.is_open()) pg_detail::discard_answer(lease_->raw);
    sent_.reset();
    try {
      tx_->abort();
    } catch (const std::exception&) {
      lease_.mark_lost();
    }
    tx_.reset();
    lease_.release();
  }

  // The scope's counter row, locked until commit: writers of one scope take turns, and
  // seq head + 1 is only taken by the one holding the lock. Locks are taken in descending
  // scope order (engine/server_store.h): a scope that sorts above one already held is
  // locked without waiting, so no two transactions ever wait for each other.
  ScopeState* lock_scope(const std::string& scope, bool create) {
    if (ScopeState* known = scopes_.find(scope)) return known;
    const bool in_order = scopes_.sorts_below_all(scope);
    const char* lock = in_order ? "scope_lock" : "scope_lock_nowait";
    pqxx::result r = tx_->exec_prepared(lock, bytes(scope));
    if (r.empty() && create) {  // one round trip more, only for a scope's first write
      tx_->exec_prepared0("scope_create", bytes(scope));
      r = tx_->exec_prepared(lock, bytes(scope));
    }
    if (r.empty()) return nullptr;
    ScopeState s;
    s.id = r[0][0].as<int64_t>();
    s.head = u64(r[0][1]);
    s.count = u64(r[0][2]);
    s.bytes = u64(r[0][3]);
    return scopes_.add(scope, s);
  }

  // Writes the held-back puts and waits for them, then counts them.
  void flush_puts() {
    send_puts();
    wait_sent();
  }
  // Sends the held-back puts as one statement (after the batch sent before it is answered)
  // without waiting for its answer, so the caller makes the next batch meanwhile:
  // libpq's asynchronous calls on this transaction's connection, no thread (decision 054).
  // wait_sent() takes the answer before the connection runs anything else.
  void send_puts() {
    wait_sent();
    if (buffered_.empty()) return;
    auto batch = std::make_unique<SentBatch>();
    batch->puts = std::move(buffered_);
    batch->scopes = std::move(buffered_scopes_);
    drop_puts();
    pg_detail::send_bulk_put(lease_->bulk_put_handle(), pg_detail::bulk_put_columns(batch->puts));
    sent_ = std::move(batch);
  }
  // Waits for the answer of the batch sent (its error is thrown here), then counts its puts.
  void wait_sent() {
    if (!sent_) return;
    const std::unique_ptr<SentBatch> batch = std::move(sent_);
    count_written(batch->puts, batch->scopes, pg_detail::receive_bulk_put(lease_->raw));
  }
  // The written puts' record counts and bytes, from the old body sizes bulk_put answered.
  void count_written(const std::vector<pg_detail::BufferedPut>& puts,
                     const std::vector<std::string>& scopes,
                     const std::vector<std::pair<size_t, uint64_t>>& old) {
    std::vector<std::optional<uint64_t>> old_sizes(puts.size());
    for (const auto& [n, size] : old) old_sizes.at(n) = size;
    for (size_t n = 0; n < puts.size(); ++n) {
      const pg_detail::BufferedPut& put = puts[n];
      ScopeState* s = scopes_.find(scopes[n]);
      const uint64_t head = s->head;
      s->put(put.seq, put.collection, put.key, old_sizes[n], put.body.size());
      s->head = head;  // later puts of the scope took their seqs already
    }
  }
  void drop_puts() {
    buffered_.clear();
    buffered_scopes_.clear();
    buffered_keys_.clear();
    buffered_bytes_ = 0;
  }

  // The client's row, created if new and locked until commit: a concurrent push of the
  // same client (in any process) waits here, then reads what this one recorded.
  uint64_t locked_last(const std::string& client_id) {
    tx_->exec_prepared0("client_ensure", bytes(client_id));
    pqxx::result r = tx_->exec_prepared("client_lock", bytes(client_id));
    return r.empty() ? 0 : u64(r[0][0]);
  }

  Pool::Lease lease_;
  const std::string& instance_;
  std::unique_ptr<pqxx::work> tx_;
  store_detail::TxScopes scopes_;
  Status failure_;
  // Puts not yet sent (flush_puts), with their scopes' names and their keys. At most one
  // batch is being written while the next fills: 2 × 4 MiB held per transaction at most.
  // A batch goes from kMinSentPuts on when the one before is answered (checked every
  // kReadyCheckEvery puts: a non-blocking read of the socket), so a transaction's first
  // batch leaves after 100 puts; the caller waits only when 2,000 puts or 4 MiB are held
  // while PostgreSQL is still busy (decision 054: 2,000 rather than 500, measured).
  static constexpr size_t kMaxBufferedPuts = 2000;
  static constexpr size_t kMaxBufferedBytes = 4 << 20;
  static constexpr size_t kMinSentPuts = 100;
  static constexpr size_t kReadyCheckEvery = 50;
  struct SentBatch {  // sent, its answer not yet read
    std::vector<pg_detail::BufferedPut> puts;
    std::vector<std::string> scopes;
  };
  std::unique_ptr<SentBatch> sent_;
  std::vector<pg_detail::BufferedPut> buffered_;
  std::vector<std::string> buffered_scopes_;
  std::set<std::tuple<int64_t, std::string, std::string>> buffered_keys_;
  size_t buffered_bytes_ = 0;
};

}  // namespace

bool is_postgres_url(const std::string& text) {
  return text.rfind("postgres://", 0) == 0 || text.rfind("postgresql://", 0) == 0;
}

PostgresServerStore::PostgresServerStore(std::string url, std::string instance_id,
                                         std::unique_ptr<Pool> pool)
    : url_(std::move(url)), instance_id_(std::move(instance_id)), pool_(std::move(pool)) {}

PostgresServerStore::~PostgresServerStore() = default;

Result<std::unique_ptr<PostgresServerStore>> PostgresServerStore::open(
    const PostgresStoreOptions& options) {
  if (options.url.empty()) return error(ErrorCode::kInvalidArgument, "empty PostgreSQL URL");
  if (options.max_connections == 0) {
    return error(ErrorCode::kInvalidArgument, "max_connections must be at least 1");
  }
  auto pool = std::make_unique<Pool>(options.url, options.max_connections);
  OUTPOST_RETURN_IF_ERROR(
      pool->run("open PostgreSQL store", [&](Conn& c) { return pg_detail::migrate(c.db); }));
  return std::unique_ptr<PostgresServerStore>(
      new PostgresServerStore(options.url, random_instance_id(), std::move(pool)));
}

Result<std::unique_ptr<ServerWriteTx>> PostgresServerStore::begin_write() {
  for (int attempt = 0;; ++attempt) {
    OUTPOST_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->lease("begin write transaction"));
    std::unique_ptr<pqxx::work> tx;
    try {
      tx = std::make_unique<pqxx::work>(lease->db);
    } catch (const std::exception& e) {
      // BEGIN failed on a pooled connection PostgreSQL dropped: once more on a fresh one.
      const bool lost = pg_detail::connection_lost(e);
      if (lost) lease.mark_lost();
      if (!lost || attempt > 0) return pg_detail::status_for("begin write transaction", e);
      continue;
    }
    return std::unique_ptr<ServerWriteTx>(
        std::make_unique<PostgresWriteTx>(std::move(lease), std::move(tx), instance_id_));
  }
}

Result<std::vector<std::string>> PostgresServerStore::list_scopes() {
  return pool_->run("list_scopes", [&](Conn& c) -> Result<std::vector<std::string>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec("SELECT scope FROM outpost_scopes ORDER BY scope");
    std::vector<std::string> out;
    for (const auto& row : r) out.push_back(text_of_bytea(row[0]));
    return out;
  });
}

Result<ScopeInfo> PostgresServerStore::scope_info(const std::string& scope) {
  return pool_->run("scope_info", [&](Conn& c) -> Result<ScopeInfo> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec_prepared("scope_info", bytes(scope));
    ScopeInfo info;
    if (!r.empty()) {
      info.head_seq = u64(r[0][1]);
      info.horizon_seq = u64(r[0][2]);
      info.record_count = u64(r[0][3]);
      info.record_bytes = u64(r[0][4]);
    }
    return info;
  });
}

Result<LogPage> PostgresServerStore::read_log(const std::string& scope, uint64_t after_seq,
                                              uint32_t max_entries, uint64_t max_bytes,
                                              int max_priority) {
  return pool_->run("read_log", [&](Conn& c) -> Result<LogPage> {
    LogPage page;
    page.next_after_seq = after_seq;
    ReadTx tx(c.db);  // the head, the horizon and the entries from one snapshot
    pqxx::result info = tx.exec_prepared("scope_info", bytes(scope));
    if (info.empty()) return page;  // nothing written yet
    const int64_t scope_id = info[0][0].as<int64_t>();
    const uint64_t head = u64(info[0][1]);
    const uint64_t horizon = u64(info[0][2]);
    if (after_seq != 0 && after_seq < horizon) {
      return error(ErrorCode::kFailedPrecondition,
                   "cursor " + std::to_string(after_seq) + " of scope '" + scope +
                       "' is older than its compaction horizon " + std::to_string(horizon) +
                       ": reset from a snapshot");
    }
    const int64_t limit = std::max<uint32_t>(max_entries, 1);
    const int priority = max_priority < 0 ? -1 : max_priority;
    pqxx::result sizes =
        tx.exec_prepared("log_sizes", scope_id, i64(after_seq), limit + 1, priority);
    uint64_t bytes_taken = 0;
    uint64_t last_seq = after_seq;
    size_t taken = 0;
    for (const auto& row : sizes) {
      const uint64_t size = u64(row[1]);
      if (static_cast<int64_t>(taken) >= limit || (taken > 0 && bytes_taken + size > max_bytes)) {
        page.has_more = true;
        break;
      }
      bytes_taken += size;
      last_seq = u64(row[0]);
      ++taken;
    }
    if (taken > 0) {
      pqxx::result rows =
          tx.exec_prepared("log_rows", scope_id, i64(after_seq), i64(last_seq), priority);
      page.entries.reserve(rows.size());
      for (const auto& row : rows) {
        LogEntry& entry = page.entries.emplace_back();
        entry.seq = u64(row[0]);
        entry.collection = text_of_bytea(row[1]);
        entry.key = text_of_bytea(row[2]);
        entry.op = row[3].as<int>() == kOpDelete ? ChangeOp::kDelete : ChangeOp::kPut;
        entry.priority = row[4].as<int>();
        entry.body = text_of_bytea(row[5]);
      }
    }
    page.next_after_seq = page.has_more ? last_seq : std::max(after_seq, head);
    return page;
  });
}

Result<SnapshotPage> PostgresServerStore::read_snapshot(const std::string& scope,
                                                        const SnapshotPosition& after,
                                                        uint32_t max_records, uint64_t max_bytes) {
  return pool_->run("read_snapshot", [&](Conn& c) -> Result<SnapshotPage> {
    SnapshotPage page;
    page.next = after;
    ReadTx tx(c.db);
    pqxx::result info = tx.exec_prepared("scope_info", bytes(scope));
    if (info.empty()) return page;
    const int64_t scope_id = info[0][0].as<int64_t>();
    const SnapshotPosition start = after.priority < 0 ? SnapshotPosition{-1, "", ""} : after;
    const int64_t limit = std::max<uint32_t>(max_records, 1);
    pqxx::result sizes = tx.exec_prepared("snapshot_sizes", scope_id, start.priority,
                                          bytes(start.collection), bytes(start.key), limit + 1);
    uint64_t bytes_taken = 0;
    size_t taken = 0;
    SnapshotPosition last = start;
    for (const auto& row : sizes) {
      const uint64_t size = u64(row[3]);
      if (static_cast<int64_t>(taken) >= limit || (taken > 0 && bytes_taken + size > max_bytes)) {
        page.has_more = true;
        break;
      }
      bytes_taken += size;
      last = SnapshotPosition{row[0].as<int>(), text_of_bytea(row[1]), text_of_bytea(row[2])};
      ++taken;
    }
    if (taken == 0) return page;
    pqxx::result rows =
        tx.exec_prepared("snapshot_rows", scope_id, start.priority, bytes(start.collection),
                         bytes(start.key), last.priority, bytes(last.collection), bytes(last.key));
    page.records.reserve(rows.size());
    for (const auto& row : rows) {
      SnapshotRecord& r = page.records.emplace_back();
      r.priority = row[0].as<int>();
      r.record.collection = text_of_bytea(row[1]);
      r.record.key = text_of_bytea(row[2]);
      r.record.version = u64(row[3]);
      r.record.body = text_of_bytea(row[4]);
    }
    page.next = last;
    return page;
  });
}

Result<std::vector<KeyVersion>> PostgresServerStore::read_manifest(
    const std::string& scope, const std::string& after_collection, const std::string& after_key,
    uint32_t max_keys) {
  return pool_->run("read_manifest", [&](Conn& c) -> Result<std::vector<KeyVersion>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r =
        tx.exec_prepared("manifest", bytes(scope), bytes(after_collection), bytes(after_key),
                         static_cast<int64_t>(std::max<uint32_t>(max_keys, 1)));
    std::vector<KeyVersion> keys;
    keys.reserve(r.size());
    for (const auto& row : r) {
      keys.push_back(KeyVersion{text_of_bytea(row[0]), text_of_bytea(row[1]), u64(row[2])});
    }
    return keys;
  });
}

Result<std::vector<ScopedRecord>> PostgresServerStore::scan_collection(
    const std::string& collection, const std::string& after_scope, const std::string& after_key,
    uint32_t max_records) {
  return pool_->run("scan_collection", [&](Conn& c) -> Result<std::vector<ScopedRecord>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r =
        tx.exec_prepared("scan_collection", bytes(collection), bytes(after_scope), bytes(after_key),
                         static_cast<int64_t>(std::max<uint32_t>(max_records, 1)));
    std::vector<ScopedRecord> found;
    found.reserve(r.size());
    for (const auto& row : r) {
      found.push_back(ScopedRecord{
          text_of_bytea(row[0]),
          StoredRecord{collection, text_of_bytea(row[1]), u64(row[2]), text_of_bytea(row[3])}});
    }
    return found;
  });
}

Result<std::optional<StoredRecord>> PostgresServerStore::get(const std::string& scope,
                                                             const std::string& collection,
                                                             const std::string& key) {
  return pool_->run("get", [&](Conn& c) -> Result<std::optional<StoredRecord>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec_prepared("record_get", bytes(scope), bytes(collection), bytes(key));
    if (r.empty()) return std::optional<StoredRecord>();
    return std::optional<StoredRecord>(
        StoredRecord{collection, key, u64(r[0][0]), text_of_bytea(r[0][1])});
  });
}

Result<uint64_t> PostgresServerStore::last_mutation_id(const std::string& client_id) {
  return pool_->run("last_mutation_id", [&](Conn& c) -> Result<uint64_t> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec_prepared("client_get", bytes(client_id));
    return r.empty() ? uint64_t{0} : u64(r[0][0]);
  });
}

Result<std::vector<RecordedOutcome>> PostgresServerStore::rejections(const std::string& client_id,
                                                                     uint64_t after_id,
                                                                     uint32_t max_count) {
  return pool_->run("rejections", [&](Conn& c) -> Result<std::vector<RecordedOutcome>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec_prepared("rejections", bytes(client_id), i64(after_id),
                                      static_cast<int64_t>(max_count));
    std::vector<RecordedOutcome> out;
    for (const auto& row : r) {
      out.push_back(
          RecordedOutcome{u64(row[0]), false, text_of_bytea(row[1]), text_of_bytea(row[2])});
    }
    return out;
  });
}

Result<std::vector<StoredPrint>> PostgresServerStore::mutation_prints(const std::string& client_id,
                                                                      uint64_t after_id,
                                                                      uint64_t through_id) {
  return pool_->run("mutation_prints", [&](Conn& c) -> Result<std::vector<StoredPrint>> {
    pqxx::nontransaction tx(c.db);
    pqxx::result r = tx.exec_prepared("prints", bytes(client_id), i64(after_id), i64(through_id));
    std::vector<StoredPrint> out;
    for (const auto& row : r) {
      out.push_back(StoredPrint{u64(row[0]), static_cast<uint64_t>(row[1].as<int64_t>())});
    }
    return out;
  });
}

Status PostgresServerStore::compact(const std::string& scope, uint64_t horizon_seq) {
  // 1. Superseded entries, in batches, each a transaction holding the scope's row lock
  // (so two processes compacting one scope take turns; writers wait one batch at most).
  for (bool done = false; !done;) {
    OUTPOST_RETURN_IF_ERROR(pool_->run("compact", [&](Conn& c) -> Status {
      pqxx::work tx(c.db);
      pqxx::result state = tx.exec_params(
          "SELECT id, compacted_seq FROM outpost_scopes WHERE scope = $1 FOR UPDATE", bytes(scope));
      if (state.empty()) {
        done = true;
        return Status::Ok();
      }
      const int64_t id = state[0][0].as<int64_t>();
      const int64_t compacted = state[0][1].as<int64_t>();
      pqxx::row batch = tx.exec_params1(
          "SELECT count(*), coalesce(max(seq), 0) FROM (SELECT seq FROM outpost_changes WHERE "
          "scope_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) b",
          id, compacted, static_cast<int64_t>(kCompactBatch));
      const int64_t count = batch[0].as<int64_t>();
      const int64_t batch_end = batch[1].as<int64_t>();
      if (count > 0) {
        // Each entry in the batch supersedes the entry of its key before it: the one it
        // names (prev_seq, any seq, compacted or not), or for a put of a key that had no
        // record, the key's older tombstones. One statement, one snapshot: an entry that
        // is itself superseded in the batch still names its own predecessor (decision 054).
        tx.exec_params0(
            "WITH batch AS (SELECT collection, key, seq, op, prev_seq FROM outpost_changes "
            "WHERE scope_id = $1 AND seq > $2 AND seq <= $3), gone AS (SELECT prev_seq AS seq "
            "FROM batch WHERE prev_seq IS NOT NULL UNION SELECT t.seq FROM batch b JOIN "
            "outpost_changes t ON t.scope_id = $1 AND t.op = 2 AND t.collection = b.collection "
            "AND t.key = b.key AND t.seq < b.seq WHERE b.prev_seq IS NULL AND b.op = 1) DELETE "
            "FROM outpost_changes c USING gone WHERE c.scope_id = $1 AND c.seq = gone.seq",
            id, compacted, batch_end);
        tx.exec_params0("UPDATE outpost_scopes SET compacted_seq = $2 WHERE id = $1", id,
                        batch_end);
      }
      tx.commit();
      done = count < static_cast<int64_t>(kCompactBatch);
      return Status::Ok();
    }));
  }
  // 2. Tombstones up to the new horizon, in the transaction that raises it.
  return pool_->run("compact", [&](Conn& c) -> Status {
    pqxx::work tx(c.db);
    pqxx::result state = tx.exec_params(
        "SELECT id, head_seq, horizon_seq FROM outpost_scopes WHERE scope = $1 FOR UPDATE",
        bytes(scope));
    if (state.empty()) return Status::Ok();
    const int64_t id = state[0][0].as<int64_t>();
    const uint64_t head = u64(state[0][1]);
    const uint64_t old_horizon = u64(state[0][2]);
    const uint64_t horizon = std::max(old_horizon, std::min(horizon_seq, head));
    if (horizon == old_horizon) return Status::Ok();
    tx.exec_params0(
        "DELETE FROM outpost_changes WHERE scope_id = $1 AND seq > $2 AND seq <= $3 AND op = $4",
        id, i64(old_horizon), i64(horizon), kOpDelete);
    tx.exec_params0("UPDATE outpost_scopes SET horizon_seq = $2 WHERE id = $1", id, i64(horizon));
    tx.commit();
    return Status::Ok();
  });
}

}  // namespace outpost
