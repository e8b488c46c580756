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

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/server_core.h"
#include "transport/server_carried.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace outpost::server_impl {

class Session;

// A scope as the registry knows it while some stream reads it (decision 059): a number
// given when the first such stream registers, never given again while the server lives, so
// a session compares numbers rather than scope names per commit. 0: no stream reads it.
using ScopeId = uint64_t;

// A stream reads at most this many scopes: its user's and its org's.
inline constexpr size_t kMaxSessionScopes = 2;

// One commit as the sessions hear it: the heads that moved and, for each, its changes to
// carry with the poke (null where the commit's base is unknown: heads from other
// processes), and the id of its scope (0 when no stream read it at the commit). Shared,
// read-only, by every session.
struct CommitNotice {
  std::vector<CommittedHead> heads;
  std::vector<std::shared_ptr<CarriedCommit>> carried;  // parallel to heads
  std::vector<ScopeId> scope_ids;                       // parallel to heads
};

// Every live connection, so stop() can shut them down and commits can poke them.
// Shared with the commit listener, which ServerCore keeps forever: it outlives the server.
//
// Decision 047: once the listener runs, a commit reaches the sessions through a few fan-out
// tasks rather than a task per session: each session belongs to one of a fixed number of
// groups, and each commit posts one task per group on that group's strand (so every session
// hears commits in the order they were announced), which hands the commit to each of its
// sessions on an I/O thread, where an idle session strand runs it at once.
//
// Decision 059: streams are indexed by the scopes they read, so a commit visits only the
// streams of its scopes (never the HTTP sessions, nor other users' streams), each once, and
// a stream knows its scopes by ScopeId. A scope's entry goes with its last stream.
class SessionRegistry {
 public:
  // Called by the listener once its threads run: `groups` fan-out strands on `context`.
  void start_fanout(boost::asio::io_context& context, size_t groups);
  // A session that hears no commits (an HTTP session).
  void add(Session* session, std::weak_ptr<Session> weak);
  // A stream reading `scopes` (at most kMaxSessionScopes; a repeated one counts once):
  // each one's id goes to `ids`, in the same order (0 past `scopes`), written under the
  // registry's lock, so a commit that finds the stream sees them.
  void add(Session* session, std::weak_ptr<Session> weak, std::span<const std::string> scopes,
           std::array<ScopeId, kMaxSessionScopes>& ids);
  void remove(Session* session);
  std::vector<std::shared_ptr<Session>> snapshot();
  size_t size() const;
  // For tests: how many registered streams read `scope`, and how many scopes are indexed.
  size_t readers_of(const std::string& scope) const;
  size_t indexed_scopes() const;
  bool wait_empty(std::chrono::milliseconds timeout);
  // No more pokes, and the fan-out's strands are let go: call before the io_context goes.
  void disable_pokes();
  // Called by ServerCore on the committing thread, or for commits of other processes.
  void poke(const std::vector<CommittedHead>& heads);
  // Every stream re-reads the heads of its scopes and is poked with them.
  void poke_all();

 private:
  struct ScopeMembers;
  struct Member {
    Session* session = nullptr;
    std::weak_ptr<Session> weak;
    size_t group = 0;
  };
  struct Entry {
    std::weak_ptr<Session> weak;
    size_t group = 0;  // its fan-out group (decision 047)
    // The scopes it reads and its place in each one's members (decision 059).
    std::array<ScopeMembers*, kMaxSessionScopes> scopes{};
    std::array<size_t, kMaxSessionScopes> index{};
  };
  struct ScopeMembers {
    std::string name;
    ScopeId id = 0;
    std::vector<Member> members;
  };
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // Takes `session` out of `scope`'s members (swapping the last one in); under mutex_.
  void leave(ScopeMembers* scope, size_t index);

  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::unordered_map<Session*, Entry> sessions_;
  // By name; an unordered_map's elements never move, so entries point at them.
  std::unordered_map<std::string, ScopeMembers> scopes_;
  ScopeId next_scope_id_ = 1;
  bool pokes_enabled_ = true;
  std::vector<Strand> fanout_;  // empty before start_fanout and after disable_pokes
  size_t next_group_ = 0;
};

// A running total that every I/O thread bumps for every frame it sends (decision 059): one
// cache line per shard, each thread bumps its own, a reader sums them — so two threads
// fanning out one commit do not pass one line back and forth 10,000 times. The calls of
// std::atomic the sessions use; a sum read while threads bump it is some recent total, as
// a relaxed atomic's would be (the shards wrap modulo 2^64, so a fetch_sub on another
// thread's shard still sums right).
class ShardedCounter {
 public:
  void fetch_add(uint64_t n, std::memory_order order = std::memory_order_relaxed) {
    shards_[shard()].value.fetch_add(n, order);
  }
  void fetch_sub(uint64_t n, std::memory_order order = std::memory_order_relaxed) {
    shards_[shard()].value.fetch_sub(n, order);
  }
  uint64_t load(std::memory_order order = std::memory_order_relaxed) const {
    uint64_t sum = 0;
    for (const Shard& one : shards_) sum += one.value.load(order);
    return sum;
  }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  static size_t shard() {
    static std::atomic<size_t> next{0};
    thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return mine;
  }
  std::array<Shard, kShards> shards_;
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
  ShardedCounter frames_sent;                     // WebSocket messages written (pokes too)
  std::atomic<uint64_t> slow_peers_cut{0};        // streams cut for a full outgoing queue
  std::atomic<uint64_t> carried_encodings{0};     // commits' changes encoded to travel (032)
  ShardedCounter carried_sent;                    // carried frames queued on streams
  std::atomic<uint64_t> carried_compressions{0};  // carried frames compressed once (039)
  ShardedCounter direct_sends;                    // frames sent by one send() (047)
  std::atomic<uint64_t> direct_partial_sends{0};  // ... whose rest was written after
  std::atomic<uint64_t> column_pages_sent{0};     // pull answers' scopes sent column-wise (045)

  static void add(std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  static void add(ShardedCounter& counter) { counter.fetch_add(1); }
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
  // when the server is already stopping (the caller then closes at once). A stream names
  // the scopes it reads and gets their ids in `ids` (decision 059).
  bool register_self();
  bool register_self(std::span<const std::string> scopes,
                     std::array<ScopeId, kMaxSessionScopes>& ids);

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
