// The device's local replica: one SQLite file (WAL) holding a table per collection that
// the app's UI reads directly, the outbox of pending mutations, the server's version of
// rows that pending mutations changed (for rebase), and the sync cursors.
//
// Writes: mutate() runs a registered local mutator and appends it to the outbox in ONE
// transaction — once it returns, the change survives an app kill. apply() brings server
// changes in, moves cursors in the same transaction, confirms or rejects mutations and
// rebases the still-pending ones on top of the new server state.
//
// Thread rules: a Replica is owned by one thread at a time (distinct objects: safe; shared
// object: unsafe). For reads on another thread (the UI), open a second Replica on the same
// file with `read_only = true`: WAL lets it read while the owner writes.
//
// Processes: any number of Replica objects, in any number of processes, may open the same
// file and read, mutate, apply and sync it (an app and its extension, the CLI beside an
// agent). Writers serialize on SQLite's write lock (BEGIN IMMEDIATE, a busy timeout);
// what a Replica keeps in memory is revalidated at the start of every write transaction
// when another connection committed since (PRAGMA data_version). refresh() tells this
// object's subscribers what other connections changed. Decision 007.
#pragma once

#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/change_set.h"
#include "engine/mutation_print.h"
#include "engine/mutator.h"
#include "engine/schema.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

struct ReplicaOptions {
  // Open an existing file for reading only (UI threads, tools). Never creates or migrates.
  bool read_only = false;
  // synchronous=FULL: survive power loss too, not only an app kill (slower saves).
  bool sync_on_commit = false;
  // Identity, recorded on first open and used by mutators (e.g. the agent_state key).
  std::string tenant;
  std::string user;
  // The client id a new file keeps for life (the server applies each (client id, mutation
  // id) once). Required on the first writable open of a file (kInvalidArgument without
  // it); ignored once the file has one. The engine draws no randomness: the caller makes
  // it (transport/client_id.h: new_client_id(), the simulator from its seed, tests).
  std::string client_id;
  // SQLite checkpoints the WAL inside the commit that takes it past this many pages, so
  // that commit pays the copy and the fsync (milliseconds: the p99 of a save). 0: never.
  // SyncAgent moves checkpoints to a thread of its own instead (hand_off_checkpoints).
  int wal_autocheckpoint_pages = 1000;
};

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

struct SqlRows {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

// A typed query on one collection's indexed or plain columns.
struct Condition {
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
  std::string column;
  Op op = Op::kEq;
  SqlValue value;
};

struct Query {
  std::string collection;
  std::vector<Condition> where;  // ANDed
  std::string order_by;          // a column; empty: the collection's default order, else by key
  bool descending = false;
  uint32_t limit = 0;  // 0: no limit
};

struct SearchOptions {
  std::string order_by;  // a column; empty: the collection's default order, else by key
  bool descending = false;
  uint32_t limit = 50;
};

// A mutation waiting in the outbox.
struct PendingMutation {
  uint64_t id = 0;
  std::string name;
  std::string args;  // serialized arguments
  int64_t created_ms = 0;
};

// A mutation the server refused, kept until the app discards it.
struct RejectedMutation {
  uint64_t id = 0;
  std::string name;
  std::string args;
  int64_t created_ms = 0;
  std::string code;
  std::string reason;
};

struct ScopeCursor {
  std::string scope;
  uint64_t seq = 0;
  std::string token;
};

// What apply() did.
struct ApplyReport {
  uint64_t changes_applied = 0;
  uint64_t changes_skipped = 0;  // older than what the device already had
  uint64_t mutations_confirmed = 0;
  std::vector<RejectedMutation> mutations_rejected;
  uint64_t mutations_replayed = 0;  // pending mutations re-run by the rebase
  // apply(response, basis): another connection moved a cursor since the request was
  // built, so nothing was applied (pull again from the stored cursors).
  bool stale = false;
};

// What a pull request was built from, for apply() (SyncClient keeps one per pull in
// flight). Other processes on the file (decision 007) may apply pages and push
// mutations while the request is out.
struct PullBasis {
  // The stored cursors of the request's scopes (absent: seq 0, no token).
  std::vector<ScopeCursor> cursors;
  // The newest outbox id when the request was built (0: the outbox was empty). The
  // answer's last_mutation_id confirms no newer mutation: the request did not name it, so
  // the answer does not carry its rejection.
  uint64_t newest_pending = 0;
};

class Replica {
 public:
  using Listener = std::function<void(const ChangeSet&)>;
  // Runs a task on the thread the app chose (e.g. posts to its main loop).
  using Executor = std::function<void(std::function<void()>)>;

  // Creates or migrates the file. Errors: kSchemaTooNew (file from a newer schema; file
  // untouched), kCorrupt (not an outpost replica or damaged; untouched), kIo (cannot
  // create or write, e.g. a read-only directory), kInvalidArgument.
  static Result<std::unique_ptr<Replica>> open(const std::string& path, const Schema& schema,
                                               const MutatorRegistry* mutators,
                                               ReplicaOptions options = {});
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const std::string& client_id() const { return client_id_; }
  const std::string& tenant() const { return tenant_; }
  const std::string& user() const { return user_; }
  const Schema& schema() const { return schema_; }
  const std::string& path() const { return path_; }
  const MutatorRegistry* mutators() const { return mutators_; }

  // ---------------------------------------------------------------- reads (the UI)
  // nullptr when absent. kNotFound for an unknown collection.
  Result<std::unique_ptr<google::protobuf::Message>> get(const std::string& collection,
                                                         const std::string& key);
  template <typename T>
  Result<std::optional<T>> get(const std::string& key) {
    T typed;
    OUTPOST_ASSIGN_OR_RETURN(bool found, get_into(key, typed));
    if (!found) return std::optional<T>();
    return std::optional<T>(std::move(typed));
  }
  // Reads the record of `out`'s collection type into `out`; false when absent.
  Result<bool> get_into(const std::string& key, google::protobuf::Message& out);
  Result<std::vector<std::unique_ptr<google::protobuf::Message>>> query(const Query& query);
  // Full-text "contains" search over the collection's searchable fields (trigram; the
  // text must have at least 3 characters).
  Result<std::vector<std::unique_ptr<google::protobuf::Message>>> search(
      const std::string& collection, const std::string& text, const SearchOptions& options = {});
  // The stored protobuf bytes of the records get()/query() would parse, unparsed: for
  // callers that hand bytes on (the C API). Errors as get() and query().
  Result<std::optional<std::string>> get_bytes(const std::string& collection,
                                               const std::string& key);
  Result<std::vector<std::string>> query_bytes(const Query& query);
  // Plain read-only SQL over the same tables (c_<collection>, f_<collection>).
  // kReadOnly for a statement that would write; kInvalidArgument for bad SQL.
  Result<SqlRows> sql(const std::string& statement, const std::vector<SqlValue>& params = {});
  Result<uint64_t> count(const std::string& collection);

  // ---------------------------------------------------------------- local writes
  // Runs the named local mutator and appends it to the outbox in one transaction.
  // Returns the mutation id. kNotFound (unknown mutator), kInvalidArgument (wrong args
  // type), kRejected or any error the mutator returns: nothing is changed.
  Result<uint64_t> mutate(const std::string& name, const google::protobuf::Message& args,
                          int64_t now_ms);
  Result<uint64_t> mutate_json(const std::string& name, const std::string& json_args,
                               int64_t now_ms);

  // ---------------------------------------------------------------- sync
  // Pending mutations in id order (at most max_count).
  Result<std::vector<PendingMutation>> pending(size_t max_count = 0);
  // Moves whenever the outbox may have changed as far as this object knows: a commit of
  // this connection that added, confirmed, rejected or renumbered mutations, and any
  // commit of another connection that refresh() noticed. Equal values around a pending()
  // read mean the outbox is as that read found it, unless another connection committed
  // since and refresh() has not run yet (decision 051).
  uint64_t outbox_generation() const { return outbox_generation_; }
  // The highest mutation id a server has reported processed to this replica (0: none),
  // sent with every push (PushRequest.processed_through).
  Result<uint64_t> processed_through();
  Result<std::vector<RejectedMutation>> rejected();
  Status discard_rejected(uint64_t id);
  // Runs a rejected mutation again (the user fixed what was refused): with its stored
  // arguments, or `replacement_args` of the same mutator when the user edited them. The
  // new mutation enters the outbox and the rejected item leaves, in one transaction.
  // Errors as mutate(); kNotFound for an unknown id.
  Result<uint64_t> retry_rejected(uint64_t rejected_id, int64_t now_ms,
                                  const google::protobuf::Message* replacement_args = nullptr);
  Result<std::vector<ScopeCursor>> cursors();
  // The server refused ids from reused.first on as processed for other mutations (this
  // file was restored from an older copy: engine/mutation_print.h): pending mutations with
  // those ids take new ones following reused.last, in order, in one transaction with the
  // outbox's numbering and processed_through, and are replayed. Errors: kInvalidArgument
  // (first 0 or after last, last from 2^62 on), kIo, kCorrupt.
  Result<ApplyReport> renumber_pending(const ReusedIds& reused);

  // Applies a pull response in one transaction: each scope's changes (skipping those not
  // newer than what the device has), its new cursor, rejections, and — when the response
  // is complete (it names every scope the replica follows, and none has more or is a
  // reset) — confirmation of mutations up to last_mutation_id.
  // Then rebases the still-pending mutations.
  // `basis`: what the request was built from. When given, the response is applied only if
  // the stored cursors of its scopes still equal basis->cursors (seq and token, in the
  // same transaction); otherwise another connection (process) applied a page since and
  // the report says `stale`, nothing changed. Pages of one chain then apply in order,
  // once, whichever process fetched them. Confirmation stops at basis->newest_pending.
  Result<ApplyReport> apply(const protocol::PullResponse& response,
                            const PullBasis* basis = nullptr);
  // A commit's changes carried with its poke (decision 032): apply() of a response with
  // this one scope and nothing else, whose basis is the scope's cursor at `base` with no
  // token — without building that response (no copy of the changes, decision 051).
  Result<ApplyReport> apply_carried(const protocol::ScopeChanges& changes, uint64_t base);
  // Reset after compaction (per key, not a wipe): apply() stores the manifest pages of a
  // scope whose response says `reset`; once complete, reset_target() gives the head to
  // jump to, reset_fetch_list() the keys whose local version is older than the server's,
  // and finish_reset() deletes what the server no longer has, moves the cursor to the
  // target and rebases the outbox (which is kept).
  Result<std::optional<uint64_t>> reset_target(const std::string& scope);
  Result<std::vector<protocol::KeyRef>> reset_fetch_list(const std::string& scope,
                                                         size_t max_count);
  Result<ApplyReport> finish_reset(const std::string& scope);
  // Starts `scope` over from scratch when the server refused its cursor or continuation
  // token as not issued by it (a server restored from a backup, a changed cursor key;
  // docs/protocol.md §4). Per key, like a reset, not a wipe: the rows stay visible and the
  // outbox and pending mutations are kept, but every row's server version becomes unknown
  // (0) and the cursor (0, no token), so the next pull is a snapshot whose records replace
  // them whatever their versions. When the snapshot completes (apply() stores a cursor with
  // no token), rows it did not deliver are deleted (their parked server versions become
  // "absent") and the outbox is rebased. Errors: kIo, kCorrupt.
  Result<ApplyReport> restart_scope(const std::string& scope);

  // Applies push outcomes: rejected mutations leave the outbox (their effect is rolled
  // back by the rebase) and join rejected(). Applied ones wait for the pull.
  Result<ApplyReport> apply_push_results(const protocol::PushResponse& response);

  // ---------------------------------------------------------------- notifications
  // Called after each commit that changed something, through `executor` (inline when
  // empty). Returns an id for unsubscribe().
  uint64_t subscribe(Listener listener, Executor executor = nullptr);
  void unsubscribe(uint64_t id);
  // Notices commits made through other connections to the file (other processes) since
  // the last call: returns what they changed (empty when nothing) and tells subscribers.
  // Costs one PRAGMA data_version (a shared-memory read in WAL mode) when nothing
  // changed. Read-only replicas may call it too. Errors: kIo, kCorrupt.
  Result<ChangeSet> refresh();

  // Whether any connection may have committed, without asking SQLite (decision 046): a copy
  // of the WAL-index header in the file's shared memory (-shm), which every commit of every
  // connection and process rewrites. Equal stamps: no commit in between; different ones: a
  // commit (or a WAL restart) since, which refresh() then sorts out.
  struct CommitStamp {
    std::array<uint32_t, 12> words{};
    bool operator==(const CommitStamp&) const = default;
  };
  using CommitStampReader = std::function<CommitStamp()>;
  // Owner thread. The reader reads shared memory only (no lock, no system call) and is
  // safe from any thread for as long as this Replica is open. Empty when the file has no
  // shared WAL index (not in WAL mode, exclusive locking): then only refresh() can tell.
  CommitStampReader commit_stamp_reader();

  // Runs PRAGMA integrity_check; Ok when the file is sound.
  Status check_integrity();
  // Hands WAL checkpoints to another thread: after a commit that leaves `request_pages` or
  // more pages in the WAL, `request` is called on the committing thread (it must only
  // signal, e.g. WalCheckpointer::poke); from `bound_pages` on, the commit checkpoints
  // itself as SQLite would, so the WAL stays bounded if nobody answers. An empty `request`
  // restores SQLite's automatic checkpoint (ReplicaOptions::wal_autocheckpoint_pages).
  // kInvalidArgument unless 0 < request_pages <= bound_pages. Writer thread only.
  Status hand_off_checkpoints(std::function<void()> request, int request_pages, int bound_pages);

  class Impl;
  // What hand_off_checkpoints installed (read by the WAL hook).
  struct CheckpointHandoff {
    std::function<void()> request;
    int request_pages;
    int bound_pages;
  };

 private:
  Replica(std::string path, const Schema& schema, const MutatorRegistry* mutators);
  Result<uint64_t> mutate_internal(const std::string& name, const google::protobuf::Message& args,
                                   int64_t now_ms, uint64_t retry_of);
  void notify(const ChangeSet& changes);

  std::string path_;
  const Schema& schema_;
  const MutatorRegistry* mutators_;
  std::string client_id_;
  std::string tenant_;
  std::string user_;
  int autocheckpoint_pages_ = 1000;
  // Declared before impl_ so the connection that calls it closes first.
  std::unique_ptr<CheckpointHandoff> checkpoint_handoff_;
  std::unique_ptr<Impl> impl_;

  struct Subscriber {
    uint64_t id;
    Listener listener;
    Executor executor;
  };
  std::mutex subscribers_mutex_;
  // Replaced whole by subscribe/unsubscribe, so a commit's notify() takes a reference
  // instead of copying every listener.
  std::shared_ptr<const std::vector<Subscriber>> subscribers_ =
      std::make_shared<const std::vector<Subscriber>>();
  uint64_t next_subscriber_id_ = 1;
  uint64_t outbox_generation_ = 0;  // owner thread (outbox_generation())
};

}  // namespace outpost
