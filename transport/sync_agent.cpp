#include "transport/sync_agent.h"

#include <uv.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <filesystem>
#include <future>
#include <utility>

#include "engine/domain_mutators.h"
#include "transport/base64url.h"
#include "transport/limits.h"
#include "transport/token.h"
#include "transport/zstd_codec.h"

namespace outpost {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------ helpers

Result<protocol::TokenClaims> read_token_claims_unverified(std::string_view token) {
  const Status malformed = error(ErrorCode::kUnauthenticated, "malformed token");
  if (token.empty() || token.size() > limits::kMaxTokenLength) return malformed;
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return malformed;
  auto payload = base64url_decode(token.substr(0, dot));
  if (!payload.ok()) return malformed;
  protocol::TokenClaims claims;
  if (!claims.ParseFromString(*payload)) return malformed;
  if (!is_valid_token_name(claims.tenant()) || !is_valid_token_name(claims.user())) {
    return malformed;
  }
  return claims;
}

Result<ServerAddress> parse_server_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return error(ErrorCode::kInvalidArgument,
                 "bad server URL '" + std::string(url) + "': " + std::string(why));
  };
  std::string_view rest;
  std::string default_port;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
    default_port = "80";
  } else if (url.starts_with("ws://")) {
    rest = url.substr(5);
    default_port = "80";
  } else if (url.starts_with("https://") || url.starts_with("wss://")) {
    return bad("TLS (https, wss) is not supported yet");
  } else {
    return bad("expected http://host:port");
  }
  ServerAddress address;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    address.path_prefix = std::string(path);
  }
  std::string_view port;
  if (authority.starts_with("[")) {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    address.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    address.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (address.host.empty()) return bad("missing host");
  if (port.empty()) {
    address.port = default_port;
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    address.port = std::string(port);
  }
  return address;
}

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

namespace {

Status from_beast(const beast::error_code& ec, std::string_view what) {
  return error(ErrorCode::kUnavailable, std::string(what) + ": " + ec.message());
}

// The answer to a refused WebSocket upgrade: HTTP status, X-Outpost-Error and (maybe) a
// zstd(protocol::Error) body. Returns the status and whether trying again may help.
std::pair<Status, bool> declined_upgrade(const websocket::response_type& response) {
  unsigned code = response.result_int();
  std::string message = "server refused the stream: HTTP " + std::to_string(code);
  ErrorCode error_code = ErrorCode::kUnavailable;
  auto header = response.find("X-Outpost-Error");
  if (header != response.end()) error_code = error_code_from_name(header->value());
  if (!response.body().empty()) {
    auto body = zstd_decompress(response.body(), limits::kMaxDecompressedBody);
    protocol::Error decoded;
    if (body.ok() && decoded.ParseFromString(*body)) {
      if (!decoded.code().empty()) error_code = error_code_from_name(decoded.code());
      if (!decoded.message().empty()) message += " (" + decoded.message() + ")";
    }
  }
  bool retryable = code >= 500 || code == 429 || code == 408;
  if (header == response.end()) {
    if (code == 401) error_code = ErrorCode::kUnauthenticated;
    if (code == 403) error_code = ErrorCode::kPermissionDenied;
    if (code == 404) error_code = ErrorCode::kNotFound;
    if (code == 413) error_code = ErrorCode::kTooLarge;
    if (code == 400) error_code = ErrorCode::kInvalidArgument;
  }
  if (retryable) error_code = ErrorCode::kUnavailable;
  return {Status(error_code, message), retryable};
}

}  // namespace

// ------------------------------------------------------------------------------ the loop

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
  bool post(std::function<void()> task) {
    std::lock_guard lock(inbox_mutex_);
    if (!alive_) return false;
    inbox_.push_back(std::move(task));
    uv_async_send(&inbox_async_);
    return true;
  }
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_.get_id(); }

  // [loop] entry points
  void wake();
  void pump();
  // Sends one request on the open connection and arms its answer timeout.
  void send_request(const protocol::ClientFrame& frame);

  // [io] -> [loop]
  void io_opened(uint64_t id) {
    post([this, id] { on_opened(id); });
  }
  void io_frame(uint64_t id, std::shared_ptr<protocol::ServerFrame> frame, size_t wire_bytes) {
    post([this, id, frame = std::move(frame), wire_bytes] { on_frame(id, *frame, wire_bytes); });
  }
  void io_closed(uint64_t id, Status status, bool retryable) {
    post([this, id, status = std::move(status), retryable] { on_closed(id, status, retryable); });
  }

 private:
  class Session;

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
  void handle_client_error(const Status& status);
  void mark_behind();
  void set_state(AgentState state, const Status& status = Status(), uint64_t delay_ms = 0);
  void publish_progress();
  void count_failure(const Status& status);
  void on_timer();
  void on_request_timeout();
  void on_foreign_commit_check();
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
  uv_timer_t foreign_timer_{};  // looks for commits by other processes (foreign_commit_poll)
  std::thread loop_thread_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> io_work_;
  std::thread io_thread_;

  std::mutex inbox_mutex_;
  bool alive_ = false;                       // guarded by inbox_mutex_
  std::deque<std::function<void()>> inbox_;  // guarded by inbox_mutex_

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
  uint64_t ticket_seen_ = 0;  // newest sync_for ticket this loop has acted on
  uint64_t highest_pushed_id_ = 0;

  // [io]
  std::shared_ptr<Session> session_;
};

// One WebSocket connection to /v1/stream, on the I/O thread: resolve, connect, handshake,
// then a read loop and a write queue. It reports exactly one of opened-then-closed or
// closed to the loop, unless the loop closed it itself.
class SyncAgent::Loop::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Loop& loop, uint64_t id)
      : loop_(loop),
        id_(id),
        resolver_(loop.io_),
        ws_(loop.io_),
        deadline_(loop.io_),
        address_(loop.agent_.address_),
        token_(loop.agent_.current_token()),
        connect_timeout_(loop.agent_.options_.connect_timeout),
        idle_timeout_(loop.agent_.options_.idle_timeout) {}

  uint64_t id() const { return id_; }

  void start() {
    deadline_.expires_after(connect_timeout_);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->handshaking_ && !self->finished_) {
        self->fail(error(ErrorCode::kUnavailable, "connect timed out"), true);
      }
    });
    resolver_.async_resolve(
        address_.host, address_.port,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->on_resolve(ec, std::move(results));
        });
  }

  void send(std::string frame) {
    if (finished_) return;
    auto compressed = compressor_.compress_message(frame);
    if (!compressed.ok()) {
      fail(compressed.status().with_context("compressing a frame"), true);
      return;
    }
    // Bounded by name (limits::kMaxQueuedBytesToServer); one request at a time keeps it far
    // below, so reaching it means the server stopped reading: reconnect with backoff.
    if (!queue_.empty() && queued_bytes_ + compressed->size() > limits::kMaxQueuedBytesToServer) {
      fail(error(ErrorCode::kUnavailable, "send queue full: the server is not reading"), true);
      return;
    }
    queued_bytes_ += compressed->size();
    queue_.push_back(std::move(compressed).value());
    if (open_ && !writing_) write_next();
  }

  // Closes without reporting to the loop (the loop asked for it).
  void close() {
    if (finished_) return;
    finished_ = true;
    resolver_.cancel();
    if (!open_ || writing_) {  // a close frame may not overlap a write: just hang up
      shutdown();
      return;
    }
    // A polite close frame, but never wait long for it.
    deadline_.expires_after(std::chrono::milliseconds(500));
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->shutdown();
    });
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) { self->shutdown(); });
  }

 private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (ec) return fail(from_beast(ec, "resolving " + address_.host), true);
    beast::get_lowest_layer(ws_).expires_after(connect_timeout_);
    beast::get_lowest_layer(ws_).async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(beast::error_code ec) {
    if (finished_) return;
    if (ec)
      return fail(from_beast(ec, "connecting to " + address_.host + ":" + address_.port), true);
    handshaking_ = true;
    deadline_.cancel();
    beast::get_lowest_layer(ws_).expires_never();
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(limits::kHandshakeTimeoutSeconds);
    timeouts.idle_timeout = idle_timeout_;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    std::string authorization = "Bearer " + token_;
    ws_.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& req) {
      req.set(http::field::authorization, authorization);
      req.set(http::field::user_agent, "outpost-device");
    }));
    ws_.read_message_max(limits::kMaxFrame);
    ws_.binary(true);
    ws_.auto_fragment(false);
    std::string host = address_.host.find(':') != std::string::npos
                           ? "[" + address_.host + "]:" + address_.port
                           : address_.host + ":" + address_.port;
    ws_.async_handshake(
        response_, host, address_.stream_target(),
        [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(beast::error_code ec) {
    if (finished_) return;
    if (ec == websocket::error::upgrade_declined) {
      auto [status, retryable] = declined_upgrade(response_);
      return fail(status, retryable);
    }
    if (ec) return fail(from_beast(ec, "WebSocket handshake"), true);
    open_ = true;
    response_ = {};
    loop_.io_opened(id_);
    read_next();
    if (!queue_.empty()) write_next();
  }

  void read_next() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t bytes) {
      self->on_read(ec, bytes);
    });
  }

  void on_read(beast::error_code ec, size_t bytes) {
    if (finished_) return;
    if (ec == websocket::error::closed) {
      return fail(error(ErrorCode::kUnavailable, "server closed the stream"), true);
    }
    if (ec == websocket::error::message_too_big) {
      return fail(error(ErrorCode::kTooLarge, "server frame over the frame limit"), true);
    }
    if (ec) return fail(from_beast(ec, "reading the stream"), true);
    std::string wire = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    auto plain = decompressor_.decompress_message(wire, limits::kMaxDecompressedFrame);
    if (!plain.ok()) return fail(plain.status().with_context("server frame"), true);
    auto frame = std::make_shared<protocol::ServerFrame>();
    if (!frame->ParseFromString(*plain)) {
      return fail(error(ErrorCode::kInvalidArgument, "server frame: malformed protobuf"), true);
    }
    loop_.io_frame(id_, std::move(frame), bytes);
    read_next();
  }

  void write_next() {
    writing_ = true;
    ws_.async_write(
        net::buffer(queue_.front()),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (finished_) return;
    if (ec) return fail(from_beast(ec, "writing the stream"), true);
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (!queue_.empty()) write_next();
  }

  void fail(Status status, bool retryable) {
    if (finished_) return;
    finished_ = true;
    shutdown();
    loop_.io_closed(id_, std::move(status), retryable);
  }

  void shutdown() {
    beast::error_code ignored;
    deadline_.cancel();
    resolver_.cancel();
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  Loop& loop_;
  uint64_t id_;
  tcp::resolver resolver_;
  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer deadline_;
  beast::flat_buffer buffer_;
  websocket::response_type response_;
  ServerAddress address_;
  std::string token_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds idle_timeout_;
  StreamCompressor compressor_;
  StreamDecompressor decompressor_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;  // of queue_
  bool handshaking_ = false;
  bool open_ = false;
  bool writing_ = false;
  bool finished_ = false;
};

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
  if (const auto poll = agent_.options_.foreign_commit_poll; poll.count() > 0) {
    const auto interval = static_cast<uint64_t>(poll.count());
    uv_timer_start(
        &foreign_timer_,
        [](uv_timer_t* timer) { static_cast<Loop*>(timer->loop->data)->on_foreign_commit_check(); },
        interval, interval);
  }
  {
    std::lock_guard lock(inbox_mutex_);
    alive_ = true;
  }
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

void SyncAgent::Loop::stop() {
  post([this] { begin_stop(); });
  if (loop_thread_.joinable()) loop_thread_.join();
  {
    std::lock_guard lock(inbox_mutex_);
    alive_ = false;
    inbox_.clear();  // destroys waiters' promises: they see a broken promise
  }
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

void SyncAgent::Loop::drain_inbox() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(inbox_mutex_);
    tasks.swap(inbox_);
  }
  for (auto& task : tasks) {
    if (stopping_) break;
    task();
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
      pump();
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
    std::lock_guard lock(agent_.state_mutex_);
    agent_.consecutive_failures_ = 0;
  }
  publish_progress();
  pump();
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

void SyncAgent::Loop::pump() {
  if (!open_ || retry_wait_ || failed_ || stopping_) return;
  SyncClient& client = *agent_.client_;
  if (client.request_in_flight()) return;
  auto next = client.next_request();
  if (!next.ok()) {
    handle_client_error(next.status());
    return;
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
    return;
  }
  send_request(**next);
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
  // Subscribers are told inside refresh(); new mutations in the outbox are pushed now.
  auto changes = agent_.replica_->refresh();
  if (!changes.ok()) {
    // A busy or briefly unreadable file: the next tick looks again.
    if (changes.status().code() != ErrorCode::kIo) handle_client_error(changes.status());
    return;
  }
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
  SyncProgress progress = agent_.client_->progress();
  {
    std::lock_guard lock(agent_.state_mutex_);
    agent_.progress_ = progress;
  }
  if (agent_.options_.on_progress) agent_.options_.on_progress(progress);
}

// ------------------------------------------------------------------------------ SyncAgent

Result<std::unique_ptr<SyncAgent>> SyncAgent::open(SyncAgentOptions options) {
  OUTPOST_ASSIGN_OR_RETURN(protocol::TokenClaims claims,
                           read_token_claims_unverified(options.token));
  ReplicaOptions replica_options = options.replica;
  if (replica_options.tenant.empty()) replica_options.tenant = claims.tenant();
  if (replica_options.user.empty()) replica_options.user = claims.user();
  // Replica::open records the identity it is given, even over another one: look first, so
  // a token for another user never takes over (and pushes from) someone else's replica.
  std::error_code ignored;
  if (std::filesystem::exists(options.replica_path, ignored)) {
    ReplicaOptions peek;
    peek.read_only = true;
    auto existing = Replica::open(options.replica_path, Schema::domain(), nullptr, peek);
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
      Replica::open(options.replica_path, Schema::domain(), &domain_mutators(), replica_options));
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
  if (options.backoff_base_ms == 0) options.backoff_base_ms = 1;
  if (options.backoff_max_ms < options.backoff_base_ms) {
    options.backoff_max_ms = options.backoff_base_ms;
  }
  return std::unique_ptr<SyncAgent>(
      new SyncAgent(std::move(options), std::move(address), std::move(replica)));
}

SyncAgent::SyncAgent(SyncAgentOptions options, ServerAddress address,
                     std::unique_ptr<Replica> replica)
    : options_(std::move(options)), address_(std::move(address)), replica_(std::move(replica)) {
  token_ = options_.token;
  client_ = std::make_unique<SyncClient>(*replica_, options_.client);
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
  std::lock_guard lock(token_mutex_);
  token_ = std::move(token);
  return Status::Ok();
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
  summary.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return summary;
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
