#include "transport/sync_agent_loop.h"

#include <boost/asio/post.hpp>
#include <utility>

#include "transport/sync_agent_commit_watch.h"
#include "transport/sync_agent_session.h"

namespace outpost {

namespace net = boost::asio;

Status SyncAgent::Loop::start() {
  if (uv_loop_init(&uv_loop_) != 0) return error(ErrorCode::kInternal, "uv_loop_init failed");
  uv_loop_.data = this;
  if (uv_async_init(&uv_loop_, &inbox_async_, [](uv_async_t* handle) {
        static_cast<Loop*>(handle->loop->data)->drain_inbox();
      }) != 0) {
    (void)uv_loop_close(&uv_loop_);
    return error(ErrorCode::kInternal, "uv_async_init failed");
  }
  uv_timer_init(&uv_loop_, &timer_);
  uv_timer_init(&uv_loop_, &request_timer_);
  uv_timer_init(&uv_loop_, &foreign_timer_);
  {
    std::lock_guard lock(inbox_mutex_);
    alive_ = true;
  }
  watch_foreign_commits();
  io_work_.emplace(net::make_work_guard(io_));
  io_thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception&) {
        // A handler threw (allocation failure): keep the I/O thread alive; the session
        // reports nothing more and the idle timeout will reopen it.
      }
    }
  });
  loop_thread_ = std::thread([this] { uv_run(&uv_loop_, UV_RUN_DEFAULT); });
  post([this] {
    set_state(AgentState::kConnecting);
    connect();
  });
  return Status::Ok();
}

void SyncAgent::Loop::watch_foreign_commits() {
  const auto poll = agent_.options_.foreign_commit_poll;
  if (poll.count() <= 0) return;
  // The replica is still this thread's: the loop thread has not started.
  if (agent_.options_.foreign_commit_watch) stamp_reader_ = agent_.replica_->commit_stamp_reader();
  if (stamp_reader_) {
    watch_id_ = CommitWatch::process().add(stamp_reader_, poll,
                                           [this] { post([this] { on_foreign_commit_check(); }); });
    return;
  }
  const auto interval = static_cast<uint64_t>(poll.count());
  uv_timer_start(
      &foreign_timer_,
      [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_foreign_commit_check(); },
      interval, interval);
}

void SyncAgent::Loop::unwatch() {
  if (watch_id_ == 0) return;
  CommitWatch::process().remove(watch_id_);  // no wake runs after this
  watch_id_ = 0;
}

void SyncAgent::Loop::stop() {
  post([this] { begin_stop(); });
  if (loop_thread_.joinable()) loop_thread_.join();
  unwatch();  // begin_stop did, unless the loop never ran it
  {
    std::lock_guard lock(inbox_mutex_);
    alive_ = false;
    inbox_.clear();  // destroys waiters' promises: they see a broken promise
  }
  draining_.clear();  // what begin_stop's batch left unrun: the loop thread has ended
  net::post(io_, [this] {
    if (session_) session_->close();
    session_.reset();
    io_work_.reset();
  });
  if (io_thread_.joinable()) io_thread_.join();
  (void)uv_loop_close(&uv_loop_);
}

void SyncAgent::Loop::begin_stop() {
  stopping_ = true;
  unwatch();
  if (connection_id_ != 0) io_close(connection_id_);
  if (agent_.client_->request_in_flight()) agent_.client_->on_request_failed();
  connection_id_ = 0;
  open_ = false;
  {
    std::lock_guard lock(inbox_mutex_);
    alive_ = false;
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_timer_stop(&request_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&request_timer_), nullptr);
  uv_timer_stop(&foreign_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&foreign_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&inbox_async_), nullptr);
  publish_progress();
  set_state(AgentState::kStopped);
}

bool SyncAgent::Loop::enqueue(Incoming incoming) {
  std::lock_guard lock(inbox_mutex_);
  if (!alive_) return false;
  inbox_.push_back(std::move(incoming));
  // One wake-up per batch: the loop takes the whole inbox when it drains.
  if (inbox_.size() == 1) uv_async_send(&inbox_async_);
  return true;
}

void SyncAgent::Loop::drain_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);
  }
  for (Incoming& incoming : draining_) {
    if (stopping_) break;
    if (incoming.frame) {
      on_frame(incoming.connection, *incoming.frame, incoming.wire_bytes);
    } else {
      incoming.task();
    }
  }
  draining_.clear();  // frees the frames here, on the loop thread; keeps the capacity
  // Frames that arrived together are one hand-off: the client's next request and the
  // published progress once for all of them, not per frame. Their commits moved the
  // replica's stamp: accounted for here, so they wake nobody.
  if (pump_due_ && !stopping_) {
    pump_due_ = false;
    if (watch_id_ != 0) on_foreign_commit_check();
    if (!pump()) publish_progress();
  }
}

void SyncAgent::Loop::io_send(uint64_t id, std::string frame) {
  net::post(io_, [this, id, frame = std::move(frame)]() mutable {
    if (session_ && session_->id() == id) session_->send(std::move(frame));
  });
}

void SyncAgent::Loop::io_close(uint64_t id) {
  net::post(io_, [this, id] {
    if (session_ && session_->id() == id) {
      session_->close();
      session_.reset();
    }
  });
}

void SyncAgent::Loop::connect() {
  if (stopping_) return;
  uint64_t id = ++next_connection_id_;
  connection_id_ = id;
  open_ = false;
  awaiting_token_ = false;
  // The session reads the token after this (on the I/O thread): a set_token() in between
  // makes a refusal look like an old token's, which costs at most one more attempt.
  connection_token_generation_ = agent_.token_generation();
  set_state(AgentState::kConnecting);
  net::post(io_, [this, id] {
    if (session_) session_->close();
    session_ = std::make_shared<Session>(*this, id);
    session_->start();
  });
}

void SyncAgent::Loop::on_opened(uint64_t id) {
  if (id != connection_id_ || stopping_) return;
  open_ = true;
  retry_wait_ = false;
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.stats_.connects++;
  }
  set_state(AgentState::kConnected);
  agent_.client_->on_connected();
  mark_behind();  // pokes may have been missed while disconnected
  pump();
}

void SyncAgent::Loop::on_frame(uint64_t id, const protocol::ServerFrame& frame, size_t wire_bytes) {
  if (id != connection_id_ || !open_ || stopping_) return;
  SyncClient& client = *agent_.client_;
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.stats_.frames_received++;
    agent_.stats_.bytes_received += wire_bytes;
  }
  if (frame.has_push() || frame.has_pull() || frame.has_error()) uv_timer_stop(&request_timer_);
  Status status;
  bool answered = false;
  switch (frame.body_case()) {
    case protocol::ServerFrame::kPush:
      if (!client.request_in_flight()) {
        status = error(ErrorCode::kInvalidArgument, "push response with no request in flight");
        break;
      }
      status = client.on_push_response(frame.push());
      answered = true;
      break;
    case protocol::ServerFrame::kPull: {
      if (!client.request_in_flight()) {
        status = error(ErrorCode::kInvalidArgument, "pull response with no request in flight");
        break;
      }
      uint64_t changes = 0;
      for (const auto& scope : frame.pull().scopes()) changes += scope.changes_size();
      {
        std::lock_guard lock(agent_.state_mutex_);
        agent_.stats_.changes_received += changes;
      }
      // Ask for the next page before applying this one, so the server works meanwhile.
      if (auto next = client.pipelined_pull(frame.pull())) send_request(*next);
      status = client.on_pull_response(frame.pull());
      answered = true;
      break;
    }
    case protocol::ServerFrame::kPoke: {
      {
        std::lock_guard lock(agent_.state_mutex_);
        agent_.stats_.pokes++;
      }
      client.on_poke(frame.poke());
      pump_due_ = true;  // drain_inbox pumps once the frames that came with it are handled
      return;
    }
    case protocol::ServerFrame::kError: {
      Status server_error(error_code_from_name(frame.error().code()),
                          "server: " + frame.error().message());
      // A cursor the server did not issue: the scope starts over, retried with backoff.
      bool restarted = false;
      if (client.request_in_flight()) {
        auto refused = client.on_request_refused(server_error);
        if (!refused.ok()) {
          handle_client_error(refused.status());
          return;
        }
        restarted = *refused;
      }
      if (frame.error().retryable() || restarted) {
        retry_later(server_error);
      } else {
        fail(server_error);
      }
      return;
    }
    case protocol::ServerFrame::kCarried: {
      // A commit's changes with its poke: applied as a pull's answer would be, or refused
      // (the client is then behind and pulls).
      auto applied = client.on_carried(frame.carried());
      if (!applied.ok()) {
        status = applied.status();
        break;
      }
      std::lock_guard lock(agent_.state_mutex_);
      if (*applied) {
        agent_.stats_.carried_applied++;
        agent_.stats_.changes_received += frame.carried().changes().changes_size();
      } else {
        agent_.stats_.carried_refused++;
      }
      break;
    }
    case protocol::ServerFrame::kPong:
      return;
    case protocol::ServerFrame::BODY_NOT_SET:
      status = error(ErrorCode::kInvalidArgument, "empty server frame");
      break;
  }
  if (!status.ok()) {
    handle_client_error(status);
    return;
  }
  if (answered) {
    backoff_.reset();
    tokens_refused_in_row_ = 0;
    std::lock_guard lock(agent_.state_mutex_);
    agent_.consecutive_failures_ = 0;
  }
  pump_due_ = true;  // drain_inbox publishes and pumps after the frames that came with it
}

void SyncAgent::Loop::on_closed(uint64_t id, const Status& status, bool retryable) {
  if (id != connection_id_ || stopping_) return;
  connection_id_ = 0;
  open_ = false;
  lose_request();
  if (retryable) {
    reconnect_later(status);
  } else {
    fail(status);
  }
}

void SyncAgent::Loop::lose_request() {
  uv_timer_stop(&request_timer_);
  if (agent_.client_->request_in_flight()) agent_.client_->on_request_failed();
}

void SyncAgent::Loop::drop_connection() {
  if (connection_id_ != 0) io_close(connection_id_);
  connection_id_ = 0;
  open_ = false;
  lose_request();
}

void SyncAgent::Loop::count_failure(const Status& status) {
  std::lock_guard lock(agent_.state_mutex_);
  agent_.stats_.connection_failures++;
  agent_.consecutive_failures_++;
  agent_.failures_total_++;
  agent_.last_error_ = status;
  agent_.state_changed_.notify_all();
}

void SyncAgent::Loop::reconnect_later(const Status& status) {
  count_failure(status);
  uint64_t delay = backoff_.next_delay_ms(random_);
  timer_mode_ = TimerMode::kReconnect;
  uv_timer_start(
      &timer_, [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_timer(); }, delay,
      0);
  set_state(AgentState::kBackoff, status, delay);
}

void SyncAgent::Loop::retry_later(const Status& status) {
  count_failure(status);
  uint64_t delay = backoff_.next_delay_ms(random_);
  retry_wait_ = true;
  timer_mode_ = TimerMode::kRetryRequest;
  uv_timer_start(
      &timer_, [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_timer(); }, delay,
      0);
  set_state(AgentState::kConnected, status, delay);
}

void SyncAgent::Loop::fail(const Status& status) {
  if (status.code() == ErrorCode::kUnauthenticated && agent_.options_.on_token_expired) {
    return token_refused(status);
  }
  drop_connection();
  uv_timer_stop(&timer_);
  timer_mode_ = TimerMode::kNone;
  failed_ = true;
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.fatal_ = status;
    agent_.last_error_ = status;
  }
  set_state(AgentState::kFailed, status);
}

void SyncAgent::Loop::token_refused(const Status& status) {
  drop_connection();
  uv_timer_stop(&timer_);
  timer_mode_ = TimerMode::kNone;
  count_failure(status);
  tokens_refused_in_row_++;
  awaiting_token_ = true;
  failed_ = true;  // nothing is sent until a token comes (or wake() tries again)
  set_state(AgentState::kFailed, status);
  // The app may call set_token() inside: its on_token_changed() task runs after this one,
  // so look here too and reconnect at once.
  agent_.options_.on_token_expired(status);
  if (awaiting_token_ && !stopping_ && agent_.token_generation() != connection_token_generation_) {
    reconnect_with_new_token();
  }
}

void SyncAgent::Loop::on_token_changed() {
  if (!awaiting_token_ || stopping_) return;
  if (agent_.token_generation() == connection_token_generation_) return;
  reconnect_with_new_token();
}

void SyncAgent::Loop::reconnect_with_new_token() {
  awaiting_token_ = false;
  failed_ = false;
  if (tokens_refused_in_row_ <= 1) return connect();
  // The new token was refused as well: wait a backoff delay before the next one.
  uint64_t delay = backoff_.next_delay_ms(random_);
  timer_mode_ = TimerMode::kReconnect;
  uv_timer_start(
      &timer_, [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_timer(); }, delay,
      0);
  set_state(AgentState::kBackoff, error(ErrorCode::kUnauthenticated, "the new token was refused"),
            delay);
}

void SyncAgent::Loop::handle_client_error(const Status& status) {
  // Replica or protocol trouble. A busy or full disk may pass; a newer schema, a damaged
  // file or a server that breaks the protocol will not.
  if (status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kIo) {
    drop_connection();
    reconnect_later(status);
  } else {
    fail(status);
  }
}

void SyncAgent::Loop::on_timer() {
  TimerMode mode = timer_mode_;
  timer_mode_ = TimerMode::kNone;
  if (stopping_) return;
  if (mode == TimerMode::kReconnect) {
    connect();
  } else if (mode == TimerMode::kRetryRequest) {
    retry_wait_ = false;
    set_state(AgentState::kConnected);
    pump();
  }
}

void SyncAgent::Loop::wake() {
  if (stopping_) return;
  {
    std::lock_guard lock(agent_.state_mutex_);
    ticket_seen_ = agent_.sync_ticket_requested_;
  }
  if (failed_) {
    failed_ = false;
    std::lock_guard lock(agent_.state_mutex_);
    agent_.fatal_ = Status();
  }
  if (timer_mode_ == TimerMode::kRetryRequest) {
    uv_timer_stop(&timer_);
    timer_mode_ = TimerMode::kNone;
    retry_wait_ = false;
  }
  if (connection_id_ == 0) {
    // In backoff (or failed): try now.
    uv_timer_stop(&timer_);
    timer_mode_ = TimerMode::kNone;
    connect();
    return;
  }
  if (open_) {
    mark_behind();
    pump();
  }
  // Still connecting: on_opened pulls.
}

void SyncAgent::Loop::mark_behind() {
  // An empty poke: "something may have changed", so the next request is a pull.
  agent_.client_->on_poke(protocol::Poke());
}

bool SyncAgent::Loop::pump() {
  if (!open_ || retry_wait_ || failed_ || stopping_) return false;
  SyncClient& client = *agent_.client_;
  if (client.request_in_flight()) return false;
  client.set_clock(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  auto next = client.next_request();
  if (!next.ok()) {
    handle_client_error(next.status());
    return false;
  }
  if (!next->has_value()) {
    publish_progress();
    if (client.up_to_date()) {
      std::lock_guard lock(agent_.state_mutex_);
      if (agent_.sync_ticket_served_ < ticket_seen_) {
        agent_.sync_ticket_served_ = ticket_seen_;
        agent_.state_changed_.notify_all();
      }
    }
    return true;
  }
  send_request(**next);
  return false;
}

void SyncAgent::Loop::send_request(const protocol::ClientFrame& frame) {
  uint64_t pushed = 0;
  if (frame.has_push()) {
    for (const auto& mutation : frame.push().mutations()) {
      if (mutation.id() > highest_pushed_id_) {
        highest_pushed_id_ = mutation.id();
        pushed++;
      }
    }
  }
  std::string bytes = frame.SerializeAsString();
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.stats_.frames_sent++;
    agent_.stats_.bytes_sent += bytes.size();  // before compression; close enough
    agent_.stats_.mutations_pushed += pushed;
  }
  io_send(connection_id_, std::move(bytes));
  uv_timer_start(
      &request_timer_,
      [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_request_timeout(); },
      static_cast<uint64_t>(agent_.options_.request_timeout.count()), 0);
}

void SyncAgent::Loop::on_request_timeout() {
  if (stopping_ || !open_ || !agent_.client_->request_in_flight()) return;
  drop_connection();
  reconnect_later(error(ErrorCode::kUnavailable, "the server did not answer in time"));
}

void SyncAgent::Loop::on_foreign_commit_check() {
  if (stopping_) return;
  // The stamp first: a commit after it moves the stamp again (the watch wakes us), one
  // before it is what refresh() reads now.
  std::optional<Replica::CommitStamp> stamp;
  if (watch_id_ != 0) stamp = stamp_reader_();
  // Subscribers are told inside refresh(); new mutations in the outbox are pushed now.
  auto changes = agent_.replica_->refresh();
  if (!changes.ok()) {
    // A busy or briefly unreadable file: the next tick looks again.
    if (watch_id_ != 0) CommitWatch::process().look_again(watch_id_);
    if (changes.status().code() != ErrorCode::kIo) handle_client_error(changes.status());
    return;
  }
  if (stamp) CommitWatch::process().seen(watch_id_, *stamp);
  if (changes->outbox_changed || changes->everything_changed) pump();
}

void SyncAgent::Loop::set_state(AgentState state, const Status& status, uint64_t delay_ms) {
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.state_ = state;
    if (!status.ok()) agent_.last_error_ = status;
    agent_.state_changed_.notify_all();
  }
  if (agent_.options_.on_state) agent_.options_.on_state(state, status, delay_ms);
}

void SyncAgent::Loop::publish_progress() {
  const SyncProgress& progress = agent_.client_->progress();
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.progress_ = progress;  // assigned into the same shape: no allocation
  }
  if (agent_.options_.on_progress) agent_.options_.on_progress(progress);
}

}  // namespace outpost
