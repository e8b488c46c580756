// The device sync runtime against a real in-process server: SqliteServerStore + ServerCore
// + SyncServer on 127.0.0.1, a SyncAgent with its own replica file. Waits are bounded
// polls on observable state, never fixed sleeps that decide the outcome.
#include "transport/sync_agent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "outpost_test/person_v2.pb.h"
#include "tests/engine/test_support.h"
#include "tests/transport/server_requests.h"
#include "transport/sync_server.h"
#include "transport/token.h"
#include "transport/zstd_codec.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenant = "T";
constexpr const char* kUser = "U";
const std::string kKey(32, 'k');

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `done` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

std::string voicemail_id(int i) {
  return "vm-" + std::to_string(i);
}

class SyncAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    start_server(0);
  }

  void TearDown() override {
    agent_.reset();
    if (server_) server_->stop();
    server_.reset();
    core_.reset();
    store_.reset();
  }

  void start_server(uint16_t port) {
    SyncServerOptions options;
    options.port = port;
    options.shutdown_grace_ms = 1000;
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
    port_ = server_->port();
  }

  std::string token(const std::string& key = kKey) {
    return server_test::issue_token(TokenAuthority(key), kTenant, kUser, "device-1", now_ms(),
                                    now_ms() + 3600'000);
  }

  void seed(int from, int to, size_t transcription_bytes = 100) {
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = from; i < to; ++i) {
        domain::Voicemail voicemail;
        voicemail.set_id(voicemail_id(i));
        voicemail.set_caller_name("caller " + std::to_string(i));
        voicemail.set_received_ms(1'700'000'000'000 + i);
        voicemail.set_transcription(std::string(transcription_bytes, 'a' + i % 26));
        OUTPOST_ASSIGN_OR_RETURN(uint64_t version,
                                 tx.put(user_scope(kTenant, kUser), "voicemail", voicemail.id(), 0,
                                        voicemail.SerializeAsString()));
        (void)version;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  SyncAgentOptions options() {
    SyncAgentOptions options;
    options.server_url = "http://127.0.0.1:" + std::to_string(port_);
    options.token = token();
    options.replica_path = dir_.file("device.db");
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    options.random_seed = 42;
    return options;
  }

  void open_agent(SyncAgentOptions agent_options) {
    auto agent = SyncAgent::open(std::move(agent_options));
    ASSERT_TRUE(agent.ok()) << agent.status().to_string();
    agent_ = std::move(agent).value();
  }

  uint64_t device_count() {
    uint64_t count = 0;
    Status status = agent_->with_replica([&](Replica& replica) {
      auto counted = replica.count("voicemail");
      count = counted.ok() ? *counted : 0;
    });
    EXPECT_TRUE(status.ok()) << status.to_string();
    return count;
  }

  size_t device_pending() {
    size_t pending = 0;
    (void)agent_->with_replica([&](Replica& replica) {
      auto listed = replica.pending();
      pending = listed.ok() ? listed->size() : 999;
    });
    return pending;
  }

  std::optional<domain::Voicemail> server_voicemail(const std::string& id) {
    auto record = store_->get(user_scope(kTenant, kUser), "voicemail", id);
    if (!record.ok() || !record->has_value()) return std::nullopt;
    domain::Voicemail voicemail;
    if (!voicemail.ParseFromString((*record)->body)) return std::nullopt;
    return voicemail;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  TokenAuthority tokens_{kKey};
  std::unique_ptr<SyncServer> server_;
  uint16_t port_ = 0;
  std::unique_ptr<SyncAgent> agent_;
};

// Another process on the same replica file (an app extension, the CLI): the running agent
// notices its commit without being woken, pushes its mutation and tells subscribers which
// keys it changed. The time it took is printed (decision 007), not judged.
TEST_F(SyncAgentTest, AnotherProcessesMutationIsPushedAndItsKeysAreReported) {
  seed(0, 3);
  open_agent(options());
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return device_count() == 3 && device_pending() == 0; }));
  std::mutex mutex;
  std::set<std::string> notified;
  agent_->subscribe([&](const ChangeSet& changes) {
    std::lock_guard lock(mutex);
    auto it = changes.keys.find("voicemail");
    if (it != changes.keys.end()) notified.insert(it->second.begin(), it->second.end());
  });

  auto other = Replica::open(dir_.file("device.db"), Schema::domain(), &domain_mutators());
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  mutations::MarkVoicemailRead args;
  args.set_id(voicemail_id(1));
  const auto committed = std::chrono::steady_clock::now();
  ASSERT_TRUE((*other)->mutate("mark_voicemail_read", args, now_ms()).ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return notified.count(voicemail_id(1)) != 0;
  }));
  const auto told = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] {
    auto record = server_voicemail(voicemail_id(1));
    return record && record->read();
  }));
  const auto pushed = std::chrono::steady_clock::now();
  auto ms = [&](auto at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - committed).count();
  };
  std::printf(
      "another process's commit: subscribers told after %lld ms, on the server after %lld ms\n",
      static_cast<long long>(ms(told)), static_cast<long long>(ms(pushed)));
  EXPECT_TRUE(eventually([&] { return device_pending() == 0; }));
  EXPECT_EQ(agent_->stats().mutations_pushed, 1u);
}

// Opens `acceptor` on 127.0.0.1 at a free port and returns the port.
uint16_t listen_on_loopback(boost::asio::ip::tcp::acceptor& acceptor) {
  namespace net = boost::asio;
  net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.bind(endpoint);
  acceptor.listen();
  return acceptor.local_endpoint().port();
}

// A scripted /v1/stream endpoint in front of a real ServerCore, for the failure paths the
// real server does not produce on demand: request number N (counted from 1 across
// connections) can get an error frame, no answer, undecodable bytes or a hang-up.
class FaultyStreamServer {
 public:
  enum class Fault { kNone, kRetryableError, kFatalError, kSilence, kGarbage, kClose };

  FaultyStreamServer(ServerCore& core, Principal who)
      : core_(core), who_(std::move(who)), acceptor_(io_) {
    port_ = listen_on_loopback(acceptor_);
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FaultyStreamServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  void fault_on(int request, Fault fault) {
    std::lock_guard lock(mutex_);
    faults_[request] = fault;
  }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }

 private:
  struct Connection {
    explicit Connection(boost::asio::ip::tcp::socket socket) : ws(std::move(socket)) {}
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws;
    boost::beast::flat_buffer buffer;
    StreamCompressor compressor;
    StreamDecompressor decompressor;
    std::string out;
  };

  void accept() {
    acceptor_.async_accept(
        [this](boost::beast::error_code ec, boost::asio::ip::tcp::socket socket) {
          if (ec) return;
          auto connection = std::make_shared<Connection>(std::move(socket));
          connections_++;
          connection->ws.binary(true);
          connection->ws.async_accept([this, connection](boost::beast::error_code ec) {
            if (!ec) read(connection);
          });
          accept();
        });
  }

  void read(std::shared_ptr<Connection> connection) {
    connection->ws.async_read(connection->buffer,
                              [this, connection](boost::beast::error_code ec, size_t) {
                                if (ec) return;
                                handle(connection);
                              });
  }

  void handle(const std::shared_ptr<Connection>& connection) {
    std::string wire = boost::beast::buffers_to_string(connection->buffer.data());
    connection->buffer.consume(connection->buffer.size());
    auto plain = connection->decompressor.decompress_message(wire);
    protocol::ClientFrame request;
    if (!plain.ok() || !request.ParseFromString(*plain)) return;
    int number = ++requests_;
    Fault fault = Fault::kNone;
    {
      std::lock_guard lock(mutex_);
      if (auto it = faults_.find(number); it != faults_.end()) fault = it->second;
    }
    protocol::ServerFrame answer;
    switch (fault) {
      case Fault::kSilence:
        return read(connection);
      case Fault::kClose:
        boost::beast::get_lowest_layer(connection->ws).close();
        return;
      case Fault::kGarbage:
        connection->out = "not a zstd stream message";
        return write(connection);
      case Fault::kRetryableError:
      case Fault::kFatalError:
        answer.mutable_error()->set_code(fault == Fault::kRetryableError ? "unavailable"
                                                                         : "invalid_argument");
        answer.mutable_error()->set_message("scripted fault");
        answer.mutable_error()->set_retryable(fault == Fault::kRetryableError);
        break;
      case Fault::kNone:
        if (request.has_push()) {
          auto response = core_.push(who_, request.push(), now_ms());
          if (response.ok()) *answer.mutable_push() = *response;
        } else if (request.has_pull()) {
          auto response = core_.pull(who_, request.pull());
          if (response.ok()) *answer.mutable_pull() = *response;
        }
        if (answer.body_case() == protocol::ServerFrame::BODY_NOT_SET) {
          answer.mutable_error()->set_code("internal");
          answer.mutable_error()->set_retryable(true);
        }
        break;
    }
    auto compressed = connection->compressor.compress_message(answer.SerializeAsString());
    if (!compressed.ok()) return;
    connection->out = std::move(compressed).value();
    write(connection);
  }

  void write(const std::shared_ptr<Connection>& connection) {
    connection->ws.async_write(boost::asio::buffer(connection->out),
                               [this, connection](boost::beast::error_code ec, size_t) {
                                 if (!ec) read(connection);
                               });
  }

  ServerCore& core_;
  Principal who_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::map<int, Fault> faults_;
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
};

TEST(SyncAgentHelpers, ParsesServerUrls) {
  auto plain = parse_server_url("http://127.0.0.1:8080");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, "8080");
  EXPECT_EQ(plain->stream_target(), "/v1/stream");
  auto prefixed = parse_server_url("ws://[::1]:9/outpost/");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->host, "::1");
  EXPECT_EQ(prefixed->stream_target(), "/outpost/v1/stream");
  EXPECT_EQ(parse_server_url("http://example.com")->port, "80");
  EXPECT_FALSE(plain->tls);
  auto secure = parse_server_url("https://sync.example.com/outpost");
  ASSERT_TRUE(secure.ok());
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->host, "sync.example.com");
  EXPECT_EQ(secure->port, "443");
  EXPECT_EQ(secure->stream_target(), "/outpost/v1/stream");
  EXPECT_TRUE(parse_server_url("wss://[::1]:8443")->tls);
  EXPECT_EQ(parse_server_url("wss://[::1]:8443")->port, "8443");
  EXPECT_EQ(parse_server_url("httpx://x:1").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_server_url("127.0.0.1:1").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_server_url("ftp://x:1").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_server_url("http://x:0").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_server_url("http://x:70000").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_server_url("http://:80").status().code(), ErrorCode::kInvalidArgument);
}

TEST(SyncAgentHelpers, ReadsTokenClaimsWithoutTheKey) {
  protocol::TokenClaims claims;
  claims.set_tenant("acme");
  claims.set_user("alice");
  claims.set_device("phone");
  claims.set_issued_ms(1);
  claims.set_expires_ms(2);
  auto token = TokenAuthority(std::string(32, 's')).issue(claims);
  ASSERT_TRUE(token.ok());
  auto read = read_token_claims_unverified(*token);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->tenant(), "acme");
  EXPECT_EQ(read->user(), "alice");
  EXPECT_EQ(read_token_claims_unverified("").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(read_token_claims_unverified("no-dot").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(read_token_claims_unverified("!!!.sig").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(read_token_claims_unverified(std::string(5000, 'a') + ".b").status().code(),
            ErrorCode::kUnauthenticated);
}

TEST_F(SyncAgentTest, FreshDeviceSyncsSeededRecords) {
  seed(0, 300);
  SyncAgentOptions agent_options = options();
  agent_options.client.max_changes_per_pull = 40;  // several pages
  std::atomic<int> progress_calls{0};
  agent_options.on_progress = [&](const SyncProgress&) { progress_calls++; };
  open_agent(std::move(agent_options));

  std::mutex mutex;
  std::set<std::string> notified;
  agent_->subscribe(
      [&](const ChangeSet& changes) {
        std::lock_guard lock(mutex);
        auto it = changes.keys.find("voicemail");
        if (it != changes.keys.end()) notified.insert(it->second.begin(), it->second.end());
      },
      [](std::function<void()> task) { task(); });

  SyncSummary summary = agent_->sync_for(30s);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_TRUE(summary.caught_up);
  EXPECT_FALSE(agent_->running());  // sync_for started it, so it stopped it
  EXPECT_EQ(device_count(), 300u);
  EXPECT_EQ(summary.stats.changes_received, 300u);
  EXPECT_GE(summary.stats.frames_received, 300u / 40);
  EXPECT_EQ(summary.stats.connects, 1u);
  EXPECT_GT(progress_calls.load(), 0);
  uint64_t done = 0;
  for (const auto& scope : summary.progress.scopes) done += scope.records_done;
  EXPECT_EQ(done, 300u);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(notified.size(), 300u);
  }
  auto got = agent_->replica().get<domain::Voicemail>(voicemail_id(7));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->caller_name(), "caller 7");
}

TEST_F(SyncAgentTest, OfflineMutationIsPushedAndConfirmedOnStart) {
  seed(0, 3);
  open_agent(options());
  ASSERT_TRUE(agent_->sync_for(30s).caught_up);

  // Offline (agent stopped): the mutation only reaches the outbox.
  mutations::MarkVoicemailRead args;
  args.set_id(voicemail_id(1));
  auto id = agent_->replica().mutate("mark_voicemail_read", args, now_ms());
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(device_pending(), 1u);
  EXPECT_FALSE(server_voicemail(voicemail_id(1))->read());

  ASSERT_TRUE(agent_->start().ok());
  EXPECT_TRUE(eventually([&] {
    auto record = server_voicemail(voicemail_id(1));
    return record && record->read();
  }));
  EXPECT_TRUE(eventually([&] { return device_pending() == 0; }));
  EXPECT_TRUE(eventually([&] { return agent_->progress().mutations_confirmed == 1; }));
  EXPECT_EQ(agent_->stats().mutations_pushed, 1u);
  // replica() is for the loop thread while running: read through with_replica.
  bool read_locally = false;
  ASSERT_TRUE(agent_
                  ->with_replica([&](Replica& replica) {
                    auto got = replica.get<domain::Voicemail>(voicemail_id(1));
                    read_locally = got.ok() && got->has_value() && (*got)->read();
                  })
                  .ok());
  EXPECT_TRUE(read_locally);

  // A mutation posted while running is pushed at once.
  mutations::MarkVoicemailRead second;
  second.set_id(voicemail_id(2));
  ASSERT_TRUE(agent_
                  ->post([second](Replica& replica) {
                    ASSERT_TRUE(replica.mutate("mark_voicemail_read", second, now_ms()).ok());
                  })
                  .ok());
  EXPECT_TRUE(eventually([&] {
    auto record = server_voicemail(voicemail_id(2));
    return record && record->read();
  }));
}

TEST_F(SyncAgentTest, LiveChangesArriveThroughPokes) {
  open_agent(options());
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return agent_->state() == AgentState::kConnected; }));
  ASSERT_TRUE(agent_->sync_for(30s).caught_up);
  seed(0, 5);
  EXPECT_TRUE(eventually([&] { return device_count() == 5; }));
  EXPECT_GE(agent_->stats().pokes, 1u);
}

TEST_F(SyncAgentTest, WakeFromAnotherThreadCutsTheBackoffShort) {
  seed(0, 10);
  uint16_t port = port_;
  server_->stop();
  server_.reset();

  SyncAgentOptions agent_options = options();
  agent_options.backoff_base_ms = 60'000;  // the first wait is up to a minute
  agent_options.backoff_max_ms = 60'000;
  std::atomic<uint64_t> backoff_delay{0};
  agent_options.on_state = [&](AgentState state, const Status&, uint64_t delay_ms) {
    if (state == AgentState::kBackoff) backoff_delay = delay_ms;
  };
  open_agent(std::move(agent_options));
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return agent_->state() == AgentState::kBackoff; }));
  EXPECT_FALSE(agent_->last_error().ok());
  // The seeded jitter picked a long wait; the test relies on it being well above 5 s.
  ASSERT_GT(backoff_delay.load(), 5'000u);

  start_server(port);
  auto woken = std::chrono::steady_clock::now();
  std::thread waker([&] { agent_->wake("push notification"); });
  waker.join();
  EXPECT_TRUE(eventually([&] { return device_count() == 10; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - woken, 5s);
  EXPECT_EQ(agent_->state(), AgentState::kConnected);
}

TEST_F(SyncAgentTest, ReconnectsAfterServerRestartAndConverges) {
  seed(0, 20);
  open_agent(options());
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return device_count() == 20; }));

  uint16_t port = port_;
  server_->stop();
  server_.reset();
  ASSERT_TRUE(eventually([&] { return agent_->state() != AgentState::kConnected; }));
  seed(20, 50);  // written while the device cannot hear about it
  mutations::MarkVoicemailRead args;
  args.set_id(voicemail_id(3));
  ASSERT_TRUE(agent_
                  ->post([args](Replica& replica) {
                    ASSERT_TRUE(replica.mutate("mark_voicemail_read", args, now_ms()).ok());
                  })
                  .ok());

  start_server(port);
  EXPECT_TRUE(eventually([&] { return device_count() == 50; }));
  EXPECT_TRUE(eventually([&] {
    auto record = server_voicemail(voicemail_id(3));
    return record && record->read();
  }));
  EXPECT_TRUE(eventually([&] { return device_pending() == 0; }));
  EXPECT_GE(agent_->stats().connects, 2u);
  EXPECT_GE(agent_->stats().connection_failures, 1u);
}

TEST_F(SyncAgentTest, TinyBudgetStopsCleanlyAndALaterSyncConverges) {
  seed(0, 2000, 400);
  SyncAgentOptions agent_options = options();
  agent_options.client.max_changes_per_pull = 20;
  open_agent(std::move(agent_options));

  SyncSummary summary = agent_->sync_for(5ms);
  EXPECT_FALSE(summary.caught_up);
  EXPECT_TRUE(summary.budget_exhausted);
  EXPECT_EQ(summary.status.code(), ErrorCode::kCancelled);
  EXPECT_FALSE(agent_->running());
  uint64_t partial = device_count();
  EXPECT_LT(partial, 2000u);
  ASSERT_TRUE(
      agent_->with_replica([](Replica& replica) { EXPECT_TRUE(replica.check_integrity().ok()); })
          .ok());

  // Interrupt a few more times mid-way, then finish.
  for (int i = 0; i < 3; ++i) (void)agent_->sync_for(30ms);
  SyncSummary rest = agent_->sync_for(60s);
  ASSERT_TRUE(rest.status.ok()) << rest.status.to_string();
  EXPECT_TRUE(rest.caught_up);
  EXPECT_EQ(device_count(), 2000u);
  ASSERT_TRUE(
      agent_->with_replica([](Replica& replica) { EXPECT_TRUE(replica.check_integrity().ok()); })
          .ok());
}

TEST_F(SyncAgentTest, ForgedTokenFailsWithoutRetrying) {
  SyncAgentOptions agent_options = options();
  agent_options.token = token(std::string(32, 'x'));  // another key
  open_agent(std::move(agent_options));
  SyncSummary summary = agent_->sync_for(10s);
  EXPECT_FALSE(summary.caught_up);
  EXPECT_FALSE(summary.budget_exhausted);
  EXPECT_EQ(summary.status.code(), ErrorCode::kUnauthenticated) << summary.status.to_string();
  EXPECT_LT(summary.elapsed, 5s);
}

TEST_F(SyncAgentTest, RefreshedTokenRecoversFromAnAuthenticationFailure) {
  seed(0, 4);
  SyncAgentOptions agent_options = options();
  agent_options.token = token(std::string(32, 'x'));
  open_agent(std::move(agent_options));
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return agent_->state() == AgentState::kFailed; }));
  EXPECT_EQ(agent_->last_error().code(), ErrorCode::kUnauthenticated);

  protocol::TokenClaims stranger;
  stranger.set_tenant(kTenant);
  stranger.set_user("mallory");
  stranger.set_device("device-2");
  stranger.set_issued_ms(now_ms());
  stranger.set_expires_ms(now_ms() + 60'000);
  EXPECT_EQ(agent_->set_token(*tokens_.issue(stranger)).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(agent_->set_token("junk").code(), ErrorCode::kUnauthenticated);

  ASSERT_TRUE(agent_->set_token(token()).ok());
  agent_->wake("token refreshed");
  EXPECT_TRUE(eventually([&] { return device_count() == 4; }));
}

TEST_F(SyncAgentTest, UnreachableServerGivesUpAfterMaxFailures) {
  uint16_t port = port_;
  server_->stop();
  server_.reset();
  SyncAgentOptions agent_options = options();
  agent_options.server_url = "http://127.0.0.1:" + std::to_string(port);
  open_agent(std::move(agent_options));
  SyncForOptions for_options;
  for_options.max_consecutive_failures = 3;
  SyncSummary summary = agent_->sync_for(30s, for_options);
  EXPECT_FALSE(summary.caught_up);
  EXPECT_EQ(summary.status.code(), ErrorCode::kUnavailable) << summary.status.to_string();
  EXPECT_GE(summary.stats.connection_failures, 3u);
}

TEST_F(SyncAgentTest, ReplicaOfAnotherUserIsRefused) {
  ReplicaOptions other;
  other.tenant = kTenant;
  other.user = "someone-else";
  other.client_id = "someone-elses-phone";
  auto replica = Replica::open(dir_.file("other.db"), Schema::domain(), &domain_mutators(), other);
  ASSERT_TRUE(replica.ok());
  auto agent = SyncAgent::create(options(), std::move(replica).value());
  EXPECT_EQ(agent.status().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(SyncAgentTest, TokenOfAnotherUserNeverTakesOverAReplicaFile) {
  seed(0, 2);
  open_agent(options());
  ASSERT_TRUE(agent_->sync_for(30s).caught_up);
  agent_.reset();

  protocol::TokenClaims bob;
  bob.set_tenant(kTenant);
  bob.set_user("bob");
  bob.set_device("device-9");
  bob.set_issued_ms(now_ms());
  bob.set_expires_ms(now_ms() + 60'000);
  SyncAgentOptions agent_options = options();
  agent_options.token = *tokens_.issue(bob);
  auto agent = SyncAgent::open(std::move(agent_options));
  EXPECT_EQ(agent.status().code(), ErrorCode::kFailedPrecondition) << agent.status().to_string();

  open_agent(options());  // the owner still can
  EXPECT_EQ(agent_->replica().user(), kUser);
  EXPECT_EQ(device_count(), 2u);
}

TEST_F(SyncAgentTest, StopAndStartAgainResumes) {
  seed(0, 5);
  open_agent(options());
  ASSERT_TRUE(agent_->start().ok());
  EXPECT_EQ(agent_->start().code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(eventually([&] { return device_count() == 5; }));
  agent_->stop();
  agent_->stop();  // idempotent
  EXPECT_EQ(agent_->state(), AgentState::kStopped);
  seed(5, 8);
  ASSERT_TRUE(agent_->start().ok());
  EXPECT_TRUE(eventually([&] { return device_count() == 8; }));
}

// An app with its own collections embeds the agent: SyncAgentOptions::schema and ::mutators
// name a schema and mutators that are not the domain's (the test's `person` collection, org
// scope). The server side is the real stack in process (SyncServer over a ServerCore with
// the same schema and mutators); the outpost-server binary itself serves the domain only.
const Schema& person_schema() {
  static const Schema schema =
      std::move(Schema::from_file(outpost_test::v2::Person::descriptor()->file())).value();
  return schema;
}

const MutatorRegistry& person_mutators() {
  static const MutatorRegistry registry = [] {
    MutatorRegistry made;
    auto put = [](MutationContext& ctx, const outpost_test::v2::PutPerson& args) {
      return ctx.put(args.person());
    };
    Status added = made.add<outpost_test::v2::PutPerson>("put_person", put, put);
    EXPECT_TRUE(added.ok()) << added.to_string();
    return made;
  }();
  return registry;
}

outpost_test::v2::PutPerson put_person(const std::string& id, const std::string& name) {
  outpost_test::v2::PutPerson args;
  args.mutable_person()->set_id(id);
  args.mutable_person()->set_name(name);
  return args;
}

TEST_F(SyncAgentTest, EmbedsAnAppsOwnSchemaAndMutatorsEndToEnd) {
  // The server runs the app's collections, not the domain's.
  server_->stop();
  server_.reset();
  core_ = std::make_unique<ServerCore>(*store_, person_schema(), person_mutators());
  start_server(0);
  const std::string org = "org/" + std::string(kTenant);
  Status seeded = core_->write([&](ServerWriteTx& tx) -> Status {
    outpost_test::v2::Person person;
    person.set_id("from-server");
    person.set_name("Seeded");
    return tx.put(org, "person", person.id(), 0, person.SerializeAsString()).status();
  });
  ASSERT_TRUE(seeded.ok()) << seeded.to_string();

  SyncAgentOptions agent_options = options();
  agent_options.schema = &person_schema();
  agent_options.mutators = &person_mutators();
  open_agent(std::move(agent_options));
  EXPECT_EQ(&agent_->replica().schema(), &person_schema());
  EXPECT_EQ(agent_->replica().mutators(), &person_mutators());

  // Offline: the app's mutator runs on the device and fills the outbox; the domain's are
  // not there.
  ASSERT_TRUE(agent_->replica().mutate("put_person", put_person("p1", "Ada"), now_ms()).ok());
  EXPECT_EQ(agent_->replica().count("person").value(), 1u);
  EXPECT_EQ(agent_->replica().pending()->size(), 1u);
  mutations::MarkVoicemailRead domain_args;
  domain_args.set_id("vm-1");
  EXPECT_FALSE(agent_->replica().mutate("mark_voicemail_read", domain_args, now_ms()).ok());

  // Syncing pushes it through the server's copy of the mutator and pulls the server's row.
  SyncSummary summary = agent_->sync_for(30s);
  ASSERT_TRUE(summary.caught_up) << summary.status.to_string();
  auto pushed = store_->get(org, "person", "p1");
  ASSERT_TRUE(pushed.ok() && pushed->has_value());
  outpost_test::v2::Person on_server;
  ASSERT_TRUE(on_server.ParseFromString((*pushed)->body));
  EXPECT_EQ(on_server.name(), "Ada");
  EXPECT_EQ(agent_->replica().count("person").value(), 2u);
  EXPECT_EQ(agent_->replica().pending()->size(), 0u);

  // Running: a posted mutation is pushed at once, a server write arrives through a poke.
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(agent_
                  ->post([](Replica& replica) {
                    ASSERT_TRUE(
                        replica.mutate("put_person", put_person("p2", "Grace"), now_ms()).ok());
                  })
                  .ok());
  EXPECT_TRUE(eventually([&] {
    auto record = store_->get(org, "person", "p2");
    return record.ok() && record->has_value();
  }));
  Status written = core_->write([&](ServerWriteTx& tx) -> Status {
    outpost_test::v2::Person person;
    person.set_id("live");
    person.set_name("Live");
    return tx.put(org, "person", person.id(), 0, person.SerializeAsString()).status();
  });
  ASSERT_TRUE(written.ok()) << written.to_string();
  EXPECT_TRUE(eventually([&] {
    uint64_t count = 0;
    (void)agent_->with_replica([&](Replica& replica) { count = replica.count("person").value(); });
    return count == 4;
  }));
}

TEST_F(SyncAgentTest, OpenWithoutASchemaIsRefused) {
  SyncAgentOptions agent_options = options();
  agent_options.schema = nullptr;
  EXPECT_EQ(SyncAgent::open(std::move(agent_options)).status().code(), ErrorCode::kInvalidArgument);
}

// Something in front of the server (a proxy) refuses the upgrade with a bare HTTP status and
// no X-Outpost-Error: the agent reads the code from http_util's status table.
class BareHttpRefusal {
 public:
  explicit BareHttpRefusal(std::string status_line)
      : response_("HTTP/1.1 " + std::move(status_line) +
                  "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        acceptor_(io_) {
    port_ = listen_on_loopback(acceptor_);
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BareHttpRefusal() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  struct Connection {
    explicit Connection(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
    boost::asio::ip::tcp::socket socket;
    std::string request;
  };

  void accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec,
                                  boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      connections_++;
      auto connection = std::make_shared<Connection>(std::move(socket));
      boost::asio::async_read_until(
          connection->socket, boost::asio::dynamic_buffer(connection->request), "\r\n\r\n",
          [this, connection](boost::beast::error_code ec, size_t) {
            if (ec) return;
            boost::asio::async_write(connection->socket, boost::asio::buffer(response_),
                                     [connection](boost::beast::error_code, size_t) {
                                       boost::beast::error_code ignored;
                                       connection->socket.shutdown(
                                           boost::asio::ip::tcp::socket::shutdown_both, ignored);
                                     });
          });
      accept();
    });
  }

  std::string response_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
};

TEST_F(SyncAgentTest, BareHttpRefusalsReadTheStatusTable) {
  struct Case {
    std::string status_line;
    ErrorCode code;
    bool retried;
  };
  const Case cases[] = {
      {"401 Unauthorized", ErrorCode::kUnauthenticated, false},
      {"403 Forbidden", ErrorCode::kPermissionDenied, false},
      {"413 Payload Too Large", ErrorCode::kTooLarge, false},
      {"409 Conflict", ErrorCode::kUnavailable, false},  // two codes share 409: none is named
      {"418 I'm a teapot", ErrorCode::kUnavailable, false},
      {"502 Bad Gateway", ErrorCode::kUnavailable, true},
      {"429 Too Many Requests", ErrorCode::kUnavailable, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status_line);
    BareHttpRefusal refusal(c.status_line);
    SyncAgentOptions agent_options = options();
    agent_options.server_url = "http://127.0.0.1:" + std::to_string(refusal.port());
    open_agent(std::move(agent_options));
    SyncForOptions sync_options;
    sync_options.max_consecutive_failures = 2;
    SyncSummary summary = agent_->sync_for(15s, sync_options);
    EXPECT_FALSE(summary.caught_up);
    EXPECT_EQ(summary.status.code(), c.code) << summary.status.to_string();
    EXPECT_NE(summary.status.message().find("HTTP " + c.status_line.substr(0, 3)),
              std::string::npos)
        << summary.status.to_string();
    EXPECT_EQ(refusal.connections() > 1, c.retried) << refusal.connections();
    agent_.reset();
  }
}

class SyncAgentFaultTest : public SyncAgentTest {
 protected:
  void SetUp() override {
    SyncAgentTest::SetUp();
    seed(0, 30);
    faulty_ = std::make_unique<FaultyStreamServer>(*core_, Principal{kTenant, kUser, "device-1"});
  }
  void TearDown() override {
    agent_.reset();
    faulty_.reset();
    SyncAgentTest::TearDown();
  }
  SyncAgentOptions faulty_options() {
    SyncAgentOptions agent_options = options();
    agent_options.server_url = "http://127.0.0.1:" + std::to_string(faulty_->port());
    agent_options.client.max_changes_per_pull = 10;
    return agent_options;
  }
  std::unique_ptr<FaultyStreamServer> faulty_;
};

TEST_F(SyncAgentFaultTest, RetryableErrorFrameIsRetriedOnTheSameConnection) {
  faulty_->fault_on(1, FaultyStreamServer::Fault::kRetryableError);
  faulty_->fault_on(3, FaultyStreamServer::Fault::kRetryableError);
  open_agent(faulty_options());
  SyncSummary summary = agent_->sync_for(30s);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(device_count(), 30u);
  EXPECT_EQ(faulty_->connections(), 1);
  EXPECT_EQ(summary.stats.connection_failures, 2u);
}

TEST_F(SyncAgentFaultTest, FatalErrorFrameStopsUntilTheNextSync) {
  faulty_->fault_on(2, FaultyStreamServer::Fault::kFatalError);
  open_agent(faulty_options());
  SyncSummary summary = agent_->sync_for(30s);
  EXPECT_FALSE(summary.caught_up);
  EXPECT_EQ(summary.status.code(), ErrorCode::kInvalidArgument) << summary.status.to_string();
  EXPECT_EQ(faulty_->requests(), 2);  // no retry of a non-retryable error
  SyncSummary again = agent_->sync_for(30s);
  ASSERT_TRUE(again.status.ok()) << again.status.to_string();
  EXPECT_EQ(device_count(), 30u);
}

TEST_F(SyncAgentFaultTest, UnansweredRequestTimesOutAndReconnects) {
  faulty_->fault_on(2, FaultyStreamServer::Fault::kSilence);
  SyncAgentOptions agent_options = faulty_options();
  agent_options.request_timeout = 200ms;
  open_agent(std::move(agent_options));
  SyncSummary summary = agent_->sync_for(30s);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(device_count(), 30u);
  EXPECT_EQ(faulty_->connections(), 2);
}

TEST_F(SyncAgentFaultTest, UndecodableFrameOrHangUpReconnects) {
  faulty_->fault_on(1, FaultyStreamServer::Fault::kGarbage);
  faulty_->fault_on(3, FaultyStreamServer::Fault::kClose);
  open_agent(faulty_options());
  SyncSummary summary = agent_->sync_for(30s);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(device_count(), 30u);
  EXPECT_EQ(faulty_->connections(), 3);
  ASSERT_TRUE(
      agent_->with_replica([](Replica& replica) { EXPECT_TRUE(replica.check_integrity().ok()); })
          .ok());
}

}  // namespace
}  // namespace outpost
