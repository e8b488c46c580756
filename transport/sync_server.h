// The server runtime: Boost.Beast HTTP and WebSocket over Asio in front of a ServerCore.
// One-shot POST /v1/push and /v1/pull, GET /v1/health, and the live stream GET /v1/stream
// (push, pull, ping, and pokes when the heads of a readable scope move). docs/protocol.md
// is the specification of everything this serves.
//
// Thread rules: a pool of `threads` threads runs every connection; each connection lives
// on its own strand, and the blocking ServerCore calls run there. start() and stop() are
// called by the owner thread, never from a commit listener or another server callback.
// The ServerCore and TokenAuthority must outlive the SyncServer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/blob_service.h"
#include "engine/server_core.h"
#include "engine/status.h"
#include "transport/limits.h"
#include "transport/tls_server.h"
#include "transport/token.h"

namespace outpost {

// Flood control of one WebSocket connection: a token bucket refilled at this many frames
// per second, holding at most kDefaultFrameBurst. A frame that finds it empty gets an
// "unavailable" error frame (retryable) and the connection is closed (1013).
inline constexpr double kDefaultFramesPerSecond = 200;
inline constexpr double kDefaultFrameBurst = 400;
// How long stop() waits for in-flight requests and close handshakes before it cuts the
// remaining connections.
inline constexpr int kDefaultShutdownGraceMs = 10000;

struct SyncServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see SyncServer::port()
  int threads = 2;
  // Wall clock in milliseconds since the epoch, for token expiry and push times.
  // Empty: std::chrono::system_clock.
  std::function<int64_t()> now_ms;
  double frames_per_second = kDefaultFramesPerSecond;
  double frame_burst = kDefaultFrameBurst;
  size_t max_queued_frames = limits::kMaxQueuedFramesPerConnection;
  size_t max_queued_bytes = limits::kMaxQueuedBytesPerConnection;
  // Open connections (HTTP and WebSocket). One accepted past it is answered 503
  // unavailable with Retry-After and closed (docs/protocol.md §8).
  size_t max_connections = limits::kMaxConnections;
  int shutdown_grace_ms = kDefaultShutdownGraceMs;
  // From TCP accept to the first complete HTTP request; the WebSocket upgrade response and
  // the close handshake. Tests shorten it; servers keep the default.
  std::chrono::milliseconds handshake_timeout{limits::kHandshakeTimeoutSeconds * 1000};
  // An HTTP keep-alive connection waiting for (or reading) its next request, a response
  // the peer does not read, a silent WebSocket (pinged at half of it). Tests shorten it.
  std::chrono::milliseconds idle_timeout{limits::kIdleTimeoutSeconds * 1000};
  // The blob routes (docs/protocol.md §9; transport/blob_http.h). Null: they answer 404.
  // Must outlive the server.
  BlobService* blobs = nullptr;
  // Serve TLS (https/wss) with this certificate: every connection must open with a TLS
  // handshake (bounded by handshake_timeout); each new connection takes the context's
  // current certificate, so TlsServerContext::reload() affects new connections only.
  // Null: plain HTTP/WebSocket. Decision 022.
  std::shared_ptr<TlsServerContext> tls;
  // One line per notable event (bind, refused connection, transport error). Empty: silent.
  std::function<void(std::string_view)> log;
  // A device's live stream opened (true, after the WebSocket handshake) or closed (false,
  // when the connection is gone), once each per accepted stream: who is live, for the push
  // thread and the fleet view. Called on the connection's strand: it must only queue or
  // count. Empty: nobody listens.
  std::function<void(const Principal&, bool open)> on_stream;
  // Pull answers on streams go column-wise to devices that accept them (decision 045).
  // false: plain pages to every device, as a server before it (tests of the negotiation).
  bool send_column_pages = true;
};

// How many times the transport did what, since start (for /metrics).
struct SyncServerStats {
  uint64_t connections_accepted = 0;  // TCP accepts, refused ones included
  uint64_t connections_refused = 0;   // answered 503: past max_connections
  uint64_t accept_failures = 0;       // accept errors (EMFILE...), retried
  uint64_t http_requests = 0;         // complete HTTP requests read (not upgrades)
  uint64_t streams_opened = 0;        // WebSocket handshakes completed
  uint64_t frames_received = 0;
  uint64_t frames_sent = 0;
  uint64_t slow_peers_cut = 0;  // streams cut for a full outgoing queue
  // A commit's changes encoded once to travel with its poke (decision 032), and the carried
  // frames queued on streams with them: sent / encodings is the sharing.
  uint64_t carried_encodings = 0;
  uint64_t carried_sent = 0;
  // Carried frames compressed once as standalone messages and shared by every stream in
  // format 2 (decision 039); a stream in format 1 compresses with its own context instead.
  uint64_t carried_compressions = 0;
  // Carried frames a plain-TCP stream put on its socket itself with one non-blocking send
  // (decision 047; also counted in frames_sent), and those of them the kernel took only in
  // part (the rest was written before anything else).
  uint64_t direct_sends = 0;
  uint64_t direct_partial_sends = 0;
  // Scopes of pull answers sent column-wise on streams (decision 045).
  uint64_t column_pages_sent = 0;
};

// The close reason a stopping server gives every stream (code 1012, "service restart"):
// the device reconnects, after its backoff, to this server once restarted or to another.
inline constexpr std::string_view kRestartCloseReason = "server restarting; reconnect";

class SyncServer {
 public:
  // Sets core's cursor key (ServerCore::set_cursor_key) from a key derived from `tokens`.
  SyncServer(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options = {});
  // Stops the server if it is running.
  ~SyncServer();
  SyncServer(const SyncServer&) = delete;
  SyncServer& operator=(const SyncServer&) = delete;

  // Binds, listens and starts the thread pool. Errors: kInvalidArgument for an address that
  // is not an IP address or threads < 1; kUnavailable when the address cannot be bound
  // (in use, not local); kFailedPrecondition when already started.
  Status start();

  // The bound port once start() succeeded (the real one when options.port was 0), else 0.
  uint16_t port() const;

  // Graceful stop: stops accepting, closes each WebSocket with a 1012 close frame
  // (kRestartCloseReason: reconnect), lets
  // in-flight requests finish (a push completes its store transaction) and answers them,
  // then joins the threads. Connections still open after shutdown_grace_ms are cut.
  // Idempotent; a stopped server cannot be started again.
  void stop();

  // Heads that moved in another server process sharing the store (PostgresCommitFeed):
  // pokes the streams that read them, as a local commit does. Any thread.
  void poke(const std::vector<CommittedHead>& heads);
  // Pokes every stream with the current heads of its scopes (after commits may have been
  // missed, e.g. the feed reconnected). Streams already caught up do not pull. Any thread.
  void poke_all();

  // Open connections (HTTP and WebSocket), for tests and metrics.
  size_t connection_count() const;
  // The transport's counters. Any thread.
  SyncServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost
