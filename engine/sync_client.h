// The device side of the sync protocol, sans-I/O: it decides what to send next (a push
// of pending mutations, a pull, a reset fetch) and applies what comes back to the
// Replica. transport/ carries the frames over HTTP or a WebSocket and owns the clock.
//
// Flow: push the outbox, pull until caught up (snapshot for a fresh device, log pages
// after, a per-key reset behind the compaction horizon), then stay live: a poke marks
// the device behind and the next pull fetches the change.
// Thread rules: used only on the thread that owns the Replica (the libuv loop thread).
// Other processes may sync the same replica file at the same time (decision 007): each
// pull is applied only if the stored cursors are still those it was built from, and
// everything else is read from the file when needed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/limits.h"
#include "engine/replica.h"
#include "engine/replica_views.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

enum class SyncPhase {
  kIdle,        // up to date, nothing to send
  kPushing,     // sending pending mutations
  kInitial,     // first sync of a scope (prioritized snapshot)
  kCatchingUp,  // following the log
  kResetting,   // behind the compaction horizon: manifest, fetch, delete what is gone
};
const char* sync_phase_name(SyncPhase phase);

struct ScopeProgress {
  std::string scope;
  SyncPhase phase = SyncPhase::kIdle;
  uint64_t cursor = 0;
  uint64_t head = 0;           // newest seq the server reported
  uint64_t records_done = 0;   // records/changes received this session
  uint64_t records_total = 0;  // expected for this phase (0 when unknown)
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
};

struct SyncProgress {
  SyncPhase phase = SyncPhase::kIdle;
  std::vector<ScopeProgress> scopes;
  uint64_t pending_mutations = 0;
  uint64_t mutations_confirmed = 0;  // this session
  uint64_t mutations_rejected = 0;   // this session
};

struct SyncClientOptions {
  uint32_t max_changes_per_pull = limits::kClientChangesPerPull;
  uint64_t max_bytes_per_pull = limits::kClientBytesPerPull;
  uint32_t max_mutations_per_push = limits::kClientMutationsPerPush;
  uint32_t max_fetch_keys = limits::kClientFetchKeysPerPull;
  // Each request carries a DeviceReport (app version, outbox depth, last full sync) for
  // the operator's fleet console (docs/protocol.md §3). false: none is sent.
  bool send_reports = true;
  std::string app_version;  // the app's, as it wants operators to see it (at most 64 bytes)
  // Pulls say `accepts_carried`: a server may send a commit's changes with its poke
  // (ServerFrame.carried, decision 032). false: only plain pokes (as a device predating it).
  bool accept_carried = true;
  // Pulls say `accepts_column_pages` (decision 045): a server may send a page's changes
  // column-wise (ScopeChanges.columns), which the transport must expand before
  // on_pull_response (transport/column_page.h: expand_column_pages; SyncAgent does).
  // Replica::apply refuses a page that was not. false: plain pages (as a device predating it).
  bool accept_column_pages = true;
  // next_request() reads the outbox only when Replica::outbox_generation() moved since a
  // read that found it empty (decision 051): the caller must then call Replica::refresh()
  // (or pump after each local mutation and on its foreign-commit checks), or mutations
  // another connection added wait for the next refresh. false: read it every time.
  bool skip_unchanged_outbox = false;
};

class SyncClient {
 public:
  // The replica must know its tenant and user (ReplicaOptions) to name its scopes. The
  // client sees the replica through its sync view only; the Replica must outlive it.
  SyncClient(ReplicaSync replica, SyncClientOptions options = {});

  // The next frame to send, or nullopt when up to date or a request is in flight (one at a
  // time). Errors come from the replica.
  Result<std::optional<protocol::ClientFrame>> next_request();

  // Pipelining: called with a pull response as it arrives, before it is applied. When the
  // scopes have more to read, returns the next pull (built from the response's cursors)
  // so the transport can send it while this one is applied: the server reads and
  // compresses the next page while the device writes this one. At most two in flight.
  std::optional<protocol::ClientFrame> pipelined_pull(const protocol::PullResponse& response);

  // Applies the answer to the oldest request in flight. A pull response with a scope whose
  // cursor is ahead of its head_seq is refused whole (kInvalidArgument, nothing applied or
  // stored): a device never stores a cursor ahead of what it was shown.
  Status on_push_response(const protocol::PushResponse& response);
  Status on_pull_response(const protocol::PullResponse& response);
  // The request in flight failed (network, server error): it will be sent again.
  void on_request_failed();
  // The server answered the request in flight with `refusal` instead of a response. When
  // it says the cursor or continuation token of one of this device's scopes is not one the
  // server issued (cursor_not_issued, docs/protocol.md §4: a server restored from a backup,
  // a changed cursor key), that scope starts over from scratch (Replica::restart_scope: the
  // outbox and pending mutations stay) and the answer is true: the caller sends the next
  // request after its usual backoff, as for a retryable error. Otherwise false: the refusal
  // stands. When it says ids of pending mutations were processed for other mutations
  // (mutation_ids_reused, engine/mutation_print.h: a file restored from an older copy),
  // those mutations are renumbered (Replica::renumber_pending) and the answer is true.
  // Either way the request in flight is forgotten, as by on_request_failed.
  // Errors come from the replica.
  Result<bool> on_request_refused(const Status& refusal);
  // A new connection: mutations not yet confirmed are pushed again (the server dedups).
  void on_connected();
  // New changes committed on the server.
  void on_poke(const protocol::Poke& poke);
  // A commit's changes carried with its poke (docs/protocol.md §5). Applied like a pull's
  // answer for that scope (Replica::apply, same cursor checks) only when nothing is in
  // flight, the scope is one this device follows and is idle (no snapshot, reset or
  // restart under way), `base` is its cursor (with no token, in memory and in the file)
  // and the frame is a plain log answer that ends within what it says is the head.
  // Otherwise it is refused as a poke: the device is behind and its next request is a
  // pull; nothing is stored. Returns whether it was applied; errors come from the replica.
  Result<bool> on_carried(const protocol::Carried& carried);
  // Ask for urgent records first on the next pull (a woken app with little time).
  void set_urgent_first(bool urgent) { urgent_first_ = urgent; }
  // The wall clock (ms since the epoch) as the transport last read it: stamps the device
  // report's last_sync_ms when a pull completes. Call before next_request().
  void set_clock(int64_t now_ms) { now_ms_ = now_ms; }
  // When the device was last fully caught up (0: not in this session).
  int64_t last_sync_ms() const { return last_sync_ms_; }

  bool up_to_date() const;
  bool request_in_flight() const { return in_flight_ > 0; }
  const SyncProgress& progress() const { return progress_; }
  std::vector<std::string> scopes() const { return scopes_; }

 private:
  // `newest_pending`: the newest outbox id as next_request() read it (0: empty).
  Result<std::optional<protocol::ClientFrame>> next_pull(uint64_t newest_pending);
  // The fetch in flight is lost: its keys become wanted again.
  void forget_lost_fetch();
  // A pull request in `frame` with the device's identity, versions and page bounds.
  protocol::PullRequest* new_pull(protocol::ClientFrame& frame) const;
  // The device report every request carries (when options_.send_reports).
  void fill_report(protocol::DeviceReport* report, uint64_t outbox_depth) const;
  // Records a pull going out: what it was built from (Replica::apply's basis).
  void sent_pull(PullBasis basis);
  // Whether a carried frame may be applied now (on_carried's rules, before the file's).
  bool carried_applies(const protocol::Carried& carried) const;

  ReplicaSync replica_;
  SyncClientOptions options_;
  std::vector<std::string> scopes_;
  int in_flight_ = 0;  // requests sent and not answered (2 while a pull is pipelined)
  bool in_flight_is_fetch_ = false;
  bool pipelined_ = false;  // the second request in flight is a pipelined pull
  bool behind_ = true;
  bool urgent_first_ = false;
  bool pushing_ = false;
  int64_t now_ms_ = 0;
  int64_t last_sync_ms_ = 0;
  uint64_t pushed_through_ = 0;  // highest mutation id sent on this connection
  std::set<std::pair<std::string, std::string>> fetched_;  // reset keys already asked for
  // The reset target (per scope) fetched_ was filled for: another process may finish a
  // reset and start the next one, whose keys were not asked for yet.
  std::map<std::string, uint64_t> fetched_target_;
  std::vector<protocol::KeyRef> last_fetch_;  // the keys of the fetch in flight
  std::deque<PullBasis> pull_bases_;          // per pull in flight, oldest first
  SyncProgress progress_;
  // The outbox generation at the last read that found the outbox empty (with
  // skip_unchanged_outbox); nullopt: read it next time.
  std::optional<uint64_t> outbox_empty_at_;
};

// Exponential backoff with full jitter, sans-I/O: the caller supplies the randomness.
class Backoff {
 public:
  Backoff(uint64_t base_ms, uint64_t max_ms) : base_ms_(base_ms), max_ms_(max_ms) {}
  // Delay before the next attempt: uniform in [0, min(max, base * 2^attempts)].
  uint64_t next_delay_ms(std::mt19937_64& random);
  void reset() { attempts_ = 0; }
  uint32_t attempts() const { return attempts_; }

 private:
  uint64_t base_ms_;
  uint64_t max_ms_;
  uint32_t attempts_ = 0;
};

}  // namespace outpost
