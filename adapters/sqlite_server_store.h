// The embedded default server store: one SQLite file (WAL, synchronous=FULL) holding the
// records, the per-scope change log, client mutation ids and recorded rejections.
// Thread rules: shared by all server threads. Writers (a ServerWriteTx, compact(),
// checkpoint()) take turns on one mutex; a second write from a thread that already holds
// one fails with kFailedPrecondition. Reads use pooled connections and never wait for
// writers. Destroy every ServerWriteTx before its store.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/server_store.h"
#include "engine/status.h"

namespace outpost {

namespace sqlite_detail {
struct WriteConn;
class ReaderPool;
}  // namespace sqlite_detail

// Behaviour beyond engine/server_store.h, which the other adapters should match:
// - Size accounting: a log entry or record costs collection.size() + key.size() +
//   body.size() bytes; read_log/read_snapshot pages and ScopeInfo::record_bytes use it.
// - put/remove: collection must not be empty and priority must be >= 0
//   (kInvalidArgument), so ("", "") and priority -1 always sort before every record.
// - read_log: a cursor 0 < after_seq < horizon_seq fails with kFailedPrecondition (the
//   tombstones it needs are gone: reset from a snapshot). after_seq == 0 never fails: a
//   replica that saw nothing has nothing to delete. When has_more is false,
//   next_after_seq is the scope's head (or after_seq if that is larger), read in the
//   same transaction as the entries, so a caught-up cursor equals the head.
// - record_outcome: advances last_mutation_id; a mutation id <= last_mutation_id fails
//   with kAlreadyExists (nothing written), 0 with kInvalidArgument. Only rejections are
//   kept, the newest kMaxRejectionsPerClient per client.
// - compact: the horizon never moves backwards. Superseded entries are dropped in
//   batches of kCompactBatch, each its own write transaction, so writers interleave.
// - Errors: kCorrupt for a file that is not an outpost store or is damaged; kSchemaTooNew
//   for a newer store format; kIo when the file system refuses (missing or read-only
//   directory, disk full); kUnavailable when another process holds the write lock
//   longer than kBusyTimeoutMs. A write transaction that hit a database error is rolled
//   back at once; every later call on it fails with kFailedPrecondition.
class SqliteServerStore final : public ServerStore {
 public:
  // Store format written in the meta table; a file with a newer one is refused.
  static constexpr int kFormatVersion = 2;
  // SQLite's application_id of an outpost server store ("OPST").
  static constexpr int32_t kApplicationId = 0x4f505354;
  static constexpr uint32_t kMaxRejectionsPerClient = 1000;
  static constexpr int kBusyTimeoutMs = 5000;
  // Read connections kept open between reads; more are opened under load and closed after.
  static constexpr size_t kMaxIdleReaders = 8;
  // Log entries examined per compaction transaction.
  static constexpr uint32_t kCompactBatch = 10000;

  // Opens or creates the store at `path`, creating or migrating its schema. A file that
  // is not an outpost store is refused (kCorrupt) and left untouched, as is one written
  // by a newer format (kSchemaTooNew).
  static Result<std::unique_ptr<SqliteServerStore>> open(const std::string& path);

  ~SqliteServerStore() override;
  SqliteServerStore(const SqliteServerStore&) = delete;
  SqliteServerStore& operator=(const SqliteServerStore&) = delete;

  Result<std::unique_ptr<ServerWriteTx>> begin_write() override;
  Result<ScopeInfo> scope_info(const std::string& scope) override;
  Result<std::vector<std::string>> list_scopes() override;
  Result<LogPage> read_log(const std::string& scope, uint64_t after_seq, uint32_t max_entries,
                           uint64_t max_bytes, int max_priority) override;
  Result<SnapshotPage> read_snapshot(const std::string& scope, const SnapshotPosition& after,
                                     uint32_t max_records, uint64_t max_bytes) override;
  Result<std::vector<ScopedRecord>> scan_collection(const std::string& collection,
                                                    const std::string& after_scope,
                                                    const std::string& after_key,
                                                    uint32_t max_records) override;
  Result<std::vector<KeyVersion>> read_manifest(const std::string& scope,
                                                const std::string& after_collection,
                                                const std::string& after_key,
                                                uint32_t max_keys) override;
  Result<std::optional<StoredRecord>> get(const std::string& scope, const std::string& collection,
                                          const std::string& key) override;
  Result<uint64_t> last_mutation_id(const std::string& client_id) override;
  Result<std::vector<StoredPrint>> mutation_prints(const std::string& client_id, uint64_t after_id,
                                                   uint64_t through_id) override;
  Result<std::vector<RecordedOutcome>> rejections(const std::string& client_id, uint64_t after_id,
                                                  uint32_t max_count) override;
  Status compact(const std::string& scope, uint64_t horizon_seq) override;

  // Copies the WAL into the database file and truncates it. kUnavailable if readers kept
  // it from finishing within kBusyTimeoutMs. SQLite also checkpoints on its own.
  Status checkpoint();

  const std::string& path() const { return path_; }

 private:
  SqliteServerStore(std::string path, std::unique_ptr<sqlite_detail::WriteConn> writer,
                    std::unique_ptr<sqlite_detail::ReaderPool> readers);

  std::string path_;
  std::mutex write_mu_;                           // held by the one active writer
  std::atomic<std::thread::id> writer_thread_{};  // who holds write_mu_, if anyone
  std::unique_ptr<sqlite_detail::WriteConn> writer_;
  std::unique_ptr<sqlite_detail::ReaderPool> readers_;  // declared last: closed first
};

}  // namespace outpost
