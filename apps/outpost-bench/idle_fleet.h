// The idle_connections scenario's clients: lightweight Beast WebSocket clients on one
// io_context (a connection, a handshake with a device token, a pending read that answers
// the server's pings), opened a bounded number at a time, each bound to a 127.1.0.X source
// address so ephemeral ports do not run out. Used by the scenario in the bench process and
// by its client worker processes (idle_workers.h) alike.
// Thread rules: one thread runs the io_context and everything here.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"
#include "transport/wire_codec.h"

namespace outpost::bench {

inline constexpr const char* kIdleTenant = "idle";
using IdleClock = std::chrono::steady_clock;

// Connections being opened at once (per process): a bound on the servers' accept backlog
// and on SYNs.
inline constexpr int kOpeningAtOnce = 128;
inline constexpr auto kOpenTimeout = std::chrono::minutes(3);
inline constexpr auto kPingTimeout = std::chrono::seconds(60);
// Clients per source address (127.1.0.1, 127.1.0.2, ...): well under the ~28,000
// ephemeral ports one source address has towards one server port.
inline constexpr int kConnectionsPerSource = 10'000;

// The connections one process can hold under its descriptor limit (the bench raised the
// soft limit to the hard one; its children inherit it), some kept for everything else.
int descriptor_room();

// The source address of client `index`: 127.1.0.1 for the first kConnectionsPerSource...
boost::asio::ip::address_v4 source_address(int index);

struct IdleCounters {
  int opened = 0;
  int failed = 0;
  int dropped = 0;  // opened, then closed by the server or an error
  std::string first_error;
  // The poke rounds: a frame arriving while a round is on counts once per connection.
  int round = 0;
  IdleClock::time_point round_started;
  int poked = 0;   // connections that got this round's frame
  int ponged = 0;  // connections whose ping was answered
  std::vector<double> poke_ms;
  std::vector<double> arrived_ms;  // the same frames' kernel receive times (decision 052)
  int answered = 0;                // connections whose announcing pull was answered
};

class IdleClient;

// Who one client is: its server, its token and its index (which names its source address).
struct IdleClientSpec {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string target;         // the stream's path on that server
  std::string authorization;  // "Bearer <token>"
  int index = 0;
};

// What every idle client sends, compressed once in the connection's format: a ping, then a
// fresh device's pull of the idle agent's scopes announcing carried changes (in format 1
// the second message of the connection's zstd stream).
struct ClientMessages {
  std::shared_ptr<const std::string> ping;
  std::shared_ptr<const std::string> pull;
};
Result<ClientMessages> client_messages(StreamFormat format);

// Runs `io` for `duration` (restarting it first).
void run_for(boost::asio::io_context& io, IdleClock::duration duration);

// The idle clients, opened kOpeningAtOnce at a time.
class IdleFleet {
 public:
  IdleFleet(boost::asio::io_context& io, IdleCounters& counters, std::vector<IdleClientSpec> specs,
            StreamFormat format);
  ~IdleFleet();

  // Opens clients until the first `size` specs have connected or failed (bounded by
  // kOpenTimeout).
  void open_to(int size);
  int limit() const { return limit_; }
  // One ping from every open client; returns when `open` were answered (or kPingTimeout).
  void ping_all(int open, const std::shared_ptr<const std::string>& ping);
  // Hands every open client's socket over (cancelling its pending read); their fds.
  std::vector<int> hand_over();
  void close_all();

 private:
  void open_more();

  boost::asio::io_context& io_;
  IdleCounters& counters_;
  const std::vector<IdleClientSpec> specs_;
  const StreamFormat format_;
  std::vector<std::shared_ptr<IdleClient>> clients_;
  int next_ = 0;
  int in_flight_ = 0;
  int limit_ = 0;
};

}  // namespace outpost::bench
