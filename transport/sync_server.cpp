// The facade of the server runtime. The pieces, each with its purpose and thread rules:
//   server_listener.h       the acceptor, the connection cap, the threads, start and stop
//   server_session.h        the context, counters and registry every connection shares
//   server_http_session.h   one HTTP connection (push, pull, health; the upgrade)
//   server_stream_session.h one WebSocket stream (/v1/stream)
#include "transport/sync_server.h"

#include "transport/server_listener.h"

namespace outpost {

namespace {

// What the cursor-token key is derived for (TokenAuthority::derive_key).
constexpr std::string_view kCursorKeyPurpose = "outpost cursor tokens v1";

}  // namespace

struct SyncServer::Impl {
  Impl(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
      : listener(core, tokens, std::move(options)) {}

  server_impl::Listener listener;
};

SyncServer::SyncServer(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
    : impl_(std::make_unique<Impl>(core, tokens, std::move(options))) {
  // Continuation tokens are sealed with a key only servers holding this token key share.
  core.set_cursor_key(tokens.derive_key(kCursorKeyPurpose));
  core.add_commit_listener([registry = impl_->listener.context().registry](
                               const std::vector<CommittedHead>& heads) { registry->poke(heads); });
}

SyncServer::~SyncServer() {
  stop();
}

Status SyncServer::start() {
  return impl_->listener.start();
}

uint16_t SyncServer::port() const {
  return impl_->listener.port();
}

void SyncServer::stop() {
  impl_->listener.stop();
}

void SyncServer::poke(const std::vector<CommittedHead>& heads) {
  impl_->listener.context().registry->poke(heads);
}

void SyncServer::poke_all() {
  impl_->listener.context().registry->poke_all();
}

size_t SyncServer::connection_count() const {
  return impl_->listener.context().registry->size();
}

SyncServerStats SyncServer::stats() const {
  const server_impl::ServerCounters& c = impl_->listener.context().counters;
  auto read = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  SyncServerStats out;
  out.connections_accepted = read(c.connections_accepted);
  out.connections_refused = read(c.connections_refused);
  out.accept_failures = read(c.accept_failures);
  out.http_requests = read(c.http_requests);
  out.streams_opened = read(c.streams_opened);
  out.frames_received = read(c.frames_received);
  out.frames_sent = read(c.frames_sent);
  out.slow_peers_cut = read(c.slow_peers_cut);
  out.carried_encodings = read(c.carried_encodings);
  out.carried_compressions = read(c.carried_compressions);
  out.carried_sent = read(c.carried_sent);
  out.direct_sends = read(c.direct_sends);
  out.direct_partial_sends = read(c.direct_partial_sends);
  out.column_pages_sent = read(c.column_pages_sent);
  return out;
}

}  // namespace outpost
