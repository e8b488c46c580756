#include "transport/server_http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>

#include <string>
#include <type_traits>

#include "transport/server_stream_session.h"

namespace outpost::server_impl {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

// After an error response that closes the connection, unread request bytes are read and
// dropped for a while (a "lingering close"), so the peer receives the response instead of
// a reset caused by data left unread in our receive buffer.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 2 * limits::kMaxCompressedBody;

using http_api::error_response;
using http_api::to_view;

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(ServerContext& context, Stream&& stream, bool over_capacity)
    : Session(context),
      stream_(std::move(stream)),
      strand_(stream_.get_executor()),
      over_capacity_(over_capacity) {}

template <class Stream>
std::shared_ptr<HttpSession<Stream>> HttpSession<Stream>::self_ptr() {
  return std::static_pointer_cast<HttpSession>(shared_from_this());
}

template <class Stream>
void HttpSession<Stream>::start() {
  bool running = register_self();
  net::dispatch(strand_, [self = self_ptr(), running] {
    if (!running) return self->close_now();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      self->tls_handshake();
    } else {
      self->begin();
    }
  });
}

template <class Stream>
void HttpSession<Stream>::begin() {
  if (over_capacity_) return refuse_over_capacity();
  do_read();
}

// TLS first, under the bound of the request head that follows: a client stalling in the
// handshake is a slowloris too. Past the cap the 503 still needs the handshake (a TLS
// client could not read it otherwise); it is bounded the same way.
template <class Stream>
void HttpSession<Stream>::tls_handshake() {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    beast::get_lowest_layer(stream_).expires_after(context_.options.handshake_timeout);
    stream_.async_handshake(net::ssl::stream_base::server,
                            [self = self_ptr()](beast::error_code ec) {
                              if (ec) {
                                if (!is_ordinary_disconnect(ec)) {
                                  self->context_.log("TLS handshake: " + ec.message());
                                }
                                return self->close_now();
                              }
                              self->begin();
                            });
  }
}

template <class Stream>
void HttpSession<Stream>::shutdown() {
  net::post(strand_, [self = self_ptr()] {
    self->stop_requested_ = true;
    // Idle between requests (or not reading yet), or lingering: nothing to finish.
    bool idle = self->state_ == State::kReading && (!self->parser_ || !self->parser_->got_some());
    if (idle || self->state_ == State::kLingering) {
      self->close_now();
    }
  });
}

template <class Stream>
void HttpSession<Stream>::force_close() {
  net::post(strand_, [self = self_ptr()] { self->close_now(); });
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  if (stop_requested_) return close_now();
  parser_.emplace();
  parser_->body_limit(limits::kMaxCompressedBody);
  parser_->header_limit(static_cast<std::uint32_t>(limits::kMaxHeaderBytes));
  beast::get_lowest_layer(stream_).expires_after(first_request_ ? context_.options.handshake_timeout
                                                                : context_.options.idle_timeout);
  state_ = State::kReading;
  http::async_read(stream_, buffer_, *parser_,
                   [self = self_ptr()](beast::error_code ec, size_t) { self->on_read(ec); });
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec) {
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

  http_api::HttpRequest& request = parser_->get();
  if (websocket::is_upgrade(request)) return upgrade();
  ServerCounters::add(context_.counters.http_requests);
  if (blob_http::is_blob_path(http_api::request_path(to_view(request.target())))) {
    return reply_blob();
  }
  http_api::HttpResponse response =
      http_api::handle_request(request, context_.core, context_.tokens, context_.now_ms());
  reply(std::move(response), !request.keep_alive());
}

template <class Stream>
void HttpSession<Stream>::refuse_over_capacity() {
  http_api::HttpResponse response =
      error_response(error(ErrorCode::kUnavailable,
                           "too many connections (" +
                               std::to_string(context_.options.max_connections) + "); retry later"),
                     11);
  response.set(http::field::retry_after,
               std::to_string(limits::kConnectionRefusalRetryAfterSeconds));
  reply(std::move(response), true);
}

template <class Stream>
void HttpSession<Stream>::upgrade() {
  http_api::HttpRequest& request = parser_->get();
  const unsigned version = request.version();
  std::string_view target = to_view(request.target());
  if (http_api::request_path(target) != http_api::kStreamPath) {
    return reply(error_response(
                     error(ErrorCode::kNotFound, "no WebSocket endpoint at " + std::string(target)),
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
  std::make_shared<StreamSession<Stream>>(context_, std::move(stream_), std::move(who).value())
      ->start(parser_->release());
}

template <class Stream>
void HttpSession<Stream>::reply_blob() {
  http_api::HttpRequest& request = parser_->get();
  const bool close = !request.keep_alive() || stop_requested_ || context_.stopping;
  if (context_.options.blobs == nullptr) {
    return reply(error_response(error(ErrorCode::kNotFound, "this server keeps no blobs"),
                                request.version()),
                 close);
  }
  blob_http::BlobAnswer answer = blob_http::answer_blob_request(request, *context_.options.blobs,
                                                                context_.tokens, context_.now_ms());
  if (answer.body == nullptr) {
    // A HEAD of a download keeps the Content-Length of the blob it describes.
    const bool head = request.method() == http::verb::head && answer.head.result_int() < 300;
    return reply(std::move(answer.head), close, !head);
  }
  answer.head.keep_alive(!close);
  blob_ = std::make_unique<BlobStream>(std::move(answer));
  state_ = State::kWriting;
  blob_->write(stream_, context_.options.idle_timeout,
               [self = self_ptr(), close](beast::error_code ec) {
                 self->blob_.reset();
                 self->on_write(ec, close);
               });
}

template <class Stream>
void HttpSession<Stream>::reply(http_api::HttpResponse response, bool close, bool prepare) {
  close = close || stop_requested_ || context_.stopping;
  response_ = std::move(response);
  response_.keep_alive(!close);
  if (prepare) response_.prepare_payload();
  beast::get_lowest_layer(stream_).expires_after(context_.options.idle_timeout);
  state_ = State::kWriting;
  http::async_write(stream_, response_, [self = self_ptr(), close](beast::error_code ec, size_t) {
    self->on_write(ec, close);
  });
}

template <class Stream>
void HttpSession<Stream>::on_write(beast::error_code ec, bool close) {
  response_ = {};
  if (ec) return close_now();
  // While stopping, the request was read whole: nothing is left unread to linger for.
  if (stop_requested_) return close_now();
  if (close) return linger();
  do_read();
}

template <class Stream>
void HttpSession<Stream>::linger() {
  half_close(stream_);
  state_ = State::kLingering;
  linger_buffer_.resize(16 * limits::kKiB);
  beast::get_lowest_layer(stream_).expires_after(kLingerTime);
  do_linger();
}

template <class Stream>
void HttpSession<Stream>::do_linger() {
  stream_.async_read_some(net::buffer(linger_buffer_),
                          [self = self_ptr()](beast::error_code ec, size_t bytes) {
                            self->lingered_ += bytes;
                            if (ec || self->lingered_ > kLingerBytes) return self->close_now();
                            self->do_linger();
                          });
}

template <class Stream>
void HttpSession<Stream>::close_now() {
  state_ = State::kDone;
  close_stream(stream_);
}

template class HttpSession<beast::tcp_stream>;
template class HttpSession<TlsStream>;

}  // namespace outpost::server_impl
