// Internal to the replica's .cpp files (replica_*.cpp), never included elsewhere: the
// connection and its bookkeeping (`Replica::Impl`, a RecordAccess for local mutators), the
// apply/rebase steps run inside one transaction (`ApplyRun`), and small shared helpers.
// Which file holds what: docs/architecture.md ("engine/").
// Thread rules: as Replica (one owner thread at a time).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/change_set.h"
#include "engine/collection_table.h"
#include "engine/mutator.h"
#include "engine/replica.h"
#include "engine/schema.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// The connection, the per-collection tables and the rebase bookkeeping.
class Replica::Impl : public RecordAccess {
 public:
  Impl(SQLite::Database db, const Schema& schema) : db(std::move(db)), schema(schema) {}

  SQLite::Database db;
  const Schema& schema;
  std::map<std::string, std::unique_ptr<CollectionTable>, std::less<>> tables;
  // (collection, key) of rows whose server version is parked in _shadow.
  std::set<std::pair<std::string, std::string>> shadowed;
  // Shadow entries added in the current (sub)transaction, undone if it rolls back.
  std::vector<std::pair<std::string, std::string>> shadow_added;
  ChangeSet pending_changes;
  // ApplyRun::apply_change's parse target per collection, reused across records and runs
  // (parsing into it keeps its strings' buffers: no allocation per delivered change).
  std::map<const Collection*, std::unique_ptr<google::protobuf::Message>> scratch_records;

  CollectionTable& table(const Collection& collection) { return *tables.at(collection.name); }
  // Whether any table's search index waits for a snapshot's end (decision 029).
  bool any_search_deferred() const {
    for (const auto& [name, table] : tables) {
      if (table->search_deferred()) return true;
    }
    return false;
  }

  // A prepared statement for `sql`, kept for the connection's life, reset and unbound.
  // Callers reset it again after reading so no read transaction stays open. `sql` is a
  // string literal: it is found by its address (no compare of the text per call,
  // decision 051), so it must stay alive and unchanged for the connection's life — taken as
  // an array, so a `std::string`'s `c_str()` (whose address a later string may reuse for
  // other text) does not compile.
  template <size_t N>
  SQLite::Statement& cached(const char (&sql)[N]) {
    return cached_by_address(sql);
  }
  SQLite::Statement& cached_by_address(const char* sql);
  std::map<std::string, std::unique_ptr<SQLite::Statement>, std::less<>> statements;
  std::unordered_map<const char*, SQLite::Statement*> statements_by_address;
  // The statement for `sql` (prepared on first use), found by its text; not reset.
  SQLite::Statement& prepared(const std::string& sql);

  // The statement of a query or search: cached like the others (a UI runs the same few
  // queries over and over; preparing one costs as much as reading a page of results), up
  // to kMaxCachedStatements distinct ones; past that, prepared into `once` for this call.
  SQLite::Statement& cached_or_once(const std::string& sql, std::optional<SQLite::Statement>& once);
  static constexpr size_t kMaxCachedStatements = 256;

  // Bulk-indexes the rows written in this transaction; call right before committing.
  void flush_search();
  void discard_search();
  std::map<std::string, std::unordered_set<int64_t>> save_search() const;
  void restore_search(std::map<std::string, std::unordered_set<int64_t>> saved);

  void forget_shadow_added();

  // Search indexes deferred while a snapshot loads (decision 029): one `_meta` row
  // `search_deferred:<collection>` per collection whose index waits for the rebuild.
  static std::string search_deferred_meta(const Collection& collection);
  // Sets each table's deferral from the file: at open, after another connection committed
  // (revalidate) and after a rolled-back transaction.
  void load_search_deferral();
  // Whether the file says `collection`'s index is deferred (any connection may have set it).
  bool search_deferred_in_file(const Collection& collection);

  // ------------------------------------------------ other connections (decision 007)
  // PRAGMA data_version: changes exactly when another connection (another process, or
  // another Replica in this one) committed to the file since this one last looked.
  int64_t data_version();
  void load_shadow();
  // First thing in every write transaction (the write lock held, so nobody commits until
  // ours ends): another connection's commit may have parked or restored rows, so the
  // in-memory shadow set is reloaded. Everything else is read from the file each time.
  void revalidate();
  // Appends this transaction's changes to `_journal` for other connections and drops the
  // rows past kJournalKeep. Inside the transaction, right before committing.
  void journal(const ChangeSet& changes);

  // ------------------------------------------------ own commits (decision 051)
  // The WAL-index header in the -shm mapping (decision 046's commit stamp), once
  // map_wal_index_header() found it; null without a shared WAL index.
  const volatile uint32_t* wal_index_header = nullptr;
  bool wal_index_header_looked = false;  // refresh() asked map_wal_index_header() once
  // Looks for the header until found (the connection must have read in WAL mode first).
  const volatile uint32_t* map_wal_index_header();
  // data_version as revalidate() read it in the current write transaction (-1: not read).
  int64_t tx_data_version = -1;
  // The commit stamp right after this connection's last commit, when that commit was the
  // only one since everything refresh() had accounted for (WriteTransaction::commit): while
  // the file's stamp still equals it, refresh() has nothing to read.
  std::optional<Replica::CommitStamp> own_commit_stamp;
  int64_t own_journal_seq = 0;  // the `_journal` row of this connection's last commit
  int64_t tx_journal_seq = 0;   // the row journal() wrote in the current write transaction

  // No scope of the file waits for a restart's snapshot (`_reset.complete` 2), as far as
  // this connection knows: set by ApplyRun::finish_restart after asking, cleared by a
  // restart, a rolled-back transaction and another connection's commit (revalidate).
  bool no_restart_known = false;

  int64_t cache_version = -1;     // data_version when `shadowed` was loaded
  int64_t notified_version = -1;  // data_version when refresh() last read the journal
  int64_t journal_seen = 0;       // newest `_journal` seq refresh() has accounted for
  bool has_journal = false;       // false for a read-only open of a file from before it
  std::string origin;             // this connection's tag on its `_journal` rows

  // Parks the server's version of a row before a local mutation first touches it.
  void capture_shadow(const Collection& collection, const std::string& key);
  uint64_t shadow_version(const Collection& collection, const std::string& key);

  // RecordAccess for local mutators: writes go to the UI table, the server's version of
  // each touched row is parked first.
  Result<std::unique_ptr<google::protobuf::Message>> get(const Collection& collection,
                                                         const std::string& key) override;
  Status put(const google::protobuf::Message& record) override;
  Status remove(const Collection& collection, const std::string& key) override;
};

namespace replica_internal {

// Mutation ids (decision 065; the server dedups by them, decision 042, so one is never
// issued twice): `_outbox` has no AUTOINCREMENT, and `_meta.mutation_ids_issued` remembers
// the newest id issued once the outbox may no longer hold it. Invariant: every id this file
// ever issued is at most max(the outbox's newest id, mutation_ids_issued).
//
// The id of a new mutation, bound in the INSERT into `_outbox`.
inline constexpr char kInsertIntoOutbox[] =
    "INSERT INTO _outbox (id, name, args, created_ms) VALUES (max("
    "coalesce((SELECT max(id) FROM _outbox), 0),"
    " coalesce((SELECT CAST(value AS INTEGER) FROM _meta WHERE name = 'mutation_ids_issued'), 0)"
    ") + 1, ?, ?, ?)";
// Raises mutation_ids_issued to ?1 (never lowers it; writes nothing when it is already
// there, so the page stays clean).
inline constexpr char kRaiseMutationIdsIssued[] =
    "INSERT INTO _meta (name, value) SELECT 'mutation_ids_issued', ?1 WHERE ?1 > 0 "
    "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
    "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)";
// The same to the outbox's newest id at or below ?1: run before a statement deletes outbox
// rows up to ?1, in its transaction.
inline constexpr char kRememberIssuedMutationIds[] =
    "INSERT INTO _meta (name, value) SELECT 'mutation_ids_issued', newest FROM "
    "(SELECT max(id) AS newest FROM _outbox WHERE id <= ?1) WHERE newest IS NOT NULL "
    "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
    "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)";

// A copy of the WAL-index header (Replica::CommitStamp), safe while another connection
// writes it (replica_journal.cpp).
Replica::CommitStamp read_commit_stamp(const volatile uint32_t* header);
// The header's `iChange`: one more per commit, whichever connection made it.
uint32_t commit_count_word(const Replica::CommitStamp& stamp);

// A SQLite error as a Status: kCorrupt, kReadOnly or kIo.
Status from_sqlite(const SQLite::Exception& e, const std::string& context);

// A stored or received body as a record of `collection`; nullptr when it does not parse.
std::unique_ptr<google::protobuf::Message> parse_record(const Collection& collection,
                                                        const std::string& body);

// Whether `collection` belongs to scopes of `scope`'s kind (org or user).
bool collection_in_scope(const Collection& collection, const std::string& scope);

// An IMMEDIATE write transaction whose BEGIN, COMMIT and ROLLBACK are the connection's
// cached statements (SQLite::Transaction prepares each one per call, which was a tenth of
// a carried change's apply). Rolls back unless committed; throws SQLite::Exception.
class WriteTransaction {
 public:
  explicit WriteTransaction(Replica::Impl& impl);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();

 private:
  Replica::Impl& impl_;
  bool open_ = true;
};

// Resets a cached statement when the read ends (however it ends), so that no read
// transaction stays open between calls.
struct ResetOnExit {
  SQLite::Statement& statement;
  ~ResetOnExit() {
    try {
      statement.reset();
    } catch (const SQLite::Exception&) {
      // The statement's last step failed: that error was reported by the step itself.
    }
  }
};

// The apply/rebase steps, run inside one transaction of a Replica::Impl. The apply steps
// and the rebase live in replica_apply.cpp, the reset and restart steps in
// replica_reset.cpp.
class ApplyRun {
 public:
  ApplyRun(Replica::Impl& impl, const Schema& schema, const MutatorRegistry* mutators,
           MutationOrigin origin)
      : impl_(impl), schema_(schema), mutators_(mutators), origin_(std::move(origin)) {}

  ApplyReport report;
  bool outbox_changed = false;

  // One server change: into the UI table if newer, or into `_shadow` for a parked row.
  Status apply_change(const protocol::Change& change);
  // Whether each scope's stored cursor (absent: seq 0, no token) is still `expected`'s.
  bool cursors_still(const std::vector<ScopeCursor>& expected);
  bool cursor_still(const std::string& scope, uint64_t seq, std::string_view token);
  // One scope of a response: its changes, then its cursor (or its manifest page for a
  // reset), the end of a restart or of a deferred search index; `complete` becomes false
  // when the scope has more. `seq_before`: the scope's stored cursor when the caller knows
  // it (read from the file otherwise).
  Status apply_scope(const protocol::ScopeChanges& scope, std::optional<uint64_t> seq_before,
                     bool& complete);
  void set_cursor(const std::string& scope, uint64_t seq, const std::string& token);
  // A page of a reset manifest. The first page of a reset starts it afresh; the last one
  // (no more pages) records the head to jump to once the differing keys are fetched.
  void store_manifest(const protocol::ScopeChanges& scope);
  // A rejected outcome moves its mutation from `_outbox` to `_rejected`.
  void reject(const protocol::MutationResult& result);
  // The highest id a server reported processed, kept for PushRequest.processed_through:
  // a server restored from an older backup takes new ids after it (docs/protocol.md §4).
  void note_processed(uint64_t last_mutation_id);
  void confirm_through(uint64_t last_mutation_id);

  // `_reset.complete` of a scope that restarted from scratch (restart_scope) and waits for
  // its snapshot to complete; 0 and 1 are a compaction reset's manifest states.
  static constexpr int kRestarting = 2;
  // Every row of `scope` loses its server version (0: older than anything the server
  // sends) and the cursor starts over; finish_restart() removes what the snapshot lacked.
  void restart(const std::string& scope);
  // After the restart's snapshot: rows it did not deliver (still version 0) are gone on
  // the server. Rows with pending local changes keep their local state; their parked
  // server version becomes "absent" and the rebase decides.
  void finish_restart(const std::string& scope);

  // A snapshot page of `scope` is about to be applied: the search indexes of its
  // collections stop being kept row by row (recorded in `_meta`, so a kill resumes so).
  void defer_search(const std::string& scope);
  // The snapshot of `scope` is complete: each deferred search index is rebuilt in one pass.
  void finish_deferred_search(const std::string& scope);
  // The same for secondary indexes (decision 060): dropped from `scope`'s empty tables
  // before a snapshot page, created again (those missing) when the snapshot completes —
  // after the rebase (build_pending_indexes), because SQLite's ROLLBACK TO, which the
  // rebase uses, aborts every open cursor once the transaction changed the schema.
  void defer_indexes(const std::string& scope);
  void build_pending_indexes();
  // The seq of `scope`'s stored cursor (0 when it has none).
  uint64_t stored_seq(const std::string& scope);

  // Server versions parked in the shadow changed outside apply_change (a reset).
  void mark_shadow_touched() { touched_shadow_ = true; }
  bool needs_rebase() const;
  // Restores the server's version of every parked row, then re-runs the pending
  // mutations on top, each in a savepoint so a failing one leaves no partial effect.
  Status rebase();

 private:
  // Restores every parked row to the server's version and empties `_shadow`.
  Status restore_shadow();

  Replica::Impl& impl_;
  const Schema& schema_;
  const MutatorRegistry* mutators_;
  MutationOrigin origin_;
  bool touched_shadow_ = false;
  std::vector<std::string> index_scopes_;  // snapshots completed here: their indexes to build
};

// The steps of one transaction, by reference (no copy, no allocation: one per delivered
// change adds up, decision 051). The callable must outlive the call it is passed to.
class StepsRef {
 public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, StepsRef>)
      StepsRef(F&& steps)  // NOLINT: implicit, as std::function's
      : object_(const_cast<void*>(static_cast<const void*>(&steps))),
        call_([](void* object) -> Status {
          return (*static_cast<std::remove_reference_t<F>*>(object))();
        }) {}
  Status operator()() const { return call_(object_); }

 private:
  void* object_;
  Status (*call_)(void*);
};

// Runs `steps` and then the rebase in one IMMEDIATE transaction, indexing what it wrote
// before committing. On any error everything rolls back, in memory too. On success
// impl.pending_changes holds what the transaction changed (also in the journal).
Result<ApplyReport> in_apply_transaction(Replica::Impl& impl, ApplyRun& run, const char* what,
                                         bool cursors_changed, StepsRef steps);

}  // namespace replica_internal
}  // namespace outpost
