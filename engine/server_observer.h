// What ServerCore tells an operator's instruments (ops/server_telemetry.h): each push and
// pull with who made it, the request and its result, push retries and compactions. The
// engine does no timing: before_request() is called on the request's thread right before
// the work, so an observer that wants latency reads its own clock there and in on_push /
// on_pull, which follow on the same thread.
// Thread rules: called from every server thread at once; implementations synchronize.
// Observers must not call back into the ServerCore.
#pragma once

#include <cstdint>
#include <string>

#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

struct Principal;

class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  virtual void before_request() {}
  virtual void on_push(const Principal& who, const protocol::PushRequest& request,
                       const Result<protocol::PushResponse>& result) {}
  virtual void on_pull(const Principal& who, const protocol::PullRequest& request,
                       const Result<protocol::PullResponse>& result) {}
  // A push found its mutations committed by a concurrent push and starts over.
  virtual void on_push_retry() {}
  // A compaction of `scope` to `horizon_seq` finished (or failed: `status`).
  virtual void on_compact(const std::string& scope, uint64_t horizon_seq, const Status& status) {}
};

}  // namespace outpost
