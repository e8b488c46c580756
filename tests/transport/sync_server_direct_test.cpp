// Decision 047 at the server, over real sockets: a commit's carried frame in stream format 2
// goes onto a plain TCP stream as one WebSocket frame built once, by one non-blocking send,
// and arrives intact; format 1 and TLS streams keep Beast's path and get the same changes;
// a device that stops reading gets every carried frame, whole and in order, once it reads
// again (the later ones queued behind the write in flight, or behind a partial send's rest).
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <thread>

#include "support/tls_certs.h"
#include "tests/transport/sync_server_fixture.h"
#include "transport/tls_server.h"

namespace outpost::server_test {
namespace {

// A pull of both scopes from scratch, accepting carried frames.
protocol::ClientFrame announcing_pull(const std::string& client_id) {
  protocol::ClientFrame frame;
  *frame.mutable_pull() = pull_request(client_id, {kUserScope, kOrgScope});
  frame.mutable_pull()->set_accepts_carried(true);
  return frame;
}

// Printable, so a valid protobuf string; barely compressible (about 4.7 bits a byte).
std::string random_text(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>('a' + random() % 26);
  return out;
}

// The carried frame's setting "theme", or "" when there is none.
std::string carried_theme(const protocol::ServerFrame& frame) {
  protocol::PullResponse as_pull;
  *as_pull.add_scopes() = frame.carried().changes();
  auto setting = find_setting(as_pull, "theme");
  return setting ? setting->value() : "";
}

// A WebSocket client of /v1/stream over TLS (trusting any certificate: the server's is
// made at run time), offering stream format 2.
class TlsWsClient {
 public:
  TlsWsClient() : tls_(net::ssl::context::tls_client), ws_(context_, tls_) {}

  beast::error_code connect(uint16_t port, const std::string& token) {
    auto& layer = beast::get_lowest_layer(ws_);
    layer.expires_after(kIoTimeout);
    beast::error_code ec = run_io(context_, [&](auto handler) {
      layer.async_connect(server_endpoint(port), std::move(handler));
    });
    if (ec) return ec;
    ec = run_io(context_, [&](auto handler) {
      ws_.next_layer().async_handshake(net::ssl::stream_base::client, std::move(handler));
    });
    if (ec) return ec;
    layer.expires_never();
    ws_.set_option(websocket::stream_base::timeout{kIoTimeout, kIoTimeout, false});
    ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& request) {
      request.set(http::field::authorization, "Bearer " + token);
      request.set(kStreamFormatHeader, kMessageFormatValue);
    }));
    ws_.read_message_max(64 * limits::kMiB);
    ws_.binary(true);
    return run_io(context_, [&](auto handler) {
      ws_.async_handshake("127.0.0.1", "/v1/stream", std::move(handler));
    });
  }

  beast::error_code send(const protocol::ClientFrame& frame) {
    auto message = codec_.encode(frame.SerializeAsString());
    EXPECT_TRUE(message.ok());
    return run_io(context_, [&](auto handler) {
      ws_.async_write(net::buffer(message.value()), std::move(handler));
    });
  }

  beast::error_code receive(protocol::ServerFrame& frame) {
    beast::flat_buffer buffer;
    beast::error_code ec =
        run_io(context_, [&](auto handler) { ws_.async_read(buffer, std::move(handler)); });
    if (ec) return ec;
    auto plain = codec_.decode(beast::buffers_to_string(buffer.data()));
    EXPECT_TRUE(plain.ok()) << plain.status().to_string();
    frame.Clear();
    if (plain.ok()) {
      EXPECT_TRUE(frame.ParseFromString(plain.value()));
    }
    return ec;
  }

 private:
  net::io_context context_;
  net::ssl::context tls_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  WireCodec codec_{StreamFormat::kMessage};
};

class SyncServerDirectTest : public SyncServerTest {
 protected:
  // A push of one setting over HTTP (a commit on another connection).
  void commit_setting(uint64_t id, const std::string& value) {
    HttpReply reply =
        push(setting_push("writer", id, "theme", value), token(kTenant, kUser, "web"));
    ASSERT_EQ(reply.status(), 200u) << reply.message;
  }

  // Waits (bounded) until the server has finished writing `frames` frames in all: every
  // stream's writes completed, none in flight.
  void wait_frames_sent(uint64_t frames) {
    const auto deadline = std::chrono::steady_clock::now() + kIoTimeout;
    while (server_->stats().frames_sent < frames && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_GE(server_->stats().frames_sent, frames);
  }

  std::unique_ptr<WsClient> caught_up(const std::string& name, StreamFormat offer,
                                      int receive_buffer = 0) {
    auto client = std::make_unique<WsClient>();
    if (receive_buffer > 0) client->set_receive_buffer(receive_buffer);
    EXPECT_FALSE(client->connect(server_->port(), token(kTenant, kUser, name), nullptr, offer));
    EXPECT_FALSE(client->send(announcing_pull(name)));
    protocol::ServerFrame answer;
    EXPECT_FALSE(client->receive_until(protocol::ServerFrame::kPull, answer));
    return client;
  }
};

TEST_P(SyncServerDirectTest, FormatTwoCarriedFramesGoOutInOneSendAndArriveIntact) {
  commit_setting(1, "dark");
  constexpr int kDevices = 3;
  std::vector<std::unique_ptr<WsClient>> devices;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(caught_up("new-" + std::to_string(i), StreamFormat::kMessage));
  }
  auto older = caught_up("older", StreamFormat::kStream);
  wait_frames_sent(kDevices + 1);  // the pull answers: nothing in flight any more
  const SyncServerStats before = server_->stats();

  for (uint64_t id = 2; id <= 4; ++id) {  // each length encoding of the frame header
    const std::string value = random_text(id == 2 ? 10 : id == 3 ? 2'000 : 200'000, id);
    commit_setting(id, value);
    std::string shared;
    for (auto& device : devices) {
      protocol::ServerFrame frame;
      ASSERT_FALSE(device->receive(frame));
      ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
      EXPECT_EQ(carried_theme(frame), value);
      if (shared.empty()) shared = device->last_message();
      EXPECT_EQ(device->last_message(), shared) << "the same bytes on every stream";
    }
    protocol::ServerFrame frame;
    ASSERT_FALSE(older->receive(frame));
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
    EXPECT_EQ(carried_theme(frame), value);
    wait_frames_sent(before.frames_sent + (id - 1) * (kDevices + 1));
  }
  const SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_sent - before.carried_sent, 3u * (kDevices + 1));
  // Format 2 on plain TCP, nothing in flight: put on the socket directly (in one send, or
  // the rest of a partial one written after); format 1 goes through Beast.
  EXPECT_EQ(after.direct_sends - before.direct_sends +
                (after.direct_partial_sends - before.direct_partial_sends),
            3u * kDevices);
  EXPECT_EQ(after.carried_compressions - before.carried_compressions, 3u);
}

// A device that stops reading: the first frames go out directly until the socket's buffers
// are full; then a send is partial (its rest written before anything else) or refused (the
// frame queued), and every later frame queues behind. Read again, every frame is there,
// whole, in commit order, each based on the one before.
TEST_P(SyncServerDirectTest, AStreamThatStopsReadingGetsEveryFrameWholeAndInOrder) {
  SyncServerOptions options;
  options.max_queued_bytes = 64 * limits::kMiB;  // the backlog below is not a slow peer
  start_server(options);
  commit_setting(1, "dark");
  auto device = caught_up("slow", StreamFormat::kMessage, 4096);
  wait_frames_sent(1);
  const SyncServerStats before = server_->stats();
  constexpr uint64_t kCommits = 40;  // 40 x 200 KB: more than the socket buffers hold
  std::vector<std::string> values;
  for (uint64_t i = 0; i < kCommits; ++i) {
    values.push_back(random_text(200'000, static_cast<unsigned>(i)));
    commit_setting(2 + i, values.back());
    // The frame is encoded by the first stream that needs it (decision 032), from the log
    // as it is then: wait until it was sent or queued, so that it holds this commit alone
    // and not the next one too (which would make the next commit a poke: correct, but not
    // what is tested here).
    const auto deadline = std::chrono::steady_clock::now() + kIoTimeout;
    while (server_->stats().carried_sent < before.carried_sent + i + 1 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(server_->stats().carried_sent, before.carried_sent + i + 1);
  }
  uint64_t cursor = 0;
  for (uint64_t i = 0; i < kCommits; ++i) {
    protocol::ServerFrame frame;
    ASSERT_FALSE(device->receive(frame)) << i;
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried) << i;
    if (i > 0) {
      EXPECT_EQ(frame.carried().base(), cursor) << i;
    }
    cursor = frame.carried().changes().cursor();
    EXPECT_EQ(carried_theme(frame), values[i]) << i;
  }
  const SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_sent - before.carried_sent, kCommits);
  EXPECT_EQ(after.slow_peers_cut, before.slow_peers_cut);
  const uint64_t direct = after.direct_sends - before.direct_sends;
  const uint64_t partial = after.direct_partial_sends - before.direct_partial_sends;
  EXPECT_GE(direct, 1u) << "the first frames found the socket empty";
  EXPECT_TRUE(direct < kCommits || partial > 0) << "the buffers never filled";
  // Still a working stream: a ping is answered.
  ASSERT_FALSE(device->send(ping_frame(9)));
  protocol::ServerFrame pong;
  ASSERT_FALSE(device->receive_until(protocol::ServerFrame::kPong, pong));
}

// TLS streams write through the TLS stream (Beast's path): the same carried frame reaches
// them intact, and nothing is sent directly.
TEST_P(SyncServerDirectTest, TlsStreamsGetTheCarriedFrameThroughBeast) {
  commit_setting(1, "dark");  // on the plain server: the devices then pull a head above 0
  support::CertificatePem pem = support::TestCa::create().issue();
  ASSERT_TRUE(support::write_text_file(dir_.path() + "/server.pem", pem.certificate));
  ASSERT_TRUE(support::write_text_file(dir_.path() + "/server.key", pem.key));
  auto tls = TlsServerContext::load(dir_.path() + "/server.pem", dir_.path() + "/server.key");
  ASSERT_TRUE(tls.ok()) << tls.status().to_string();
  SyncServerOptions options;
  options.tls = *tls;
  start_server(options);
  const SyncServerStats first = server_->stats();
  constexpr int kDevices = 2;
  std::vector<std::unique_ptr<TlsWsClient>> devices;
  for (int i = 0; i < kDevices; ++i) {
    auto device = std::make_unique<TlsWsClient>();
    ASSERT_FALSE(
        device->connect(server_->port(), token(kTenant, kUser, "tls-" + std::to_string(i))));
    ASSERT_FALSE(device->send(announcing_pull("tls-" + std::to_string(i))));
    protocol::ServerFrame answer;
    ASSERT_FALSE(device->receive(answer));
    ASSERT_EQ(answer.body_case(), protocol::ServerFrame::kPull);
    devices.push_back(std::move(device));
  }
  wait_frames_sent(first.frames_sent + kDevices);
  const SyncServerStats before = server_->stats();
  // The commit: a push on the first device's stream (the server speaks only TLS now).
  protocol::ClientFrame push;
  *push.mutable_push() = setting_push("writer", 2, "theme", "over tls");
  ASSERT_FALSE(devices[0]->send(push));
  for (auto& device : devices) {
    protocol::ServerFrame frame;
    do {
      ASSERT_FALSE(device->receive(frame));
    } while (frame.body_case() == protocol::ServerFrame::kPush);  // the pusher's answer
    ASSERT_EQ(frame.body_case(), protocol::ServerFrame::kCarried);
    EXPECT_EQ(carried_theme(frame), "over tls");
  }
  const SyncServerStats after = server_->stats();
  EXPECT_EQ(after.carried_sent - before.carried_sent, static_cast<uint64_t>(kDevices));
  EXPECT_EQ(after.direct_sends, before.direct_sends);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, SyncServerDirectTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost::server_test
