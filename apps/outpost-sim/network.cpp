#include "apps/outpost-sim/network.h"

#include <algorithm>
#include <vector>

namespace outpost::sim {

uint64_t SimNetwork::open(int device) {
  uint64_t id = ++next_connection_;
  connections_[id] = Connection{device};
  stats_.connections++;
  return id;
}

bool SimNetwork::is_open(uint64_t connection) const {
  auto it = connections_.find(connection);
  return it != connections_.end() && it->second.open;
}

void SimNetwork::enqueue(Envelope envelope) {
  envelope.seq = ++next_seq_;
  queue_.emplace(std::make_pair(envelope.due_ms, envelope.seq), std::move(envelope));
}

void SimNetwork::close(uint64_t connection, int64_t now_ms, bool notify, double straggle) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second.open) return;
  it->second.open = false;
  std::vector<Envelope> stragglers;
  for (auto q = queue_.begin(); q != queue_.end();) {
    Envelope& envelope = q->second;
    if (envelope.connection != connection || envelope.ghost) {
      ++q;
      continue;
    }
    if (envelope.to_server && !envelope.closed_notice && random_.chance(straggle)) {
      envelope.ghost = true;
      envelope.due_ms = now_ms + random_.between(faults_.min_delay_ms, faults_.ghost_delay_max_ms);
      stragglers.push_back(std::move(envelope));
      stats_.ghosts++;
    }
    q = queue_.erase(q);
  }
  for (auto& envelope : stragglers) enqueue(std::move(envelope));
  if (notify) {
    Envelope notice;
    notice.due_ms = now_ms + random_.between(faults_.min_delay_ms, faults_.max_delay_ms);
    notice.connection = connection;
    notice.device = it->second.device;
    notice.closed_notice = true;
    enqueue(std::move(notice));
  }
}

void SimNetwork::send(uint64_t connection, bool to_server, std::string bytes, int64_t now_ms) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second.open || it->second.dead) return;
  Connection& conn = it->second;
  stats_.frames++;
  if (random_.chance(faults_.drop)) {
    // Lost: the connection is dead from here on; the device notices later.
    conn.dead = true;
    stats_.drops++;
    Envelope notice;
    notice.due_ms = now_ms + random_.between(faults_.detect_min_ms, faults_.detect_max_ms);
    notice.connection = connection;
    notice.device = conn.device;
    notice.closed_notice = true;
    enqueue(std::move(notice));
    return;
  }
  int64_t& last = to_server ? conn.last_due_to_server : conn.last_due_to_device;
  int64_t due =
      std::max(last, now_ms + random_.between(faults_.min_delay_ms, faults_.max_delay_ms));
  last = due;
  if (to_server && random_.chance(faults_.duplicate)) {
    Envelope ghost;
    ghost.due_ms = now_ms + random_.between(faults_.min_delay_ms, faults_.ghost_delay_max_ms);
    ghost.connection = connection;
    ghost.device = conn.device;
    ghost.to_server = true;
    ghost.ghost = true;
    ghost.bytes = bytes;
    enqueue(std::move(ghost));
    stats_.ghosts++;
  }
  Envelope envelope;
  envelope.due_ms = due;
  envelope.connection = connection;
  envelope.device = conn.device;
  envelope.to_server = to_server;
  envelope.bytes = std::move(bytes);
  enqueue(std::move(envelope));
}

std::optional<Envelope> SimNetwork::take_due(int64_t now_ms) {
  while (!queue_.empty() && queue_.begin()->first.first <= now_ms) {
    Envelope envelope = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    if (!envelope.ghost && !envelope.closed_notice) {
      // A frame of a connection that died while it travelled is gone.
      auto it = connections_.find(envelope.connection);
      if (it == connections_.end() || !it->second.open || it->second.dead) continue;
    }
    return envelope;
  }
  return std::nullopt;
}

std::optional<int64_t> SimNetwork::next_due() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

}  // namespace outpost::sim
