// The agent half of outpost/outpost.h: open/close, start/stop, wake, sync_for, tokens and
// the credentials callback, state and progress; the agent lends a replica handle whose
// calls run on its loop thread.
#include <chrono>
#include <string>

#include "capi/boundary.h"
#include "capi/handles.h"

namespace outpost::capi {
namespace {

Status need(const void* pointer, std::string_view what) {
  if (pointer == nullptr) return error(ErrorCode::kInvalidArgument, std::string(what) + " is NULL");
  return Status::Ok();
}

Status not_in_callback(std::string_view call) {
  if (CallbackScope::active()) {
    return error(ErrorCode::kFailedPrecondition, std::string(call) + " is not for a callback");
  }
  return Status::Ok();
}

outpost_sync_phase to_c(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kIdle:
      return OUTPOST_PHASE_IDLE;
    case SyncPhase::kPushing:
      return OUTPOST_PHASE_PUSHING;
    case SyncPhase::kInitial:
      return OUTPOST_PHASE_INITIAL;
    case SyncPhase::kCatchingUp:
      return OUTPOST_PHASE_CATCH_UP;
    case SyncPhase::kResetting:
      return OUTPOST_PHASE_RESET;
  }
  return OUTPOST_PHASE_IDLE;
}

outpost_agent_state to_c(AgentState state) {
  switch (state) {
    case AgentState::kStopped:
      return OUTPOST_AGENT_STOPPED;
    case AgentState::kConnecting:
      return OUTPOST_AGENT_CONNECTING;
    case AgentState::kConnected:
      return OUTPOST_AGENT_CONNECTED;
    case AgentState::kBackoff:
      return OUTPOST_AGENT_BACKOFF;
    case AgentState::kFailed:
      return OUTPOST_AGENT_FAILED;
  }
  return OUTPOST_AGENT_FAILED;
}

outpost_progress to_c(const SyncProgress& progress, const SyncStats& stats) {
  outpost_progress out{};
  out.phase = to_c(progress.phase);
  out.pending_mutations = progress.pending_mutations;
  out.mutations_confirmed = progress.mutations_confirmed;
  out.mutations_rejected = progress.mutations_rejected;
  out.changes_received = stats.changes_received;
  out.connects = stats.connects;
  return out;
}

// The app's callbacks, called on the loop thread with the thread marked as the agent's.
void install_callbacks(outpost_agent* handle, SyncAgentOptions& options) {
  const outpost_agent_options& app = handle->callbacks;
  if (app.on_state != nullptr) {
    options.on_state = [handle](AgentState state, const Status& why, uint64_t delay_ms) {
      CallbackScope scope(handle);
      outpost_error error{};
      if (!why.ok()) fill_error(&error, why);
      handle->callbacks.on_state(handle->callbacks.on_state_user_data, to_c(state),
                                 why.ok() ? nullptr : &error, delay_ms);
      outpost_error_clear(&error);
    };
  }
  if (app.on_progress != nullptr) {
    options.on_progress = [handle](const SyncProgress& progress) {
      CallbackScope scope(handle);
      outpost_progress out = to_c(progress, handle->agent->stats());
      handle->callbacks.on_progress(handle->callbacks.on_progress_user_data, &out);
    };
  }
  if (app.on_credentials != nullptr) {
    options.on_token_expired = [handle](const Status& why) {
      CallbackScope scope(handle);
      outpost_error error{};
      fill_error(&error, why);
      handle->callbacks.on_credentials(handle->callbacks.on_credentials_user_data, handle, &error);
      outpost_error_clear(&error);
    };
  }
}

Status read_options(const outpost_agent_options& in, SyncAgentOptions& out) {
  if (in.struct_size < sizeof(outpost_agent_options)) {
    return error(ErrorCode::kInvalidArgument, "options: call outpost_agent_options_init first");
  }
  OUTPOST_RETURN_IF_ERROR(
      read_string(in.server_url, in.server_url_len, "server_url", &out.server_url));
  OUTPOST_RETURN_IF_ERROR(read_string(in.token, in.token_len, "token", &out.token));
  OUTPOST_RETURN_IF_ERROR(
      read_string(in.replica_path, in.replica_path_len, "replica_path", &out.replica_path));
  if (out.replica_path.empty()) return error(ErrorCode::kInvalidArgument, "replica_path is empty");
  // What an https/wss server must prove (decision 022); SyncAgent::open refuses them for a
  // plain http:// server and an unreadable file, so nothing is silently ignored.
  OUTPOST_RETURN_IF_ERROR(
      read_string(in.tls_ca_path, in.tls_ca_path_len, "tls_ca_path", &out.tls.ca_file));
  OUTPOST_RETURN_IF_ERROR(read_string(in.tls_pinned_cert_pem, in.tls_pinned_cert_pem_len,
                                      "tls_pinned_cert_pem", &out.tls.pinned_cert_pem));
  out.replica.sync_on_commit = in.sync_on_commit;
  out.urgent_first = in.urgent_first;
  if (in.backoff_base_ms != 0) out.backoff_base_ms = in.backoff_base_ms;
  if (in.backoff_max_ms != 0) out.backoff_max_ms = in.backoff_max_ms;
  if (in.connect_timeout_ms != 0)
    out.connect_timeout = std::chrono::milliseconds(in.connect_timeout_ms);
  return Status::Ok();
}

}  // namespace
}  // namespace outpost::capi

using namespace outpost;
using namespace outpost::capi;

extern "C" {

void outpost_agent_options_init(outpost_agent_options* options) {
  if (options == nullptr) return;
  *options = outpost_agent_options{};
  options->struct_size = sizeof(outpost_agent_options);
}

outpost_status outpost_agent_open(const outpost_agent_options* options, outpost_agent** out,
                                  outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(out, "out"));
    *out = nullptr;
    OUTPOST_RETURN_IF_ERROR(need(options, "options"));
    auto handle = std::make_unique<outpost_agent>();
    handle->callbacks = *options;
    SyncAgentOptions agent_options;
    OUTPOST_RETURN_IF_ERROR(read_options(*options, agent_options));
    install_callbacks(handle.get(), agent_options);
    OUTPOST_ASSIGN_OR_RETURN(handle->agent, SyncAgent::open(std::move(agent_options)));
    handle->replica = std::make_unique<outpost_replica>(handle.get());
    outpost_replica* lent = handle->replica.get();
    // Inline on the thread that committed (the loop thread while running): deliver now,
    // with no lock of ours held there.
    lent->engine_subscription = handle->agent->subscribe([lent](const ChangeSet& changes) {
      lent->hub.enqueue(changes);
      lent->hub.flush();
    });
    *out = handle.release();
    return Status::Ok();
  });
}

outpost_status outpost_agent_close(outpost_agent* agent, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    if (agent == nullptr) return Status::Ok();
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_close"));
    std::unique_ptr<outpost_agent> owned(agent);
    {
      std::lock_guard lock(owned->mutex);
      owned->agent->stop();
    }
    owned->agent.reset();  // before the lent replica handle its listener delivers to
    owned->replica.reset();
    return Status::Ok();
  });
}

outpost_replica* outpost_agent_replica(outpost_agent* agent) {
  return agent == nullptr ? nullptr : agent->replica.get();
}

outpost_status outpost_agent_start(outpost_agent* agent, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_start"));
    std::lock_guard lock(agent->mutex);
    return agent->agent->start();
  });
}

outpost_status outpost_agent_stop(outpost_agent* agent, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_stop"));
    std::lock_guard lock(agent->mutex);
    agent->agent->stop();
    return Status::Ok();
  });
}

outpost_status outpost_agent_wake(outpost_agent* agent, const char* reason, size_t reason_len,
                                  outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    std::string why;
    OUTPOST_RETURN_IF_ERROR(read_string(reason, reason_len, "reason", &why));
    agent->agent->wake(why.empty() ? "wake" : why);
    return Status::Ok();
  });
}

outpost_status outpost_agent_set_token(outpost_agent* agent, const char* token, size_t token_len,
                                       outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    std::string text;
    OUTPOST_RETURN_IF_ERROR(read_string(token, token_len, "token", &text));
    return agent->agent->set_token(std::move(text));
  });
}

outpost_status outpost_agent_sync_for(outpost_agent* agent, uint32_t budget_ms,
                                      uint32_t max_failures, outpost_sync_summary* summary,
                                      outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(not_in_callback("outpost_agent_sync_for"));
    if (summary != nullptr) *summary = outpost_sync_summary{};
    // Started (and stopped) here under the handle's mutex, so that replica calls made
    // meanwhile from other threads never run inline beside the loop.
    bool started_here = false;
    {
      std::lock_guard lock(agent->mutex);
      if (!agent->agent->running()) {
        OUTPOST_RETURN_IF_ERROR(agent->agent->start());
        started_here = true;
      }
    }
    SyncForOptions options;
    options.max_consecutive_failures = max_failures;
    SyncSummary result = agent->agent->sync_for(std::chrono::milliseconds(budget_ms), options);
    if (started_here) {
      std::lock_guard lock(agent->mutex);
      agent->agent->stop();
    }
    if (summary != nullptr) {
      summary->caught_up = result.caught_up;
      summary->budget_exhausted = result.budget_exhausted;
      summary->elapsed_ms = static_cast<uint64_t>(result.elapsed.count());
      summary->changes_received = result.stats.changes_received;
      summary->mutations_pushed = result.stats.mutations_pushed;
      summary->progress = to_c(result.progress, agent->agent->stats());
    }
    return result.status;
  });
}

outpost_status outpost_agent_state_get(outpost_agent* agent, outpost_agent_state* state,
                                       outpost_error* last_error, outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(need(state, "state"));
    *state = to_c(agent->agent->state());
    if (last_error != nullptr) {
      *last_error = outpost_error{};
      Status last = agent->agent->last_error();
      if (!last.ok()) fill_error(last_error, last);
    }
    return Status::Ok();
  });
}

outpost_status outpost_agent_progress_get(outpost_agent* agent, outpost_progress* progress,
                                          outpost_error* error) {
  return guarded(error, [&]() -> Status {
    OUTPOST_RETURN_IF_ERROR(need(agent, "agent"));
    OUTPOST_RETURN_IF_ERROR(need(progress, "progress"));
    *progress = to_c(agent->agent->progress(), agent->agent->stats());
    return Status::Ok();
  });
}

const char* outpost_agent_state_name(outpost_agent_state state) {
  switch (state) {
    case OUTPOST_AGENT_STOPPED:
      return "stopped";
    case OUTPOST_AGENT_CONNECTING:
      return "connecting";
    case OUTPOST_AGENT_CONNECTED:
      return "connected";
    case OUTPOST_AGENT_BACKOFF:
      return "backoff";
    case OUTPOST_AGENT_FAILED:
      return "failed";
  }
  return "unknown";
}

}  // extern "C"
