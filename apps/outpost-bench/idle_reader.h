// The idle_connections scenario's reader for its measured rounds (decision 047): every
// client socket in one epoll set, read in batches, the WebSocket frames from the server
// (unmasked) split without Beast. A message's time is when epoll said its socket was
// readable — what the scenario measures — taken once per wake-up, before the reads.
// Pings are answered (masked pongs), a close frame or an error ends the client.
//
// Thread rules: one thread. Distinct objects: safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost::bench {

class IdleReader {
 public:
  using Clock = std::chrono::steady_clock;
  // A complete data message on client `index`, readable at `readable`; `arrived` is when
  // the kernel queued its last bytes on the client's socket (SO_TIMESTAMPNS, decision 052:
  // on loopback that is inside the server's send), independent of when this reader ran.
  using OnMessage =
      std::function<void(size_t index, Clock::time_point readable, Clock::time_point arrived)>;
  // Client `index` ended (closed by the server, an error, a malformed frame).
  using OnClosed = std::function<void(size_t index)>;

  IdleReader(OnMessage on_message, OnClosed on_closed);
  ~IdleReader();
  IdleReader(const IdleReader&) = delete;
  IdleReader& operator=(const IdleReader&) = delete;

  // Takes over a connected socket whose WebSocket handshake is done and which no one else
  // reads or writes any more (the reader does not close it). Its index is the count added
  // before it.
  Status add(int fd);
  // Sends a data message as a client frame (binary, masked), queued behind what is still
  // unsent on that client.
  void send(size_t index, const std::string& message);
  // Waits up to `timeout` for readable sockets and reads them (one epoll wake-up).
  void poll(std::chrono::milliseconds timeout);

  // A client's frame of `payload`: FIN, `opcode`, masked with a zero key (RFC 6455 §5.3
  // lets the client choose it; the server only unmasks).
  static std::string client_frame(unsigned opcode, const std::string& payload);

 private:
  struct Client {
    int fd = -1;
    bool open = true;
    std::string in;   // bytes read, not yet a whole frame
    std::string out;  // bytes to send, waiting for room
  };
  void read_client(size_t index, Clock::time_point readable);
  // Splits client.in into frames; false on a close frame or a malformed one.
  bool parse(size_t index, Clock::time_point readable, Clock::time_point arrived);
  void flush(size_t index);
  void end(size_t index);

  OnMessage on_message_;
  OnClosed on_closed_;
  int epoll_ = -1;
  std::vector<Client> clients_;
  std::vector<char> buffer_;
  // The kernel's receive timestamps are CLOCK_REALTIME: steady = realtime + this offset,
  // measured at each wake-up.
  std::chrono::nanoseconds realtime_to_steady_{0};
};

}  // namespace outpost::bench
