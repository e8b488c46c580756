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

}  // namespace outpost
