// End to end against the fake Genesys Cloud: the real outpost-server with --upstream
// genesys (credentials from a file), devices driven through the outpost CLI. The same
// checks as the e2e suite: the mirror reaches the devices, typed words are kept, the
// platform's refusals are kept with their reason, devices = server at the end, and the
// fault modes (dropped sockets, missed notifications, 429 and 503 on writes) lose nothing.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "adapters/sqlite_server_store.h"
#include "engine/blob.h"
#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "support/process.h"
#include "support/views.h"
#include "tests/adapters/genesys/fake_genesys_process.h"
#include "tests/apps/http_probe.h"
#include "tests/apps/server_token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;
namespace d = outpost::domain;

class GenesysEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-genesys-e2e-" +
           std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    fake_ = std::make_unique<genesys::testing::FakeGenesys>("agent-1", 60);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
  }
  void TearDown() override {
    server_.reset();
    fake_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    std::vector<std::string> argv{OUTPOST_SERVER_BIN,
                                  "serve",
                                  "--data",
                                  dir_ + "/server",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--upstream",
                                  "genesys",
                                  "--genesys-api",
                                  fake_->api(),
                                  "--genesys-login",
                                  fake_->api(),
                                  "--genesys-agents",
                                  agents_,
                                  "--genesys-credentials",
                                  fake_->dir() + "/credentials.json",
                                  "--genesys-step-ms",
                                  "50"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    server_ = std::make_unique<Process>(argv, dir_ + "/server.log");
    ASSERT_TRUE(server_->wait_for_output("outpost-server listening on ", 20s)) << server_->output();
    std::string out = server_->output();
    auto at = out.find("outpost-server listening on ") + 28;
    std::string address = out.substr(at, out.find_first_of(" \n", at) - at);
    url_ = "http://127.0.0.1:" + address.substr(address.rfind(':') + 1);
  }

  void stop_server() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(30s), 0) << server_->output();
    const std::string log = server_->output();
    server_output_ = log;
    EXPECT_EQ(log.find(fake_->get("client_secret")), std::string::npos) << "secret logged";
    server_.reset();
  }

  int device(const std::string& name, const std::vector<std::string>& command,
             std::string* out = nullptr) {
    std::vector<std::string> argv{OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + name + ".db"};
    argv.insert(argv.end(), command.begin(), command.end());
    return run_command(argv, out);
  }

  int sync(const std::string& name) {
    std::string out;
    return run_command(
        {OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + name + ".db", "--server", url_, "--token",
         testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", name), "sync"},
        &out);
  }

  // Syncs `name` until its replica satisfies `pred` (and its outbox is empty).
  bool sync_until(const std::string& name, const std::function<bool(Replica&)>& pred,
                  std::chrono::milliseconds timeout = 30s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      (void)sync(name);
      auto replica = Replica::open(dir_ + "/" + name + ".db", Schema::domain(), &domain_mutators());
      if (replica.ok() && (*replica)->pending()->empty() && pred(**replica)) return true;
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }

  template <typename T>
  static std::optional<T> get(Replica& replica, const std::string& key) {
    auto got = replica.get<T>(key);
    return got.ok() ? *got : std::nullopt;
  }

  void expect_devices_equal_server(const std::vector<std::string>& devices) {
    auto store = SqliteServerStore::open(dir_ + "/server/outpost.db");
    ASSERT_TRUE(store.ok());
    auto server = support::server_view(**store, {"user/acme/agent-1", "org/acme"});
    for (const std::string& name : devices) {
      auto replica = Replica::open(dir_ + "/" + name + ".db", Schema::domain(), &domain_mutators());
      ASSERT_TRUE(replica.ok());
      EXPECT_TRUE((*replica)->pending()->empty()) << name;
      EXPECT_EQ(support::device_view(**replica), server) << name;
    }
  }

  bool phone_equals_server() {
    auto store = SqliteServerStore::open(dir_ + "/server/outpost.db");
    auto replica = Replica::open(dir_ + "/phone.db", Schema::domain(), &domain_mutators());
    if (!store.ok() || !replica.ok()) return false;
    return support::device_view(**replica) ==
           support::server_view(**store, {"user/acme/agent-1", "org/acme"});
  }

  // POST /v1/platform/login as `user`'s device with this login JSON: the HTTP status.
  long hand_over_login(const std::string& user, const std::string& login) {
    std::string token;
    EXPECT_EQ(run_command({OUTPOST_SERVER_BIN, "token", "--data", dir_ + "/server", "--tenant",
                           "acme", "--user", user, "--device", user + "-phone"},
                          &token),
              0);
    while (!token.empty() && token.back() == '\n') token.pop_back();
    CURL* easy = curl_easy_init();
    const std::string url = url_ + "/v1/platform/login";
    const std::string auth = "Authorization: Bearer " + token;
    curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, login.c_str());
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t count, void*) { return size * count; });
    long status = 0;
    if (curl_easy_perform(easy) == CURLE_OK)
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return status;
  }

  std::string agents_ = "acme/agent-1";
  std::vector<std::string> extra_args_;  // more serve flags
  std::string server_output_;
  std::string dir_;
  std::unique_ptr<genesys::testing::FakeGenesys> fake_;
  std::unique_ptr<Process> server_;
  std::string url_;
};

TEST_F(GenesysEndToEnd, MirrorIntentsRefusalsAndTypedWordsReachEveryDevice) {
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-1"})");
  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::Interaction>(r, "c-1").has_value() && get<d::Contact>(r, "ec-00059") &&
           get<d::WrapupCode>(r, "wrapup-1") && get<d::AuxReason>(r, "aux-lunch") &&
           get<d::AgentState>(r, "agent-1");
  })) << server_->output();

  // Presence: accepted, then refused by the platform (as data, with its reason).
  ASSERT_EQ(device("phone", {"mutate", "set_agent_state", R"({"presence":"PRESENCE_READY"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY;
  }));
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users/agent-1/presences",
    "status":400,"code":"presence.locked","message":"Your supervisor planned this state"})");
  ASSERT_EQ(device("phone", {"mutate", "set_agent_state",
                             R"({"presence":"PRESENCE_NOT_READY","aux_reason_id":"aux-lunch"})"}),
            0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY &&
           s->last_refusal() == "Your supervisor planned this state";
  }));

  // Wrap-up while the call is live: refused with the platform's reason, code kept.
  ASSERT_EQ(
      device("phone", {"mutate", "wrap_up", R"({"interaction_ids":["c-1"],"code_id":"wrapup-2"})"}),
      0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto it = get<d::Interaction>(r, "c-1");
    return it && it->wrapup_refusal() == "The communication is still active" &&
           it->wrapup_code_id() == "wrapup-2";
  }));
  fake_->control("disconnect", R"({"conversation":"c-1"})");
  ASSERT_TRUE(sync_until("tablet", [](Replica& r) {
    auto it = get<d::Interaction>(r, "c-1");
    return it && it->state() == d::INTERACTION_DISCONNECTED;
  }));
  ASSERT_EQ(device("tablet",
                   {"mutate", "wrap_up", R"({"interaction_ids":["c-1"],"code_id":"wrapup-1"})"}),
            0);
  ASSERT_TRUE(sync_until("tablet", [](Replica& r) {
    auto it = get<d::Interaction>(r, "c-1");
    return it && it->state() == d::INTERACTION_QUALIFIED && it->wrapup_code_id() == "wrapup-1";
  }));
  EXPECT_EQ(fake_->state().at("wrapups").as_array().size(), 1u);

  // Typed words: a draft saved on the phone reaches the tablet word for word.
  ASSERT_EQ(device("phone", {"mutate", "save_draft",
                             R"({"draft":{"id":"draft-1","interaction_id":"c-1",
                                 "kind":"DRAFT_EMAIL_REPLY","body":"Dear Ann, thanks for calling"}})"}),
            0);
  ASSERT_TRUE(sync_until("phone", [](Replica&) { return true; }));
  ASSERT_TRUE(sync_until("tablet", [](Replica& r) {
    auto draft = get<d::Draft>(r, "draft-1");
    return draft && draft->body() == "Dear Ann, thanks for calling";
  }));
  ASSERT_TRUE(sync_until("phone", [](Replica&) { return true; }));
  stop_server();
  expect_devices_equal_server({"phone", "tablet"});
}

TEST_F(GenesysEndToEnd, FaultsOnTheWayLoseNothing) {
  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::AgentState>(r, "agent-1").has_value();
  })) << server_->output();
  // A missed notification on a live socket, then a dropped socket: the reconcile after the
  // gap finds what was missed (and what the drop cut off).
  fake_->control("miss", R"({"count":1})");
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-1"})");
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-2","subject":"Order"})");
  fake_->control("socket", R"({"action":"drop"})");
  // The adapter's new channel is live before the writes below (their notifications).
  for (int i = 0; i < 300; ++i) {
    auto stats = fake_->control("stats");
    if (stats.is_object() && stats.at("sockets_opened").to_number<int>() >= 2 &&
        stats.at("live_sockets").to_number<int>() >= 1) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::Voicemail>(r, "vm-1").has_value() && get<d::Interaction>(r, "c-2").has_value();
  })) << server_->output();
  // 429 then 503 on the presence write: retried, the intent lands once.
  fake_->control("faults", R"([
    {"method":"PATCH","path":"/api/v2/users/agent-1/presences","status":429,"retry_after":1},
    {"method":"PATCH","path":"/api/v2/users/agent-1/presences","status":503}])");
  ASSERT_EQ(device("phone", {"mutate", "set_agent_state", R"({"presence":"PRESENCE_READY"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY && s->routing_status() == "IDLE";
  })) << server_->output();
  EXPECT_EQ(
      fake_->state().at("users").at("agent-1").at("presence").at("presenceDefinition").at("id"),
      "pd-onqueue");
  // The website closes: the platform logs the agent off; the server restores READY.
  fake_->control("web/logoff", R"({"user":"agent-1"})");
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY;
  })) << server_->output();
  EXPECT_EQ(
      fake_->state().at("users").at("agent-1").at("presence").at("presenceDefinition").at("id"),
      "pd-onqueue");
  stop_server();
  expect_devices_equal_server({"phone"});
}

// The device hands over its user's Genesys login (POST /v1/platform/login): another user's
// device cannot use it, and the owner's writes carry it. A reply draft saved on the phone is
// kept on the platform; the agent adds a line in the Genesys web interface while the phone,
// offline, rewrites the greeting: both edits are kept (three-way merge), on every device.
TEST_F(GenesysEndToEnd, ALoginActsForItsUserAndWebEditsMergeWithTheApps) {
  fake_ = std::make_unique<genesys::testing::FakeGenesys>("agent-1,agent-2", 10);
  ASSERT_TRUE(fake_->ok()) << fake_->log();
  agents_ = "acme/agent-1,acme/agent-2";
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-9","subject":"Order"})");
  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::Interaction>(r, "c-9").has_value();
  })) << server_->output();

  const std::string login = fake_->user_login("agent-1");
  ASSERT_FALSE(login.empty());
  EXPECT_EQ(hand_over_login("agent-2", login), 403);  // agent-1's login, agent-2's device
  EXPECT_EQ(hand_over_login("agent-1", "not json"), 400);
  ASSERT_EQ(hand_over_login("agent-1", login), 204) << server_->output();
  ASSERT_EQ(device("phone", {"mutate", "set_agent_state", R"({"presence":"PRESENCE_READY"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY;
  }));
  bool as_agent = false;
  const boost::json::value requests = fake_->control("requests");
  for (const auto& r : requests.as_array()) {
    const auto& o = r.as_object();
    if (o.at("method") == "PATCH" && o.at("path") == "/api/v2/users/agent-1/presences/purecloud") {
      as_agent = o.at("user") == "agent-1";
    }
  }
  EXPECT_TRUE(as_agent) << "the presence write did not carry agent-1's own login";

  ASSERT_EQ(device("phone", {"mutate", "save_draft",
                             R"({"draft":{"id":"d-9","interaction_id":"c-9",
                                 "kind":"DRAFT_EMAIL_REPLY","subject":"Re: Order",
                                 "body":"Hello Ann,\nyour order shipped today."}})"}),
            0);
  ASSERT_TRUE(sync_until("phone", [](Replica&) { return true; }));
  auto platform_text = [&] {
    auto drafts = fake_->state().at("drafts").as_object();
    auto* d = drafts.if_contains("c-9");
    return d ? std::string(d->at("textBody").as_string()) : std::string();
  };
  for (int i = 0; i < 100 && platform_text().empty(); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(platform_text(), "Hello Ann,\nyour order shipped today.");
  // Offline on the phone: a new greeting. In the web interface: a closing line.
  ASSERT_EQ(device("phone", {"mutate", "save_draft",
                             R"({"draft":{"id":"d-9","interaction_id":"c-9",
                                 "kind":"DRAFT_EMAIL_REPLY","subject":"Re: Order",
                                 "body":"Dear Ann,\nyour order shipped today."}})"}),
            0);
  fake_->control("web/draft", R"({"conversation":"c-9",
      "textBody":"Hello Ann,\nyour order shipped today.\nBest regards, Bo"})");
  ASSERT_TRUE(sync_until("tablet", [](Replica& r) {
    auto draft = get<d::Draft>(r, "d-9");
    return draft && draft->body().find("Best regards, Bo") != std::string::npos;
  })) << server_->output();
  const std::string merged = "Dear Ann,\nyour order shipped today.\nBest regards, Bo";
  for (const char* name : {"phone", "tablet"}) {
    ASSERT_TRUE(sync_until(name, [&](Replica& r) {
      auto draft = get<d::Draft>(r, "d-9");
      return draft && draft->body() == merged && !draft->conflicted();
    })) << name;
  }
  ASSERT_TRUE(sync_until("phone", [](Replica&) { return true; }));
  stop_server();
  const std::string access(boost::json::parse(login).at("access_token").as_string());
  EXPECT_EQ(server_output_.find(access), std::string::npos) << "a user's token logged";
  expect_devices_equal_server({"phone", "tablet"});
}

// Voicemail audio from Genesys (decision 034): the recording hashed when mirrored, played on
// a device (the blob route), fetched again from the media endpoint when the server's blob
// store lost it; playing marks it read and a delete reaches the platform.
TEST_F(GenesysEndToEnd, VoicemailAudioPlaysAndReadAndDeleteReachGenesys) {
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-a","seconds":2})");
  start_server();
  std::string hash;
  ASSERT_TRUE(sync_until("phone", [&](Replica& r) {
    auto vm = get<d::Voicemail>(r, "vm-a");
    if (vm) hash = vm->audio_sha256();
    return vm && !hash.empty();
  })) << server_->output();
  auto play = [&](const std::string& name) {
    std::string out;
    const std::string file = dir_ + "/" + name + ".wav";
    int rc =
        run_command({OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + name + ".db", "--server", url_,
                     "--token", testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", name),
                     "play", "vm-a", "-o", file},
                    &out);
    EXPECT_EQ(rc, 0) << out;
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string audio = play("phone");
  EXPECT_EQ(audio.substr(0, 4), "RIFF");
  EXPECT_EQ(audio.size(), 44u + 2 * 8000);
  EXPECT_EQ(sha256_of(audio).hex(), hash);
  // The server's blob store loses the recording (an older backup): fetched again.
  const int downloads = fake_->count_requests("GET", "/media/");
  std::filesystem::remove(dir_ + "/server/blobs/sha256/" + hash.substr(0, 2) + "/" + hash);
  ASSERT_TRUE(
      sync_until("tablet", [](Replica& r) { return get<d::Voicemail>(r, "vm-a").has_value(); }));
  EXPECT_EQ(play("tablet"), audio);
  EXPECT_EQ(fake_->count_requests("GET", "/media/"), downloads + 1);
  // Played = read, on the platform too; then deleted there.
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto v = get<d::Voicemail>(r, "vm-a");
    return v && v->read();
  }));
  auto on_platform = [&](const char* field) {
    return fake_->state().at("voicemails").at("vm-a").at(field).as_bool();
  };
  EXPECT_TRUE(on_platform("read"));
  ASSERT_EQ(device("phone", {"mutate", "delete_voicemail", R"({"id":"vm-a"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) { return !get<d::Voicemail>(r, "vm-a"); }))
      << server_->output();
  EXPECT_TRUE(on_platform("deleted"));
  ASSERT_TRUE(sync_until("tablet", [](Replica& r) { return !get<d::Voicemail>(r, "vm-a"); }));
  stop_server();
  expect_devices_equal_server({"phone", "tablet"});
}

// A login handed over survives a server restart (decision 035): sealed in the data
// directory (no readable token there), restored at start, renewed with its refresh token
// when it expired meanwhile (the rotated one sealed again); the write after the restart
// still acts as the agent.
TEST_F(GenesysEndToEnd, ALoginSurvivesARestartAndStillActsForItsUser) {
  fake_->control("config", R"({"token_ttl_s": 2})");
  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::AgentState>(r, "agent-1").has_value();
  })) << server_->output();
  const std::string login = fake_->user_login("agent-1");
  ASSERT_EQ(hand_over_login("agent-1", login), 204) << server_->output();
  const auto handed = std::chrono::steady_clock::now();
  stop_server();
  const std::string path = dir_ + "/server/platform-logins/acme+agent-1.login";
  auto read = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string sealed = read();
  ASSERT_FALSE(sealed.empty());
  const std::string access(boost::json::parse(login).at("access_token").as_string());
  const std::string refresh(boost::json::parse(login).at("refresh_token").as_string());
  EXPECT_EQ(sealed.find(access), std::string::npos);
  EXPECT_EQ(sealed.find(refresh), std::string::npos);

  std::this_thread::sleep_until(handed + 2200ms);  // the access token expired meanwhile
  start_server();
  ASSERT_EQ(device("phone", {"mutate", "set_agent_state", R"({"presence":"PRESENCE_READY"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto s = get<d::AgentState>(r, "agent-1");
    return s && s->presence() == d::PRESENCE_READY;
  })) << server_->output();
  std::string writer = "none";
  const boost::json::value requests = fake_->control("requests");
  for (const auto& r : requests.as_array()) {
    const auto& o = r.as_object();
    if (o.at("method") == "PATCH" && o.at("path") == "/api/v2/users/agent-1/presences/purecloud") {
      writer = o.at("user").is_string() ? std::string(o.at("user").as_string()) : "client";
    }
  }
  EXPECT_EQ(writer, "agent-1") << "the write after the restart did not act as the agent";
  EXPECT_GE(fake_->control("stats").at("refreshes").to_number<int>(), 1);
  EXPECT_NE(read(), sealed);  // the rotated refresh token sealed again
  stop_server();
  EXPECT_EQ(server_output_.find(access), std::string::npos) << "a user's token logged";
}

// A customer never gets the same reply twice (decision 037): the platform takes the
// email reply and the SMS but the server is killed before their answers come back; the
// restarted server, asked again by the device, reads the conversations' messages, finds
// both sent and does not POST them again. The device's drafts end SENT.
TEST_F(GenesysEndToEnd, ASendInFlightWhenTheServerIsKilledIsSentOnce) {
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-5","subject":"Order"})");
  fake_->control("route", R"({"user":"agent-1","media":"message","id":"c-6"})");
  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    return get<d::Interaction>(r, "c-5").has_value() && get<d::Interaction>(r, "c-6").has_value();
  })) << server_->output();
  // The platform sends at once and answers a minute later.
  fake_->control("faults", R"([
      {"method":"POST","path":"/api/v2/conversations/emails/c-5/messages","answer_after_ms":60000},
      {"method":"POST","path":"/api/v2/conversations/messages/c-6/communications",
       "answer_after_ms":60000}])");
  ASSERT_EQ(device("phone", {"mutate", "save_draft",
                             R"({"draft":{"id":"d-5","interaction_id":"c-5",
                                 "kind":"DRAFT_EMAIL_REPLY","subject":"Re: Order",
                                 "body":"Your order shipped today.","to":["ann@example.com"]}})"}),
            0);
  // The tablet sends the SMS, so both sends are in flight at once (a device's pushes wait
  // in order behind its first unanswered one).
  ASSERT_EQ(device("tablet", {"mutate", "save_draft",
                              R"({"draft":{"id":"d-6","interaction_id":"c-6",
                                  "kind":"DRAFT_SMS","body":"On my way"}})"}),
            0);
  ASSERT_EQ(device("phone", {"mutate", "send_draft", R"({"id":"d-5"})"}), 0);
  ASSERT_EQ(device("tablet", {"mutate", "send_draft", R"({"id":"d-6"})"}), 0);
  auto sent = [&] {
    std::vector<std::string> texts;
    const boost::json::value state = fake_->state();
    for (const auto& s : state.at("sent").as_array())
      texts.emplace_back(s.at("textBody").as_string());
    std::sort(texts.begin(), texts.end());
    return texts;
  };
  const std::vector<std::string> both{"On my way", "Your order shipped today."};
  // Both devices push (and retry) while the platform holds the answers back.
  std::thread tablet([&] { (void)sync("tablet"); });
  std::thread phone([&] { (void)sync("phone"); });
  for (int i = 0; i < 50 && sent() != both; ++i) std::this_thread::sleep_for(100ms);
  const bool both_sent = sent() == both;
  server_->signal(SIGKILL);  // killed mid-send: the answers are lost
  (void)server_->wait(10s);
  tablet.join();
  phone.join();
  ASSERT_TRUE(both_sent);
  server_.reset();
  fake_->control("clear");  // the platform answers again; the request log restarts

  start_server();
  // Each device's own send first, then both see both.
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto mail = get<d::Draft>(r, "d-5");
    return mail && mail->status() == d::DRAFT_SENT;
  })) << server_->output();
  for (const char* name : {"tablet", "phone"}) {
    ASSERT_TRUE(sync_until(name,
                           [](Replica& r) {
                             auto mail = get<d::Draft>(r, "d-5");
                             auto sms = get<d::Draft>(r, "d-6");
                             return mail && sms && mail->status() == d::DRAFT_SENT &&
                                    sms->status() == d::DRAFT_SENT;
                           }))
        << name << server_->output();
  }
  EXPECT_EQ(sent(), both) << "a send was repeated";
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails/c-5/messages"), 0);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/messages/c-6/communications"), 0);
  // The restarted server mirrors the org again meanwhile: sync until the phone has it all.
  for (int i = 0; i < 40 && !phone_equals_server(); ++i) {
    (void)sync("phone");
    std::this_thread::sleep_for(250ms);
  }
  stop_server();
  expect_devices_equal_server({"phone"});
}

// Decision 044: a callback scheduled on the phone reaches Genesys with its fields once, even
// when the server is killed while the platform holds its answer back; one the platform
// refuses keeps its text and the platform's reason. The server runs with its own request
// budget (--genesys-requests-per-minute), shown on /metrics.
TEST_F(GenesysEndToEnd, ACallbackScheduledOnAPhoneIsMadeOnceAcrossAKill) {
  extra_args_ = {"--genesys-requests-per-minute", "600"};
  start_server();
  const std::string admin = testing::port_after(server_->output(), "outpost-server admin on ");
  EXPECT_NE(
      testing::http_get(admin, "/metrics").find("outpost_genesys_budget_requests_per_minute 600"),
      std::string::npos);
  const int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     3'600'000;
  auto callback = [&](const std::string& id, const std::string& queue) {
    return R"({"draft":{"id":")" + id + R"(","kind":"DRAFT_CALLBACK_REQUEST","queue_id":")" +
           queue + R"(","callback_number":"+358 40 111 2223","callback_at_ms":")" +
           std::to_string(at) + R"(","subject":"Ann Example","body":"About the invoice"}})";
  };
  // The platform refuses a queue it does not have: the draft keeps its text and the reason.
  ASSERT_EQ(device("phone", {"mutate", "save_draft", callback("d-cb-0", "queue-9")}), 0);
  ASSERT_EQ(device("phone", {"mutate", "send_draft", R"({"id":"d-cb-0"})"}), 0);
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto cb = get<d::Draft>(r, "d-cb-0");
    return cb && cb->status() == d::DRAFT_REFUSED;
  })) << server_->output();
  {
    auto replica = Replica::open(dir_ + "/phone.db", Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok());
    auto refused = get<d::Draft>(**replica, "d-cb-0");
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->refusal().find("queue-9 does not exist"), std::string::npos)
        << refused->refusal();
    EXPECT_EQ(refused->body(), "About the invoice");
    EXPECT_EQ(refused->callback_number(), "+358 40 111 2223");
  }

  // The platform schedules at once and answers a minute later; the server is killed.
  fake_->control("faults", R"({"method":"POST","path":"/api/v2/conversations/callbacks",
                              "answer_after_ms":60000})");
  ASSERT_EQ(device("phone", {"mutate", "save_draft", callback("d-cb-1", "queue-1")}), 0);
  ASSERT_EQ(device("phone", {"mutate", "send_draft", R"({"id":"d-cb-1"})"}), 0);
  auto made = [&] { return fake_->state().at("callbacks").as_array(); };
  std::thread phone([&] { (void)sync("phone"); });
  for (int i = 0; i < 50 && made().empty(); ++i) std::this_thread::sleep_for(100ms);
  const bool scheduled = made().size() == 1;
  server_->signal(SIGKILL);
  (void)server_->wait(10s);
  phone.join();
  ASSERT_TRUE(scheduled);
  server_.reset();
  fake_->control("clear");  // the platform answers again; the request log restarts

  start_server();
  ASSERT_TRUE(sync_until("phone", [](Replica& r) {
    auto cb = get<d::Draft>(r, "d-cb-1");
    return cb && cb->status() == d::DRAFT_SENT;
  })) << server_->output();
  const boost::json::array callbacks = made();
  ASSERT_EQ(callbacks.size(), 1u) << "a callback was made twice";
  const boost::json::object& cb = callbacks[0].as_object();
  EXPECT_EQ(cb.at("queueId").as_string(), "queue-1");
  EXPECT_EQ(boost::json::serialize(cb.at("callbackNumbers")), R"(["+358401112223"])");
  EXPECT_EQ(cb.at("callbackUserName").as_string(), "Ann Example");
  time_t seconds = static_cast<time_t>(at / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char iso[64];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(at % 1000));
  EXPECT_EQ(cb.at("callbackScheduledTime").as_string(), iso);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/callbacks"), 0);
  stop_server();
}

}  // namespace
}  // namespace outpost
