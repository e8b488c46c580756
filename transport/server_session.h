// Internal to the server runtime (transport/sync_server.h): what every connection shares —
// the server's context and counters, the Session base class, and the registry of live
// sessions that stop() shuts down and commits poke. The listener owns all of it
// (server_listener.h); the HTTP and stream sessions (server_http_session.h,
// server_stream_session.h) report to it.
//
// Thread rules: ServerContext's references and options are immutable after construction;
// `stopping` and the counters are atomics (any thread). SessionRegistry is thread-safe.
// Each Session lives on its own strand; its public members may be called from any thread
// and only post to that strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/server_core.h"
#include "transport/server_carried.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace outpost::server_impl {

class Session;

// One commit as the sessions hear it: the heads that moved and, for each, its changes to
// carry with the poke (null where the commit's base is unknown: heads from other
// processes). Shared, read-only, by every session.
struct CommitNotice {
  std::vector<CommittedHead> heads;
  std::vector<std::shared_ptr<CarriedCommit>> carried;  // parallel to heads
};

// Every live connection, so stop() can shut them down and commits can poke them.
// Shared with the commit listener, which ServerCore keeps forever: it outlives the server.
//
// Decision 047: once the listener runs, a commit reaches the sessions through a few fan-out
// tasks rather than a task per session: each session belongs to one of a fixed number of
// groups, and each commit posts one task per group on that group's strand (so every session
// hears commits in the order they were announced), which hands the commit to each of its
// sessions on an I/O thread, where an idle session strand runs it at once.
class SessionRegistry {
 public:
  // Called by the listener once its threads run: `groups` fan-out strands on `context`.
  void start_fanout(boost::asio::io_context& context, size_t groups);
  void add(Session* session, std::weak_ptr<Session> weak);
  void remove(Session* session);
  std::vector<std::shared_ptr<Session>> snapshot();
  size_t size() const;
  bool wait_empty(std::chrono::milliseconds timeout);
  // No more pokes, and the fan-out's strands are let go: call before the io_context goes.
  void disable_pokes();
  // Called by ServerCore on the committing thread, or for commits of other processes.
  void poke(const std::vector<CommittedHead>& heads);
  // Every stream re-reads the heads of its scopes and is poked with them.
  void poke_all();

 private:
  struct Entry {
    std::weak_ptr<Session> weak;
    size_t group = 0;  // its fan-out group (decision 047)
  };
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::unordered_map<Session*, Entry> sessions_;
  bool pokes_enabled_ = true;
  std::vector<Strand> fanout_;  // empty before start_fanout and after disable_pokes
  size_t next_group_ = 0;
};

// What the sessions and the listener count, in one place: a metrics endpoint reads these.
// Relaxed atomics; each is a running total since start().
struct ServerCounters {
  std::atomic<uint64_t> connections_accepted{0};  // TCP accepts, refused ones included
  std::atomic<uint64_t> connections_refused{0};   // answered 503: past max_connections
  std::atomic<uint64_t> accept_failures{0};       // accept errors (EMFILE...), retried
  std::atomic<uint64_t> http_requests{0};         // complete HTTP requests read (not upgrades)
  std::atomic<uint64_t> streams_opened{0};        // WebSocket handshakes completed
  std::atomic<uint64_t> frames_received{0};       // WebSocket messages read
  std::atomic<uint64_t> frames_sent{0};           // WebSocket messages written (pokes too)
  std::atomic<uint64_t> slow_peers_cut{0};        // streams cut for a full outgoing queue
  std::atomic<uint64_t> carried_encodings{0};     // commits' changes encoded to travel (032)
  std::atomic<uint64_t> carried_sent{0};          // carried frames queued on streams
  std::atomic<uint64_t> carried_compressions{0};  // carried frames compressed once (039)
  std::atomic<uint64_t> direct_sends{0};          // frames sent by one send() (047)
  std::atomic<uint64_t> direct_partial_sends{0};  // ... whose rest was written after
  std::atomic<uint64_t> column_pages_sent{0};     // pull answers' scopes sent column-wise (045)

  static void add(std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
};

// What every connection shares; owned by the listener, which outlives the sessions.
struct ServerContext {
  ServerContext(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
      : core(core), tokens(tokens), options(std::move(options)) {}

  ServerCore& core;
  const TokenAuthority& tokens;
  const SyncServerOptions options;
  const std::shared_ptr<SessionRegistry> registry = std::make_shared<SessionRegistry>();
  ServerCounters counters;
  std::atomic<bool> stopping{false};

  int64_t now_ms() const;
  void log(std::string_view line) const {
    if (options.log) options.log(line);
  }
};

// One connection on its own strand. Registered in the registry for its whole life.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(ServerContext& context) : context_(context) {}
  virtual ~Session() { context_.registry->remove(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Any thread. Finish what is in flight, then close (WebSocket: a 1012 close frame).
  virtual void shutdown() = 0;
  // Any thread. Close the socket now.
  virtual void force_close() = 0;
  // Any thread (the committing one). Heads that moved; only streams care.
  virtual void on_commit(const std::shared_ptr<const CommitNotice>& commit) {}
  // Any thread. Commits may have been missed: poke with the current heads.
  virtual void on_resync() {}

 protected:
  // Call once, after make_shared, before the first asynchronous operation. Returns false
  // when the server is already stopping (the caller then closes at once).
  bool register_self();

  ServerContext& context_;
};

// How connections usually end; not worth a log line.
bool is_ordinary_disconnect(const boost::beast::error_code& ec);

// The byte stream of a connection to a server with SyncServerOptions::tls: TLS over TCP
// (decision 022). The listener makes it with the TLS context current at accept; SSL_new
// holds its own reference to that context, so a reload never pulls it from under a
// connection.
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// The transport operations a session needs beyond reading and writing, one overload per
// stream type the sessions are instantiated for.
//
// Stops sending (TCP half-close); the peer may still send.
void half_close(boost::beast::tcp_stream& stream);
// TLS: the TCP half-close too, without a close_notify (the response was complete; the
// lingering reads that follow only drop bytes).
void half_close(TlsStream& stream);
// Closes the connection at once.
void close_stream(boost::beast::tcp_stream& stream);
void close_stream(TlsStream& stream);

}  // namespace outpost::server_impl
