// TLS end to end with the real binaries (decision 022): `outpost-server serve --tls-cert
// --tls-key`, the `outpost` CLI syncing over https with `--ca`, a device that trusts
// nothing but the system store refused, and SIGHUP: a renewed certificate (another CA)
// seen by the next connection, a broken one logged and the old one kept.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "support/process.h"
#include "support/tls_certs.h"
#include "tests/apps/server_token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;

class TlsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-tls-e2e-" +
           std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string out;
    ASSERT_EQ(run_command({OUTPOST_SERVER_BIN, "seed", "--data", dir_ + "/server", "--tenant",
                           "acme", "--user", "agent-1", "--contacts", "20"},
                          &out),
              0)
        << out;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void install(const support::CertificatePem& pem) {
    ASSERT_TRUE(support::write_text_file(dir_ + "/server.pem", pem.certificate));
    ASSERT_TRUE(support::write_text_file(dir_ + "/server.key", pem.key));
  }

  // Runs `outpost sync` against https://localhost:PORT; its exit code, output in *out.
  int sync(const std::string& device, const std::vector<std::string>& trust, std::string* out) {
    std::vector<std::string> argv{OUTPOST_DEVICE_BIN,
                                  "--db",
                                  dir_ + "/" + device + ".db",
                                  "--server",
                                  "https://localhost:" + port_,
                                  "--token",
                                  testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", device),
                                  "sync",
                                  "--budget",
                                  "20"};
    argv.insert(argv.end(), trust.begin(), trust.end());
    return run_command(argv, out);
  }

  std::string dir_;
  std::unique_ptr<Process> server_;
  std::string port_;
};

TEST_F(TlsEndToEnd, ServesHttpsAndReloadsItsCertificateOnSighup) {
  support::TestCa first_ca = support::TestCa::create("first CA");
  support::TestCa second_ca = support::TestCa::create("second CA");
  ASSERT_TRUE(support::write_text_file(dir_ + "/first-ca.pem", first_ca.certificate_pem()));
  ASSERT_TRUE(support::write_text_file(dir_ + "/second-ca.pem", second_ca.certificate_pem()));
  install(first_ca.issue());
  server_ = std::make_unique<Process>(
      std::vector<std::string>{OUTPOST_SERVER_BIN, "serve", "--data", dir_ + "/server", "--listen",
                               "127.0.0.1:0", "--tls-cert", dir_ + "/server.pem", "--tls-key",
                               dir_ + "/server.key"},
      dir_ + "/server.log");
  ASSERT_TRUE(server_->wait_for_output("outpost-server listening on ", 20s)) << server_->output();
  const std::string log = server_->output();
  EXPECT_NE(log.find("serving TLS with /CN=outpost test server"), std::string::npos) << log;
  const size_t at = log.find("listening on 127.0.0.1:") + 23;
  port_ = log.substr(at, log.find_first_not_of("0123456789", at) - at);

  std::string out;
  EXPECT_EQ(sync("trusting", {"--ca", dir_ + "/first-ca.pem"}, &out), 0) << out;
  EXPECT_EQ(sync("system", {}, &out), 1) << out;  // the system store knows no test CA
  EXPECT_NE(out.find("TLS: untrusted server"), std::string::npos) << out;

  // Renewal by another CA: new connections get it after SIGHUP.
  install(second_ca.issue());
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_output("SIGHUP: new connections use", 20s)) << server_->output();
  EXPECT_EQ(sync("renewed", {"--ca", dir_ + "/second-ca.pem"}, &out), 0) << out;
  EXPECT_EQ(sync("stale", {"--ca", dir_ + "/first-ca.pem"}, &out), 1) << out;
  EXPECT_NE(out.find("unable to get local issuer certificate"), std::string::npos) << out;

  // A broken file: logged, the certificate in use stays.
  ASSERT_TRUE(support::write_text_file(dir_ + "/server.pem", "garbage"));
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_output("the old certificate stays", 20s)) << server_->output();
  EXPECT_EQ(sync("after-bad-reload", {"--ca", dir_ + "/second-ca.pem"}, &out), 0) << out;

  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait(30s), 0) << server_->output();
  server_.reset();
}

TEST_F(TlsEndToEnd, AServerWithABadCertificateFileDoesNotStart) {
  ASSERT_TRUE(support::write_text_file(dir_ + "/server.pem", "not a certificate"));
  ASSERT_TRUE(support::write_text_file(dir_ + "/server.key", "not a key"));
  std::string out;
  EXPECT_EQ(run_command(
                {OUTPOST_SERVER_BIN, "serve", "--data", dir_ + "/server", "--listen", "127.0.0.1:0",
                 "--tls-cert", dir_ + "/server.pem", "--tls-key", dir_ + "/server.key"},
                &out),
            1)
      << out;
  EXPECT_NE(out.find("server.pem"), std::string::npos) << out;
}

}  // namespace
}  // namespace outpost
