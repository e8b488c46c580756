// What the C API's opaque handles are (implementation detail of liboutpost): a replica
// handle owns a Replica (standalone, its calls serialized by its mutex) or is lent by an
// agent handle (its calls run on the agent's loop thread through SyncAgent::with_replica);
// an agent handle owns the SyncAgent and the callbacks the app gave.
// Thread rules: see outpost/outpost.h; the members say what guards them.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "capi/change_hub.h"
#include "engine/replica.h"
#include "engine/status.h"
#include "outpost/outpost.h"
#include "transport/sync_agent.h"

struct outpost_replica {
  explicit outpost_replica(outpost_agent* lender) : agent(lender), hub(lender) {}

  std::unique_ptr<outpost::Replica> owned;  // standalone; guarded by mutex
  std::mutex mutex;                         // standalone: one call at a time
  outpost_agent* const agent;               // lent by this agent (owned is null)
  outpost::capi::ChangeHub hub;
  uint64_t engine_subscription = 0;
};

struct outpost_agent {
  std::unique_ptr<outpost::SyncAgent> agent;
  // start/stop, and replica work (which runs inline while the agent is stopped).
  std::mutex mutex;
  std::unique_ptr<outpost_replica> replica;  // lent to the app by outpost_agent_replica
  outpost_agent_options callbacks{};         // the app's callbacks and their user data
};

struct outpost_cursor {
  outpost::SqlRows rows;
  size_t next = 0;      // the row the next step moves to
  bool on_row = false;  // a step returned a row: rows.rows[next - 1] is current
};

namespace outpost::capi {

// Runs `body` with the handle's Replica by the handle's thread rules (and its exceptions
// caught where it runs), then delivers the change sets it caused.
Status with_replica(outpost_replica* handle, const std::function<Status(Replica&)>& body);

}  // namespace outpost::capi
