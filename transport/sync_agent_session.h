// The agent's WebSocket client session (implementation detail of SyncAgent, included only
// by sync_agent_loop.cpp and sync_agent_session.cpp): one connection to /v1/stream on the
// I/O thread — resolve, connect, TLS handshake (https/wss), WebSocket handshake, then a
// read loop and a bounded write queue.
// Thread rules: every member runs on the I/O thread; it reaches the loop only through
// Loop::io_opened / io_frame / io_closed.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "engine/status.h"
#include "transport/server_address.h"
#include "transport/sync_agent_loop.h"
#include "transport/tls_client.h"
#include "transport/wire_codec.h"

namespace outpost {

// One WebSocket connection to /v1/stream, on the I/O thread: resolve, connect, (TLS
// handshake,) WebSocket handshake, then a read loop and a write queue. A certificate that
// fails verification ends it before a byte of HTTP is sent (kFailedPrecondition, "TLS:
// untrusted server: ...", not retryable). It reports exactly one of opened-then-closed or
// closed to the loop, unless the loop closed it itself.
class SyncAgent::Loop::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Loop& loop, uint64_t id);

  uint64_t id() const { return id_; }

  void start();
  // Queues one frame (compressed here, once the upgrade said in which format: frames sent
  // before it wait uncompressed); over limits::kMaxQueuedBytesToServer the session fails
  // as retryable.
  void send(std::string frame);
  // Closes without reporting to the loop (the loop asked for it).
  void close();

 private:
  using error_code = boost::beast::error_code;
  using tcp = boost::asio::ip::tcp;

  void on_resolve(error_code ec, tcp::resolver::results_type results);
  void on_connect(error_code ec);
  void on_tls_handshake(error_code ec);
  void start_websocket();
  void on_handshake(error_code ec);
  void read_next();
  void on_read(error_code ec, size_t bytes);
  void write_next();
  void on_write(error_code ec);
  void fail(Status status, bool retryable);
  void shutdown();
  // Runs `action` with whichever WebSocket stream this session has (plain or TLS).
  template <typename Action>
  void with_ws(Action&& action) {
    if (tls_ws_) {
      action(*tls_ws_);
    } else {
      action(*plain_ws_);
    }
  }
  boost::beast::tcp_stream& tcp_layer();

  using PlainWs = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  using TlsWs = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

  Loop& loop_;
  uint64_t id_;
  tcp::resolver resolver_;
  std::shared_ptr<TlsClientContext> tls_;  // null for http/ws
  std::optional<PlainWs> plain_ws_;        // exactly one of these two
  std::optional<TlsWs> tls_ws_;
  boost::asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  boost::beast::websocket::response_type response_;
  ServerAddress address_;
  std::string token_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds idle_timeout_;
  bool offer_message_format_;
  WireCodec codec_;                // format 1 until the upgrade's answer says 2 (decision 039)
  std::deque<std::string> queue_;  // compressed once open_, serialized before
  size_t queued_bytes_ = 0;        // of queue_
  bool handshaking_ = false;
  bool open_ = false;
  bool writing_ = false;
  bool finished_ = false;
};

}  // namespace outpost
