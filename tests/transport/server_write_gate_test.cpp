// WriteGate (transport/server_write_gate.h, decision 047) under a Beast server WebSocket,
// over a real TCP connection on 127.0.0.1 to a Beast client: a frame put on the socket by
// send_now() arrives as a message; while the client does not read, a Beast write in flight
// makes the gate busy; a partial send's rest is written before the messages and the ping
// Beast writes meanwhile (they wait in the gate), all arrive intact and in order, and the
// stream stays usable afterwards.
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "transport/server_write_gate.h"

namespace outpost::server_impl {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

constexpr auto kDeadline = std::chrono::seconds(20);

// Printable (valid in any protobuf string) and incompressible enough for the sizes here.
std::string random_text(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>('a' + random() % 26);
  return out;
}

class WriteGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    auto& client_socket = beast::get_lowest_layer(client_).socket();
    client_socket.open(tcp::v4());
    // Small buffers on both ends, so a large frame fills them: a send is then partial.
    client_socket.set_option(net::socket_base::receive_buffer_size(4096));
    client_socket.connect(acceptor.local_endpoint());
    tcp::socket accepted = acceptor.accept();
    accepted.set_option(net::socket_base::send_buffer_size(4096));
    server_ = std::make_unique<websocket::stream<WriteGate<beast::tcp_stream>>>(
        beast::tcp_stream(std::move(accepted)));
    server_->binary(true);
    client_.binary(true);
    client_.read_message_max(64 << 20);
    bool accepted_ws = false, handshaken = false;
    server_->async_accept([&](beast::error_code ec) {
      ASSERT_FALSE(ec) << ec.message();
      accepted_ws = true;
    });
    client_.async_handshake("127.0.0.1", "/", [&](beast::error_code ec) {
      ASSERT_FALSE(ec) << ec.message();
      handshaken = true;
    });
    run_until([&] { return accepted_ws && handshaken; });
  }

  WriteGate<beast::tcp_stream>& gate() { return server_->next_layer(); }

  // Runs the io_context until `done` (bounded).
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(done()) << "timed out";
  }

  // The client's next message.
  std::string receive() {
    beast::flat_buffer buffer;
    bool done = false;
    client_.async_read(buffer, [&](beast::error_code ec, size_t) {
      EXPECT_FALSE(ec) << ec.message();
      done = true;
    });
    run_until([&] { return done; });
    return beast::buffers_to_string(buffer.data());
  }

  net::io_context io_;
  websocket::stream<beast::tcp_stream> client_{io_};
  std::unique_ptr<websocket::stream<WriteGate<beast::tcp_stream>>> server_;
};

TEST_F(WriteGateTest, AFrameSentDirectlyArrivesAsOneMessage) {
  ASSERT_TRUE(gate().idle());
  for (size_t size : {size_t{5}, size_t{300}, size_t{70'000}}) {  // each length encoding
    const std::string payload = random_text(size, static_cast<unsigned>(size));
    const std::string frame = server_binary_frame(payload);
    beast::error_code ec;
    size_t sent = 0;
    // The client reads as it goes: a frame larger than the buffers takes several sends.
    std::string received;
    bool read_done = false;
    beast::flat_buffer buffer;
    client_.async_read(buffer, [&](beast::error_code read_ec, size_t) {
      EXPECT_FALSE(read_ec) << read_ec.message();
      read_done = true;
    });
    while (sent < frame.size()) {
      sent += gate().send_now(net::buffer(frame) + sent, ec);
      if (ec && ec != net::error::would_block && ec != net::error::try_again) {
        FAIL() << ec.message();
      }
      io_.restart();
      io_.run_for(std::chrono::milliseconds(1));
    }
    run_until([&] { return read_done; });
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), payload) << size;
    EXPECT_TRUE(client_.got_binary());
  }
  // Beast's own writes still work on the same stream afterwards.
  bool written = false;
  const std::string after = "after";  // a write's bytes live until it completes
  server_->async_write(net::buffer(after), [&](beast::error_code ec, size_t) { written = !ec; });
  EXPECT_EQ(receive(), "after");
  run_until([&] { return written; });
}

TEST_F(WriteGateTest, ABeastWriteInFlightMakesTheGateBusy) {
  const std::string large = random_text(4 << 20, 1);
  bool written = false;
  server_->async_write(net::buffer(large), [&](beast::error_code ec, size_t) {
    EXPECT_FALSE(ec) << ec.message();
    written = true;
  });
  io_.restart();
  io_.run_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(written) << "the client reads nothing: 4 MiB cannot have left";
  EXPECT_FALSE(gate().idle());
  EXPECT_EQ(receive(), large);
  run_until([&] { return written; });
  EXPECT_TRUE(gate().idle());
}

TEST_F(WriteGateTest, APartialSendsRestGoesBeforeWhatBeastWritesMeanwhile) {
  const std::string first = random_text(4 << 20, 2);
  const std::string frame = server_binary_frame(first);
  beast::error_code ec;
  const size_t sent = gate().send_now(net::buffer(frame), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_GT(sent, 0u);
  ASSERT_LT(sent, frame.size()) << "4 MiB into 4 KiB buffers is a partial send";
  bool rest_done = false;
  gate().write_rest(net::buffer(frame) + sent, [&](beast::error_code rest_ec, size_t n) {
    EXPECT_FALSE(rest_ec) << rest_ec.message();
    EXPECT_EQ(n, frame.size() - sent);
    rest_done = true;
  });
  EXPECT_FALSE(gate().idle());
  // Beast writes a message and a ping meanwhile: both wait for the rest.
  bool second_done = false, ping_done = false;
  const std::string second = "second", third = "third";
  server_->async_write(net::buffer(second), [&](beast::error_code write_ec, size_t) {
    EXPECT_FALSE(write_ec) << write_ec.message();
    second_done = true;
  });
  server_->async_ping({}, [&](beast::error_code ping_ec) {
    EXPECT_FALSE(ping_ec) << ping_ec.message();
    ping_done = true;
  });
  io_.restart();
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(rest_done);
  EXPECT_FALSE(second_done);

  bool pinged = false;
  client_.control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) pinged = true;
  });
  EXPECT_EQ(receive(), first);
  EXPECT_EQ(receive(), "second");
  run_until([&] { return rest_done && second_done && ping_done; });
  // The ping came after "second" (Beast answers it inside the next read): read once more.
  bool written = false;
  server_->async_write(net::buffer(third),
                       [&](beast::error_code write_ec, size_t) { written = !write_ec; });
  EXPECT_EQ(receive(), "third");
  EXPECT_TRUE(pinged);
  run_until([&] { return written; });
  EXPECT_TRUE(gate().idle());
}

}  // namespace
}  // namespace outpost::server_impl
