#include "transport/server_stream_session.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <type_traits>

#include "transport/client_frame.h"
#include "transport/column_page.h"

namespace outpost::server_impl {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

// What a stopping server closes streams with: 1012 "service restart", reconnect.
websocket::close_reason restart_close() {
  return websocket::close_reason(websocket::close_code::service_restart,
                                 std::string(kRestartCloseReason));
}

}  // namespace

bool FrameBudget::take() {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

template <class Stream>
StreamSession<Stream>::StreamSession(ServerContext& context, Stream&& stream,
                                     http_api::Authenticated who)
    : Session(context),
      ws_(std::move(stream)),
      strand_(ws_.get_executor()),
      principal_(std::move(who.who)),
      user_scope_(principal_.user_scope()),
      org_scope_(principal_.org_scope()),
      expires_ms_(who.expires_ms),
      budget_(context.options.frames_per_second, context.options.frame_burst) {}

template <class Stream>
StreamSession<Stream>::~StreamSession() {
  if (accepted_ && context_.options.on_stream) context_.options.on_stream(principal_, false);
}

template <class Stream>
std::shared_ptr<StreamSession<Stream>> StreamSession<Stream>::self_ptr() {
  return std::static_pointer_cast<StreamSession>(shared_from_this());
}

template <class Stream>
void StreamSession<Stream>::start(http_api::HttpRequest request) {
  // Decision 059: indexed by the two scopes it reads; commits name them by id.
  const std::string scopes[] = {user_scope_, org_scope_};
  bool running = register_self(scopes, scope_ids_);
  net::dispatch(strand_, [self = self_ptr(), request = std::move(request), running]() mutable {
    self->on_start(std::move(request), running);
  });
}

template <class Stream>
void StreamSession<Stream>::shutdown() {
  net::post(strand_, [self = self_ptr()] {
    self->stop_requested_ = true;
    if (self->accepted_) self->begin_close(restart_close());
  });
}

template <class Stream>
void StreamSession<Stream>::force_close() {
  net::post(strand_, [self = self_ptr()] { self->abort(); });
}

template <class Stream>
void StreamSession<Stream>::on_commit(const std::shared_ptr<const CommitNotice>& commit) {
  // The registry hands a commit only to the streams of its scopes (decision 059).
  if (std::none_of(commit->scope_ids.begin(), commit->scope_ids.end(),
                   [this](ScopeId id) { return slot_of(id) >= 0; })) {
    return;
  }
  // Decision 047: the registry calls this from a batch task on an I/O thread, where an
  // idle strand runs the handler at once (no task queued per session); from any other
  // thread, or when the strand is busy, it is queued as before.
  net::dispatch(strand_, [self = self_ptr(), commit] { self->queue_commit(*commit); });
}

template <class Stream>
void StreamSession<Stream>::queue_commit(const CommitNotice& commit) {
  std::vector<CommittedHead> poke;
  for (size_t i = 0; i < commit.heads.size(); ++i) {
    const CommittedHead& head = commit.heads[i];
    const int slot = slot_of(commit.scope_ids[i]);
    if (slot < 0) continue;
    const std::shared_ptr<CarriedCommit>& carried = commit.carried[i];
    std::optional<uint64_t>& known = device_cursors_[slot];
    if (carried && accepts_carried_ && accepted_ && !closing_ && known && head.base_seq &&
        *known == *head.base_seq) {
      ServerCounters& counters = context_.counters;
      if (codec_.format() == StreamFormat::kMessage) {
        // Format 2: the message compressed once for every stream; on plain TCP with nothing
        // in flight, the whole WebSocket frame built once, put on the socket here.
        const auto& wire = carried->wire_frame(context_.core, counters.carried_encodings,
                                               counters.carried_compressions);
        if (wire) {
          // Counted before its bytes can reach the device, as on the queued paths below (a
          // device that has the frame finds it counted); taken back if it was not sent here.
          ServerCounters::add(counters.carried_sent);
          if (send_direct(wire)) {
            known = carried->cursor();
            continue;
          }
          counters.carried_sent.fetch_sub(1, std::memory_order_relaxed);
        }
        auto message = wire ? carried->message(context_.core, counters.carried_encodings,
                                               counters.carried_compressions)
                            : nullptr;
        if (message) {
          known = carried->cursor();
          ServerCounters::add(counters.carried_sent);
          enqueue(Outgoing{false, {}, std::move(message), true});
          continue;
        }
      } else if (auto frame = carried->frame(context_.core, counters.carried_encodings)) {
        // Format 1: the serialized frame, compressed by this stream's own zstd context.
        known = carried->cursor();
        ServerCounters::add(counters.carried_sent);
        enqueue(Outgoing{false, {}, std::move(frame), false});
        continue;
      }
    }
    poke.push_back(head);
  }
  if (!poke.empty()) queue_poke(poke);
}

template <class Stream>
bool StreamSession<Stream>::send_direct(const std::shared_ptr<const std::string>& wire) {
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    return false;  // TLS: the bytes must go through the TLS stream (Beast's path)
  } else {
    WriteGate<Stream>& gate = ws_.next_layer();
    if (writing_ || !queue_.empty() || close_started_ || aborted_ || !ws_.is_open() ||
        !gate.idle()) {
      return false;
    }
    beast::error_code ec;
    const size_t sent = gate.send_now(net::buffer(*wire), ec);
    if (sent == 0) return false;  // full, or failing: the queued write takes it (and the error)
    if (sent == wire->size()) {
      ServerCounters::add(context_.counters.frames_sent);
      ServerCounters::add(context_.counters.direct_sends);
      return true;
    }
    // Partial: the rest goes before any other byte; later messages queue behind it.
    ServerCounters::add(context_.counters.direct_partial_sends);
    writing_ = true;
    direct_rest_ = wire;
    gate.write_rest(net::buffer(*wire) + sent,
                    [self = self_ptr()](beast::error_code ec, size_t) { self->on_write(ec); });
    return true;
  }
}

template <class Stream>
void StreamSession<Stream>::note_cursors(const protocol::PullRequest& request,
                                         const protocol::PullResponse& response) {
  if (request.accepts_carried()) accepts_carried_ = true;
  for (const protocol::ScopeChanges& scope : response.scopes()) {
    const int slot = slot_of(scope.scope());
    if (slot < 0) continue;  // not one this stream reads: no commit of it reaches the stream
    // Only a complete log answer leaves the device at a known position: a snapshot or
    // reset in progress, a fetch, an urgent preview or a partial page are followed by pulls.
    if (request.fetch_scope().empty() && !request.urgent_first() && !scope.reset() &&
        !scope.has_more() && scope.cursor_token().empty() && scope.cursor() > 0) {
      device_cursors_[slot] = scope.cursor();
    } else {
      device_cursors_[slot].reset();
    }
  }
}

template <class Stream>
void StreamSession<Stream>::on_resync() {
  net::post(strand_, [self = self_ptr()] {
    std::vector<CommittedHead> heads;
    for (const std::string& scope : self->context_.core.scopes_of(self->principal_)) {
      auto info = self->context_.core.store().scope_info(scope);
      if (info.ok() && info->head_seq > 0) heads.push_back(CommittedHead{scope, info->head_seq});
    }
    if (!heads.empty()) self->queue_poke(heads);
  });
}

template <class Stream>
void StreamSession<Stream>::on_start(http_api::HttpRequest request, bool running) {
  // The HTTP stage's deadline no longer applies: the websocket timeouts take over.
  beast::get_lowest_layer(ws_).expires_never();
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.handshake_timeout = context_.options.handshake_timeout;
  timeouts.idle_timeout = context_.options.idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  // Decision 039: a device offering stream format 2 gets it, said in the 101 response.
  const auto offered = request.find(kStreamFormatHeader);
  codec_ = WireCodec(stream_format_offered(
      offered == request.end() ? std::string_view() : std::string_view(offered->value())));
  ws_.set_option(websocket::stream_base::decorator(
      [standalone = codec_.format() == StreamFormat::kMessage](websocket::response_type& response) {
        response.set(http::field::server, http_api::kServerName);
        if (standalone) response.set(kStreamFormatHeader, kMessageFormatValue);
      }));
  ws_.read_message_max(limits::kMaxFrame);
  ws_.binary(true);
  if (!running) stop_requested_ = true;
  ws_.async_accept(request, net::bind_executor(strand_, [self = self_ptr()](beast::error_code ec) {
                     self->on_accept(ec);
                   }));
}

template <class Stream>
void StreamSession<Stream>::on_accept(beast::error_code ec) {
  if (ec) {
    context_.log("websocket handshake failed: " + ec.message());
    return;
  }
  accepted_ = true;
  ServerCounters::add(context_.counters.streams_opened);
  if (context_.options.on_stream) context_.options.on_stream(principal_, true);
  if (stop_requested_ || context_.stopping) return begin_close(restart_close());
  if (!pending_heads_.empty() && !poke_queued_) {
    poke_queued_ = true;
    enqueue(Outgoing{true, {}, nullptr});
  }
  do_read();
}

template <class Stream>
void StreamSession<Stream>::do_read() {
  if (closing_) return;
  // Decision 052: wait for a message with a one-byte read. Beast's whole-message read
  // prepares 1,536 bytes of the buffer before anything arrives, which every idle stream
  // would hold; this holds one byte. Control frames (pings, close) are handled by Beast
  // inside either read, and the message size bound applies to the message as a whole.
  ws_.async_read_some(
      read_buffer_, 1,
      net::bind_executor(
          strand_, [self = self_ptr()](beast::error_code ec, size_t) { self->on_first_byte(ec); }));
}

template <class Stream>
void StreamSession<Stream>::on_first_byte(beast::error_code ec) {
  if (ec || ws_.is_message_done()) return on_read(ec);
  // The rest of the message, appended to the same buffer.
  ws_.async_read(read_buffer_,
                 net::bind_executor(strand_, [self = self_ptr()](beast::error_code ec, size_t) {
                   self->on_read(ec);
                 }));
}

template <class Stream>
void StreamSession<Stream>::on_read(beast::error_code ec) {
  if (ec) {
    // Closed by the peer, idle timeout, a too-big or malformed websocket frame (Beast
    // has already failed the connection), or our own close/abort.
    if (!is_ordinary_disconnect(ec)) context_.log("websocket read: " + ec.message());
    closing_ = true;
    return;
  }
  ServerCounters::add(context_.counters.frames_received);
  std::string message = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  // Released between frames: an idle stream holds no read buffer (decision 033).
  read_buffer_.shrink_to_fit();
  if (closing_) return;
  if (answer(message)) do_read();
}

template <class Stream>
bool StreamSession<Stream>::answer(const std::string& message) {
  if (!ws_.got_binary()) {
    fail(error(ErrorCode::kInvalidArgument, "text messages are not part of the protocol"),
         websocket::close_code::unknown_data);
    return false;
  }
  if (!budget_.take()) {
    fail(error(ErrorCode::kUnavailable, "too many frames per second, slow down"),
         websocket::close_code::try_again_later);
    return false;
  }
  int64_t now = context_.now_ms();
  if (now >= expires_ms_) {
    fail(error(ErrorCode::kUnauthenticated, "token expired"), websocket::close_code::policy_error);
    return false;
  }
  Result<protocol::ClientFrame> decoded = decode_client_frame(codec_, message);
  if (!decoded.ok()) {
    fail(decoded.status(), decoded.status().code() == ErrorCode::kTooLarge
                               ? websocket::close_code::too_big
                               : websocket::close_code::bad_payload);
    return false;
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
        note_cursors(frame.pull(), result.value());
        *out.mutable_pull() = std::move(result).value();
        // Decision 045: a device that expands column pages gets its pages column-wise.
        const uint32_t version = column_page_version(frame.pull());
        if (version > 0 && context_.options.send_column_pages) {
          const int pages = encode_column_pages(*out.mutable_pull(), version);
          context_.counters.column_pages_sent.fetch_add(static_cast<uint64_t>(pages),
                                                        std::memory_order_relaxed);
        }
      } else {
        for (auto& cursor : device_cursors_) cursor.reset();  // it pulls again from wherever it is
        *out.mutable_error() = http_api::to_wire_error(result.status());
      }
      break;
    }
    case protocol::ClientFrame::kPing:
      out.mutable_pong()->set_sent_ms(frame.ping().sent_ms());
      break;
    default:
      fail(error(ErrorCode::kInvalidArgument, "empty ClientFrame"),
           websocket::close_code::bad_payload);
      return false;
  }
  send(out);
  return true;
}

template <class Stream>
void StreamSession<Stream>::send(const protocol::ServerFrame& frame) {
  std::string bytes;
  if (!frame.SerializeToString(&bytes)) {
    context_.log("cannot serialize a ServerFrame");
    return abort();
  }
  enqueue(Outgoing{false, std::move(bytes), nullptr});
}

template <class Stream>
void StreamSession<Stream>::fail(const Status& failure, websocket::close_code code) {
  protocol::ServerFrame out;
  *out.mutable_error() = http_api::to_wire_error(failure);
  send(out);
  std::string reason = failure.to_string();
  reason.resize(std::min<size_t>(reason.size(), 120));  // a close reason holds 123 bytes
  begin_close({code, reason});
}

template <class Stream>
void StreamSession<Stream>::queue_poke(const std::vector<CommittedHead>& heads) {
  if (closing_) return;
  for (const CommittedHead& head : heads) {
    uint64_t& seq = pending_heads_[head.scope];
    seq = std::max(seq, head.head_seq);
  }
  if (!accepted_ || poke_queued_) return;  // sent after the handshake / already queued
  poke_queued_ = true;
  enqueue(Outgoing{true, {}, nullptr});
}

template <class Stream>
void StreamSession<Stream>::enqueue(Outgoing item) {
  if (close_started_ || aborted_) return;
  if (queue_.size() >= context_.options.max_queued_frames) {
    // The peer does not read: cut it rather than hold its backlog in memory.
    context_.log("websocket outgoing queue full; disconnecting " + principal_.device);
    ServerCounters::add(context_.counters.slow_peers_cut);
    return abort();
  }
  // One answer is always let through, however large: the bound is on the backlog.
  if (!queue_.empty() && queued_bytes_ + item.size() > context_.options.max_queued_bytes) {
    context_.log("websocket outgoing queue full (queued bytes); disconnecting " +
                 principal_.device);
    ServerCounters::add(context_.counters.slow_peers_cut);
    return abort();
  }
  queued_bytes_ += item.size();
  queue_.push_back(std::move(item));
  if (!writing_) do_write();
}

template <class Stream>
void StreamSession<Stream>::do_write() {
  Outgoing item = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= item.size();
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
  writing_ = true;
  if (item.compressed) {
    // Format 2: a carried frame compressed once, the same bytes on every stream at its base.
    write_shared_ = std::move(item.shared);
  } else {
    // Format 1: the stream's own zstd context (a carried frame's serialized bytes are still
    // shared); format 2: a standalone message, compressed with the thread's context.
    Result<std::string> compressed = codec_.encode(item.shared ? *item.shared : item.frame);
    if (!compressed.ok()) {
      context_.log("websocket compression: " + compressed.status().to_string());
      writing_ = false;
      return abort();
    }
    write_buffer_ = std::move(compressed).value();
  }
  ws_.async_write(net::buffer(write_shared_ ? *write_shared_ : write_buffer_),
                  net::bind_executor(strand_, [self = self_ptr()](beast::error_code ec, size_t) {
                    self->on_write(ec);
                  }));
}

template <class Stream>
void StreamSession<Stream>::on_write(beast::error_code ec) {
  writing_ = false;
  // Released once written: an idle stream holds no write buffer (decision 033).
  std::string().swap(write_buffer_);
  write_shared_.reset();
  direct_rest_.reset();
  if (ec) {
    if (!is_ordinary_disconnect(ec)) context_.log("websocket write: " + ec.message());
    return abort();
  }
  ServerCounters::add(context_.counters.frames_sent);
  if (!queue_.empty()) return do_write();
  if (close_pending_) do_close();
}

template <class Stream>
void StreamSession<Stream>::begin_close(websocket::close_reason reason) {
  if (close_pending_ || aborted_) return;
  closing_ = true;
  close_pending_ = true;
  close_reason_ = std::move(reason);
  if (!writing_ && queue_.empty()) do_close();
}

template <class Stream>
void StreamSession<Stream>::do_close() {
  if (close_started_ || aborted_) return;
  close_started_ = true;
  ws_.async_close(close_reason_,
                  net::bind_executor(strand_, [self = self_ptr()](beast::error_code) {}));
}

template <class Stream>
void StreamSession<Stream>::abort() {
  if (aborted_) return;
  aborted_ = true;
  closing_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  beast::get_lowest_layer(ws_).close();
}

template class StreamSession<beast::tcp_stream>;
template class StreamSession<TlsStream>;

}  // namespace outpost::server_impl
