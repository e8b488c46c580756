// outpost-server's instruments: a ServerObserver (engine/server_observer.h) that counts
// every push, pull, retry and compaction into a metrics Registry (bounded labels: request
// kind, error code, pull mode; never a device or a user) and keeps the Fleet (ops/fleet.h)
// up to date with who asked, what they reported, where their cursors are, and rejections.
// The server's transport adds streams opening and closing; the commit listener adds heads.
// Thread rules: every method is safe from any thread. Register it with
// ServerCore::set_observer and ServerCore::add_commit_listener(commit_listener()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/server_core.h"
#include "engine/server_observer.h"
#include "ops/fleet.h"
#include "ops/metrics.h"

namespace outpost::ops {

// A request worth a log line: failed, slow, or one that had a mutation rejected. Carries
// names and codes only: never a token or a record body.
struct RequestEvent {
  std::string request_id;  // unique in this process: "r<hex>"
  const char* kind = "";   // "push" or "pull"
  std::string tenant;
  std::string user;
  std::string device;
  std::string code;  // "ok" or the error code name
  std::string message;
  double seconds = 0;
  uint64_t mutation_id = 0;  // a rejected mutation's id
};

// Requests slower than this are logged.
inline constexpr double kSlowRequestSeconds = 1.0;

class ServerTelemetry final : public ServerObserver {
 public:
  // `now_ms`: the wall clock (milliseconds since the epoch) for the fleet's times.
  ServerTelemetry(Registry& registry, Fleet& fleet, std::function<int64_t()> now_ms);
  // Failed and slow requests and rejected mutations; set before serving.
  void set_request_log(std::function<void(const RequestEvent&)> log) { log_ = std::move(log); }

  void before_request() override;
  void on_push(const Principal& who, const protocol::PushRequest& request,
               const Result<protocol::PushResponse>& result) override;
  void on_pull(const Principal& who, const protocol::PullRequest& request,
               const Result<protocol::PullResponse>& result) override;
  void on_push_retry() override;
  void on_compact(const std::string& scope, uint64_t horizon_seq, const Status& status) override;

  // Heads that moved in a commit (of this process or, through the commit feed, another).
  void on_commit(const std::vector<CommittedHead>& heads);
  // A device's WebSocket stream was accepted / ended.
  void on_stream_opened(const Principal& who);
  void on_stream_closed(const Principal& who);

  Registry& registry() { return registry_; }
  Fleet& fleet() { return fleet_; }

 private:
  double elapsed_seconds() const;
  void count_result(const char* kind, const Status& status);
  // Logs a failed or slow request; `event` carries kind and who.
  void log_request(RequestEvent event, const Status& status, double seconds);

  Registry& registry_;
  Fleet& fleet_;
  std::function<int64_t()> now_ms_;
  std::function<void(const RequestEvent&)> log_;
  Family<Counter>& requests_;
  Family<Histogram>& latency_;
  Family<Counter>& mutations_;
  Family<Counter>& pull_scopes_;
  Counter& pull_changes_;
  Counter& pull_bytes_;
  Counter& push_bytes_;
  Counter& push_retries_;
  Family<Counter>& store_errors_;
  Family<Counter>& compactions_;
  Counter& commits_;
  Counter& reports_;
  Counter& streams_opened_;
};

}  // namespace outpost::ops
