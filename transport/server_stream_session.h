// Internal to the server runtime: one WebSocket stream (GET /v1/stream, docs/protocol.md §5)
// after the HTTP session authenticated its upgrade: push, pull and ping frames answered in
// order, pokes coalesced into one queued frame, a bounded outgoing queue (a peer that does
// not read is cut), flood control, the close handshake.
//
// Thread rules: everything runs on the connection's strand; the Session overrides may be
// called from any thread and only post to it. Distinct objects: safe.
//
// `Stream` is the byte stream under the WebSocket: beast::tcp_stream, or TlsStream
// (server_session.h) when the server serves TLS (server_stream_session.cpp instantiates the
// template for each).
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/server_core.h"
#include "transport/http_util.h"
#include "transport/server_session.h"
#include "transport/server_write_gate.h"
#include "transport/wire_codec.h"

namespace outpost::server_impl {

// Refills `rate` tokens per second up to `burst`; one frame costs one token.
class FrameBudget {
 public:
  FrameBudget(double rate, double burst)
      : rate_(rate), burst_(burst), tokens_(burst), last_(std::chrono::steady_clock::now()) {}
  bool take();

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

template <class Stream>
class StreamSession final : public Session {
 public:
  // `stream`: the connection the upgrade request was read from.
  StreamSession(ServerContext& context, Stream&& stream, http_api::Authenticated who);
  // Tells options.on_stream when the stream had been accepted.
  ~StreamSession() override;

  // Answers the upgrade `request` (already authenticated), then serves frames.
  void start(http_api::HttpRequest request);

  void shutdown() override;
  void force_close() override;
  void on_commit(const std::shared_ptr<const CommitNotice>& commit) override;
  void on_resync() override;

 private:
  // A message waiting to be sent: a serialized ServerFrame, the one coalesced poke (built
  // from pending_heads_ when its turn comes), or a carried frame shared with other streams
  // — serialized (format 1: this stream compresses it) or already compressed as one
  // standalone message (format 2, decision 039: sent as is).
  struct Outgoing {
    bool poke = false;
    std::string frame;
    std::shared_ptr<const std::string> shared;
    bool compressed = false;  // `shared` is the message as it travels
    size_t size() const { return shared ? shared->size() : frame.size(); }
  };

  std::shared_ptr<StreamSession> self_ptr();
  void on_start(http_api::HttpRequest request, bool running);
  void on_accept(boost::beast::error_code ec);
  void do_read();
  // A message's first byte arrived (or the read failed): the rest of it is read next.
  void on_first_byte(boost::beast::error_code ec);
  void on_read(boost::beast::error_code ec);
  // One decoded frame answered; false when the connection is failed instead.
  bool answer(const std::string& message);
  void send(const protocol::ServerFrame& frame);
  // A protocol violation: say why in an error frame, then close with `code`.
  void fail(const Status& failure, boost::beast::websocket::close_code code);
  void queue_poke(const std::vector<CommittedHead>& heads);
  // Which of the two scopes `scope` is: 0 the user's, 1 the org's, -1 neither.
  int slot_of(const std::string& scope) const {
    return scope == user_scope_ ? 0 : scope == org_scope_ ? 1 : -1;
  }
  // The same by the registry's id (decision 059): a commit's heads carry their scopes' ids.
  int slot_of(ScopeId id) const {
    return id == 0 ? -1 : id == scope_ids_[0] ? 0 : id == scope_ids_[1] ? 1 : -1;
  }
  // A commit's readable heads: carried to a device at the commit's base, else poked.
  void queue_commit(const CommitNotice& commit);
  // Decision 047: a carried frame in format 2 put on a plain TCP socket by one
  // non-blocking send, when nothing is queued or in flight; the rest of a partial send is
  // written before anything else. False when it must be queued instead (TLS, a write in
  // flight, the socket full, the stream closing).
  bool send_direct(const std::shared_ptr<const std::string>& wire);
  // Where the device will be once it has applied `response` (a pull this stream answered).
  void note_cursors(const protocol::PullRequest& request, const protocol::PullResponse& response);
  void enqueue(Outgoing item);
  void do_write();
  void on_write(boost::beast::error_code ec);
  // Stops reading new frames, flushes what is queued, then sends the close frame.
  void begin_close(boost::beast::websocket::close_reason reason);
  void do_close();
  void abort();

  boost::beast::websocket::stream<WriteGate<Stream>> ws_;
  const boost::asio::any_io_executor strand_;
  const Principal principal_;                 // immutable: read by on_commit from other threads
  const std::string user_scope_, org_scope_;  // principal_'s, immutable
  // Their ids in the registry (decision 059), written once under its lock at registration,
  // before any commit can reach this stream.
  std::array<ScopeId, kMaxSessionScopes> scope_ids_{};
  const int64_t expires_ms_;
  FrameBudget budget_;
  // The connection's compression, in the format its upgrade negotiated (decision 039): in
  // format 2 it holds no zstd context at all.
  WireCodec codec_;
  boost::beast::flat_buffer read_buffer_;
  std::string write_buffer_;
  std::shared_ptr<const std::string> write_shared_;  // a shared message being written
  std::shared_ptr<const std::string> direct_rest_;   // a direct send's frame, rest in flight
  // A list, not a deque: libstdc++'s deque allocates 576 bytes when constructed, which every
  // idle stream would hold (decision 052).
  std::list<Outgoing> queue_;
  size_t queued_bytes_ = 0;  // serialized frames in queue_
  std::map<std::string, uint64_t> pending_heads_;
  // Decision 032: the device's pulls say it applies carried frames, and per scope the cursor
  // it will hold once it has applied everything sent on this stream (known only after a
  // complete log answer or a carried frame; absent otherwise). A hint: the device checks.
  bool accepts_carried_ = false;
  // Per readable scope (slot_of): a stream reads exactly two, so two fields rather than a
  // map looked up by name for every commit (decision 052).
  std::optional<uint64_t> device_cursors_[2];
  boost::beast::websocket::close_reason close_reason_;
  bool accepted_ = false;
  bool stop_requested_ = false;
  bool writing_ = false;
  bool poke_queued_ = false;
  bool closing_ = false;        // no more frames are read or answered
  bool close_pending_ = false;  // a close frame follows the queued messages
  bool close_started_ = false;
  bool aborted_ = false;
};

extern template class StreamSession<boost::beast::tcp_stream>;
extern template class StreamSession<TlsStream>;

}  // namespace outpost::server_impl
