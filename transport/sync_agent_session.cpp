#include "transport/sync_agent_session.h"

#include <google/protobuf/arena.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/http.hpp>
#include <utility>

#include "transport/column_page.h"
#include "transport/http_util.h"
#include "transport/limits.h"

namespace outpost {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

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
  auto header = response.find(http_api::kErrorHeader);
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
    error_code = http_api::error_code_for_http_status(code).value_or(error_code);
  }
  if (retryable) error_code = ErrorCode::kUnavailable;
  return {Status(error_code, message), retryable};
}

// A frame parsed into an arena that lives as long as the frame: a page of 2,000 changes is
// a few large blocks instead of five allocations per change (the message and its three
// strings' objects), and the loop thread frees it in one go.
struct ArenaFrame {
  static google::protobuf::ArenaOptions options() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 16 * 1024;
    options.max_block_size = 1024 * 1024;
    return options;
  }
  google::protobuf::Arena arena{options()};
};

std::shared_ptr<protocol::ServerFrame> parse_on_arena(const std::string& bytes) {
  auto holder = std::make_shared<ArenaFrame>();
  auto* frame = google::protobuf::Arena::CreateMessage<protocol::ServerFrame>(&holder->arena);
  if (!frame->ParseFromString(bytes)) return nullptr;
  return std::shared_ptr<protocol::ServerFrame>(std::move(holder), frame);
}

}  // namespace

SyncAgent::Loop::Session::Session(Loop& loop, uint64_t id)
    : loop_(loop),
      id_(id),
      resolver_(loop.io_),
      tls_(loop.agent_.tls_),
      deadline_(loop.io_),
      address_(loop.agent_.address_),
      token_(loop.agent_.current_token()),
      connect_timeout_(loop.agent_.options_.connect_timeout),
      idle_timeout_(loop.agent_.options_.idle_timeout),
      offer_message_format_(loop.agent_.options_.offer_message_format) {
  if (tls_ != nullptr) {
    tls_ws_.emplace(loop.io_, tls_->native());
  } else {
    plain_ws_.emplace(loop.io_);
  }
}

beast::tcp_stream& SyncAgent::Loop::Session::tcp_layer() {
  return tls_ws_ ? beast::get_lowest_layer(*tls_ws_) : beast::get_lowest_layer(*plain_ws_);
}

void SyncAgent::Loop::Session::start() {
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

void SyncAgent::Loop::Session::send(std::string frame) {
  if (finished_) return;
  if (open_) {
    auto compressed = codec_.encode(frame);
    if (!compressed.ok()) {
      fail(compressed.status().with_context("compressing a frame"), true);
      return;
    }
    frame = std::move(compressed).value();
  }
  // Bounded by name (limits::kMaxQueuedBytesToServer); one request at a time keeps it far
  // below, so reaching it means the server stopped reading: reconnect with backoff.
  if (!queue_.empty() && queued_bytes_ + frame.size() > limits::kMaxQueuedBytesToServer) {
    fail(error(ErrorCode::kUnavailable, "send queue full: the server is not reading"), true);
    return;
  }
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (open_ && !writing_) write_next();
}

void SyncAgent::Loop::Session::close() {
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
  with_ws([this](auto& ws) {
    ws.async_close(websocket::close_code::normal,
                   [self = shared_from_this()](beast::error_code) { self->shutdown(); });
  });
}

void SyncAgent::Loop::Session::on_resolve(beast::error_code ec,
                                          tcp::resolver::results_type results) {
  if (finished_) return;
  if (ec) return fail(from_beast(ec, "resolving " + address_.host), true);
  tcp_layer().expires_after(connect_timeout_);
  tcp_layer().async_connect(
      results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
        self->on_connect(ec);
      });
}

void SyncAgent::Loop::Session::on_connect(beast::error_code ec) {
  if (finished_) return;
  if (ec) return fail(from_beast(ec, "connecting to " + address_.host + ":" + address_.port), true);
  handshaking_ = true;
  deadline_.cancel();
  tcp_layer().expires_never();
  tcp_layer().socket().set_option(tcp::no_delay(true));
  if (tls_ == nullptr) return start_websocket();
  // TLS first: the certificate is verified here, before the request (and its token) goes.
  SSL* ssl = tls_ws_->next_layer().native_handle();
  Status prepared = tls_->prepare(ssl, address_.host);
  if (!prepared.ok()) return fail(prepared, false);
  tcp_layer().expires_after(std::chrono::seconds(limits::kHandshakeTimeoutSeconds));
  tls_ws_->next_layer().async_handshake(
      net::ssl::stream_base::client,
      [self = shared_from_this()](beast::error_code ec) { self->on_tls_handshake(ec); });
}

void SyncAgent::Loop::Session::on_tls_handshake(beast::error_code ec) {
  if (finished_) return;
  if (ec) {
    Status status =
        tls_->handshake_failure(tls_ws_->next_layer().native_handle(), address_.host, ec.message());
    return fail(status, status.code() == ErrorCode::kUnavailable);
  }
  tcp_layer().expires_never();
  start_websocket();
}

void SyncAgent::Loop::Session::start_websocket() {
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(limits::kHandshakeTimeoutSeconds);
  timeouts.idle_timeout = idle_timeout_;
  timeouts.keep_alive_pings = true;
  std::string authorization = "Bearer " + token_;
  std::string host = address_.host.find(':') != std::string::npos
                         ? "[" + address_.host + "]:" + address_.port
                         : address_.host + ":" + address_.port;
  with_ws([&](auto& ws) {
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator(
        [authorization, offer = offer_message_format_](websocket::request_type& req) {
          req.set(http::field::authorization, authorization);
          req.set(http::field::user_agent, "outpost-device");
          if (offer) req.set(kStreamFormatHeader, kMessageFormatValue);
        }));
    ws.read_message_max(limits::kMaxFrame);
    ws.binary(true);
    ws.auto_fragment(false);
    ws.async_handshake(
        response_, host, address_.stream_target(),
        [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  });
}

void SyncAgent::Loop::Session::on_handshake(beast::error_code ec) {
  if (finished_) return;
  if (ec == websocket::error::upgrade_declined) {
    auto [status, retryable] = declined_upgrade(response_);
    return fail(status, retryable);
  }
  if (ec) return fail(from_beast(ec, "WebSocket handshake"), true);
  // Decision 039: format 2 only when offered and answered; a server before it says nothing.
  const auto answered = response_.find(kStreamFormatHeader);
  codec_ = WireCodec(offer_message_format_ && answered != response_.end()
                         ? stream_format_offered(answered->value())
                         : StreamFormat::kStream);
  open_ = true;
  response_ = {};
  // What was queued before the upgrade, compressed now that the format is known, in order.
  queued_bytes_ = 0;
  for (std::string& frame : queue_) {
    auto compressed = codec_.encode(frame);
    if (!compressed.ok())
      return fail(compressed.status().with_context("compressing a frame"), true);
    frame = std::move(compressed).value();
    queued_bytes_ += frame.size();
  }
  loop_.io_opened(id_);
  read_next();
  if (!queue_.empty()) write_next();
}

void SyncAgent::Loop::Session::read_next() {
  with_ws([this](auto& ws) {
    ws.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t bytes) {
      self->on_read(ec, bytes);
    });
  });
}

void SyncAgent::Loop::Session::on_read(beast::error_code ec, size_t bytes) {
  if (finished_) return;
  if (ec == websocket::error::closed) {
    // A restarting server says so (1012 and a reason): reconnect after the usual backoff.
    websocket::close_reason reason;
    with_ws([&reason](auto& ws) { reason = ws.reason(); });
    std::string why = "server closed the stream";
    if (reason.code != websocket::close_code::none) {
      why += " (" + std::to_string(static_cast<int>(reason.code));
      if (!reason.reason.empty()) why += " " + std::string(reason.reason.c_str());
      why += ")";
    }
    return fail(error(ErrorCode::kUnavailable, why), true);
  }
  if (ec == websocket::error::message_too_big) {
    return fail(error(ErrorCode::kTooLarge, "server frame over the frame limit"), true);
  }
  if (ec) return fail(from_beast(ec, "reading the stream"), true);
  // Decoded straight from the read buffer (one contiguous block): no copy of the message.
  const auto wire = buffer_.data();
  auto plain = codec_.decode(std::string_view(static_cast<const char*>(wire.data()), wire.size()),
                             limits::kMaxDecompressedFrame);
  buffer_.consume(buffer_.size());
  if (!plain.ok()) return fail(plain.status().with_context("server frame"), true);
  auto frame = parse_on_arena(*plain);
  if (!frame) {
    return fail(error(ErrorCode::kInvalidArgument, "server frame: malformed protobuf"), true);
  }
  if (frame->has_pull()) {
    // Decision 045: column pages expanded here, on the I/O thread, before the loop sees the
    // answer; a bad one drops the connection and nothing of the answer is applied.
    Status expanded = expand_column_pages(*frame->mutable_pull(), limits::kMaxDecompressedFrame);
    if (!expanded.ok()) return fail(expanded.with_context("server frame"), true);
  }
  loop_.io_frame(id_, std::move(frame), bytes);
  read_next();
}

void SyncAgent::Loop::Session::write_next() {
  writing_ = true;
  with_ws([this](auto& ws) {
    ws.async_write(
        net::buffer(queue_.front()),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  });
}

void SyncAgent::Loop::Session::on_write(beast::error_code ec) {
  writing_ = false;
  if (finished_) return;
  if (ec) return fail(from_beast(ec, "writing the stream"), true);
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (!queue_.empty()) write_next();
}

void SyncAgent::Loop::Session::fail(Status status, bool retryable) {
  if (finished_) return;
  finished_ = true;
  shutdown();
  loop_.io_closed(id_, std::move(status), retryable);
}

void SyncAgent::Loop::Session::shutdown() {
  beast::error_code ignored;
  deadline_.cancel();
  resolver_.cancel();
  tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_layer().close();
}
}  // namespace outpost
