// The device's sync runtime: drives the sans-I/O SyncClient over a WebSocket to
// /v1/stream, keeps the device live (pokes), reconnects with backoff + jitter, and answers
// wake() from a push notification and sync_for(budget) from a background task.
//
// Threads: a SyncAgent runs two threads while started.
//   - the loop thread owns a libuv loop, the Replica and the SyncClient: every replica
//     read or write, every SyncClient call and every timer happens there;
//   - the I/O thread runs an asio io_context with the Beast WebSocket (connect, TLS for
//     https/wss, handshake, zstd streaming per direction, reads and writes). It never touches the
//     Replica: it posts decoded ServerFrames to the loop (mutex-guarded queue + uv_async).
//   With background_checkpoints (the default) a third thread, for the agent's lifetime,
//   checkpoints the replica's WAL when its commits ask (transport/wal_checkpointer.h).
// Other processes on the same replica file: the process's commit watch (one thread for all
// agents, sync_agent_commit_watch.h) wakes the loop when the file's commit stamp moves,
// within foreign_commit_poll; the loop pushes their mutations and tells subscribers what
// they changed.
// Thread rules: every public member function is safe from any thread unless it says
// otherwise; callbacks (on_progress, on_state) run on the loop thread and must not block.
// Files: sync_agent.cpp (this facade), sync_agent_loop.h (the loop thread: pump, frames,
// backoff, timers), sync_agent_session.h (the WebSocket on the I/O thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "engine/domain_mutators.h"
#include "engine/mutator.h"
#include "engine/replica.h"
#include "engine/schema.h"
#include "engine/status.h"
#include "engine/sync_client.h"
#include "outpost/protocol.pb.h"
#include "transport/device_blobs.h"    // PrefetchReport
#include "transport/server_address.h"  // ServerAddress, parse_server_url
#include "transport/tls_client.h"      // TlsClientOptions
#include "transport/token_claims.h"    // read_token_claims_unverified
#include "transport/wal_checkpointer.h"

namespace outpost {

enum class AgentState {
  kStopped,
  kConnecting,  // resolving, connecting, WebSocket handshake
  kConnected,   // the stream is open; syncing or live
  kBackoff,     // waiting before the next attempt (wake() cuts it short)
  kFailed,      // a non-retryable error; wake() tries again
};
const char* agent_state_name(AgentState state);

// Counters of one agent since it was created.
struct SyncStats {
  uint64_t connects = 0;             // WebSocket handshakes completed
  uint64_t connection_failures = 0;  // failed attempts, dropped connections, retried errors
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t bytes_sent = 0;      // on the wire (compressed WebSocket payloads)
  uint64_t bytes_received = 0;  // on the wire
  uint64_t changes_received = 0;
  uint64_t mutations_pushed = 0;  // distinct mutation ids sent
  uint64_t pokes = 0;
  // Commits' changes carried with their pokes (decision 032): applied, or refused (a
  // cursor that differs, a request in flight) and pulled instead.
  uint64_t carried_applied = 0;
  uint64_t carried_refused = 0;
};

struct SyncAgentOptions {
  // "http://host:port[/prefix]" (or ws://); "https://…" (or wss://) speaks TLS: the
  // server's certificate and host name are verified (see `tls`) before anything is sent.
  std::string server_url;
  std::string token;  // bearer token; tenant and user are read from it
  std::string replica_path;
  ReplicaOptions replica;  // tenant/user are filled from the token when empty
  // The collections and mutators open() opens the replica with: the Mobile Office domain by
  // default; an app with its own collections passes its own (Schema::from_file of its
  // .proto, its MutatorRegistry). Both must outlive the agent; `schema` must not be null,
  // `mutators` may be (a replica that syncs but cannot mutate). The server's ServerCore
  // must run the same schema and mutators. create() uses the replica's own.
  const Schema* schema = &Schema::domain();
  const MutatorRegistry* mutators = &domain_mutators();

  // Reconnect and retry backoff: full jitter, uniform in [0, min(max, base * 2^n)].
  uint64_t backoff_base_ms = 250;
  uint64_t backoff_max_ms = 30'000;
  // Seed of the jitter (0: random).
  uint64_t random_seed = 0;
  // TCP connect (and resolve) bound; the WebSocket handshake uses
  // limits::kHandshakeTimeoutSeconds.
  std::chrono::milliseconds connect_timeout{5'000};
  // With no traffic for half of this the agent sends a WebSocket ping; with none for all
  // of it the connection is considered dead and reopened. Below limits::kIdleTimeoutSeconds
  // so the server never closes a live device as idle.
  std::chrono::milliseconds idle_timeout{30'000};
  // A request unanswered for this long (while pings still flow) drops the connection.
  std::chrono::milliseconds request_timeout{60'000};
  SyncClientOptions client;
  // For https/wss URLs: what the server's certificate is verified against — the system
  // store by default, or the app's CA certificates (tls.ca_file / tls.ca_pem), or one
  // pinned server certificate (tls.pinned_cert_file / tls.pinned_cert_pem). A certificate
  // that fails is kFailedPrecondition, the message led by "TLS: untrusted server" (state
  // kFailed; nothing was sent; wake() tries again). Ignored for http/ws.
  TlsClientOptions tls;
  // Urgent records first when pulling (a woken app with little time).
  bool urgent_first = false;
  // Offer stream format 2 in the upgrade (each message its own zstd frame, decision 039;
  // used when the server answers it, format 1 otherwise). false: format 1 only, what every
  // device did before (the benchmark's baseline).
  bool offer_message_format = true;
  // Checkpoint the replica's WAL from a thread of the agent's own (transport/
  // wal_checkpointer.h) for as long as the agent exists, so no commit — a draft save the UI
  // waits for — pays the checkpoint's copy and fsync. false: SQLite's automatic checkpoint
  // inside commits (ReplicaOptions::wal_autocheckpoint_pages).
  bool background_checkpoints = true;
  // Other processes may write the replica file too (an app extension, the CLI): within
  // this bound (plus a wake-up of the loop) the agent notices another connection's commit,
  // pushes its mutations and tells subscribers the keys it changed. 0: never. Decision 007.
  std::chrono::milliseconds foreign_commit_poll{50};
  // How (decision 046): true: the process's one watch thread (sync_agent_commit_watch.h)
  // compares the replica's commit stamp in shared memory every foreign_commit_poll and
  // wakes this loop only when it moved (its own commits are accounted for after each batch
  // of frames). false, or a file without a shared WAL index: the loop's own timer asks
  // Replica::refresh() (a PRAGMA data_version) every foreign_commit_poll, as every agent did
  // before (the benchmark's baseline devices).
  bool foreign_commit_watch = true;

  // Blobs (transport/device_blobs.h). With prefetch_voicemail_audio, sync_for() spends the
  // budget left once the records are up to date on the audio of unheard voicemail of today
  // and the last 24 hours, newest first
  // (for unmetered networks; off by default: audio is then fetched when played). The
  // records never wait for blobs.
  bool prefetch_voicemail_audio = false;
  // The device's blob cache; empty: replica_path + ".blobs".
  std::string blob_cache_dir;
  uint64_t blob_cache_bytes = kDefaultBlobCacheBytes;

  // Loop thread, after each applied response or phase change.
  std::function<void(const SyncProgress&)> on_progress;
  // Loop thread, on each state change; `status` says why (the error for kBackoff/kFailed)
  // and `delay_ms` is the backoff wait.
  std::function<void(AgentState, const Status& status, uint64_t delay_ms)> on_state;
  // Loop thread, when the server refuses the token the connection used (kUnauthenticated:
  // expired, revoked; at the upgrade or mid-stream) and the app may have a newer one. The
  // app calls set_token() — inside the callback (it may) or later from any thread, once its
  // login answered: the agent then reconnects with it at once and sync resumes where it
  // was (the outbox is on disk; a request in flight is sent again). Until then the agent
  // waits in kFailed; sync_for() keeps waiting (its budget, max_consecutive_failures).
  // A second refusal in a row waits a backoff delay first, so a login that keeps handing
  // out bad tokens cannot spin. Empty: a refused token is fatal until set_token() + wake().
  std::function<void(const Status& why)> on_token_expired;
};

struct SyncForOptions {
  // Give up (return the last error) after this many consecutive failed connection
  // attempts or retryable errors; 0: keep trying until the budget ends.
  uint32_t max_consecutive_failures = 0;
};

// What sync_for() achieved.
struct SyncSummary {
  Status status;  // Ok when caught up; kCancelled when the budget ran out first
  bool caught_up = false;
  bool budget_exhausted = false;
  SyncProgress progress;
  SyncStats stats;          // deltas over this call
  PrefetchReport prefetch;  // prefetch_voicemail_audio: the audio fetched after the records
  std::chrono::milliseconds elapsed{0};
};

class SyncAgent {
 public:
  // Opens (creates) the replica at options.replica_path with the identity from the token
  // and options.schema / options.mutators.
  // Errors: kInvalidArgument without a schema; those of read_token_claims_unverified,
  // parse_server_url, TlsClientContext::create (an unreadable CA or pinned certificate,
  // for https/wss) and Replica::open.
  static Result<std::unique_ptr<SyncAgent>> open(SyncAgentOptions options);
  // Takes over an already open replica (its tenant/user must match the token's scopes).
  static Result<std::unique_ptr<SyncAgent>> create(SyncAgentOptions options,
                                                   std::unique_ptr<Replica> replica);
  ~SyncAgent();  // stop()s
  SyncAgent(const SyncAgent&) = delete;
  SyncAgent& operator=(const SyncAgent&) = delete;

  // Starts the loop and I/O threads and connects. kFailedPrecondition when already
  // running; kInternal when libuv cannot set up its handles.
  Status start();
  // Closes the socket, stops both threads and joins them. The replica stays open and
  // consistent (every applied batch is one transaction). Idempotent. Not from a callback.
  void stop();
  bool running() const;

  // Sync now: cancels a backoff wait (or a failure) and pulls. Any thread, any time;
  // a no-op when stopped. `reason` is only reported.
  void wake(std::string_view reason = "wake");
  void set_urgent_first(bool urgent);
  // Replaces the bearer token (a refreshed one) for the next connection; wake() to
  // reconnect at once after a kUnauthenticated failure (with on_token_expired set, an agent
  // waiting for credentials reconnects by itself). The tenant and user must not
  // change: kFailedPrecondition (the replica belongs to one user), kUnauthenticated for a
  // malformed token. Any thread.
  Status set_token(std::string token);

  // From the caller's thread (not the loop thread): runs until the device is up to date
  // (its outbox pushed and confirmed or rejected, every scope pulled to the head seen) or
  // `budget` elapses, then returns. Starts the agent if it is stopped, and stops it again
  // before returning in that case. From the loop thread: kFailedPrecondition at once.
  SyncSummary sync_for(std::chrono::milliseconds budget, SyncForOptions options = {});

  SyncProgress progress() const;
  SyncStats stats() const;
  AgentState state() const;
  Status last_error() const;

  // Change notifications: see Replica::subscribe. The listener runs through `executor`
  // (inline on the loop thread when empty). Any thread.
  uint64_t subscribe(Replica::Listener listener, Replica::Executor executor = nullptr);
  void unsubscribe(uint64_t id);
  // An executor that runs tasks on the loop thread, where replica() may be used. Tasks
  // given to it while the agent is stopped are dropped.
  Replica::Executor loop_executor();

  // Runs `task` on the loop thread (asynchronously) and then syncs: use it for mutate()
  // so the mutation is pushed at once. kFailedPrecondition when stopped.
  Status post(std::function<void(Replica&)> task);
  // Runs `task` with the replica and waits for it: on the loop thread while running,
  // inline when stopped or when called from the loop thread.
  Status with_replica(const std::function<void(Replica&)>& task);

  // The replica, for the loop thread (or any thread while stopped) only.
  Replica& replica() { return *replica_; }

  // Blobs (transport/device_blobs.h), blocking: call from a worker thread, never the loop
  // thread or a callback. The verified audio file of a voicemail: the blob cache's copy
  // (offline too), else downloaded (resuming a partial) with the agent's server, token and
  // TLS trust, `progress` called on this thread (false cancels). Errors: kNotFound (no such
  // voicemail, or no audio), kUnavailable (offline and not cached: retry), kCorrupt,
  // kCancelled, the server's (kPermissionDenied...).
  Result<std::string> voicemail_audio(const std::string& voicemail_id,
                                      const BlobProgress& progress = {});
  // What sync_for() does after the records with prefetch_voicemail_audio: the audio of
  // new unheard voicemail, newest first, until `deadline`; then the cache is evicted down
  // to its cap (today's unheard voicemail pinned). The caller's thread, as above.
  PrefetchReport prefetch_voicemail_audio(std::chrono::steady_clock::time_point deadline);
  // The same in two steps, for a caller that reads the replica itself (the C API):
  // plan_prefetch(replica) (device_blobs.h), then this.
  PrefetchReport prefetch_planned(const PrefetchPlan& plan,
                                  std::chrono::steady_clock::time_point deadline);
  // A verified blob by hash, naming the record that references it: the cache's copy, else
  // downloaded. Errors as voicemail_audio.
  Result<std::string> fetch_blob(const BlobHash& hash, const BlobRecordRef& ref,
                                 const BlobProgress& progress = {});
  // What a BlobClient for this agent's server needs (URL, current token, TLS context).
  BlobClientOptions blob_client_options() const;

  class Loop;  // implementation detail (sync_agent_loop.h)

 private:
  SyncAgent(SyncAgentOptions options, ServerAddress address, std::unique_ptr<Replica> replica);
  bool post_task(std::function<void(Loop&)> task);
  Result<std::unique_ptr<BlobCache>> open_blob_cache() const;
  std::shared_ptr<Loop> current_loop() const;
  std::string current_token() const;
  uint64_t token_generation() const;

  SyncAgentOptions options_;
  ServerAddress address_;
  std::shared_ptr<TlsClientContext> tls_;  // https/wss only; shared with the sessions
  // Declared before the replica, whose commits poke it, so that it outlives them.
  std::unique_ptr<WalCheckpointer> checkpointer_;  // background_checkpoints
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<SyncClient> client_;

  // start() and stop() hold lifecycle_mutex_ (stop() while joining the threads, so code on
  // the loop thread never takes it); loop_mutex_ only guards the loop_ pointer.
  std::mutex lifecycle_mutex_;
  mutable std::mutex loop_mutex_;
  std::shared_ptr<Loop> loop_;

  // Shared with the threads; guarded by state_mutex_.
  mutable std::mutex token_mutex_;
  std::string token_;              // guarded by token_mutex_; options_.token is the first one
  uint64_t token_generation_ = 0;  // guarded by token_mutex_; +1 per set_token()

  mutable std::mutex state_mutex_;
  std::condition_variable state_changed_;
  SyncProgress progress_;
  SyncStats stats_;
  AgentState state_ = AgentState::kStopped;
  Status last_error_;
  Status fatal_;
  uint32_t consecutive_failures_ = 0;
  uint64_t failures_total_ = 0;
  uint64_t sync_ticket_requested_ = 0;
  uint64_t sync_ticket_served_ = 0;
};

}  // namespace outpost
