#include "transport/sync_agent.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <utility>

#include "transport/client_id.h"
#include "transport/sync_agent_loop.h"
#include "transport/token.h"

namespace outpost {

using Clock = std::chrono::steady_clock;

const char* agent_state_name(AgentState state) {
  switch (state) {
    case AgentState::kStopped:
      return "stopped";
    case AgentState::kConnecting:
      return "connecting";
    case AgentState::kConnected:
      return "connected";
    case AgentState::kBackoff:
      return "backoff";
    case AgentState::kFailed:
      return "failed";
  }
  return "unknown";
}

// ------------------------------------------------------------------------------ SyncAgent

Result<std::unique_ptr<SyncAgent>> SyncAgent::open(SyncAgentOptions options) {
  if (options.schema == nullptr) return error(ErrorCode::kInvalidArgument, "no schema");
  OUTPOST_ASSIGN_OR_RETURN(protocol::TokenClaims claims,
                           read_token_claims_unverified(options.token));
  ReplicaOptions replica_options = options.replica;
  if (replica_options.tenant.empty()) replica_options.tenant = claims.tenant();
  if (replica_options.user.empty()) replica_options.user = claims.user();
  // Kept only if the file is new (a file keeps the client id it was created with).
  if (replica_options.client_id.empty()) replica_options.client_id = new_client_id();
  // Replica::open records the identity it is given, even over another one: look first, so
  // a token for another user never takes over (and pushes from) someone else's replica.
  std::error_code ignored;
  if (std::filesystem::exists(options.replica_path, ignored)) {
    ReplicaOptions peek;
    peek.read_only = true;
    auto existing = Replica::open(options.replica_path, *options.schema, nullptr, peek);
    if (existing.ok() && !(*existing)->tenant().empty() &&
        ((*existing)->tenant() != replica_options.tenant ||
         (*existing)->user() != replica_options.user)) {
      return error(ErrorCode::kFailedPrecondition,
                   "the replica belongs to " +
                       user_scope((*existing)->tenant(), (*existing)->user()) +
                       " but the token is for " + user_scope(claims.tenant(), claims.user()));
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(
      std::unique_ptr<Replica> replica,
      Replica::open(options.replica_path, *options.schema, options.mutators, replica_options));
  return create(std::move(options), std::move(replica));
}

Result<std::unique_ptr<SyncAgent>> SyncAgent::create(SyncAgentOptions options,
                                                     std::unique_ptr<Replica> replica) {
  if (replica == nullptr) return error(ErrorCode::kInvalidArgument, "no replica");
  OUTPOST_ASSIGN_OR_RETURN(protocol::TokenClaims claims,
                           read_token_claims_unverified(options.token));
  if (replica->tenant() != claims.tenant() || replica->user() != claims.user()) {
    return error(ErrorCode::kFailedPrecondition,
                 "the replica belongs to " + user_scope(replica->tenant(), replica->user()) +
                     " but the token is for " + user_scope(claims.tenant(), claims.user()));
  }
  OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(options.server_url));
  std::shared_ptr<TlsClientContext> tls;
  if (address.tls) {
    OUTPOST_ASSIGN_OR_RETURN(tls, TlsClientContext::create(options.tls));
  } else if (!options.tls.ca_file.empty() || !options.tls.ca_pem.empty() ||
             !options.tls.pinned_cert_file.empty() || !options.tls.pinned_cert_pem.empty()) {
    // A pinned certificate silently ignored would be a downgrade nobody sees.
    return error(ErrorCode::kInvalidArgument,
                 "TLS options are set but the server is plain http:// (" + options.server_url +
                     "): use https:// or wss://");
  }
  if (options.backoff_base_ms == 0) options.backoff_base_ms = 1;
  if (options.backoff_max_ms < options.backoff_base_ms) {
    options.backoff_max_ms = options.backoff_base_ms;
  }
  std::unique_ptr<SyncAgent> agent(
      new SyncAgent(std::move(options), std::move(address), std::move(replica)));
  agent->tls_ = std::move(tls);
  return agent;
}

SyncAgent::SyncAgent(SyncAgentOptions options, ServerAddress address,
                     std::unique_ptr<Replica> replica)
    : options_(std::move(options)), address_(std::move(address)), replica_(std::move(replica)) {
  token_ = options_.token;
  // The loop refreshes the replica on every foreign-commit check and pumps after local
  // mutations, so the outbox is read only when something may have added to it (decision
  // 051); without foreign-commit checks it is read on every pump, as before.
  SyncClientOptions client_options = options_.client;
  client_options.skip_unchanged_outbox = options_.foreign_commit_poll.count() > 0;
  client_ = std::make_unique<SyncClient>(*replica_, client_options);
  client_->set_urgent_first(options_.urgent_first);
  progress_ = client_->progress();
  if (options_.background_checkpoints && !replica_->path().empty() &&
      replica_->path() != ":memory:") {
    checkpointer_ = std::make_unique<WalCheckpointer>(replica_->path());
    Status handed = replica_->hand_off_checkpoints(
        [checkpointer = checkpointer_.get()] { checkpointer->poke(); }, kWalCheckpointRequestPages,
        kWalSafetyAutocheckpointPages);
    if (!handed.ok()) checkpointer_.reset();
  }
}

SyncAgent::~SyncAgent() {
  stop();
}

std::shared_ptr<SyncAgent::Loop> SyncAgent::current_loop() const {
  std::lock_guard lock(loop_mutex_);
  return loop_;
}

Status SyncAgent::start() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (current_loop() != nullptr) {
    return error(ErrorCode::kFailedPrecondition, "sync agent already running");
  }
  auto loop = std::make_shared<Loop>(*this);
  {
    std::lock_guard lock(state_mutex_);
    fatal_ = Status();
    consecutive_failures_ = 0;
    state_ = AgentState::kConnecting;
  }
  OUTPOST_RETURN_IF_ERROR(loop->start());
  std::lock_guard lock(loop_mutex_);
  loop_ = std::move(loop);
  return Status::Ok();
}

void SyncAgent::stop() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  std::shared_ptr<Loop> loop;
  {
    std::lock_guard lock(loop_mutex_);
    loop.swap(loop_);
  }
  if (loop == nullptr) return;
  // Other threads may still hold the Loop for a moment; after stop() it refuses tasks.
  loop->stop();
  std::lock_guard lock(state_mutex_);
  state_ = AgentState::kStopped;
  state_changed_.notify_all();
}

bool SyncAgent::running() const {
  return current_loop() != nullptr;
}

bool SyncAgent::post_task(std::function<void(Loop&)> task) {
  std::shared_ptr<Loop> loop = current_loop();
  if (loop == nullptr) return false;
  Loop* raw = loop.get();  // alive while the task can run: stop() joins the loop thread
  return loop->post([raw, task = std::move(task)] { task(*raw); });
}

void SyncAgent::wake(std::string_view) {
  post_task([](Loop& loop) { loop.wake(); });
}

void SyncAgent::set_urgent_first(bool urgent) {
  if (!post_task([this, urgent](Loop&) { client_->set_urgent_first(urgent); })) {
    client_->set_urgent_first(urgent);  // stopped: nothing else touches the client
  }
}

std::string SyncAgent::current_token() const {
  std::lock_guard lock(token_mutex_);
  return token_;
}

Status SyncAgent::set_token(std::string token) {
  OUTPOST_ASSIGN_OR_RETURN(protocol::TokenClaims claims, read_token_claims_unverified(token));
  if (claims.tenant() != replica_->tenant() || claims.user() != replica_->user()) {
    return error(ErrorCode::kFailedPrecondition,
                 "the new token is for " + user_scope(claims.tenant(), claims.user()) +
                     ", the replica belongs to " +
                     user_scope(replica_->tenant(), replica_->user()));
  }
  {
    std::lock_guard lock(token_mutex_);
    token_ = std::move(token);
    token_generation_++;
  }
  // An agent waiting for credentials (on_token_expired) reconnects with this one now.
  post_task([](Loop& loop) { loop.on_token_changed(); });
  return Status::Ok();
}

uint64_t SyncAgent::token_generation() const {
  std::lock_guard lock(token_mutex_);
  return token_generation_;
}

SyncSummary SyncAgent::sync_for(std::chrono::milliseconds budget, SyncForOptions options) {
  SyncSummary summary;
  if (auto loop = current_loop(); loop != nullptr && loop->on_loop_thread()) {
    summary.status = error(ErrorCode::kFailedPrecondition, "sync_for() on the loop thread");
    return summary;
  }
  const auto started = Clock::now();
  const auto deadline = started + budget;
  bool started_here = false;
  if (!running()) {
    summary.status = start();
    if (!summary.status.ok()) return summary;
    started_here = true;
  }
  SyncStats before;
  uint64_t ticket = 0;
  {
    std::lock_guard lock(state_mutex_);
    before = stats_;
    ticket = ++sync_ticket_requested_;
    fatal_ = Status();
    consecutive_failures_ = 0;
  }
  wake("sync_for");
  {
    std::unique_lock lock(state_mutex_);
    auto done = [&] {
      return sync_ticket_served_ >= ticket || !fatal_.ok() ||
             (options.max_consecutive_failures > 0 &&
              consecutive_failures_ >= options.max_consecutive_failures) ||
             state_ == AgentState::kStopped;
    };
    state_changed_.wait_until(lock, deadline, done);
    if (sync_ticket_served_ >= ticket) {
      summary.caught_up = true;
    } else if (!fatal_.ok()) {
      summary.status = fatal_;
    } else if (options.max_consecutive_failures > 0 &&
               consecutive_failures_ >= options.max_consecutive_failures) {
      summary.status = last_error_.with_context(
          "giving up after " + std::to_string(consecutive_failures_) + " failed attempts");
    } else if (state_ == AgentState::kStopped) {
      summary.status = error(ErrorCode::kCancelled, "sync agent stopped");
    } else {
      summary.budget_exhausted = true;
      std::string message = "sync budget ran out before the device was up to date";
      if (!last_error_.ok()) message += " (last error: " + last_error_.to_string() + ")";
      summary.status = error(ErrorCode::kCancelled, message);
    }
  }
  if (summary.caught_up && options_.prefetch_voicemail_audio) {
    summary.prefetch = prefetch_voicemail_audio(deadline);
  }
  if (started_here) stop();
  std::lock_guard lock(state_mutex_);
  summary.progress = progress_;
  summary.stats = stats_;
  summary.stats.connects -= before.connects;
  summary.stats.connection_failures -= before.connection_failures;
  summary.stats.frames_sent -= before.frames_sent;
  summary.stats.frames_received -= before.frames_received;
  summary.stats.bytes_sent -= before.bytes_sent;
  summary.stats.bytes_received -= before.bytes_received;
  summary.stats.changes_received -= before.changes_received;
  summary.stats.mutations_pushed -= before.mutations_pushed;
  summary.stats.pokes -= before.pokes;
  summary.stats.carried_applied -= before.carried_applied;
  summary.stats.carried_refused -= before.carried_refused;
  summary.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return summary;
}

PrefetchReport SyncAgent::prefetch_voicemail_audio(std::chrono::steady_clock::time_point deadline) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  Result<PrefetchPlan> plan = error(ErrorCode::kInternal, "not read");
  Status read = with_replica([&](Replica& replica) { plan = plan_prefetch(replica, now_ms); });
  PrefetchReport report;
  if (!read.ok() || !plan.ok()) {
    report.last_error = read.ok() ? plan.status() : read;
    return report;
  }
  return prefetch_planned(*plan, deadline);
}

PrefetchReport SyncAgent::prefetch_planned(const PrefetchPlan& plan,
                                           std::chrono::steady_clock::time_point deadline) {
  PrefetchReport report;
  if (plan.wanted.empty()) return report;
  auto cache = open_blob_cache();
  if (!cache.ok()) {
    report.last_error = cache.status();
    return report;
  }
  BlobClient client(blob_client_options());
  return prefetch_blobs(plan.wanted, **cache, client, plan.pinned, deadline);
}

Result<std::unique_ptr<BlobCache>> SyncAgent::open_blob_cache() const {
  BlobCacheOptions cache_options;
  cache_options.dir =
      options_.blob_cache_dir.empty() ? options_.replica_path + ".blobs" : options_.blob_cache_dir;
  cache_options.max_bytes = options_.blob_cache_bytes;
  return BlobCache::open(cache_options);
}

BlobClientOptions SyncAgent::blob_client_options() const {
  BlobClientOptions client_options;
  client_options.server_url = options_.server_url;
  client_options.token = current_token();
  client_options.tls = tls_;  // the trust the agent's own connections use
  client_options.tls_options = options_.tls;
  return client_options;
}

Result<std::string> SyncAgent::voicemail_audio(const std::string& voicemail_id,
                                               const BlobProgress& progress) {
  // The record is read on the loop thread; the download runs here, never on the loop.
  Result<BlobHash> hash = error(ErrorCode::kInternal, "not read");
  OUTPOST_RETURN_IF_ERROR(
      with_replica([&](Replica& replica) { hash = voicemail_audio_hash(replica, voicemail_id); }));
  OUTPOST_RETURN_IF_ERROR(hash.status());
  return fetch_blob(*hash, BlobRecordRef{"voicemail", voicemail_id}, progress);
}

Result<std::string> SyncAgent::fetch_blob(const BlobHash& hash, const BlobRecordRef& ref,
                                          const BlobProgress& progress) {
  OUTPOST_ASSIGN_OR_RETURN(auto cache, open_blob_cache());
  OUTPOST_ASSIGN_OR_RETURN(auto cached, cache->find(hash));
  if (cached) return *cached;
  BlobClient client(blob_client_options());
  return client.fetch(*cache, hash, ref, progress);
}

SyncProgress SyncAgent::progress() const {
  std::lock_guard lock(state_mutex_);
  return progress_;
}

SyncStats SyncAgent::stats() const {
  std::lock_guard lock(state_mutex_);
  return stats_;
}

AgentState SyncAgent::state() const {
  std::lock_guard lock(state_mutex_);
  return state_;
}

Status SyncAgent::last_error() const {
  std::lock_guard lock(state_mutex_);
  return last_error_;
}

uint64_t SyncAgent::subscribe(Replica::Listener listener, Replica::Executor executor) {
  return replica_->subscribe(std::move(listener), std::move(executor));
}

void SyncAgent::unsubscribe(uint64_t id) {
  replica_->unsubscribe(id);
}

Replica::Executor SyncAgent::loop_executor() {
  return [this](std::function<void()> task) {
    post_task([task = std::move(task)](Loop&) { task(); });
  };
}

Status SyncAgent::post(std::function<void(Replica&)> task) {
  bool posted = post_task([this, task = std::move(task)](Loop& loop) {
    task(*replica_);
    loop.pump();
  });
  if (!posted) return error(ErrorCode::kFailedPrecondition, "sync agent is not running");
  return Status::Ok();
}

Status SyncAgent::with_replica(const std::function<void(Replica&)>& task) {
  std::shared_ptr<Loop> loop = current_loop();
  if (loop == nullptr || loop->on_loop_thread()) {
    task(*replica_);
    return Status::Ok();
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  bool posted = post_task([this, &task, done](Loop& loop) {
    task(*replica_);
    done->set_value();
    loop.pump();
  });
  if (!posted) return error(ErrorCode::kCancelled, "sync agent stopped");
  try {
    finished.get();
  } catch (const std::future_error&) {
    return error(ErrorCode::kCancelled, "sync agent stopped before the task ran");
  }
  return Status::Ok();
}

}  // namespace outpost
