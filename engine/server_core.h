// The server's sync logic over a ServerStore: push (mutations applied in order, exactly
// once per client and mutation id, applied or rejected with a reason), pull (log pages,
// prioritized snapshots for fresh devices, per-key resets behind the compaction horizon,
// urgent previews) and upstream writes. No sockets here: transport/ feeds it decoded
// requests with the caller's verified identity and the current time.
// Thread rules: safe to call from many threads at once (the store serializes writers).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/limits.h"
#include "engine/mutator.h"
#include "engine/schema.h"
#include "engine/scope.h"
#include "engine/server_observer.h"
#include "engine/server_store.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// Who is calling, from a verified token (whose names transport/token.cpp checked with
// is_valid_name) or from an upstream event (checked by ScopeName::user in DomainServer).
struct Principal {
  std::string tenant;
  std::string user;
  std::string device;

  std::string user_scope() const { return ScopeName::format_user(tenant, user); }
  std::string org_scope() const { return ScopeName::format_org(tenant); }
  bool may_read(const std::string& scope) const {
    return scope == user_scope() || scope == org_scope();
  }
};

struct ServerCoreOptions {
  uint32_t default_changes_per_batch = limits::kDefaultChangesPerBatch;
  uint32_t max_changes_per_batch = limits::kMaxChangesPerBatch;
  uint64_t default_batch_bytes = limits::kDefaultBatchBytes;
  uint64_t max_batch_bytes = limits::kMaxBatchBytes;
  uint32_t max_mutations_per_push = limits::kMaxMutationsPerPush;
  uint32_t max_fetch_keys = limits::kMaxFetchKeysPerPull;
};

// Heads that moved in one commit; the transport pokes the devices of these scopes.
using CommitListener = std::function<void(const std::vector<CommittedHead>&)>;

class ServerCore {
 public:
  ServerCore(ServerStore& store, const Schema& schema, const MutatorRegistry& mutators,
             ServerCoreOptions options = {});

  // Applies the request's mutations in order. Mutations already processed for this
  // client are skipped (reported with their recorded outcome). A mutator error rejects
  // that mutation (recorded, sent back) and processing continues; kUnavailable stops the
  // push (retryable). Errors: kInvalidArgument (malformed request, out-of-order ids),
  // kFailedPrecondition (the first new id is not the last processed + 1, or new ids skip
  // one: nothing is applied), kSchemaTooNew (request from a newer schema/protocol),
  // kTooLarge.
  Result<protocol::PushResponse> push(const Principal& who, const protocol::PushRequest& request,
                                      int64_t now_ms);

  // Reads what the device is missing, bounded by count and bytes. Errors:
  // kPermissionDenied (a scope the token does not grant), kInvalidArgument (malformed
  // request, an empty scope name, a cursor token this server did not seal for that scope),
  // kFailedPrecondition (a cursor ahead of the scope's head), kSchemaTooNew.
  Result<protocol::PullResponse> pull(const Principal& who, const protocol::PullRequest& request);

  // The changes of one commit as a pull from its base would answer them for its scope:
  // what travels with the poke to every stream at that base (decision 032). nullopt when
  // they cannot travel — the base is unknown or 0 (a fresh device takes a snapshot), behind
  // the compaction horizon (a reset), or the changes pass `max_changes` / `max_bytes`:
  // those devices pull as before. Errors come from the store.
  Result<std::optional<protocol::ScopeChanges>> carried_changes(const CommittedHead& head,
                                                                uint32_t max_changes,
                                                                uint64_t max_bytes);

  // The scopes a principal reads, in delivery order (user scope first: it holds the
  // urgent records).
  std::vector<std::string> scopes_of(const Principal& who) const;

  // Runs `write` in one store transaction and commits it (upstream platform events,
  // seeding, admin tools). Listeners hear the moved heads.
  Status write(const std::function<Status(ServerWriteTx&)>& write);
  // The same with typed record access for `who`'s scopes, as a server mutator has it (the
  // platform's events mirrored into the store). `now_ms` is the context's clock.
  Status write_as(const Principal& who, int64_t now_ms,
                  const std::function<Status(MutationContext&)>& write);

  // Compacts a scope keeping its newest `keep_recent` log entries uncompacted.
  Status compact(const std::string& scope, uint64_t keep_recent);

  void add_commit_listener(CommitListener listener);
  // The operator's instruments (engine/server_observer.h); set before serving, must outlive
  // the core. nullptr (the default): nobody is told.
  void set_observer(ServerObserver* observer) { observer_ = observer; }
  // The contact-center platform the authoritative mutators forward intents to (set before
  // serving; must outlive the core). nullptr: every intent is accepted.
  void set_platform(Platform* platform) { platform_ = platform; }
  Platform* platform() const { return platform_; }
  // The secret that seals pull continuation tokens (engine/cursor_token.h); set before
  // serving. SyncServer sets one derived from the bearer-token key, so servers sharing a
  // store and a token key accept each other's tokens. Unset: an empty key (tests).
  void set_cursor_key(std::string key) { cursor_key_ = std::move(key); }

  ServerStore& store() { return store_; }
  const Schema& schema() const { return schema_; }

 private:
  void notify(const std::vector<CommittedHead>& heads);
  Result<protocol::PullResponse> pull_unobserved(const Principal& who,
                                                 const protocol::PullRequest& request);
  Result<protocol::PushResponse> push_attempt(const Principal& who,
                                              const protocol::PushRequest& request, int64_t now_ms,
                                              int attempt);
  // pull, one function per mode of docs/protocol.md §4 ("Pull"). The scope modes fill one
  // ScopeChanges each and spend from the budget the scopes of one response share.
  struct PullBudget;
  // The request's cursors, checked (names, grants, duplicates), the user scope first.
  Result<std::vector<const protocol::Cursor*>> pull_cursors(
      const Principal& who, const protocol::PullRequest& request) const;
  // Refuses (kFailedPrecondition, led by mutation_ids_reused) when one of `claimed` (id,
  // print of a device's mutation, ids in order) has an id at or below `last` that this
  // server processed for another mutation: the device's file was restored from an older
  // copy (engine/mutation_print.h). `processed_through`: what the device was told.
  Status check_reused_ids(const std::string& client_key, const std::string& client_id,
                          uint64_t last, uint64_t processed_through,
                          const std::vector<StoredPrint>& claimed);
  // The recorded rejections from `pending_from` on (the push answer may have been lost).
  Status pull_rejections(const std::string& client_key, uint64_t pending_from,
                         protocol::PullResponse& response);
  // A device finishing a reset fetches the keys whose versions differ; answers only that.
  Status pull_fetch(const Principal& who, const protocol::PullRequest& request,
                    protocol::PullResponse& response);
  // One scope: picks the mode for its cursor and fills `out`.
  Status pull_scope(const protocol::Cursor& cursor, bool urgent_first, PullBudget& budget,
                    protocol::ScopeChanges& out);
  Status pull_snapshot(const protocol::CursorToken& token, const ScopeInfo& info,
                       PullBudget& budget, protocol::ScopeChanges& out);
  Status pull_manifest(const protocol::Cursor& cursor, const protocol::CursorToken& token,
                       const ScopeInfo& info, PullBudget& budget, protocol::ScopeChanges& out);
  Status pull_urgent(const protocol::Cursor& cursor, PullBudget& budget,
                     protocol::ScopeChanges& out);
  Status pull_log(const protocol::Cursor& cursor, PullBudget& budget, protocol::ScopeChanges& out);
  // `client_id` as the device sent it; `client_key` the bookkeeping key derived from it.
  Result<protocol::MutationResult> apply_one(const Principal& who, const std::string& client_id,
                                             const std::string& client_key,
                                             const protocol::Mutation& mutation, int64_t now_ms,
                                             ServerWriteTx& tx);

  ServerStore& store_;
  const Schema& schema_;
  const MutatorRegistry& mutators_;
  ServerCoreOptions options_;
  Platform* platform_ = nullptr;
  ServerObserver* observer_ = nullptr;
  std::string cursor_key_;
  std::mutex listeners_mutex_;
  std::vector<CommitListener> listeners_;
};

}  // namespace outpost
