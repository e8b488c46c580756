// Internal to the server runtime: one HTTP connection (docs/protocol.md §1, §8). Reads
// requests with bounded headers and body, answers push, pull and health through
// http_util's handle_request, keeps the connection alive between requests (idle timeout),
// bounds how long a response the peer does not read may wait, refuses a connection past
// the cap with 503, answers bad requests and then lingers so the peer reads the answer,
// and hands an authenticated upgrade to /v1/stream to a StreamSession. The blob routes
// (docs/protocol.md §9) are answered by blob_http; a download's bytes stream from the blob
// store a piece at a time (server_blob_stream.h), on this connection only: records on
// other connections never wait for a blob.
//
// Thread rules: everything runs on the connection's strand; the Session overrides may be
// called from any thread and only post to it. Distinct objects: safe.
//
// `Stream` is the byte stream the requests arrive on: beast::tcp_stream, or TlsStream
// (server_session.h) when the server serves TLS: start() then runs the TLS handshake first,
// under the handshake timeout, and a failed one just closes (nobody to answer in HTTP).
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <vector>

#include "transport/http_util.h"
#include "transport/server_blob_stream.h"
#include "transport/server_session.h"

namespace outpost::server_impl {

template <class Stream>
class HttpSession final : public Session {
 public:
  // `over_capacity`: accepted past max_connections; answered 503 at once, then closed.
  HttpSession(ServerContext& context, Stream&& stream, bool over_capacity = false);

  void start();
  void shutdown() override;
  void force_close() override;

 private:
  enum class State { kReading, kWriting, kLingering, kDone };

  std::shared_ptr<HttpSession> self_ptr();
  void begin();
  void tls_handshake();
  void do_read();
  void on_read(boost::beast::error_code ec);
  // Before reading anything: the answer is the same for every request and every upgrade,
  // and reading first would let a silent peer hold the descriptor for the handshake time.
  // The lingering close then reads what the peer sends, so it gets this response.
  void refuse_over_capacity();
  void upgrade();
  // `prepare`: set Content-Length from the body (not for a HEAD that states the blob's).
  void reply(http_api::HttpResponse response, bool close, bool prepare = true);
  // GET/HEAD /v1/blobs/…, HEAD/PUT /v1/uploads/… (blocking store calls, as push and pull).
  void reply_blob();
  void on_write(boost::beast::error_code ec, bool close);
  // Half-closes, then reads and drops what the peer still sends (bounded in time and
  // bytes) so that it reads our response before it sees the connection end.
  void linger();
  void do_linger();
  void close_now();

  Stream stream_;
  const boost::asio::any_io_executor strand_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  http_api::HttpResponse response_;
  std::unique_ptr<BlobStream> blob_;  // a download being written
  std::vector<char> linger_buffer_;
  size_t lingered_ = 0;
  State state_ = State::kReading;
  bool first_request_ = true;
  bool stop_requested_ = false;
  const bool over_capacity_;
};

extern template class HttpSession<boost::beast::tcp_stream>;
extern template class HttpSession<TlsStream>;

}  // namespace outpost::server_impl
