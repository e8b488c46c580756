// The agent's loop (implementation detail of SyncAgent, included only by the agent's own
// .cpp files): the libuv loop thread that owns the replica and the SyncClient (pump,
// frames, backoff, timers, the foreign-commit check) and the asio I/O thread its
// WebSocket session (sync_agent_session.h) runs on.
// Thread rules: members marked [loop] run on the loop thread, [io] on the I/O thread;
// post() is safe from any thread.
#pragma once

#include <uv.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/status.h"
#include "engine/sync_client.h"
#include "outpost/protocol.pb.h"
#include "transport/sync_agent.h"

namespace outpost {

// Everything that runs on the two threads. Members marked [loop] are touched only on the
// loop thread, [io] only on the I/O thread; the rest say how they are guarded.
class SyncAgent::Loop {
 public:
  explicit Loop(SyncAgent& agent)
      : agent_(agent),
        backoff_(agent.options_.backoff_base_ms, agent.options_.backoff_max_ms),
        random_(agent.options_.random_seed != 0 ? agent.options_.random_seed
                                                : std::random_device{}()) {}

  Status start();
  void stop();

  // Any thread: queue a task for the loop thread. False when the loop is not running
  // (the task is destroyed unrun).
  bool post(std::function<void()> task) { return enqueue(Incoming{.task = std::move(task)}); }
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_.get_id(); }

  // [loop] entry points
  void wake();
  // set_token() gave a new token: reconnect now if waiting for one (on_token_expired).
  void on_token_changed();
  // Sends the next request, if any; true when there was none and the progress was
  // published (then nothing else needs to publish it).
  bool pump();
  // Sends one request on the open connection and arms its answer timeout.
  void send_request(const protocol::ClientFrame& frame);

  // [io] -> [loop]
  void io_opened(uint64_t id) {
    post([this, id] { on_opened(id); });
  }
  // A frame is queued as it is (no task allocated per frame); frames that arrive before
  // the loop wakes are handled in one batch (decision 051).
  void io_frame(uint64_t id, std::shared_ptr<protocol::ServerFrame> frame, size_t wire_bytes) {
    enqueue(Incoming{.connection = id, .frame = std::move(frame), .wire_bytes = wire_bytes});
  }
  void io_closed(uint64_t id, Status status, bool retryable) {
    post([this, id, status = std::move(status), retryable] { on_closed(id, status, retryable); });
  }

 private:
  class Session;

  // One entry of the inbox: a server frame of connection `connection`, or else a task.
  struct Incoming {
    std::function<void()> task;
    uint64_t connection = 0;
    std::shared_ptr<protocol::ServerFrame> frame;
    size_t wire_bytes = 0;
  };
  // Any thread: appends to the inbox and wakes the loop when the inbox was empty (a loop
  // already woken drains what comes meanwhile). False when the loop is not running.
  bool enqueue(Incoming incoming);

  // [loop]
  void drain_inbox();
  void connect();
  void on_opened(uint64_t id);
  void on_frame(uint64_t id, const protocol::ServerFrame& frame, size_t wire_bytes);
  void on_closed(uint64_t id, const Status& status, bool retryable);
  void drop_connection();
  void lose_request();
  void retry_later(const Status& status);
  void reconnect_later(const Status& status);
  void fail(const Status& status);
  void token_refused(const Status& status);
  void reconnect_with_new_token();
  void handle_client_error(const Status& status);
  void mark_behind();
  void set_state(AgentState state, const Status& status = Status(), uint64_t delay_ms = 0);
  void publish_progress();
  void count_failure(const Status& status);
  void on_timer();
  void on_request_timeout();
  void on_foreign_commit_check();
  // Foreign commits through the process's CommitWatch when the replica has a commit stamp
  // (else the loop's foreign_timer_). Set up in start(); unwatch() is idempotent.
  void watch_foreign_commits();
  void unwatch();
  void begin_stop();

  // [io]
  void io_send(uint64_t id, std::string frame);
  void io_close(uint64_t id);

  SyncAgent& agent_;

  // Threads and handles (set up in start(), torn down in stop()).
  uv_loop_t uv_loop_{};
  uv_async_t inbox_async_{};
  uv_timer_t timer_{};
  uv_timer_t request_timer_{};  // bounds the wait for the answer to the request in flight
  uv_timer_t foreign_timer_{};  // looks for commits by other processes without a watch
  std::thread loop_thread_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> io_work_;
  std::thread io_thread_;

  std::mutex inbox_mutex_;
  bool alive_ = false;              // guarded by inbox_mutex_
  std::vector<Incoming> inbox_;     // guarded by inbox_mutex_
  std::vector<Incoming> draining_;  // [loop] swapped with inbox_; keeps its capacity

  // [loop]
  enum class TimerMode { kNone, kReconnect, kRetryRequest };
  TimerMode timer_mode_ = TimerMode::kNone;
  Backoff backoff_;
  std::mt19937_64 random_;
  uint64_t connection_id_ = 0;  // the current attempt or connection; 0: none
  uint64_t next_connection_id_ = 0;
  bool open_ = false;
  bool retry_wait_ = false;  // a retryable error: the request waits for the timer
  bool failed_ = false;
  bool stopping_ = false;
  bool pump_due_ = false;     // a frame was handled: drain_inbox pumps once after the batch
  uint64_t ticket_seen_ = 0;  // newest sync_for ticket this loop has acted on
  uint64_t highest_pushed_id_ = 0;
  uint64_t connection_token_generation_ = 0;  // the token generation connect() saw
  bool awaiting_token_ = false;               // refused; on_token_expired asked for one
  uint32_t tokens_refused_in_row_ = 0;        // reset by an answered request

  // Set by start() before the loop thread runs; then [loop] (the watch id 0: no watch).
  Replica::CommitStampReader stamp_reader_;
  uint64_t watch_id_ = 0;

  // [io]
  std::shared_ptr<Session> session_;
};

}  // namespace outpost
