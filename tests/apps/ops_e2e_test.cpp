// Operating the real outpost-server process: its admin listener shows metrics and the fleet
// while devices (the outpost CLI) sync, logs are JSON lines without secrets, SIGTERM makes
// /readyz fail before anything stops, and a rolling restart under a streaming device and a
// writing device loses nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "support/process.h"
#include "tests/apps/http_probe.h"
#include "tests/apps/server_token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;

using testing::http_get;
using testing::port_after;

class OpsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-ops-" +
           std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string out;
    ASSERT_EQ(
        run_command({OUTPOST_SERVER_BIN, "seed", "--data", dir_ + "/server", "--contacts", "50"},
                    &out),
        0)
        << out;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_server(const std::string& listen, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{OUTPOST_SERVER_BIN, "serve", "--data",         dir_ + "/server",
                                  "--listen",         listen,  "--admin-listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ =
        std::make_unique<Process>(argv, dir_ + "/server-" + std::to_string(++starts_) + ".log");
    ASSERT_TRUE(server_->wait_for_output("outpost-server admin on ", 20s)) << server_->output();
    port_ = port_after(server_->output(), "outpost-server listening on ");
    admin_ = port_after(server_->output(), "outpost-server admin on ");
    url_ = "http://127.0.0.1:" + port_;
  }

  std::string token(const std::string& device) {
    auto& cached = tokens_[device];
    if (cached.empty()) cached = testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", device);
    return cached;
  }
  std::string db(const std::string& device) { return dir_ + "/" + device + ".db"; }
  int sync(const std::string& device, std::string* out, const std::string& version = "") {
    std::vector<std::string> argv{OUTPOST_DEVICE_BIN, "--db",        db(device), "--server", url_,
                                  "--token",          token(device), "sync",     "--budget", "20"};
    if (!version.empty()) {
      argv.push_back("--app-version");
      argv.push_back(version);
    }
    return run_command(argv, out);
  }
  int mutate(const std::string& device, const std::string& name, const std::string& args) {
    std::string out;
    int code = run_command({OUTPOST_DEVICE_BIN, "--db", db(device), "mutate", name, args}, &out);
    EXPECT_EQ(code, 0) << out;
    return code;
  }

  std::string dir_;
  std::unique_ptr<Process> server_;
  int starts_ = 0;
  std::string port_;
  std::string admin_;
  std::string url_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(OpsEndToEnd, AdminListenerShowsMetricsAndTheFleetWhileDevicesSync) {
  start_server("127.0.0.1:0");
  std::string out;
  ASSERT_EQ(sync("phone", &out, "field-app/2.0"), 0) << out;
  ASSERT_EQ(sync("tablet", &out), 0) << out;
  // The tablet deletes a draft the phone edited meanwhile: the server rejects the delete.
  mutate("phone", "save_draft", R"({"draft": {"id": "draft-ops", "body": "first words"}})");
  ASSERT_EQ(sync("phone", &out, "field-app/2.0"), 0) << out;
  ASSERT_EQ(sync("tablet", &out), 0) << out;
  mutate("phone", "save_draft", R"({"draft": {"id": "draft-ops", "body": "second words"}})");
  ASSERT_EQ(sync("phone", &out, "field-app/2.0"), 0) << out;
  mutate("tablet", "delete_draft", R"({"id": "draft-ops"})");
  sync("tablet", &out);

  std::string metrics = http_get(admin_, "/metrics");
  EXPECT_NE(metrics.find("HTTP/1.1 200"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("outpost_requests_total{kind=\"pull\",code=\"ok\"}"), std::string::npos);
  EXPECT_NE(metrics.find("outpost_mutations_total{outcome=\"applied\",code=\"\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("outpost_mutations_total{outcome=\"rejected\",code=\"rejected\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("outpost_request_duration_seconds_bucket{kind=\"push\",le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("outpost_pull_scopes_total{mode=\"snapshot\"}"), std::string::npos);
  EXPECT_NE(metrics.find("outpost_fleet_devices 2\n"), std::string::npos);
  // Bounded labels: no device, user or tenant names in the metrics.
  for (const char* name : {"phone", "tablet", "agent-1", "acme"}) {
    EXPECT_EQ(metrics.find(name), std::string::npos) << name;
  }

  std::string devices = http_get(admin_, "/api/devices");
  EXPECT_NE(devices.find("\"device\":\"phone\""), std::string::npos) << devices;
  EXPECT_NE(devices.find("\"app_version\":\"field-app/2.0\""), std::string::npos) << devices;
  EXPECT_NE(devices.find("\"app_version\":\"outpost-cli/0.1.0\""), std::string::npos);
  std::string rejections = http_get(admin_, "/api/rejections");
  EXPECT_NE(rejections.find("edited elsewhere after you deleted it"), std::string::npos)
      << rejections;
  EXPECT_NE(rejections.find("\"device\":\"tablet\""), std::string::npos);
  std::string scopes = http_get(admin_, "/api/scopes");
  EXPECT_NE(scopes.find("\"scope\":\"user/acme/agent-1\""), std::string::npos) << scopes;

  server_->signal(SIGTERM);
  ASSERT_EQ(server_->wait(30s), 0) << server_->output();
  // stderr: one JSON object per line, the rejection with request id, tenant and device;
  // never a token.
  std::istringstream log(server_->output());
  std::string line;
  bool rejection_logged = false;
  while (std::getline(log, line)) {
    if (line.rfind("outpost-server ", 0) == 0) continue;  // the stdout address lines
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find("\"level\":"), std::string::npos) << line;
    for (const auto& [device, secret] : tokens_) EXPECT_EQ(line.find(secret), std::string::npos);
    if (line.find("mutation rejected") != std::string::npos) {
      rejection_logged = true;
      EXPECT_NE(line.find("\"request_id\":\"r"), std::string::npos) << line;
      EXPECT_NE(line.find("\"tenant\":\"acme\""), std::string::npos) << line;
      EXPECT_NE(line.find("\"device\":\"tablet\""), std::string::npos) << line;
      EXPECT_EQ(line.find("second words"), std::string::npos) << line;  // no record bodies
    }
  }
  EXPECT_TRUE(rejection_logged) << server_->output();
}

TEST_F(OpsEndToEnd, SigtermFailsReadyzBeforeAnythingStops) {
  start_server("127.0.0.1:0", {"--drain-ms", "1500"});
  EXPECT_NE(http_get(admin_, "/readyz").find("HTTP/1.1 200"), std::string::npos);
  server_->signal(SIGTERM);
  std::string readyz;
  for (int i = 0; i < 50; ++i) {
    readyz = http_get(admin_, "/readyz");
    if (readyz.find("503") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(readyz.find("HTTP/1.1 503"), std::string::npos) << readyz;
  EXPECT_NE(readyz.find("draining"), std::string::npos);
  // Still alive and still serving devices while the load balancer notices.
  EXPECT_NE(http_get(admin_, "/healthz").find("HTTP/1.1 200"), std::string::npos);
  std::string out;
  EXPECT_EQ(sync("phone", &out), 0) << out;
  EXPECT_EQ(server_->wait(30s), 0) << server_->output();
  EXPECT_EQ(http_get(admin_, "/healthz"), "");  // gone
}

TEST_F(OpsEndToEnd, RollingRestartUnderStreamingAndWritingDevicesLosesNothing) {
  start_server("127.0.0.1:0", {"--drain-ms", "200"});
  const std::string listen = "127.0.0.1:" + port_;
  std::string out;
  ASSERT_EQ(sync("phone", &out), 0) << out;
  Process watch({OUTPOST_DEVICE_BIN, "--db", db("phone"), "--server", url_, "--token",
                 token("phone"), "watch"},
                dir_ + "/watch.log");
  ASSERT_TRUE(watch.wait_for_output("connected to", 20s)) << watch.output();

  constexpr int kSettings = 12;
  for (int i = 0; i < kSettings; ++i) {
    if (i == kSettings / 2) {
      // The restart: drain, stop, start again on the same port.
      server_->signal(SIGTERM);
      ASSERT_EQ(server_->wait(30s), 0) << server_->output();
      start_server(listen, {"--drain-ms", "200"});
    }
    mutate("tablet", "set_user_setting",
           R"({"name": "rolling-)" + std::to_string(i) + R"(", "value": "1"})");
    // A sync during the restart may fail: the device retries, as an app's agent would.
    bool synced = false;
    for (int attempt = 0; attempt < 20 && !synced; ++attempt) {
      synced = sync("tablet", &out) == 0;
      if (!synced) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(synced) << out;
  }
  // Every setting reached the streaming phone, across the restart.
  for (int i = 0; i < kSettings; ++i) {
    EXPECT_TRUE(watch.wait_for_output("user_setting\trolling-" + std::to_string(i) + "\tput", 30s))
        << i << "\n"
        << watch.output();
  }
  ASSERT_EQ(run_command({OUTPOST_DEVICE_BIN, "--db", db("tablet"), "pending"}, &out), 0);
  EXPECT_EQ(out.find("set_user_setting"), std::string::npos) << out;
  ASSERT_EQ(run_command({OUTPOST_DEVICE_BIN, "--db", db("tablet"), "rejected"}, &out), 0);
  EXPECT_EQ(out.find("set_user_setting"), std::string::npos) << out;
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(20s), 0) << watch.output();
  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait(30s), 0) << server_->output();
}

}  // namespace
}  // namespace outpost
