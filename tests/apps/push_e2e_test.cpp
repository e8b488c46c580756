// Push end to end with the real binaries: outpost-server sending to the fake APNs, the org's
// inactivity delays compressed to seconds, the phone driven through the outpost CLI. The
// phone registers its target and goes to sleep; a voicemail arrives; the fake APNs receives
// the wake and the notification (none while the phone streams); `outpost wake` shows the
// voicemail; then the silent check, the keepalive and the "logged out" notification arrive
// and the agent is offline. README's push story, as a test.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "support/process.h"
#include "tests/adapters/push/fake_service.h"
#include "tests/adapters/push/sender_test_support.h"
#include "tests/apps/http_probe.h"
#include "tests/apps/server_token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;

class PushEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.ok()) << "the fake APNs did not start; see " << fake_.log();
    fake_.post("/config", R"({"enforce_refresh_interval": false})");
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-push-e2e-" +
           std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    std::string out;
    ASSERT_EQ(
        run_command({OUTPOST_SERVER_BIN, "seed", "--data", dir_ + "/server", "--contacts", "50"},
                    &out),
        0)
        << out;
    std::vector<std::string> argv{OUTPOST_SERVER_BIN, "serve",
                                  "--data",           dir_ + "/server",
                                  "--listen",         "127.0.0.1:0",
                                  "--apns-key",       fake_.get("key_file"),
                                  "--apns-key-id",    fake_.get("key_id"),
                                  "--apns-team",      fake_.get("team_id"),
                                  "--apns-url",       fake_.get("base_url"),
                                  "--push-ca",        fake_.get("ca"),
                                  "--admin-listen",   "127.0.0.1:0"};
    server_ = std::make_unique<Process>(argv, dir_ + "/server.log");
    ASSERT_TRUE(server_->wait_for_output("outpost-server admin on ", 20s)) << server_->output();
    std::string log = server_->output();
    auto at = log.find("outpost-server listening on ") + 28;
    std::string address = log.substr(at, log.find_first_of(" \n", at) - at);
    url_ = "http://127.0.0.1:" + address.substr(address.rfind(':') + 1);
    admin_ = testing::port_after(log, "outpost-server admin on ");
    ASSERT_FALSE(admin_.empty()) << log;
  }

  // One series' value on the admin listener's /metrics, or -1 when it is not there.
  double metric(const std::string& series) {
    const std::string metrics = testing::http_get(admin_, "/metrics");
    const auto at = metrics.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(metrics.substr(at + series.size() + 2));
  }

  void platform_event(const std::string& json) {
    std::string out;
    ASSERT_EQ(run_command({OUTPOST_SERVER_BIN, "event", "--data", dir_ + "/server", json}, &out), 0)
        << out;
  }
  void org_setting(const std::string& name, const std::string& value) {
    platform_event(R"({"tenant":"acme","orgSetting":{"name":")" + name + R"(","value":")" + value +
                   R"("}})");
  }
  // The inbox is applied within ~200 ms; wait until it is empty.
  void wait_inbox() {
    for (int i = 0; i < 100; ++i) {
      bool empty = true;
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/server/inbox", ec)) {
        (void)entry;
        empty = false;
      }
      if (empty) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "the server did not apply its inbox";
  }

  std::vector<std::string> phone_args(const std::vector<std::string>& command) {
    std::vector<std::string> argv{OUTPOST_DEVICE_BIN, "--db", dir_ + "/phone.db", "--server", url_,
                                  "--token",          token_};
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }

  // The kinds the fake APNs received, waiting until `kind` is among them.
  std::vector<std::string> kinds(const std::string& kind = "",
                                 std::chrono::milliseconds within = 15s) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      std::vector<std::string> got;
      bool found = kind.empty();
      for (const auto& r : fake_.received()) {
        got.push_back(push::testing::str(push::testing::body_json(r), {"kind"}));
        found = found || got.back() == kind;
      }
      if (found || std::chrono::steady_clock::now() > until) return got;
      std::this_thread::sleep_for(50ms);
    }
  }

  push::testing::FakeService fake_{"apns"};
  std::string dir_;
  std::string url_;
  std::string token_;
  std::string admin_;
  std::unique_ptr<Process> server_;
};

bool has(const std::vector<std::string>& kinds, const std::string& kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

TEST_F(PushEndToEnd, KilledPhoneIsWokenForAVoicemailThenLoggedOutAfterInactivity) {
  start_server();
  // The org's settings: the field guide's 30/60/+5 minutes compressed to seconds.
  org_setting("push.coalesce_ms", "100");
  org_setting("push.silent_after_ms", "1500");
  org_setting("push.keepalive_after_ms", "3000");
  org_setting("push.logout_after_keepalive_ms", "500");
  wait_inbox();
  token_ = testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", "phone");
  const std::string apns_token = push::testing::hex_token('5');
  std::string out;
  // Login: the phone registers where it can be woken, syncs, and is killed.
  ASSERT_EQ(run_command(phone_args({"mutate", "register_push_target",
                                    R"({"target": {"device_id": "phone", "platform": "PUSH_APNS",
                                        "token": ")" +
                                        apns_token + R"(", "app_id": "com.example.outpost"}})"}),
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command(phone_args({"sync", "--budget", "20"}), &out), 0) << out;

  // While the app streams, a voicemail needs no push.
  Process watch(phone_args({"watch"}), dir_ + "/watch.log");
  ASSERT_TRUE(watch.wait_for_output("connected to", 10s)) << watch.output();
  fake_.clear();
  platform_event(R"({"tenant":"acme","user":"agent-1","voicemailLeft":{"id":"vm-live",
                    "callerName":"Ann Customer","receivedMs":"1795000000000"}})");
  ASSERT_TRUE(watch.wait_for_output("voicemail\tvm-live", 10s)) << watch.output();
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(kinds("", 0ms).empty());
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(10s), 0);

  // Killed: the voicemail wakes the phone and shows a notification without the caller.
  platform_event(R"({"tenant":"acme","user":"agent-1","voicemailLeft":{"id":"vm-9",
                    "callerName":"Ann Customer","receivedMs":"1795000001000"}})");
  auto got = kinds("wake");
  EXPECT_TRUE(has(got, "wake"));
  EXPECT_TRUE(has(kinds("voicemail"), "voicemail"));
  for (const auto& r : fake_.received()) {
    EXPECT_EQ(push::testing::str(r, {"body"}).find("Ann"), std::string::npos);
    EXPECT_EQ(push::testing::str(r, {"path"}), "/3/device/" + apns_token);
  }
  ASSERT_EQ(run_command(phone_args({"wake", "--budget", "10"}), &out), 0) << out;
  EXPECT_NE(out.find("vm-9\tAnn Customer"), std::string::npos) << out;

  // Asleep again: the silent check, the keepalive, then the logout and its notification.
  fake_.clear();
  got = kinds("logged_out", 20s);
  std::vector<std::string> timers;
  for (const auto& k : got) {
    if (k == "inactivity_check" || k == "keepalive" || k == "logged_out") timers.push_back(k);
  }
  EXPECT_EQ(timers, (std::vector<std::string>{"inactivity_check", "keepalive", "logged_out"}))
      << server_->output();
  ASSERT_EQ(run_command(phone_args({"wake", "--budget", "10"}), &out), 0) << out;
  EXPECT_NE(out.find("presence            PRESENCE_OFFLINE"), std::string::npos) << out;
  EXPECT_NE(server_->output().find("logged acme/agent-1 out after inactivity"), std::string::npos);
  // What was sent is on /metrics: wake, voicemail, check, keepalive and logout delivered by
  // APNs, one logout, no FCM request.
  EXPECT_GE(metric(R"(outpost_push_sender_total{platform="apns",outcome="delivered"})"), 5);
  EXPECT_GE(metric(R"(outpost_push_sender_total{platform="apns",outcome="requests"})"), 5);
  EXPECT_EQ(metric(R"(outpost_push_sender_total{platform="fcm",outcome="requests"})"), 0);
  EXPECT_EQ(metric(R"(outpost_push_service_total{event="logouts"})"), 1);
  EXPECT_GE(metric(R"(outpost_push_service_total{event="wakes"})"), 1);
  EXPECT_EQ(metric("outpost_push_targets"), 1);

  // Logout from the app removes the target: nothing more is sent.
  ASSERT_EQ(
      run_command(phone_args({"mutate", "remove_push_target", R"({"device_id": "phone"})"}), &out),
      0);
  ASSERT_EQ(run_command(phone_args({"sync", "--budget", "20"}), &out), 0) << out;
  fake_.clear();
  platform_event(R"({"tenant":"acme","user":"agent-1","voicemailLeft":{"id":"vm-10"}})");
  wait_inbox();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(kinds("", 0ms).empty());
}

}  // namespace
}  // namespace outpost
