// The server store on PostgreSQL, for operators who outgrow one machine: several
// outpost-server processes share one database (tables prefixed outpost_, created and
// migrated on open). Same behaviour as SqliteServerStore (see its header), plus:
// - Per-scope seqs stay gap-free and ordered across processes: a write transaction locks
//   the scope's counter row (SELECT ... FOR UPDATE) on first touch and holds it to commit,
//   so writers of one scope take turns and a reader's snapshot never shows seq n+1
//   without n (docs/decisions/004-postgres-scope-counter-rows.md).
// - Exactly once across processes: ServerWriteTx::last_mutation_id locks the client's row,
//   so the second of two concurrent pushes of one mutation waits and then sees it done.
// - Every commit that moved a head sends NOTIFY outpost_commits inside the transaction
//   (delivered only on commit); PostgresCommitFeed turns them into pokes elsewhere.
// - Errors: a lost or refused connection, a deadlock, a serialization failure, a server
//   shutting down or too many connections are kUnavailable (retryable: nothing of the
//   transaction was written, or it committed and the retry finds its outcome recorded);
//   kSchemaTooNew for tables of a newer store format; kInternal for anything else.
// Thread rules: shared by all server threads. Each ServerWriteTx and each read leases one
// pooled connection (at most max_connections, waiting up to kPoolWaitMs for one).
// Writers of different scopes run in parallel. Destroy every ServerWriteTx before its store.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/server_store.h"
#include "engine/status.h"

namespace outpost {

namespace pg_detail {
class Pool;
}  // namespace pg_detail

struct PostgresStoreOptions {
  // A libpq connection string or URL: postgres://user@host:port/dbname
  std::string url;
  size_t max_connections = 8;
};

class PostgresServerStore final : public ServerStore {
 public:
  // Store format in outpost_meta; tables of a newer one are refused.
  static constexpr int kFormatVersion = 3;
  static constexpr uint32_t kMaxRejectionsPerClient = 1000;
  // How long a caller waits for a pooled connection before kUnavailable.
  static constexpr int kPoolWaitMs = 5000;
  // Log entries examined per compaction transaction.
  static constexpr uint32_t kCompactBatch = 10000;
  // How long a statement waits for a row lock (a scope's or client's) before kUnavailable.
  static constexpr int kLockTimeoutMs = 30000;
  // The NOTIFY channel; payload "<instance>:<base> <head> <hex scope>" (the commit's seqs are
  // (base, head]), or "<instance> *": poke all. Stores before decision 041 sent no ":<base>";
  // they read "<instance>:<base>" as another instance's tag, so they still poke.
  static constexpr const char* kChannel = "outpost_commits";

  // Connects, then creates or migrates the tables under an advisory lock (several
  // processes may open at once). Errors: kUnavailable when PostgreSQL cannot be reached,
  // kSchemaTooNew, kInvalidArgument for an empty URL or max_connections 0.
  static Result<std::unique_ptr<PostgresServerStore>> open(const PostgresStoreOptions& options);

  ~PostgresServerStore() override;
  PostgresServerStore(const PostgresServerStore&) = delete;
  PostgresServerStore& operator=(const PostgresServerStore&) = delete;

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

  // This process's tag in NOTIFY payloads, so its feed can skip its own commits.
  const std::string& instance_id() const { return instance_id_; }
  const std::string& url() const { return url_; }

 private:
  PostgresServerStore(std::string url, std::string instance_id,
                      std::unique_ptr<pg_detail::Pool> pool);

  std::string url_;
  std::string instance_id_;
  std::unique_ptr<pg_detail::Pool> pool_;
};

// True for a libpq connection string that names PostgreSQL (postgres:// or postgresql://).
bool is_postgres_url(const std::string& text);

}  // namespace outpost
