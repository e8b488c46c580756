// Internal to the server runtime: the byte stream under a stream session's WebSocket,
// wrapped so that the session knows whether any write is in flight on the connection —
// its own messages, and Beast's pongs, keep-alive pings and close frames alike — and may
// put a complete WebSocket frame on a plain TCP socket itself, with one non-blocking send,
// when none is (decision 047). When that send was partial, write_rest() writes the rest
// before any other write starts: a write Beast begins meanwhile waits in the gate and
// starts when the rest is on its way.
//
// Thread rules: like the stream it wraps, one strand (the session's) for everything.
// Distinct objects: safe.
#pragma once

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace outpost::server_impl {

// `payload` as one complete WebSocket message from a server (RFC 6455 §5.2): FIN, opcode 2
// (binary), no mask, the length in 7 bits, or 126 and 16 bits, or 127 and 64 bits
// (big-endian), then the payload. What send_now() puts on the socket.
inline std::string server_binary_frame(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  out.push_back(static_cast<char>(0x82));
  const uint64_t size = payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  }
  out.append(payload);
  return out;
}

// The completion of a write the gate counts: uncounts it, then calls the caller's
// handler, whose executor, allocator and cancellation slot it keeps (the associator at
// the end of this file).
template <class Handler>
struct CountedWrite {
  size_t* in_flight;
  Handler handler;
  void operator()(boost::beast::error_code ec, size_t n) {
    --*in_flight;
    std::move(handler)(ec, n);
  }
};

template <class Next>
class WriteGate {
 public:
  using executor_type = typename Next::executor_type;
  using next_layer_type = Next;

  template <class... Args>
  explicit WriteGate(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  Next& next_layer() noexcept { return next_; }
  const Next& next_layer() const noexcept { return next_; }

  // True when no write is in flight on the connection and none waits in the gate: bytes
  // put on the socket now start at a frame boundary.
  bool idle() const { return in_flight_ == 0 && !holding_ && waiting_.empty(); }

  template <class MutableBuffers, class ReadHandler>
  auto async_read_some(const MutableBuffers& buffers, ReadHandler&& handler) {
    return next_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  // Beast's writes (and the session's through Beast) come here: counted while in flight,
  // held while the rest of a partial direct send is being written.
  template <class ConstBuffers, class WriteHandler>
  auto async_write_some(const ConstBuffers& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(boost::beast::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& buffers) {
          if (holding_) {
            waiting_.push_back(std::make_unique<Waiting<ConstBuffers, decltype(handler)>>(
                buffers, std::move(handler)));
            return;
          }
          start_write_some(buffers, std::move(handler));
        },
        handler, buffers);
  }

  // Plain TCP only: one non-blocking send of `bytes`, bypassing the stream's operations.
  // Call only when idle(). Returns how many bytes the kernel took (0 with `ec` set when it
  // took none: EAGAIN, or an error the next regular write reports again).
  size_t send_now(boost::asio::const_buffer bytes, boost::beast::error_code& ec) {
    static_assert(std::is_same_v<Next, boost::beast::tcp_stream>, "plain TCP only");
    ec = {};
    const int fd = next_.socket().native_handle();
    for (;;) {
      const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent >= 0) return static_cast<size_t>(sent);
      if (errno == EINTR) continue;
      ec = boost::beast::error_code(errno, boost::system::system_category());
      return 0;
    }
  }

  // Writes `rest` (what send_now left of a frame) before any other write: writes begun
  // meanwhile wait and start, in order, once it completes. `handler` runs on the
  // stream's executor: void(error_code, size_t).
  template <class Handler>
  void write_rest(boost::asio::const_buffer rest, Handler handler) {
    holding_ = true;
    boost::asio::async_write(
        next_, rest,
        boost::asio::bind_executor(
            next_.get_executor(),
            [this, handler = std::move(handler)](boost::beast::error_code ec, size_t n) mutable {
              holding_ = false;
              release();
              handler(ec, n);
            }));
  }

 private:
  // A Beast write waiting for the rest of a partial direct send.
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void start(WriteGate& gate) = 0;
  };
  template <class ConstBuffers, class Handler>
  struct Waiting final : Waiter {
    Waiting(const ConstBuffers& buffers, Handler handler)
        : buffers(buffers), handler(std::move(handler)) {}
    void start(WriteGate& gate) override { gate.start_write_some(buffers, std::move(handler)); }
    ConstBuffers buffers;
    Handler handler;
  };

  template <class ConstBuffers, class Handler>
  void start_write_some(const ConstBuffers& buffers, Handler handler) {
    ++in_flight_;
    next_.async_write_some(buffers, CountedWrite<Handler>{&in_flight_, std::move(handler)});
  }

  void release() {
    std::vector<std::unique_ptr<Waiter>> waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& waiter : waiting) waiter->start(*this);
  }

  Next next_;
  size_t in_flight_ = 0;  // async_write_some calls not completed yet
  bool holding_ = false;  // write_rest() in flight: other writes wait
  std::vector<std::unique_ptr<Waiter>> waiting_;
};

// The WebSocket close handshake tears down the stream under the gate.
template <class Next>
void teardown(boost::beast::role_type role, WriteGate<Next>& gate, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, gate.next_layer(), ec);
}

template <class Next, class TeardownHandler>
void async_teardown(boost::beast::role_type role, WriteGate<Next>& gate,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, gate.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace outpost::server_impl

namespace boost::asio {

// A counted write completes where its caller's handler would have.
template <template <typename, typename> class Associator, typename Handler,
          typename DefaultCandidate>
struct associator<Associator, outpost::server_impl::CountedWrite<Handler>, DefaultCandidate> {
  using type = typename Associator<Handler, DefaultCandidate>::type;

  static type get(const outpost::server_impl::CountedWrite<Handler>& write) noexcept {
    return Associator<Handler, DefaultCandidate>::get(write.handler);
  }

  static auto get(const outpost::server_impl::CountedWrite<Handler>& write,
                  const DefaultCandidate& candidate) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(write.handler, candidate)) {
    return Associator<Handler, DefaultCandidate>::get(write.handler, candidate);
  }
};

}  // namespace boost::asio
