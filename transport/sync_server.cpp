#include "transport/sync_server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "transport/client_frame.h"
#include "transport/http_util.h"
#include "transport/zstd_codec.h"

namespace outpost {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// After an error response that closes the connection, unread request bytes are read and
// dropped for a while (a "lingering close"), so the peer receives the response instead of
// a reset caused by data left unread in our receive buffer.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 2 * limits::kMaxCompressedBody;
// Read buffers larger than this are released after the message that grew them.
constexpr size_t kKeptReadBuffer = 64 * limits::kKiB;
// A failed accept (out of file descriptors...) is retried after this pause.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// stop(): after the grace period, cut connections and wait this long for them to go.
constexpr auto kForceCloseWait = std::chrono::seconds(2);
// What the cursor-token key is derived for (TokenAuthority::derive_key).
constexpr std::string_view kCursorKeyPurpose = "outpost cursor tokens v1";

using Request = http_api::HttpRequest;
using Response = http_api::HttpResponse;

class Session;

// Every live connection, so stop() can shut them down and commits can poke them.
// Shared with the commit listener, which ServerCore keeps forever: it outlives the server.
class SessionRegistry {
 public:
  void add(Session* session, std::weak_ptr<Session> weak) {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session, std::move(weak));
  }
  void remove(Session* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty()) empty_.notify_all();
  }
  std::vector<std::shared_ptr<Session>> snapshot() {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Session>> out;
    for (auto& [raw, weak] : sessions_) {
      if (auto strong = weak.lock()) out.push_back(std::move(strong));
    }
    return out;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }
  bool wait_empty(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return empty_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
  }
  void disable_pokes() {
    std::lock_guard lock(mutex_);
    pokes_enabled_ = false;
  }
  // Called by ServerCore on the committing thread, or for commits of other processes.
  void poke(const std::vector<CommittedHead>& heads);
  // Every stream re-reads the heads of its scopes and is poked with them.
  void poke_all();

 private:
  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  bool pokes_enabled_ = true;
};

// What every connection shares; owned by SyncServer::Impl, which outlives the sessions.
struct Context {
  ServerCore& core;
  const TokenAuthority& tokens;
  SyncServerOptions options;
  std::shared_ptr<SessionRegistry> registry = std::make_shared<SessionRegistry>();
  std::atomic<bool> stopping{false};

  int64_t now_ms() const {
    if (options.now_ms) return options.now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void log(std::string_view line) const {
    if (options.log) options.log(line);
  }
};

// One connection on its own strand. Registered in the registry for its whole life.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(Context& context) : context_(context) {}
  virtual ~Session() { context_.registry->remove(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Any thread. Finish what is in flight, then close (WebSocket: normal close frame).
  virtual void shutdown() = 0;
  // Any thread. Close the socket now.
  virtual void force_close() = 0;
  // Any thread (the committing one). Heads that moved; only streams care.
  virtual void on_commit(const std::vector<CommittedHead>& heads) {}
  // Any thread. Commits may have been missed: poke with the current heads.
  virtual void on_resync() {}

 protected:
  // Call once, after make_shared, before the first asynchronous operation. Returns false
  // when the server is already stopping (the caller then closes at once).
  bool register_self() {
    context_.registry->add(this, weak_from_this());
    // stop() sets `stopping` before it snapshots the registry, so a session registered
    // after the snapshot always sees the flag here.
    return !context_.stopping.load();
  }

  Context& context_;
};

void SessionRegistry::poke(const std::vector<CommittedHead>& heads) {
  std::vector<std::shared_ptr<Session>> keep;
  {
    std::lock_guard lock(mutex_);
    if (!pokes_enabled_) return;
    for (auto& [raw, weak] : sessions_) {
      if (auto strong = weak.lock()) {
        strong->on_commit(heads);  // only posts to the session's strand
        keep.push_back(std::move(strong));
      }
    }
  }
  // `keep` may hold the last references: sessions are destroyed here, outside the lock
  // their destructor takes.
}

void SessionRegistry::poke_all() {
  std::vector<std::shared_ptr<Session>> keep;
  {
    std::lock_guard lock(mutex_);
    if (!pokes_enabled_) return;
    for (auto& [raw, weak] : sessions_) {
      if (auto strong = weak.lock()) {
        strong->on_resync();  // only posts to the session's strand
        keep.push_back(std::move(strong));
      }
    }
  }
}

// --- helpers ---------------------------------------------------------------------------

using http_api::error_response;
using http_api::to_view;

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

// How connections usually end; not worth a log line.
bool is_ordinary_disconnect(const beast::error_code& ec) {
  return ec == websocket::error::closed || ec == net::error::operation_aborted ||
         ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == beast::error::timeout;
}

// --- WebSocket session ------------------------------------------------------------------

// Refills `rate` tokens per second up to `burst`; one frame costs one token.
class FrameBudget {
 public:
  FrameBudget(double rate, double burst)
      : rate_(rate), burst_(burst), tokens_(burst), last_(std::chrono::steady_clock::now()) {}
  bool take() {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

class WsSession final : public Session {
 public:
  ~WsSession() override {
    if (accepted_ && context_.options.on_stream) context_.options.on_stream(principal_, false);
  }

  WsSession(Context& context, tcp::socket&& socket, http_api::Authenticated who)
      : Session(context),
        ws_(std::move(socket)),
        strand_(ws_.get_executor()),
        principal_(std::move(who.who)),
        expires_ms_(who.expires_ms),
        budget_(context.options.frames_per_second, context.options.frame_burst) {}

  void start(Request request) {
    bool running = register_self();
    net::dispatch(strand_, [self = self_ptr(), request = std::move(request), running]() mutable {
      self->on_start(std::move(request), running);
    });
  }

  void shutdown() override {
    net::post(strand_, [self = self_ptr()] {
      self->stop_requested_ = true;
      if (self->accepted_) self->begin_close({websocket::close_code::normal, "server stopping"});
    });
  }

  void force_close() override {
    net::post(strand_, [self = self_ptr()] { self->abort(); });
  }

  void on_commit(const std::vector<CommittedHead>& heads) override {
    std::vector<CommittedHead> readable;
    for (const CommittedHead& head : heads) {
      if (principal_.may_read(head.scope)) readable.push_back(head);
    }
    if (readable.empty()) return;
    net::post(strand_,
              [self = self_ptr(), readable = std::move(readable)] { self->queue_poke(readable); });
  }

  void on_resync() override {
    net::post(strand_, [self = self_ptr()] {
      std::vector<CommittedHead> heads;
      for (const std::string& scope : self->context_.core.scopes_of(self->principal_)) {
        auto info = self->context_.core.store().scope_info(scope);
        if (info.ok() && info->head_seq > 0) heads.push_back(CommittedHead{scope, info->head_seq});
      }
      if (!heads.empty()) self->queue_poke(heads);
    });
  }

 private:
  // A message waiting to be sent: a serialized ServerFrame, or the one coalesced poke,
  // built from pending_heads_ when its turn comes.
  struct Outgoing {
    bool poke = false;
    std::string frame;
  };

  std::shared_ptr<WsSession> self_ptr() {
    return std::static_pointer_cast<WsSession>(shared_from_this());
  }

  void on_start(Request request, bool running) {
    // The HTTP stage's deadline no longer applies: the websocket timeouts take over.
    beast::get_lowest_layer(ws_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = context_.options.handshake_timeout;
    timeouts.idle_timeout = context_.options.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, http_api::kServerName);
    }));
    ws_.read_message_max(limits::kMaxFrame);
    ws_.binary(true);
    if (!running) stop_requested_ = true;
    ws_.async_accept(
        request, net::bind_executor(
                     strand_, [self = self_ptr()](beast::error_code ec) { self->on_accept(ec); }));
  }

  void on_accept(beast::error_code ec) {
    if (ec) {
      context_.log("websocket handshake failed: " + ec.message());
      return;
    }
    accepted_ = true;
    if (context_.options.on_stream) context_.options.on_stream(principal_, true);
    if (stop_requested_ || context_.stopping) {
      return begin_close({websocket::close_code::normal, "server stopping"});
    }
    if (!pending_heads_.empty() && !poke_queued_) {
      poke_queued_ = true;
      enqueue(Outgoing{true, {}});
    }
    do_read();
  }

  void do_read() {
    if (closing_) return;
    ws_.async_read(read_buffer_,
                   net::bind_executor(strand_, [self = self_ptr()](beast::error_code ec, size_t) {
                     self->on_read(ec);
                   }));
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // Closed by the peer, idle timeout, a too-big or malformed websocket frame (Beast
      // has already failed the connection), or our own close/abort.
      if (!is_ordinary_disconnect(ec)) context_.log("websocket read: " + ec.message());
      closing_ = true;
      return;
    }
    std::string message = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (read_buffer_.capacity() > kKeptReadBuffer) read_buffer_.shrink_to_fit();
    if (closing_) return;

    if (!ws_.got_binary()) {
      return fail(error(ErrorCode::kInvalidArgument, "text messages are not part of the protocol"),
                  websocket::close_code::unknown_data);
    }
    if (!budget_.take()) {
      return fail(error(ErrorCode::kUnavailable, "too many frames per second, slow down"),
                  websocket::close_code::try_again_later);
    }
    int64_t now = context_.now_ms();
    if (now >= expires_ms_) {
      return fail(error(ErrorCode::kUnauthenticated, "token expired"),
                  websocket::close_code::policy_error);
    }
    Result<protocol::ClientFrame> decoded = decode_client_frame(decompressor_, message);
    if (!decoded.ok()) {
      return fail(decoded.status(), decoded.status().code() == ErrorCode::kTooLarge
                                        ? websocket::close_code::too_big
                                        : websocket::close_code::bad_payload);
    }
    const protocol::ClientFrame& frame = decoded.value();
    protocol::ServerFrame out;
    switch (frame.body_case()) {
      case protocol::ClientFrame::kPush: {
        auto result =
            http_api::call_core([&] { return context_.core.push(principal_, frame.push(), now); });
        if (result.ok()) {
          *out.mutable_push() = std::move(result).value();
        } else {
          *out.mutable_error() = http_api::to_wire_error(result.status());
        }
        break;
      }
      case protocol::ClientFrame::kPull: {
        auto result =
            http_api::call_core([&] { return context_.core.pull(principal_, frame.pull()); });
        if (result.ok()) {
          *out.mutable_pull() = std::move(result).value();
        } else {
          *out.mutable_error() = http_api::to_wire_error(result.status());
        }
        break;
      }
      case protocol::ClientFrame::kPing:
        out.mutable_pong()->set_sent_ms(frame.ping().sent_ms());
        break;
      default:
        return fail(error(ErrorCode::kInvalidArgument, "empty ClientFrame"),
                    websocket::close_code::bad_payload);
    }
    send(out);
    do_read();
  }

  void send(const protocol::ServerFrame& frame) {
    std::string bytes;
    if (!frame.SerializeToString(&bytes)) {
      context_.log("cannot serialize a ServerFrame");
      return abort();
    }
    enqueue(Outgoing{false, std::move(bytes)});
  }

  // A protocol violation: say why in an error frame, then close with `code`.
  void fail(const Status& failure, websocket::close_code code) {
    protocol::ServerFrame out;
    *out.mutable_error() = http_api::to_wire_error(failure);
    send(out);
    std::string reason = failure.to_string();
    reason.resize(std::min<size_t>(reason.size(), 120));  // a close reason holds 123 bytes
    begin_close({code, reason});
  }

  void queue_poke(const std::vector<CommittedHead>& heads) {
    if (closing_) return;
    for (const CommittedHead& head : heads) {
      uint64_t& seq = pending_heads_[head.scope];
      seq = std::max(seq, head.head_seq);
    }
    if (!accepted_ || poke_queued_) return;  // sent after the handshake / already queued
    poke_queued_ = true;
    enqueue(Outgoing{true, {}});
  }

  void enqueue(Outgoing item) {
    if (close_started_ || aborted_) return;
    if (queue_.size() >= context_.options.max_queued_frames) {
      // The peer does not read: cut it rather than hold its backlog in memory.
      context_.log("websocket outgoing queue full; disconnecting " + principal_.device);
      return abort();
    }
    // One answer is always let through, however large: the bound is on the backlog.
    if (!queue_.empty() && queued_bytes_ + item.frame.size() > context_.options.max_queued_bytes) {
      context_.log("websocket outgoing queue full (queued bytes); disconnecting " +
                   principal_.device);
      return abort();
    }
    queued_bytes_ += item.frame.size();
    queue_.push_back(std::move(item));
    if (!writing_) do_write();
  }

  void do_write() {
    Outgoing item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= item.frame.size();
    if (item.poke) {
      protocol::ServerFrame frame;
      for (const auto& [scope, seq] : pending_heads_) {
        protocol::Cursor* head = frame.mutable_poke()->add_heads();
        head->set_scope(scope);
        head->set_seq(seq);
      }
      pending_heads_.clear();
      poke_queued_ = false;
      if (!frame.SerializeToString(&item.frame)) return abort();
    }
    Result<std::string> compressed = compressor_.compress_message(item.frame);
    if (!compressed.ok()) {
      context_.log("websocket compression: " + compressed.status().to_string());
      return abort();
    }
    write_buffer_ = std::move(compressed).value();
    writing_ = true;
    ws_.async_write(net::buffer(write_buffer_),
                    net::bind_executor(strand_, [self = self_ptr()](beast::error_code ec, size_t) {
                      self->on_write(ec);
                    }));
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    write_buffer_.clear();
    if (write_buffer_.capacity() > kKeptReadBuffer) write_buffer_.shrink_to_fit();
    if (ec) {
      if (!is_ordinary_disconnect(ec)) context_.log("websocket write: " + ec.message());
      return abort();
    }
    if (!queue_.empty()) return do_write();
    if (close_pending_) do_close();
  }

  // Stops reading new frames, flushes what is queued, then sends the close frame.
  void begin_close(websocket::close_reason reason) {
    if (close_pending_ || aborted_) return;
    closing_ = true;
    close_pending_ = true;
    close_reason_ = std::move(reason);
    if (!writing_ && queue_.empty()) do_close();
  }

  void do_close() {
    if (close_started_ || aborted_) return;
    close_started_ = true;
    ws_.async_close(close_reason_,
                    net::bind_executor(strand_, [self = self_ptr()](beast::error_code) {}));
  }

  void abort() {
    if (aborted_) return;
    aborted_ = true;
    closing_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<beast::tcp_stream> ws_;
  const net::any_io_executor strand_;
  const Principal principal_;  // immutable: read by on_commit from other threads
  const int64_t expires_ms_;
  FrameBudget budget_;
  StreamCompressor compressor_;
  StreamDecompressor decompressor_;
  beast::flat_buffer read_buffer_;
  std::string write_buffer_;
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;  // serialized frames in queue_
  std::map<std::string, uint64_t> pending_heads_;
  websocket::close_reason close_reason_;
  bool accepted_ = false;
  bool stop_requested_ = false;
  bool writing_ = false;
  bool poke_queued_ = false;
  bool closing_ = false;        // no more frames are read or answered
  bool close_pending_ = false;  // a close frame follows the queued messages
  bool close_started_ = false;
  bool aborted_ = false;
};

// --- HTTP session -----------------------------------------------------------------------

class HttpSession final : public Session {
 public:
  // `over_capacity`: accepted past max_connections; answered 503 at once, then closed.
  HttpSession(Context& context, tcp::socket&& socket, bool over_capacity = false)
      : Session(context),
        stream_(std::move(socket)),
        strand_(stream_.get_executor()),
        over_capacity_(over_capacity) {}

  void start() {
    bool running = register_self();
    net::dispatch(strand_, [self = self_ptr(), running] {
      if (!running) return self->close_now();
      if (self->over_capacity_) return self->refuse_over_capacity();
      self->do_read();
    });
  }

  void shutdown() override {
    net::post(strand_, [self = self_ptr()] {
      self->stop_requested_ = true;
      // Idle between requests (or not reading yet), or lingering: nothing to finish.
      bool idle = self->state_ == State::kReading && (!self->parser_ || !self->parser_->got_some());
      if (idle || self->state_ == State::kLingering) {
        self->close_now();
      }
    });
  }

  void force_close() override {
    net::post(strand_, [self = self_ptr()] { self->close_now(); });
  }

 private:
  enum class State { kReading, kWriting, kLingering, kDone };

  std::shared_ptr<HttpSession> self_ptr() {
    return std::static_pointer_cast<HttpSession>(shared_from_this());
  }

  void do_read() {
    if (stop_requested_) return close_now();
    parser_.emplace();
    parser_->body_limit(limits::kMaxCompressedBody);
    parser_->header_limit(static_cast<std::uint32_t>(limits::kMaxHeaderBytes));
    stream_.expires_after(first_request_ ? context_.options.handshake_timeout
                                         : context_.options.idle_timeout);
    state_ = State::kReading;
    http::async_read(stream_, buffer_, *parser_,
                     [self = self_ptr()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    first_request_ = false;
    if (ec == http::error::end_of_stream) return close_now();
    if (ec == http::error::body_limit) {
      return reply(error_response(error(ErrorCode::kTooLarge,
                                        "request body larger than " +
                                            std::to_string(limits::kMaxCompressedBody) + " bytes"),
                                  11),
                   true);
    }
    if (ec == http::error::header_limit) {
      return reply(error_response(error(ErrorCode::kTooLarge,
                                        "request headers larger than " +
                                            std::to_string(limits::kMaxHeaderBytes) + " bytes"),
                                  11),
                   true);
    }
    if (ec && is_http_parse_error(ec) && ec != http::error::partial_message) {
      return reply(
          error_response(
              error(ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message()), 11),
          true);
    }
    if (ec) return close_now();  // timeout, reset, shutdown: nobody to answer

    Request& request = parser_->get();
    if (websocket::is_upgrade(request)) return upgrade();
    Response response =
        http_api::handle_request(request, context_.core, context_.tokens, context_.now_ms());
    reply(std::move(response), !request.keep_alive());
  }

  // Before reading anything: the answer is the same for every request and every upgrade,
  // and reading first would let a silent peer hold the descriptor for the handshake time.
  // The lingering close then reads what the peer sends, so it gets this response.
  void refuse_over_capacity() {
    Response response = error_response(
        error(ErrorCode::kUnavailable, "too many connections (" +
                                           std::to_string(context_.options.max_connections) +
                                           "); retry later"),
        11);
    response.set(http::field::retry_after,
                 std::to_string(limits::kConnectionRefusalRetryAfterSeconds));
    reply(std::move(response), true);
  }

  void upgrade() {
    Request& request = parser_->get();
    const unsigned version = request.version();
    std::string_view target = to_view(request.target());
    if (http_api::request_path(target) != http_api::kStreamPath) {
      return reply(error_response(error(ErrorCode::kNotFound,
                                        "no WebSocket endpoint at " + std::string(target)),
                                  version),
                   true);
    }
    auto who = http_api::authenticate(context_.tokens, to_view(request[http::field::authorization]),
                                      context_.now_ms());
    if (!who.ok()) return reply(error_response(who.status(), version), true);
    if (stop_requested_ || context_.stopping) {
      return reply(error_response(error(ErrorCode::kUnavailable, "server shutting down"), version),
                   true);
    }
    state_ = State::kDone;
    std::make_shared<WsSession>(context_, stream_.release_socket(), std::move(who).value())
        ->start(parser_->release());
  }

  void reply(Response response, bool close) {
    close = close || stop_requested_ || context_.stopping;
    response_ = std::move(response);
    response_.keep_alive(!close);
    response_.prepare_payload();
    stream_.expires_after(context_.options.idle_timeout);
    state_ = State::kWriting;
    http::async_write(stream_, response_, [self = self_ptr(), close](beast::error_code ec, size_t) {
      self->on_write(ec, close);
    });
  }

  void on_write(beast::error_code ec, bool close) {
    response_ = {};
    if (ec) return close_now();
    // While stopping, the request was read whole: nothing is left unread to linger for.
    if (stop_requested_) return close_now();
    if (close) return linger();
    do_read();
  }

  // Half-closes, then reads and drops what the peer still sends (bounded in time and
  // bytes) so that it reads our response before it sees the connection end.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    state_ = State::kLingering;
    linger_buffer_.resize(16 * limits::kKiB);
    stream_.expires_after(kLingerTime);
    do_linger();
  }

  void do_linger() {
    stream_.async_read_some(net::buffer(linger_buffer_),
                            [self = self_ptr()](beast::error_code ec, size_t bytes) {
                              self->lingered_ += bytes;
                              if (ec || self->lingered_ > kLingerBytes) return self->close_now();
                              self->do_linger();
                            });
  }

  void close_now() {
    state_ = State::kDone;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const net::any_io_executor strand_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::vector<char> linger_buffer_;
  size_t lingered_ = 0;
  State state_ = State::kReading;
  bool first_request_ = true;
  bool stop_requested_ = false;
  const bool over_capacity_;
};

}  // namespace

// --- SyncServer -------------------------------------------------------------------------

struct SyncServer::Impl {
  Impl(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
      : context{core, tokens, std::move(options)} {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      context.log("accept: " + ec.message());
      accept_retry.expires_after(kAcceptRetry);
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) do_accept();
      });
      return;
    }
    if (context.stopping) return;
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Past the cap a connection still costs a descriptor for the linger time, but no
    // parsing, token check or store work.
    const bool over_capacity = context.registry->size() >= context.options.max_connections;
    std::make_shared<HttpSession>(context, std::move(socket), over_capacity)->start();
    do_accept();
  }

  void run_thread() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        context.log(std::string("server thread: ") + e.what());
      }
    }
  }

  // Declaration order is destruction order in reverse: the io_context goes before the
  // context its pending handlers' sessions refer to, the acceptor before the io_context.
  Context context;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  net::steady_timer accept_retry{acceptor.get_executor()};
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};
  std::mutex lifecycle;
  bool started = false;
  bool stopped = false;
};

SyncServer::SyncServer(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
    : impl_(std::make_unique<Impl>(core, tokens, std::move(options))) {
  // Continuation tokens are sealed with a key only servers holding this token key share.
  core.set_cursor_key(tokens.derive_key(kCursorKeyPurpose));
  core.add_commit_listener([registry = impl_->context.registry](
                               const std::vector<CommittedHead>& heads) { registry->poke(heads); });
}

void SyncServer::poke(const std::vector<CommittedHead>& heads) {
  impl_->context.registry->poke(heads);
}

void SyncServer::poke_all() {
  impl_->context.registry->poke_all();
}

SyncServer::~SyncServer() {
  stop();
}

Status SyncServer::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle);
  if (s.started || s.stopped) return error(ErrorCode::kFailedPrecondition, "already started");
  const SyncServerOptions& options = s.context.options;
  if (options.threads < 1) return error(ErrorCode::kInvalidArgument, "threads must be >= 1");
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return error(ErrorCode::kInvalidArgument, "not an IP address: '" + options.address + "'");
  }
  tcp::endpoint endpoint(address, options.port);
  auto failed = [&](std::string_view what) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    return error(ErrorCode::kUnavailable, "cannot listen on " + options.address + ":" +
                                              std::to_string(options.port) + ": " +
                                              std::string(what) + ": " + ec.message());
  };
  if (s.acceptor.open(endpoint.protocol(), ec)) return failed("open");
  if (s.acceptor.set_option(net::socket_base::reuse_address(true), ec)) return failed("option");
  if (s.acceptor.bind(endpoint, ec)) return failed("bind");
  if (s.acceptor.listen(net::socket_base::max_listen_connections, ec)) return failed("listen");
  s.port = s.acceptor.local_endpoint(ec).port();
  if (ec) return failed("local_endpoint");

  s.started = true;
  s.work.emplace(s.ioc.get_executor());
  s.do_accept();
  for (int i = 0; i < options.threads; ++i) {
    s.threads.emplace_back([&s] { s.run_thread(); });
  }
  s.context.log("listening on " + options.address + ":" + std::to_string(s.port.load()));
  return Status::Ok();
}

uint16_t SyncServer::port() const {
  return impl_->port.load();
}

size_t SyncServer::connection_count() const {
  return impl_->context.registry->size();
}

void SyncServer::stop() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle);
  if (s.stopped) return;
  s.stopped = true;
  if (!s.started) return;

  s.context.stopping = true;
  s.context.registry->disable_pokes();
  // Close the acceptor on its strand and wait: no connection is accepted afterwards.
  std::promise<void> acceptor_closed;
  net::post(s.acceptor.get_executor(), [&s, &acceptor_closed] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.accept_retry.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  for (const auto& session : s.context.registry->snapshot()) session->shutdown();
  if (!s.context.registry->wait_empty(
          std::chrono::milliseconds(s.context.options.shutdown_grace_ms))) {
    s.context.log("stop: cutting connections still open after the grace period");
    for (const auto& session : s.context.registry->snapshot()) session->force_close();
    s.context.registry->wait_empty(kForceCloseWait);
  }
  s.work.reset();
  s.ioc.stop();
  for (std::thread& thread : s.threads) thread.join();
  s.threads.clear();
  s.port = 0;
}

}  // namespace outpost
