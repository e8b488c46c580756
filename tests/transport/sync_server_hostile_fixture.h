// What the hostile-input catalogue's files share (sync_server_hostile_test.cpp: timeouts,
// fragments, descriptors and memory; sync_server_hostile_stream_test.cpp: the stream's bad
// input, HTTP limits and the TLS-only cases): a real SyncServer on 127.0.0.1 over a real
// SQLite store, plain or TLS, raw clients and the bounds every case checks. Named (not
// anonymous) so that both files' TEST_Ps share one fixture type.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"
#include "support/tls_certs.h"
#include "tests/engine/test_support.h"
#include "tests/transport/hostile_client.h"
#include "tests/transport/server_requests.h"
#include "transport/limits.h"
#include "transport/sync_server.h"
#include "transport/tls_server.h"
#include "transport/token.h"
#include "transport/zstd_codec.h"

namespace outpost::hostile_server_test {

using hostile::RawSocket;
using server_test::compress;
using server_test::issue_token;
using server_test::kNow;
using server_test::kUserScope;
using server_test::pull_request;
using server_test::setting_push;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr milliseconds kHandshake{1000};
inline constexpr milliseconds kIdle{2000};
// Slack for a loaded 2-core machine and the ASan build: a timeout must fire within its
// value plus this.
inline constexpr milliseconds kSlack{2500};
// A request from a well-behaved client must be answered within this while the hostile
// ones are at work.
inline constexpr milliseconds kServedWithin{1500};
// Growth of this process's resident memory (server and hostile clients together) a case
// may cause. ASan keeps freed memory in quarantine (256 MiB by default), so its bound is
// looser.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr size_t kRssBound = 400 * limits::kMiB;
#else
inline constexpr size_t kRssBound = 64 * limits::kMiB;
#endif

// What one open TLS connection may cost the process (server and client together) in the
// 10,000-attempt case: the record buffers of asio's ssl::stream and OpenSSL's BIO pair.
inline constexpr size_t kTlsBytesPerConnection = 192 * limits::kKiB;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline std::string http_post(const std::string& path, const std::string& token,
                             const std::string& body, bool keep_alive = false) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
         "Content-Encoding: zstd\r\nAuthorization: Bearer " +
         token + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         (keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
}

struct RawReply {
  unsigned status = 0;
  std::string error_code;  // X-Outpost-Error
  std::string body;
};

// Parses one complete response of a Connection: close exchange.
inline RawReply parse_reply(const std::string& text) {
  RawReply reply;
  if (text.rfind("HTTP/1.1 ", 0) == 0) reply.status = std::stoi(text.substr(9, 3));
  size_t end = text.find("\r\n\r\n");
  std::string head = text.substr(0, end);
  size_t error = head.find("X-Outpost-Error: ");
  if (error != std::string::npos) {
    size_t start = error + 17;
    reply.error_code = head.substr(start, head.find("\r\n", start) - start);
  }
  if (end != std::string::npos) reply.body = text.substr(end + 4);
  return reply;
}

inline RawReply exchange_on(uint16_t port, SSL_CTX* tls, const std::string& request) {
  RawSocket socket(port, tls);
  if (!socket.connected() || !socket.send(request)) return {};
  std::string text;
  auto deadline = Clock::now() + milliseconds(10000);
  for (;;) {
    std::string more = socket.read_some(milliseconds(200));
    if (!more.empty()) {
      text += more;
      continue;
    }
    if (socket.peer_closed() || Clock::now() > deadline) break;
  }
  return parse_reply(text);
}

// A raw WebSocket client of /v1/stream: frames built and parsed here, compression with
// the reference StreamCompressor/StreamDecompressor.
class RawStream {
 public:
  struct Frame {
    int opcode = -1;  // -1: the connection ended or the deadline passed
    std::string payload;
    unsigned close_code() const {
      return payload.size() >= 2
                 ? (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1])
                 : 0;
    }
  };

  bool open(uint16_t port, SSL_CTX* tls, const std::string& token) {
    socket_ = RawSocket(port, tls);
    if (!socket_.send(hostile::websocket_upgrade(token))) return false;
    buffer_ = socket_.read_until("\r\n\r\n", milliseconds(5000));
    size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos || buffer_.rfind("HTTP/1.1 101", 0) != 0) return false;
    buffer_.erase(0, end + 4);
    return true;
  }

  bool send_message(const std::string& bytes) {
    return socket_.send(hostile::websocket_frame(bytes));
  }
  bool send(const protocol::ClientFrame& frame) {
    return send_message(compressor_.compress_message(frame.SerializeAsString()).value());
  }
  std::string compress_next(const std::string& plain) {
    return compressor_.compress_message(plain).value();
  }

  // The next data or close frame (pings and pongs are skipped).
  Frame read_frame(milliseconds timeout = milliseconds(5000)) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (std::optional<Frame> frame = take_frame()) {
        if (frame->opcode == 0x9 || frame->opcode == 0xA) continue;
        return *frame;
      }
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return {};
      std::string more = socket_.read_some(left);
      if (more.empty()) return {};
      buffer_ += more;
    }
  }

  // The next ServerFrame; nullopt when a close frame or the end came instead (`last`
  // holds it).
  std::optional<protocol::ServerFrame> receive(Frame* last = nullptr) {
    Frame frame = read_frame();
    if (last != nullptr) *last = frame;
    if (frame.opcode != 0x2) return std::nullopt;
    auto plain = decompressor_.decompress_message(frame.payload);
    if (!plain.ok()) return std::nullopt;
    protocol::ServerFrame out;
    if (!out.ParseFromString(plain.value())) return std::nullopt;
    return out;
  }

  RawSocket& socket() { return socket_; }

 private:
  std::optional<Frame> take_frame() {
    if (buffer_.size() < 2) return std::nullopt;
    size_t length = static_cast<uint8_t>(buffer_[1]) & 0x7F;
    size_t header = 2;
    if (length == 126) {
      if (buffer_.size() < 4) return std::nullopt;
      length = (static_cast<uint8_t>(buffer_[2]) << 8) | static_cast<uint8_t>(buffer_[3]);
      header = 4;
    } else if (length == 127) {
      if (buffer_.size() < 10) return std::nullopt;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<uint8_t>(buffer_[2 + i]);
      header = 10;
    }
    if (buffer_.size() < header + length) return std::nullopt;
    Frame frame{static_cast<uint8_t>(buffer_[0]) & 0x0F, buffer_.substr(header, length)};
    buffer_.erase(0, header + length);
    return frame;
  }

  RawSocket socket_;
  std::string buffer_;
  StreamCompressor compressor_;
  StreamDecompressor decompressor_;
};

enum class Transport { kPlain, kTls };

class SyncServerHostileTest : public ::testing::TestWithParam<Transport> {
 protected:
  bool tls() const { return GetParam() == Transport::kTls; }
  // What the raw sockets speak: null for plain TCP.
  SSL_CTX* tls_client() const { return tls() ? hostile::insecure_tls_client() : nullptr; }
  RawSocket connect() const { return RawSocket(port(), tls_client()); }
  RawReply exchange(uint16_t port, const std::string& request) const {
    return exchange_on(port, tls_client(), request);
  }
  bool open(RawStream& stream, const std::string& token) const {
    return stream.open(port(), tls_client(), token);
  }

  void SetUp() override {
    auto store = SqliteServerStore::open(store_path());
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    start_server();
    seed();
  }

  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    core_.reset();
    store_.reset();
  }

  std::string store_path() const { return dir_.file("outpost.db"); }

  void start_server(SyncServerOptions options = {}) {
    if (server_) server_->stop();
    if (tls()) {
      if (server_tls_ == nullptr) {
        support::CertificatePem pem = support::TestCa::create().issue();
        ASSERT_TRUE(support::write_text_file(dir_.file("server.pem"), pem.certificate));
        ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), pem.key));
        auto loaded = TlsServerContext::load(dir_.file("server.pem"), dir_.file("server.key"));
        ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
        server_tls_ = *loaded;
      }
      options.tls = server_tls_;
    }
    options.now_ms = [this] { return now_.load(); };
    options.handshake_timeout = kHandshake;
    options.idle_timeout = kIdle;
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
  }

  uint16_t port() const { return server_->port(); }

  std::string token(const std::string& device = "phone", int64_t expires_ms = kNow + 3'600'000) {
    return issue_token(tokens_, "acme", "alice", device, kNow - 1000, expires_ms);
  }

  // Stores one setting, so bad input has something to damage.
  void seed() {
    RawReply reply = exchange(
        port(), http_post("/v1/push", token(), compress(setting_push("seed", 1, "theme", "dark"))));
    ASSERT_EQ(reply.status, 200u);
  }

  // A well-behaved device is served: health, and a pull that returns the seeded setting.
  // Returns how long the pull took.
  milliseconds expect_served() {
    auto start = Clock::now();
    RawReply health =
        exchange(port(), "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(health.status, 200u);
    RawReply pulled = exchange(port(), http_post("/v1/pull", token("tablet"),
                                                 compress(pull_request("checker", {kUserScope}))));
    EXPECT_EQ(pulled.status, 200u);
    auto plain = zstd_decompress(pulled.body, limits::kMaxDecompressedBody);
    protocol::PullResponse response;
    EXPECT_TRUE(plain.ok() && response.ParseFromString(plain.value()));
    bool found = false;
    for (const auto& scope : response.scopes()) {
      for (const auto& change : scope.changes()) found = found || change.key() == "theme";
    }
    EXPECT_TRUE(found);
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    EXPECT_LT(took, kServedWithin);
    return took;
  }

  // A stream device is served too: ping, pong.
  void expect_stream_served() {
    RawStream calm;
    ASSERT_TRUE(open(calm, token("watch")));
    protocol::ClientFrame ping;
    ping.mutable_ping()->set_sent_ms(99);
    ASSERT_TRUE(calm.send(ping));
    auto pong = calm.receive();
    ASSERT_TRUE(pong.has_value());
    EXPECT_EQ(pong->pong().sent_ms(), 99);
  }

  // Waits until the server holds at most `count` connections; false at the deadline.
  bool wait_connections_at_most(size_t count, milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (server_->connection_count() > count) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  // Samples resident memory every 10 ms from a thread; peak() is the largest seen.
  class RssSampler {
   public:
    RssSampler() : baseline_(hostile::resident_bytes()), peak_(baseline_) {
      thread_ = std::thread([this] {
        while (!done_) {
          size_t now = hostile::resident_bytes();
          size_t seen = peak_.load();
          if (now > seen) peak_ = now;
          std::this_thread::sleep_for(milliseconds(10));
        }
      });
    }
    ~RssSampler() { stop(); }
    void stop() {
      done_ = true;
      if (thread_.joinable()) thread_.join();
    }
    size_t growth() const { return peak_.load() > baseline_ ? peak_.load() - baseline_ : 0; }

   private:
    size_t baseline_;
    std::atomic<size_t> peak_;
    std::atomic<bool> done_{false};
    std::thread thread_;
  };

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  TokenAuthority tokens_{std::string(32, 'k')};
  std::atomic<int64_t> now_{kNow};
  std::shared_ptr<TlsServerContext> server_tls_;
  std::unique_ptr<SyncServer> server_;
};

// Trickles `prefix` a byte every 50 ms into each of `count` connections (after sending
// `preamble` whole) until the server cuts every one, serving a good client meanwhile.
// Returns the seconds from connect to the cut, per connection.
inline std::vector<double> trickle(uint16_t port, SSL_CTX* tls, int count,
                                   const std::string& preamble, const std::string& prefix,
                                   const std::function<void()>& serve) {
  struct Slow {
    RawSocket socket;
    Clock::time_point opened;
    std::optional<double> cut_after;
  };
  std::vector<Slow> slow;
  for (int i = 0; i < count; ++i) {
    slow.push_back({RawSocket(port, tls), Clock::now(), std::nullopt});
    EXPECT_TRUE(slow.back().socket.connected());
    EXPECT_TRUE(slow.back().socket.send(preamble));
  }
  auto deadline = Clock::now() + kHandshake + kIdle + kSlack + kSlack;
  size_t next = 0;
  auto last_serve = Clock::now();
  for (;;) {
    bool all_cut = true;
    for (Slow& s : slow) {
      if (s.cut_after) continue;
      // A cut connection either refuses the byte (reset) or shows EOF.
      if (s.socket.peer_closed() || !s.socket.send(prefix.substr(next % prefix.size(), 1))) {
        s.cut_after = seconds_since(s.opened);
      } else {
        all_cut = false;
      }
    }
    ++next;
    if (all_cut || Clock::now() > deadline) break;
    if (Clock::now() - last_serve > milliseconds(300)) {
      serve();
      last_serve = Clock::now();
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::vector<double> out;
  for (const Slow& s : slow) out.push_back(s.cut_after.value_or(-1));
  return out;
}

inline void expect_cut_between(const std::vector<double>& cuts, milliseconds timeout) {
  const double low = 0.8 * std::chrono::duration<double>(timeout).count();
  const double high = std::chrono::duration<double>(timeout + kSlack).count();
  for (double cut : cuts) {
    EXPECT_GE(cut, low) << "cut before the timeout";
    EXPECT_LE(cut, high) << "not cut in time (-1: never)";
  }
}

}  // namespace outpost::hostile_server_test
