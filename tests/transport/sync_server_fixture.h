// The fixture of the SyncServer suites: a real SyncServer on 127.0.0.1 over a real store
// (SQLite or a real PostgreSQL, by test parameter), and minimal Beast HTTP and WebSocket
// clients written here, as a second implementation would be.
// Thread rules: a fixture and its clients belong to the test thread.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include "adapters/postgres_server_store.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"
#include "tests/engine/test_support.h"
#include "tests/support/pg_test.h"
#include "tests/transport/server_requests.h"
#include "transport/http_util.h"
#include "transport/limits.h"
#include "transport/sync_server.h"
#include "transport/token.h"
#include "transport/wire_codec.h"
#include "transport/zstd_codec.h"

namespace outpost::server_test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

inline constexpr auto kIoTimeout = std::chrono::seconds(10);

// Runs the asynchronous operation `initiate` starts until its handler ran. Every
// operation here has a deadline (tcp_stream expiry or websocket timeouts), so this ends.
template <typename Initiate>
inline beast::error_code run_io(net::io_context& context, Initiate&& initiate) {
  std::optional<beast::error_code> result;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  context.restart();
  while (!result && context.run_one() > 0) {
  }
  return result.value_or(net::error::timed_out);
}

inline tcp::endpoint server_endpoint(uint16_t port) {
  return tcp::endpoint(net::ip::make_address("127.0.0.1"), port);
}

struct HttpReply {
  beast::error_code ec;
  http::response<http::string_body> message;

  unsigned status() const { return message.result_int(); }
  std::string header(std::string_view name) const {
    auto it = message.find(beast::string_view(name.data(), name.size()));
    return it == message.end() ? "" : std::string(it->value());
  }
  template <typename Message>
  Message decode() const {
    Message out;
    auto plain = zstd_decompress(message.body(), limits::kMaxDecompressedBody);
    EXPECT_TRUE(plain.ok()) << plain.status().to_string();
    if (plain.ok()) {
      EXPECT_TRUE(out.ParseFromString(plain.value()));
    }
    return out;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

inline HttpReply http_call(uint16_t port, http::verb verb, const std::string& target,
                           const std::string& body = "", const Headers& headers = {}) {
  HttpReply reply;
  net::io_context context;
  beast::tcp_stream stream(context);
  stream.expires_after(kIoTimeout);
  reply.ec = run_io(context, [&](auto handler) {
    stream.async_connect(server_endpoint(port), std::move(handler));
  });
  if (reply.ec) return reply;
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  stream.expires_after(kIoTimeout);
  // A refused body may cut the write short: the response is what the test looks at.
  (void)run_io(context,
               [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * limits::kMiB);
  parser.skip(verb == http::verb::head);  // its Content-Length describes a body not sent
  stream.expires_after(kIoTimeout);
  reply.ec = run_io(
      context, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  reply.message = parser.release();
  return reply;
}

inline Headers protobuf_headers(const std::string& token) {
  Headers headers = {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "zstd"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

inline void expect_error(const HttpReply& reply, unsigned status, const std::string& code) {
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), status) << reply.message;
  EXPECT_EQ(reply.header("X-Outpost-Error"), code);
  EXPECT_EQ(reply.header("Content-Encoding"), "zstd");
  auto wire = reply.decode<protocol::Error>();
  EXPECT_EQ(wire.code(), code);
  EXPECT_FALSE(wire.message().empty());
  EXPECT_EQ(wire.retryable(), code == "unavailable");
}

// A minimal WebSocket client of /v1/stream with its own compression contexts.
class WsClient {
 public:
  WsClient() : ws_(context_) {}

  // `offer`: the stream format asked for in the upgrade (decision 039); the codec then
  // uses what the server answered (format()).
  beast::error_code connect(uint16_t port, const std::string& token,
                            unsigned* http_status = nullptr,
                            StreamFormat offer = StreamFormat::kStream) {
    auto& layer = beast::get_lowest_layer(ws_);
    if (receive_buffer_ > 0) {  // set before the connect, so the window is that small
      beast::error_code ec;
      layer.socket().open(tcp::v4(), ec);
      if (ec) return ec;
      layer.socket().set_option(net::socket_base::receive_buffer_size(receive_buffer_), ec);
      if (ec) return ec;
    }
    layer.expires_after(kIoTimeout);
    beast::error_code ec = run_io(context_, [&](auto handler) {
      layer.async_connect(server_endpoint(port), std::move(handler));
    });
    if (ec) return ec;
    layer.expires_never();
    ws_.set_option(websocket::stream_base::timeout{kIoTimeout, kIoTimeout, false});
    ws_.set_option(
        websocket::stream_base::decorator([token, offer](websocket::request_type& request) {
          if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
          if (offer == StreamFormat::kMessage) {
            request.set(kStreamFormatHeader, kMessageFormatValue);
          }
        }));
    ws_.read_message_max(64 * limits::kMiB);
    websocket::response_type response;
    ec = run_io(context_, [&](auto handler) {
      ws_.async_handshake(response, "127.0.0.1", "/v1/stream", std::move(handler));
    });
    if (http_status != nullptr) *http_status = response.result_int();
    auto answered = response.find(kStreamFormatHeader);
    codec_ = WireCodec(answered == response.end() ? StreamFormat::kStream
                                                  : stream_format_offered(answered->value()));
    ws_.binary(true);
    return ec;
  }

  beast::error_code send(const protocol::ClientFrame& frame) {
    auto compressed = codec_.encode(frame.SerializeAsString());
    EXPECT_TRUE(compressed.ok());
    return send_raw(compressed.value());
  }

  beast::error_code send_raw(const std::string& bytes, bool binary = true) {
    ws_.binary(binary);
    return run_io(context_,
                  [&](auto handler) { ws_.async_write(net::buffer(bytes), std::move(handler)); });
  }

  // The next frame from the server; an error when the connection ended.
  beast::error_code receive(protocol::ServerFrame& frame) {
    beast::flat_buffer buffer;
    beast::error_code ec =
        run_io(context_, [&](auto handler) { ws_.async_read(buffer, std::move(handler)); });
    if (ec) return ec;
    last_message_ = beast::buffers_to_string(buffer.data());
    auto plain = codec_.decode(last_message_);
    EXPECT_TRUE(plain.ok()) << plain.status().to_string();
    frame.Clear();
    if (plain.ok()) {
      EXPECT_TRUE(frame.ParseFromString(plain.value()));
    }
    return ec;
  }

  // Frames until one of `body` arrives (pokes and the like are skipped).
  beast::error_code receive_until(protocol::ServerFrame::BodyCase body,
                                  protocol::ServerFrame& frame) {
    for (;;) {
      beast::error_code ec = receive(frame);
      if (ec || frame.body_case() == body) return ec;
    }
  }

  // A small receive buffer for the next connect(): a client that does not read then backs
  // the server's writes up quickly.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }
  websocket::close_reason reason() const { return ws_.reason(); }
  // The format the upgrade settled on, and the last message received as it travelled.
  StreamFormat format() const { return codec_.format(); }
  const std::string& last_message() const { return last_message_; }
  // Drops the TCP connection without a close frame.
  void close() { beast::get_lowest_layer(ws_).close(); }

 private:
  net::io_context context_;
  websocket::stream<beast::tcp_stream> ws_;
  WireCodec codec_;
  std::string last_message_;
  int receive_buffer_ = 0;
};

inline protocol::ClientFrame ping_frame(int64_t sent_ms) {
  protocol::ClientFrame frame;
  frame.mutable_ping()->set_sent_ms(sent_ms);
  return frame;
}

// Parameter: the store, "sqlite" or "postgres" (a database of its own).
class SyncServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      database_ = std::make_unique<pg_test::TestDatabase>();
      PostgresStoreOptions options;
      options.url = database_->url();
      auto store = PostgresServerStore::open(options);
      ASSERT_TRUE(store.ok()) << store.status().to_string();
      store_ = std::move(store).value();
    } else {
      auto store = SqliteServerStore::open(dir_.path() + "/outpost.db");
      ASSERT_TRUE(store.ok()) << store.status().to_string();
      store_ = std::move(store).value();
    }
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    start_server();
  }

  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    core_.reset();
    store_.reset();
    database_.reset();
  }

  void start_server(SyncServerOptions options = {}) {
    if (server_) server_->stop();
    options.now_ms = [this] { return now_.load(); };
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
    ASSERT_NE(server_->port(), 0);
  }

  std::string token(const std::string& tenant = kTenant, const std::string& user = kUser,
                    const std::string& device = "phone", int64_t issued_ms = kNow - 1000,
                    int64_t expires_ms = kNow + 3'600'000,
                    const TokenAuthority* authority = nullptr) {
    return issue_token(authority != nullptr ? *authority : tokens_, tenant, user, device, issued_ms,
                       expires_ms);
  }

  HttpReply post(const std::string& path, const std::string& body, const std::string& bearer) {
    return http_call(server_->port(), http::verb::post, path, body, protobuf_headers(bearer));
  }

  HttpReply push(const protocol::PushRequest& request, const std::string& bearer) {
    return post("/v1/push", compress(request), bearer);
  }

  HttpReply pull(const protocol::PullRequest& request, const std::string& bearer) {
    return post("/v1/pull", compress(request), bearer);
  }

  // Heads of every scope a test touches: unchanged heads mean nothing was written.
  std::vector<uint64_t> heads() {
    std::vector<uint64_t> out;
    for (const char* scope : {kUserScope, kOrgScope, "org/globex", "user/globex/bob"}) {
      auto info = store_->scope_info(scope);
      EXPECT_TRUE(info.ok());
      out.push_back(info.ok() ? info->head_seq : ~0ULL);
    }
    return out;
  }

  // Stores one setting through the server, so bad input has something to damage.
  void seed() {
    HttpReply reply = push(setting_push("seed-client", 1, "theme", "dark"), token());
    ASSERT_EQ(reply.status(), 200u) << reply.message;
    auto response = reply.decode<protocol::PushResponse>();
    ASSERT_EQ(response.results_size(), 1);
    ASSERT_EQ(response.results(0).outcome(), protocol::MutationResult::APPLIED);
  }

  // The server still answers a good request, and the stored data is what seed() left.
  void expect_serving_and_unchanged(const std::vector<uint64_t>& before) {
    EXPECT_EQ(heads(), before);
    HttpReply health = http_call(server_->port(), http::verb::get, "/v1/health");
    EXPECT_EQ(health.status(), 200u);
    HttpReply reply = pull(pull_request("checker", {kUserScope, kOrgScope}), token());
    ASSERT_EQ(reply.status(), 200u) << reply.message;
    auto setting = find_setting(reply.decode<protocol::PullResponse>(), "theme");
    ASSERT_TRUE(setting.has_value());
    EXPECT_EQ(setting->value(), "dark");
  }

  testing::TempDir dir_;
  std::unique_ptr<pg_test::TestDatabase> database_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  TokenAuthority tokens_{std::string(32, 'k')};
  std::atomic<int64_t> now_{kNow};
  std::unique_ptr<SyncServer> server_;
};

}  // namespace outpost::server_test
