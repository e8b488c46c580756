#include "transport/server_session.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/error.hpp>

#include <algorithm>
#include <unordered_set>

namespace outpost::server_impl {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

void SessionRegistry::start_fanout(net::io_context& context, size_t groups) {
  std::lock_guard lock(mutex_);
  fanout_.clear();
  for (size_t i = 0; i < groups; ++i) fanout_.push_back(net::make_strand(context));
}

void SessionRegistry::add(Session* session, std::weak_ptr<Session> weak) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session, Entry{std::move(weak), next_group_++});
}

void SessionRegistry::add(Session* session, std::weak_ptr<Session> weak,
                          std::span<const std::string> scopes,
                          std::array<ScopeId, kMaxSessionScopes>& ids) {
  std::lock_guard lock(mutex_);
  ids.fill(0);
  const size_t group = next_group_++;
  auto [it, added] = sessions_.emplace(session, Entry{weak, group});
  if (!added) return;  // registered once only
  Entry& entry = it->second;
  for (size_t k = 0; k < scopes.size() && k < kMaxSessionScopes; ++k) {
    auto [found, fresh] = scopes_.try_emplace(scopes[k]);
    ScopeMembers& members = found->second;
    if (fresh) {
      members.name = scopes[k];
      members.id = next_scope_id_++;
    }
    ids[k] = members.id;
    if (std::find(entry.scopes.begin(), entry.scopes.end(), &members) != entry.scopes.end()) {
      continue;  // the same scope twice: one membership
    }
    entry.scopes[k] = &members;
    entry.index[k] = members.members.size();
    members.members.push_back(Member{session, weak, group});
  }
}

void SessionRegistry::leave(ScopeMembers* scope, size_t index) {
  std::vector<Member>& members = scope->members;
  if (index + 1 != members.size()) {
    members[index] = std::move(members.back());
    // The member moved into `index`: its entry says where it now is.
    Entry& moved = sessions_.at(members[index].session);
    for (size_t k = 0; k < kMaxSessionScopes; ++k) {
      if (moved.scopes[k] == scope) moved.index[k] = index;
    }
  }
  members.pop_back();
  if (members.empty()) {
    std::string name = std::move(scope->name);
    scopes_.erase(name);
  }
}

void SessionRegistry::remove(Session* session) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  const Entry entry = std::move(it->second);
  sessions_.erase(it);
  for (size_t k = 0; k < kMaxSessionScopes; ++k) {
    if (entry.scopes[k]) leave(entry.scopes[k], entry.index[k]);
  }
  if (sessions_.empty()) empty_.notify_all();
}

size_t SessionRegistry::readers_of(const std::string& scope) const {
  std::lock_guard lock(mutex_);
  auto it = scopes_.find(scope);
  return it == scopes_.end() ? 0 : it->second.members.size();
}

size_t SessionRegistry::indexed_scopes() const {
  std::lock_guard lock(mutex_);
  return scopes_.size();
}

std::vector<std::shared_ptr<Session>> SessionRegistry::snapshot() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Session>> out;
  for (auto& [raw, entry] : sessions_) {
    if (auto strong = entry.weak.lock()) out.push_back(std::move(strong));
  }
  return out;
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionRegistry::wait_empty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return empty_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
}

void SessionRegistry::disable_pokes() {
  std::lock_guard lock(mutex_);
  pokes_enabled_ = false;
  fanout_.clear();
}

void SessionRegistry::poke(const std::vector<CommittedHead>& heads) {
  // Encoded lazily, by the first session at the commit's base (server_carried.h).
  auto commit = std::make_shared<CommitNotice>();
  commit->heads = heads;
  for (const CommittedHead& head : heads) {
    commit->carried.push_back(head.base_seq ? std::make_shared<CarriedCommit>(head) : nullptr);
  }
  commit->scope_ids.assign(heads.size(), 0);
  using Group = std::vector<std::shared_ptr<Session>>;
  Group keep;  // not running yet: each session queues the commit on its own strand
  std::lock_guard lock(mutex_);
  if (!pokes_enabled_) return;
  // Decision 059: only the streams of the commit's scopes, each once.
  std::vector<const ScopeMembers*> touched;
  for (size_t i = 0; i < heads.size(); ++i) {
    auto found = scopes_.find(heads[i].scope);
    if (found == scopes_.end()) continue;
    commit->scope_ids[i] = found->second.id;
    if (std::find(touched.begin(), touched.end(), &found->second) == touched.end()) {
      touched.push_back(&found->second);
    }
  }
  if (touched.empty()) return;
  std::shared_ptr<const CommitNotice> shared = std::move(commit);
  std::vector<Group> groups(fanout_.empty() ? 1 : fanout_.size());
  std::unordered_set<Session*> seen;  // only when a stream may read two of the scopes
  for (const ScopeMembers* scope : touched) {
    for (const Member& member : scope->members) {
      if (touched.size() > 1 && !seen.insert(member.session).second) continue;
      if (auto strong = member.weak.lock()) {
        groups[member.group % groups.size()].push_back(std::move(strong));
      }
    }
  }
  if (fanout_.empty()) {
    keep = std::move(groups[0]);
  } else {
    // Posted under the lock, so every group strand has the commits in announcement order.
    for (size_t i = 0; i < groups.size(); ++i) {
      if (groups[i].empty()) continue;
      net::post(fanout_[i], [group = std::move(groups[i]), shared] {
        for (const auto& session : group) session->on_commit(shared);
      });
    }
  }
  for (const auto& session : keep) session->on_commit(shared);  // only posts, to its strand
}

void SessionRegistry::poke_all() {
  std::vector<std::shared_ptr<Session>> keep;
  {
    std::lock_guard lock(mutex_);
    if (!pokes_enabled_) return;
    for (auto& [raw, entry] : sessions_) {
      if (auto strong = entry.weak.lock()) {
        strong->on_resync();  // only posts to the session's strand
        keep.push_back(std::move(strong));
      }
    }
  }
}

int64_t ServerContext::now_ms() const {
  if (options.now_ms) return options.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Session::register_self(std::span<const std::string> scopes,
                            std::array<ScopeId, kMaxSessionScopes>& ids) {
  context_.registry->add(this, weak_from_this(), scopes, ids);
  return !context_.stopping.load();
}

bool Session::register_self() {
  context_.registry->add(this, weak_from_this());
  // stop() sets `stopping` before it snapshots the registry, so a session registered
  // after the snapshot always sees the flag here.
  return !context_.stopping.load();
}

bool is_ordinary_disconnect(const beast::error_code& ec) {
  return ec == beast::websocket::error::closed || ec == net::error::operation_aborted ||
         ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == beast::error::timeout ||
         ec == net::ssl::error::stream_truncated;  // TLS: the peer hung up without close_notify
}

void half_close(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void close_stream(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
}

void half_close(TlsStream& stream) {
  half_close(beast::get_lowest_layer(stream));
}

void close_stream(TlsStream& stream) {
  close_stream(beast::get_lowest_layer(stream));
}

}  // namespace outpost::server_impl
