#include "ops/server_telemetry.h"

#include <atomic>
#include <cstdio>

namespace outpost::ops {
namespace {

// The start of the request this thread is serving (ServerCore calls before_request and
// then on_push / on_pull on the same thread).
thread_local std::chrono::steady_clock::time_point request_started;
thread_local uint64_t request_number = 0;
std::atomic<uint64_t> next_request_number{1};

std::string request_id() {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "r%llx", static_cast<unsigned long long>(request_number));
  return buffer;
}

RequestEvent event_for(const char* kind, const Principal& who) {
  RequestEvent event;
  event.request_id = request_id();
  event.kind = kind;
  event.tenant = who.tenant;
  event.user = who.user;
  event.device = who.device;
  return event;
}

// Errors that say the store (or its database) failed, not the request.
bool is_store_error(ErrorCode code) {
  return code == ErrorCode::kUnavailable || code == ErrorCode::kInternal ||
         code == ErrorCode::kIo || code == ErrorCode::kCorrupt;
}

// How a pull answered one scope: a log page, a snapshot page (fresh device), a reset
// manifest page, a fetch of reset keys.
const char* pull_mode(const protocol::PullRequest& request, const protocol::ScopeChanges& scope) {
  if (scope.reset()) return "reset";
  if (request.fetch_size() > 0 && scope.scope() == request.fetch_scope()) return "fetch";
  for (const auto& cursor : request.cursors()) {
    if (cursor.scope() != scope.scope()) continue;
    if (cursor.seq() == 0 || !cursor.token().empty()) return "snapshot";
  }
  return "log";
}

}  // namespace

ServerTelemetry::ServerTelemetry(Registry& registry, Fleet& fleet, std::function<int64_t()> now_ms)
    : registry_(registry),
      fleet_(fleet),
      now_ms_(std::move(now_ms)),
      requests_(registry.counter("outpost_requests_total",
                                 "Push and pull requests answered, by kind and result code.",
                                 {"kind", "code"})),
      latency_(registry.histogram("outpost_request_duration_seconds",
                                  "Time in the server core per push or pull request.",
                                  latency_buckets(), {"kind"})),
      mutations_(registry.counter(
          "outpost_mutations_total",
          "Mutation outcomes answered, by outcome and rejection code (a retried push answers "
          "its recorded outcomes again).",
          {"outcome", "code"})),
      pull_scopes_(registry.counter("outpost_pull_scopes_total",
                                    "Scopes answered by pulls, by mode (log, snapshot, reset, "
                                    "fetch).",
                                    {"mode"})),
      pull_changes_(registry.counter("outpost_pull_changes_total",
                                     "Changes and manifest keys sent in pull responses.")()),
      pull_bytes_(registry.counter("outpost_pull_bytes_total",
                                   "Pull response bytes (protobuf, before compression).")()),
      push_bytes_(registry.counter("outpost_push_bytes_total",
                                   "Push request bytes (protobuf, after decompression).")()),
      push_retries_(registry.counter(
          "outpost_push_retries_total",
          "Pushes started over because a concurrent push of the client committed first.")()),
      store_errors_(registry.counter("outpost_store_errors_total",
                                     "Requests and compactions failed by the store, by code.",
                                     {"code"})),
      compactions_(registry.counter("outpost_compactions_total", "Scope compactions, by result.",
                                    {"result"})),
      commits_(registry.counter("outpost_commits_total",
                                "Commits that moved scope heads (this process or, through the "
                                "commit feed, others).")()),
      reports_(registry.counter("outpost_device_reports_total",
                                "Requests that carried a device report.")()),
      streams_opened_(
          registry.counter("outpost_streams_opened_total", "WebSocket streams accepted.")()) {}

void ServerTelemetry::before_request() {
  request_started = std::chrono::steady_clock::now();
  request_number = next_request_number.fetch_add(1, std::memory_order_relaxed);
}

void ServerTelemetry::log_request(RequestEvent event, const Status& status, double seconds) {
  if (!log_ || (status.ok() && seconds < kSlowRequestSeconds)) return;
  event.code = status.ok() ? "ok" : std::string(error_code_name(status.code()));
  event.message = status.ok() ? "slow request" : status.message().substr(0, 300);
  event.seconds = seconds;
  log_(event);
}

double ServerTelemetry::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - request_started).count();
}

void ServerTelemetry::count_result(const char* kind, const Status& status) {
  std::string code = status.ok() ? "ok" : std::string(error_code_name(status.code()));
  requests_.with({kind, code}).add();
  if (!status.ok() && is_store_error(status.code())) store_errors_.with({code}).add();
}

void ServerTelemetry::on_push(const Principal& who, const protocol::PushRequest& request,
                              const Result<protocol::PushResponse>& result) {
  const double seconds = elapsed_seconds();
  latency_.with({"push"}).observe(seconds);
  count_result("push", result.status());
  log_request(event_for("push", who), result.status(), seconds);
  push_bytes_.add(request.ByteSizeLong());
  int64_t now = now_ms_();
  if (request.has_report()) reports_.add();
  fleet_.seen(who, now, request.has_report() ? &request.report() : nullptr, true);
  if (!result.ok()) return;
  for (const auto& mutation : result->results()) {
    if (mutation.outcome() == protocol::MutationResult::APPLIED) {
      mutations_.with({"applied", ""}).add();
    } else {
      mutations_.with({"rejected", mutation.code()}).add();
      fleet_.rejected(who, mutation, now);
      if (log_) {
        RequestEvent event = event_for("push", who);
        event.code = mutation.code();
        event.message = "mutation rejected: " + mutation.reason().substr(0, 300);
        event.mutation_id = mutation.id();
        log_(event);
      }
    }
  }
}

void ServerTelemetry::on_pull(const Principal& who, const protocol::PullRequest& request,
                              const Result<protocol::PullResponse>& result) {
  const double seconds = elapsed_seconds();
  latency_.with({"pull"}).observe(seconds);
  count_result("pull", result.status());
  log_request(event_for("pull", who), result.status(), seconds);
  int64_t now = now_ms_();
  if (request.has_report()) reports_.add();
  fleet_.seen(who, now, request.has_report() ? &request.report() : nullptr, false);
  fleet_.pulled(who, request, result.ok() ? &result.value() : nullptr, now);
  if (!result.ok()) return;
  pull_bytes_.add(result->ByteSizeLong());
  uint64_t changes = 0;
  for (const auto& scope : result->scopes()) {
    pull_scopes_.with({pull_mode(request, scope)}).add();
    changes += scope.changes_size() + scope.manifest_size();
  }
  pull_changes_.add(changes);
}

void ServerTelemetry::on_push_retry() {
  push_retries_.add();
}

void ServerTelemetry::on_compact(const std::string& scope, uint64_t horizon_seq,
                                 const Status& status) {
  compactions_.with({status.ok() ? "ok" : "error"}).add();
  if (!status.ok()) {
    if (is_store_error(status.code())) {
      store_errors_.with({std::string(error_code_name(status.code()))}).add();
    }
    return;
  }
  fleet_.compacted(scope, horizon_seq, now_ms_());
}

void ServerTelemetry::on_commit(const std::vector<CommittedHead>& heads) {
  commits_.add();
  int64_t now = now_ms_();
  for (const auto& head : heads) fleet_.head_moved(head.scope, head.head_seq, now);
}

void ServerTelemetry::on_stream_opened(const Principal& who) {
  streams_opened_.add();
  fleet_.stream_opened(who, now_ms_());
}

void ServerTelemetry::on_stream_closed(const Principal& who) {
  fleet_.stream_closed(who, now_ms_());
}

}  // namespace outpost::ops
