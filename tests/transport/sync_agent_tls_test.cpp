// The device agent over TLS (https/wss) against a real in-process SyncServer serving TLS,
// with a CA and certificates made at run time (support/tls_certs.h): what it trusts (an
// app's CA, a pinned certificate, the system store), and every refusal — unknown CA,
// expired, another host name, self-signed, not the pinned one — is an "untrusted server"
// failure (kFailedPrecondition) before a byte of HTTP is sent. Decision 022.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "support/tls_certs.h"
#include "tests/engine/test_support.h"
#include "transport/sync_agent.h"
#include "transport/sync_server.h"
#include "transport/tls_server.h"
#include "transport/token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* kTenant = "T";
constexpr const char* kUser = "U";
const std::string kKey(32, 'k');

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_untrusted(const Status& status) {
  return status.code() == ErrorCode::kFailedPrecondition &&
         status.message().starts_with(kUntrustedServerPrefix);
}

class SyncAgentTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    ASSERT_TRUE(support::write_text_file(ca_file(), ca_.certificate_pem()));
    seed(20);
  }

  void TearDown() override {
    agent_.reset();
    if (server_) server_->stop();
  }

  std::string ca_file() { return dir_.file("ca.pem"); }

  // Serves TLS with `pem` (plain when null).
  void start_server(const support::CertificatePem* pem) {
    SyncServerOptions options;
    options.shutdown_grace_ms = 1000;
    if (pem != nullptr) {
      ASSERT_TRUE(support::write_text_file(dir_.file("server.pem"), pem->certificate));
      ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), pem->key));
      auto tls = TlsServerContext::load(dir_.file("server.pem"), dir_.file("server.key"));
      ASSERT_TRUE(tls.ok()) << tls.status().to_string();
      server_tls_ = *tls;
      options.tls = server_tls_;
    }
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
  }

  void seed(int count, int from = 0) {
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = from; i < from + count; ++i) {
        domain::Voicemail voicemail;
        voicemail.set_id("vm-" + std::to_string(i));
        voicemail.set_caller_name("caller " + std::to_string(i));
        OUTPOST_ASSIGN_OR_RETURN(uint64_t version,
                                 tx.put(user_scope(kTenant, kUser), "voicemail", voicemail.id(), 0,
                                        voicemail.SerializeAsString()));
        (void)version;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  SyncAgentOptions options(const std::string& url, const std::string& device = "device") {
    protocol::TokenClaims claims;
    claims.set_tenant(kTenant);
    claims.set_user(kUser);
    claims.set_device("device-1");
    claims.set_issued_ms(now_ms());
    claims.set_expires_ms(now_ms() + 3600'000);
    SyncAgentOptions options;
    options.server_url = url;
    options.token = TokenAuthority(kKey).issue(claims).value();
    options.replica_path = dir_.file(device + ".db");
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 100;
    options.random_seed = 7;
    return options;
  }
  std::string url(const std::string& scheme, const std::string& host = "127.0.0.1") {
    return scheme + "://" + host + ":" + std::to_string(server_->port());
  }

  // Syncs for at most 10 s; the summary.
  SyncSummary sync(SyncAgentOptions agent_options) {
    auto agent = SyncAgent::open(std::move(agent_options));
    EXPECT_TRUE(agent.ok()) << agent.status().to_string();
    if (!agent.ok()) return {};
    agent_ = std::move(agent).value();
    SyncForOptions for_options;
    for_options.max_consecutive_failures = 3;
    return agent_->sync_for(10s, for_options);
  }

  size_t voicemails(SyncAgent* agent = nullptr) {
    size_t count = 0;
    if (agent == nullptr) agent = agent_.get();
    Status read = agent->with_replica([&](Replica& replica) {
      auto counted = replica.count("voicemail");
      count = counted.ok() ? static_cast<size_t>(*counted) : 0;
    });
    EXPECT_TRUE(read.ok());
    return count;
  }

  // An agent refused the server: "untrusted server" naming `why`, failed at the first
  // attempt (not retried with backoff: sync_for allows 3), no connection ever opened and
  // nothing applied.
  void expect_untrusted(const SyncSummary& summary, const std::string& why) {
    EXPECT_TRUE(is_untrusted(summary.status)) << summary.status.to_string();
    EXPECT_NE(summary.status.message().find(why), std::string::npos) << summary.status.message();
    EXPECT_NE(summary.status.message().find("nothing was sent"), std::string::npos);
    EXPECT_EQ(summary.status.message().find("giving up"), std::string::npos);  // no retries
    EXPECT_EQ(agent_->stats().connects, 0u);
    EXPECT_EQ(voicemails(), 0u);
  }

  outpost::testing::TempDir dir_;
  support::TestCa ca_ = support::TestCa::create();
  TokenAuthority tokens_{kKey};
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::shared_ptr<TlsServerContext> server_tls_;
  std::unique_ptr<SyncServer> server_;
  std::unique_ptr<SyncAgent> agent_;
};

// What SIGHUP does in outpost-server: new connections get the new certificate, the open
// stream keeps the one it started with and keeps syncing.
TEST_F(SyncAgentTlsTest, ReloadServesNewConnectionsTheNewCertificateAndKeepsOpenOnes) {
  auto first = ca_.issue();
  start_server(&first);
  auto open_options = options(url("wss"), "open");
  open_options.tls.ca_file = ca_file();
  auto open = SyncAgent::open(open_options);
  ASSERT_TRUE(open.ok()) << open.status().to_string();
  ASSERT_TRUE((*open)->start().ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (voicemails(open->get()) < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(voicemails(open->get()), 20u);

  support::TestCa renewed_ca = support::TestCa::create("renewed CA");
  auto second = renewed_ca.issue();
  ASSERT_TRUE(support::write_text_file(dir_.file("server.pem"), second.certificate));
  ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), second.key));
  ASSERT_TRUE(server_tls_->reload().ok());
  // A broken file later is refused and changes nothing.
  ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), "not a key"));
  EXPECT_EQ(server_tls_->reload().code(), ErrorCode::kInvalidArgument);

  auto old_trust = options(url("wss"), "old");
  old_trust.tls.ca_file = ca_file();
  expect_untrusted(sync(old_trust), "unable to get local issuer certificate");
  agent_.reset();
  auto new_trust = options(url("wss"), "new");
  new_trust.tls.ca_pem = renewed_ca.certificate_pem();
  SyncSummary summary = sync(new_trust);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(voicemails(), 20u);

  // The stream opened before the reload is still the same connection, and still live.
  seed(5, 100);
  deadline = std::chrono::steady_clock::now() + 10s;
  while (voicemails(open->get()) < 25 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(voicemails(open->get()), 25u);
  EXPECT_EQ((*open)->stats().connects, 1u);
  (*open)->stop();
}

TEST_F(SyncAgentTlsTest, SyncsOverWssTrustingTheAppsCaFile) {
  auto pem = ca_.issue();
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.ca_file = ca_file();
  SyncSummary summary = sync(agent_options);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_TRUE(summary.caught_up);
  EXPECT_EQ(voicemails(), 20u);
  EXPECT_EQ(agent_->stats().connects, 1u);
}

TEST_F(SyncAgentTlsTest, SyncsOverHttpsByHostNameWithTheCaAsText) {
  auto pem = ca_.issue();
  start_server(&pem);
  auto agent_options = options(url("https", "localhost"));
  agent_options.tls.ca_pem = ca_.certificate_pem();
  SyncSummary summary = sync(agent_options);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(voicemails(), 20u);
}

TEST_F(SyncAgentTlsTest, PinnedSelfSignedCertificateIsAccepted) {
  auto pem = support::TestCa::self_signed();
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.pinned_cert_pem = pem.certificate;
  SyncSummary summary = sync(agent_options);
  ASSERT_TRUE(summary.status.ok()) << summary.status.to_string();
  EXPECT_EQ(voicemails(), 20u);
}

TEST_F(SyncAgentTlsTest, CertificateOfAnUnknownCaIsRefused) {
  auto pem = support::TestCa::create("another CA").issue();
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.ca_file = ca_file();
  expect_untrusted(sync(agent_options), "unable to get local issuer certificate");
}

TEST_F(SyncAgentTlsTest, ExpiredCertificateIsRefused) {
  support::CertificateSpec spec;
  spec.valid_from_s = -7200;
  spec.valid_until_s = -60;
  auto pem = ca_.issue(spec);
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.ca_file = ca_file();
  expect_untrusted(sync(agent_options), "certificate has expired");
}

TEST_F(SyncAgentTlsTest, CertificateForAnotherHostIsRefused) {
  support::CertificateSpec spec;
  spec.dns_names = {"sync.example.com"};
  spec.ip_addresses = {"10.9.9.9"};
  auto pem = ca_.issue(spec);
  start_server(&pem);
  auto by_ip = options(url("wss"));
  by_ip.tls.ca_file = ca_file();
  expect_untrusted(sync(by_ip), "IP address mismatch");
  agent_.reset();
  auto by_name = options(url("wss", "localhost"));
  by_name.tls.ca_file = ca_file();
  expect_untrusted(sync(by_name), "hostname mismatch");
}

TEST_F(SyncAgentTlsTest, SelfSignedCertificateIsRefusedByTheSystemStore) {
  auto pem = support::TestCa::self_signed();
  start_server(&pem);
  expect_untrusted(sync(options(url("wss"))), "self-signed certificate");
}

TEST_F(SyncAgentTlsTest, CertificateOtherThanThePinnedOneIsRefused) {
  auto pem = ca_.issue();
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.pinned_cert_pem = ca_.issue().certificate;  // same CA, another key
  expect_untrusted(sync(agent_options), "did not present the pinned certificate");
}

TEST_F(SyncAgentTlsTest, WakeTriesAnUntrustedServerAgain) {
  auto pem = support::TestCa::create("another CA").issue();
  start_server(&pem);
  auto agent_options = options(url("wss"));
  agent_options.tls.ca_file = ca_file();
  auto failed = std::make_shared<std::atomic<int>>(0);
  agent_options.on_state = [failed](AgentState state, const Status&, uint64_t) {
    if (state == AgentState::kFailed) ++*failed;
  };
  expect_untrusted(sync(agent_options), "unable to get local issuer certificate");
  EXPECT_EQ(failed->load(), 1);
  ASSERT_TRUE(agent_->start().ok());  // tries again, fails again, and stays failed
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (failed->load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(failed->load(), 2);
  agent_->wake("test");  // a wake tries once more
  deadline = std::chrono::steady_clock::now() + 10s;
  while (failed->load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(failed->load(), 3);
  EXPECT_EQ(agent_->state(), AgentState::kFailed);
  EXPECT_TRUE(is_untrusted(agent_->last_error())) << agent_->last_error().to_string();
  EXPECT_EQ(agent_->stats().connects, 0u);
  agent_->stop();
}

TEST_F(SyncAgentTlsTest, TlsClientToAPlainServerFailsRetryably) {
  start_server(nullptr);
  auto agent_options = options(url("wss"));
  agent_options.tls.ca_file = ca_file();
  SyncSummary summary = sync(agent_options);
  EXPECT_EQ(summary.status.code(), ErrorCode::kUnavailable) << summary.status.to_string();
  EXPECT_NE(summary.status.message().find("TLS handshake"), std::string::npos)
      << summary.status.message();
  EXPECT_EQ(agent_->stats().connects, 0u);
  EXPECT_GE(agent_->stats().connection_failures, 3u);
}

TEST_F(SyncAgentTlsTest, UnreadableOrMalformedTrustIsAnErrorAtOpen) {
  start_server(nullptr);
  auto missing = options(url("wss"));
  missing.tls.ca_file = dir_.file("nope.pem");
  auto agent = SyncAgent::open(missing);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(agent.status().message().find("nope.pem"), std::string::npos);
  auto garbage = options(url("https"));
  garbage.tls.pinned_cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n";
  EXPECT_EQ(SyncAgent::open(garbage).status().code(), ErrorCode::kInvalidArgument);
  auto two = options(url("https"));
  two.tls.pinned_cert_pem = ca_.issue().certificate + ca_.issue().certificate;
  EXPECT_EQ(SyncAgent::open(two).status().code(), ErrorCode::kInvalidArgument);
  // TLS options with a plain URL are a mistake (a pin silently ignored is a downgrade).
  auto plain = options(url("http"));
  plain.tls.pinned_cert_pem = ca_.issue().certificate;
  auto refused = SyncAgent::open(plain);
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("plain http://"), std::string::npos);
}

// A bare TLS listener that records what a client did: the SNI it sent, whether the
// handshake completed, and how many bytes of application data arrived.
class RecordingTlsServer {
 public:
  explicit RecordingTlsServer(const support::CertificatePem& pem)
      : context_(net::ssl::context::tls_server),
        acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    context_.use_certificate_chain(net::buffer(pem.certificate));
    context_.use_private_key(net::buffer(pem.key), net::ssl::context::pem);
    thread_ = std::thread([this] { serve(); });
  }
  ~RecordingTlsServer() {
    if (!accepted) {  // unblock the accept
      boost::system::error_code ignored;
      tcp::socket poke(io_);
      poke.connect({net::ip::make_address("127.0.0.1"), port()}, ignored);
      thread_.join();
      return;
    }
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  std::atomic<bool> accepted{false};
  std::atomic<bool> handshake_done{false};
  std::atomic<size_t> application_bytes{0};
  std::string server_name;  // valid once accepted && the thread ended its handshake
  std::atomic<bool> finished{false};

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    accepted = true;
    net::ssl::stream<tcp::socket> stream(std::move(socket), context_);
    stream.handshake(net::ssl::stream_base::server, ec);
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    server_name = sni != nullptr ? sni : "";
    if (!ec) {
      handshake_done = true;
      char buffer[4096];
      for (;;) {
        size_t got = stream.read_some(net::buffer(buffer), ec);
        if (ec) break;
        application_bytes += got;
      }
    }
    finished = true;
  }

  net::io_context io_;
  net::ssl::context context_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST_F(SyncAgentTlsTest, NothingIsSentToAnUntrustedServerAndSniNamesTheHost) {
  RecordingTlsServer impostor(support::TestCa::create("impostor CA").issue());
  auto agent_options = options("wss://localhost:" + std::to_string(impostor.port()));
  agent_options.tls.ca_file = ca_file();
  auto agent = SyncAgent::open(agent_options);
  ASSERT_TRUE(agent.ok()) << agent.status().to_string();
  agent_ = std::move(agent).value();
  SyncForOptions for_options;
  for_options.max_consecutive_failures = 1;
  SyncSummary summary = agent_->sync_for(10s, for_options);
  EXPECT_TRUE(is_untrusted(summary.status)) << summary.status.to_string();
  agent_->stop();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!impostor.finished && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(impostor.finished);
  EXPECT_TRUE(impostor.accepted);
  EXPECT_EQ(impostor.server_name, "localhost");      // SNI
  EXPECT_EQ(impostor.application_bytes.load(), 0u);  // no request, no token
}

TEST_F(SyncAgentTlsTest, SniIsSentForANameAndATrustedServerGetsTheRequest) {
  auto pem = ca_.issue();
  RecordingTlsServer server(pem);
  auto agent_options = options("wss://localhost:" + std::to_string(server.port()));
  agent_options.tls.ca_file = ca_file();
  auto agent = SyncAgent::open(agent_options);
  ASSERT_TRUE(agent.ok()) << agent.status().to_string();
  agent_ = std::move(agent).value();
  ASSERT_TRUE(agent_->start().ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server.application_bytes == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  agent_->stop();
  EXPECT_TRUE(server.handshake_done);
  EXPECT_GT(server.application_bytes.load(), 0u);  // the WebSocket upgrade request
}

}  // namespace
}  // namespace outpost
