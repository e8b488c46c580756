// The simulated network between devices and the server: ordered connections (one per
// device at a time, like the WebSocket of transport/sync_agent_session.cpp) whose frames arrive
// after a seeded delay, in order within a connection and in any order across them.
// Faults: a frame lost takes its connection down silently (the device notices after a
// detection delay, as its ping or request timeout would); a request frame may be
// duplicated and delivered again later (a "ghost", whose answer goes nowhere); requests
// still in flight when a connection closes may reach the server later as ghosts. So a
// push can be applied while its device is already on its next connection.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "adapters/sim_random.h"

namespace outpost::sim {

struct NetworkFaults {
  int64_t min_delay_ms = 1;
  int64_t max_delay_ms = 120;
  double drop = 0.01;       // per frame: lost, and its connection dies silently
  double duplicate = 0.02;  // per request frame: also delivered later as a ghost
  double straggle = 0.3;    // per request in flight when its connection closes: a ghost
  int64_t ghost_delay_max_ms = 4000;
  int64_t detect_min_ms = 200;   // a silently dead connection is noticed after this ...
  int64_t detect_max_ms = 3000;  // ... to this
};

struct Envelope {
  uint64_t seq = 0;  // send order: breaks ties between frames due at the same time
  int64_t due_ms = 0;
  uint64_t connection = 0;
  int device = 0;
  bool to_server = false;
  bool ghost = false;          // a late copy of a request: the answer is discarded
  bool closed_notice = false;  // tells the device its connection is gone
  std::string bytes;
};

struct NetworkStats {
  uint64_t frames = 0;
  uint64_t drops = 0;
  uint64_t ghosts = 0;
  uint64_t connections = 0;
};

class SimNetwork {
 public:
  SimNetwork(SimRandom& random, NetworkFaults faults) : random_(random), faults_(faults) {}

  // A new connection of `device`.
  uint64_t open(int device);
  // Closes a connection: frames to the device are gone, requests in flight may straggle
  // to the server as ghosts. With notify, the device hears of it after a short delay.
  void close(uint64_t connection, int64_t now_ms, bool notify, double straggle);
  void close(uint64_t connection, int64_t now_ms, bool notify) {
    close(connection, now_ms, notify, faults_.straggle);
  }
  bool is_open(uint64_t connection) const;

  // Sends a frame. Nothing is returned: a lost frame only shows as a silence.
  void send(uint64_t connection, bool to_server, std::string bytes, int64_t now_ms);

  // The next frame due at or before now_ms, removed from the network.
  std::optional<Envelope> take_due(int64_t now_ms);
  // When the next frame is due (nullopt: nothing in flight).
  std::optional<int64_t> next_due() const;
  size_t in_flight() const { return queue_.size(); }

  // No more drops or duplicates (quiescence); frames in flight still arrive.
  void calm() {
    faults_.drop = 0;
    faults_.duplicate = 0;
    faults_.straggle = 0;
  }
  const NetworkStats& stats() const { return stats_; }

 private:
  struct Connection {
    int device = 0;
    bool open = true;
    bool dead = false;  // lost a frame: nothing more gets through
    int64_t last_due_to_server = 0;
    int64_t last_due_to_device = 0;
  };
  void enqueue(Envelope envelope);

  SimRandom& random_;
  NetworkFaults faults_;
  std::map<uint64_t, Connection> connections_;
  // (due, seq) -> envelope
  std::map<std::pair<int64_t, uint64_t>, Envelope> queue_;
  uint64_t next_connection_ = 0;
  uint64_t next_seq_ = 0;
  NetworkStats stats_;
};

}  // namespace outpost::sim
