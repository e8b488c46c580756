// The server's durable state behind one interface: records, the per-scope change log,
// client mutation ids and recorded rejections. adapters/ implements it on SQLite (the
// embedded default) and PostgreSQL. The server core (engine/) only talks to this.
//
// Thread rules: a ServerStore is shared by all server threads and is safe to call
// concurrently; a ServerWriteTx belongs to the thread that began it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost {

enum class ChangeOp { kPut = 1, kDelete = 2 };

// One record version as stored on the server.
struct StoredRecord {
  std::string collection;
  std::string key;
  uint64_t version = 0;  // the scope seq that wrote it
  std::string body;      // serialized record message
};

// One entry of a scope's change log.
struct LogEntry {
  uint64_t seq = 0;
  std::string collection;
  std::string key;
  ChangeOp op = ChangeOp::kPut;
  int priority = 0;
  std::string body;  // empty for deletes
};

struct LogPage {
  std::vector<LogEntry> entries;
  uint64_t next_after_seq = 0;  // pass as after_seq to continue
  bool has_more = false;
};

struct ScopeInfo {
  uint64_t head_seq = 0;     // newest seq written in the scope (0: nothing yet)
  uint64_t horizon_seq = 0;  // cursors below this must reset: tombstones up to it are gone
  uint64_t record_count = 0;
  uint64_t record_bytes = 0;
};

// Position in a scope's snapshot order (priority, collection, key).
struct SnapshotPosition {
  int priority = -1;  // -1: from the start
  std::string collection;
  std::string key;
  bool operator==(const SnapshotPosition&) const = default;
};

struct SnapshotRecord {
  StoredRecord record;
  int priority = 0;
};

struct SnapshotPage {
  std::vector<SnapshotRecord> records;
  SnapshotPosition next;  // continue after this
  bool has_more = false;
};

struct KeyVersion {
  std::string collection;
  std::string key;
  uint64_t version = 0;
};

// A record with the scope it lives in (scan_collection).
struct ScopedRecord {
  std::string scope;
  StoredRecord record;
};

// A mutation outcome the server recorded for a client.
struct RecordedOutcome {
  uint64_t mutation_id = 0;
  bool applied = false;
  std::string code;    // error code name when rejected
  std::string reason;  // when rejected
  uint64_t print = 0;  // the mutation's fingerprint (engine/mutation_print.h); 0: none
};

// The fingerprint the server recorded for one processed mutation id of a client.
struct StoredPrint {
  uint64_t mutation_id = 0;
  uint64_t print = 0;
};

// Scopes whose head moved in one committed transaction (for pokes).
struct CommittedHead {
  std::string scope;
  uint64_t head_seq = 0;
  // The head before this commit, when the committing store knows it (its own commits):
  // the commit's changes are exactly the seqs in (base_seq, head_seq]. Unset for heads
  // heard from other processes and for re-read heads.
  std::optional<uint64_t> base_seq;
};

// One write transaction. Destroying it without commit() rolls everything back.
class ServerWriteTx {
 public:
  virtual ~ServerWriteTx() = default;

  virtual Result<std::optional<StoredRecord>> get(const std::string& scope,
                                                  const std::string& collection,
                                                  const std::string& key) = 0;
  // Writes the record and appends a log entry; returns the new version (= its seq).
  virtual Result<uint64_t> put(const std::string& scope, const std::string& collection,
                               const std::string& key, int priority, const std::string& body) = 0;
  // Deletes the record (no-op if absent, returning 0) and appends a tombstone.
  virtual Result<uint64_t> remove(const std::string& scope, const std::string& collection,
                                  const std::string& key, int priority) = 0;

  // Client mutation bookkeeping, written in the same transaction as the effects.
  // ServerCore::push reads last_mutation_id inside its transaction before applying; a
  // store shared by several server processes locks the client there until commit, so a
  // concurrent push of the same mutations waits and then sees them done.
  virtual Result<uint64_t> last_mutation_id(const std::string& client_id) = 0;
  virtual Status record_outcome(const std::string& client_id, const RecordedOutcome& outcome) = 0;

  // Scope locks. A store whose writers of different scopes run at once (PostgreSQL) locks a
  // scope on its first write and holds it to commit, and takes scope locks in one fixed
  // order: descending scope name (so "user/..." before "org/..."). A transaction that
  // needs a scope out of that order does not wait for it: it gets kUnavailable at once
  // if another holds it (retryable; nothing is kept), so two transactions can never wait
  // for each other. lock_scopes takes the named scopes now (creating them, empty, if new),
  // in that order, for a transaction that will write them in another (ServerCore declares
  // the caller's user scope, so its org scope always comes after). A store with one writer
  // (SQLite) has nothing to order: the default does nothing.
  virtual Status lock_scopes(const std::vector<std::string>& scopes) {
    (void)scopes;
    return Status::Ok();
  }

  // A nested rollback point: the server applies each mutation of a push inside one, so a
  // rejected mutation leaves no effect while the whole push commits (and syncs) once.
  // One level deep: savepoint(), then exactly one of release_savepoint() or
  // rollback_to_savepoint().
  virtual Status savepoint() = 0;
  virtual Status release_savepoint() = 0;
  virtual Status rollback_to_savepoint() = 0;

  // Makes everything durable atomically; returns the scopes whose head moved.
  virtual Result<std::vector<CommittedHead>> commit() = 0;
};

class ServerStore {
 public:
  virtual ~ServerStore() = default;

  // Begins a write transaction. Writers of one scope take turns (SQLite: all writers of
  // the store); seqs are only visible once committed, in seq order.
  virtual Result<std::unique_ptr<ServerWriteTx>> begin_write() = 0;

  virtual Result<ScopeInfo> scope_info(const std::string& scope) = 0;
  // Every scope ever written, in name order (blob garbage collection reads them all).
  virtual Result<std::vector<std::string>> list_scopes() = 0;
  // Log entries with seq > after_seq in seq order, bounded by count and bytes (at least
  // one entry is returned if any exists). max_priority >= 0 keeps only entries with
  // priority <= max_priority (the urgent preview); -1 keeps all.
  virtual Result<LogPage> read_log(const std::string& scope, uint64_t after_seq,
                                   uint32_t max_entries, uint64_t max_bytes, int max_priority) = 0;
  // The scope's current records in (priority, collection, key) order, after `after`.
  virtual Result<SnapshotPage> read_snapshot(const std::string& scope,
                                             const SnapshotPosition& after, uint32_t max_records,
                                             uint64_t max_bytes) = 0;
  // The scope's current keys and versions in (collection, key) order, after (collection,key).
  virtual Result<std::vector<KeyVersion>> read_manifest(const std::string& scope,
                                                        const std::string& after_collection,
                                                        const std::string& after_key,
                                                        uint32_t max_keys) = 0;
  virtual Result<std::optional<StoredRecord>> get(const std::string& scope,
                                                  const std::string& collection,
                                                  const std::string& key) = 0;

  // The current records of one collection across every scope, in (scope, key) order after
  // (after_scope, after_key), at most max_records (at least 1). A scan for start-up (the push
  // thread reads every push_target), never for a request path.
  virtual Result<std::vector<ScopedRecord>> scan_collection(const std::string& collection,
                                                            const std::string& after_scope,
                                                            const std::string& after_key,
                                                            uint32_t max_records) = 0;

  virtual Result<uint64_t> last_mutation_id(const std::string& client_id) = 0;
  // The prints recorded for the client's mutation ids in (after_id, through_id], oldest
  // first. A store keeps those of each client's newest kMutationPrintWindow ids.
  virtual Result<std::vector<StoredPrint>> mutation_prints(const std::string& client_id,
                                                           uint64_t after_id,
                                                           uint64_t through_id) = 0;
  // Rejections recorded for the client with mutation id > after_id, oldest first.
  virtual Result<std::vector<RecordedOutcome>> rejections(const std::string& client_id,
                                                          uint64_t after_id,
                                                          uint32_t max_count) = 0;

  // Compaction: drops log entries superseded by a later entry for the same key, and
  // tombstones with seq <= horizon_seq; the scope's horizon becomes horizon_seq (clamped
  // to the head). Cursors older than the horizon then get a reset.
  virtual Status compact(const std::string& scope, uint64_t horizon_seq) = 0;
};

}  // namespace outpost
