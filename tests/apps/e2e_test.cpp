// End to end with the real binaries: outpost-server in its own process (each test on the
// embedded SQLite store and on a real PostgreSQL), devices driven through the outpost CLI,
// killed with SIGKILL at random moments; the server stopped and restarted under a
// streaming device.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "adapters/postgres_server_store.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "support/process.h"
#include "support/views.h"
#include "tests/apps/server_token.h"
#include "tests/support/pg_test.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;

// Parameter: the server's store, "sqlite" (DIR/outpost.db) or "postgres" (--store URL).
class EndToEnd : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") database_ = std::make_unique<pg_test::TestDatabase>();
    dir_ = std::filesystem::temp_directory_path().string() + "/outpost-e2e-" +
           std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
    database_.reset();
  }

  // --store URL for the PostgreSQL runs, nothing for SQLite.
  std::vector<std::string> store_args() const {
    if (!database_) return {};
    return {"--store", database_->url()};
  }

  // The server's store, opened by the test after the server stopped.
  std::unique_ptr<ServerStore> open_store() {
    if (!database_) {
      auto store = SqliteServerStore::open(dir_ + "/server/outpost.db");
      EXPECT_TRUE(store.ok()) << store.status().to_string();
      return store.ok() ? std::move(store).value() : nullptr;
    }
    PostgresStoreOptions options;
    options.url = database_->url();
    auto store = PostgresServerStore::open(options);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  int seed(const std::string& contacts, std::string* out) {
    std::vector<std::string> argv{OUTPOST_SERVER_BIN, "seed",  "--data", dir_ + "/server",
                                  "--tenant",         "acme",  "--user", "agent-1",
                                  "--contacts",       contacts};
    for (const auto& arg : store_args()) argv.push_back(arg);
    return run_command(argv, out);
  }

  void start_server(const std::string& listen = "127.0.0.1:0",
                    const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{OUTPOST_SERVER_BIN, "serve",    "--data",
                                  dir_ + "/server",   "--listen", listen};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const auto& arg : store_args()) argv.push_back(arg);
    server_ = std::make_unique<Process>(
        argv, dir_ + "/server-" + std::to_string(++server_starts_) + ".log");
    ASSERT_TRUE(server_->wait_for_output("outpost-server listening on ", 20s)) << server_->output();
    std::string out = server_->output();
    auto at = out.find("outpost-server listening on ") + 15;
    std::string address = out.substr(at + 13, out.find_first_of(" \n", at + 13) - at - 13);
    port_ = address.substr(address.rfind(':') + 1);
    url_ = "http://127.0.0.1:" + port_;
  }

  void stop_server() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(30s), 0) << server_->output();
    server_.reset();
  }

  std::string token(const std::string& device) {
    return testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", device);
  }

  int device(const std::string& name, const std::vector<std::string>& command,
             std::string* out = nullptr) {
    std::vector<std::string> argv{OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + name + ".db"};
    argv.insert(argv.end(), command.begin(), command.end());
    return run_command(argv, out);
  }

  std::vector<std::string> sync_args(const std::string& name) {
    return {OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + name + ".db", "--server", url_, "--token",
            token(name),        "sync"};
  }

  support::RecordView server_view(ServerStore& store) {
    return support::server_view(store, {"user/acme/agent-1", "org/acme"});
  }
  support::RecordView device_view(Replica& replica) { return support::device_view(replica); }

  std::string dir_;
  std::unique_ptr<pg_test::TestDatabase> database_;
  std::unique_ptr<Process> server_;
  int server_starts_ = 0;
  std::string port_;
  std::string url_;
};

TEST_P(EndToEnd, ADeviceKilledMidPushAndMidPullLosesNothingAndAppliesOnce) {
  std::string out;
  ASSERT_EQ(seed("20000", &out), 0) << out;
  start_server();
  constexpr int kMutations = 30;
  for (int i = 0; i < kMutations; ++i) {
    ASSERT_EQ(device("phone",
                     {"mutate", "set_user_setting",
                      R"({"name": "setting-)" + std::to_string(i) + R"(", "value": "v"})"},
                     &out),
              0)
        << out;
  }
  std::mt19937 rng(4242);
  std::vector<std::string> argv = sync_args("phone");
  int killed = 0;
  for (int round = 0; round < 12; ++round) {
    Process sync(argv, dir_ + "/sync-" + std::to_string(round) + ".log");
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 400));
    sync.signal(SIGKILL);
    if (sync.wait(30s) == 128 + SIGKILL) ++killed;
  }
  EXPECT_GT(killed, 0);
  ASSERT_EQ(run_command(argv, &out), 0) << out;
  stop_server();

  auto store = open_store();
  ASSERT_TRUE(store);
  // Exactly once: each mutation wrote its setting once in the change log.
  std::map<std::string, int> writes;
  uint64_t after = 0;
  for (;;) {
    auto page = store->read_log("user/acme/agent-1", after, 1000, 1 << 20, -1);
    ASSERT_TRUE(page.ok());
    for (const auto& entry : page->entries) {
      if (entry.collection == "user_setting") ++writes[entry.key];
    }
    if (!page->has_more) break;
    after = page->next_after_seq;
  }
  ASSERT_EQ(writes.size(), static_cast<size_t>(kMutations));
  for (const auto& [key, count] : writes)
    EXPECT_EQ(count, 1) << key << " applied " << count << " times";

  auto replica = Replica::open(dir_ + "/phone.db", Schema::domain(), &domain_mutators());
  ASSERT_TRUE(replica.ok());
  EXPECT_TRUE((*replica)->pending()->empty());
  EXPECT_TRUE((*replica)->check_integrity().ok());
  EXPECT_EQ(device_view(**replica), server_view(*store));
}

TEST_P(EndToEnd, DevicesReconnectAfterAServerRestartMidStreamAndConverge) {
  start_server();
  const std::string listen = "127.0.0.1:" + port_;
  std::string out;
  ASSERT_EQ(run_command(sync_args("phone"), &out), 0) << out;
  Process watch({OUTPOST_DEVICE_BIN, "--db", dir_ + "/phone.db", "--server", url_, "--token",
                 token("phone"), "watch"},
                dir_ + "/watch.log");
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(device("tablet", {"mutate", "set_user_setting", R"({"name": "before", "value": "1"})"}),
            0);
  ASSERT_EQ(run_command(sync_args("tablet"), &out), 0) << out;
  EXPECT_TRUE(watch.wait_for_output("before", 15s)) << watch.output();

  stop_server();
  ASSERT_EQ(device("tablet", {"mutate", "set_user_setting", R"({"name": "after", "value": "2"})"}),
            0);
  start_server(listen);
  ASSERT_EQ(run_command(sync_args("tablet"), &out), 0) << out;
  EXPECT_TRUE(watch.wait_for_output("after", 30s)) << watch.output();
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(20s), 0) << watch.output();
  stop_server();

  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* name : {"phone", "tablet"}) {
    auto replica = Replica::open(dir_ + "/" + name + ".db", Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok());
    EXPECT_EQ(device_view(**replica), server_view(*store)) << name;
  }
}

TEST_P(EndToEnd, ADeviceOfflinePastTheCompactionHorizonResetsAndKeepsItsOutbox) {
  std::string out;
  ASSERT_EQ(seed("300", &out), 0) << out;
  start_server("127.0.0.1:0", {"--compact-every", "1", "--keep-log", "5"});
  ASSERT_EQ(run_command(sync_args("phone"), &out), 0) << out;
  // The phone goes offline with a pending change; the tablet changes 20 settings and
  // deletes a voicemail meanwhile, and the server compacts past the phone's cursor.
  ASSERT_EQ(device("phone", {"mutate", "mark_voicemail_read", R"({"id": "voicemail-5"})"}), 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(device("tablet", {"mutate", "set_user_setting",
                                R"({"name": "s)" + std::to_string(i) + R"(", "value": "x"})"}),
              0);
  }
  ASSERT_EQ(device("tablet", {"mutate", "delete_voicemail", R"({"id": "voicemail-1"})"}), 0);
  ASSERT_EQ(run_command(sync_args("tablet"), &out), 0) << out;
  std::this_thread::sleep_for(2500ms);  // two compaction passes
  ASSERT_EQ(run_command(sync_args("phone"), &out), 0) << out;
  ASSERT_EQ(run_command(sync_args("tablet"), &out), 0) << out;
  stop_server();

  auto store = open_store();
  ASSERT_TRUE(store);
  auto info = store->scope_info("user/acme/agent-1");
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->horizon_seq, 10u);  // compaction really ran
  for (const char* name : {"phone", "tablet"}) {
    auto replica = Replica::open(dir_ + "/" + name + ".db", Schema::domain(), &domain_mutators());
    ASSERT_TRUE(replica.ok());
    EXPECT_TRUE((*replica)->pending()->empty()) << name;
    EXPECT_EQ(device_view(**replica), server_view(*store)) << name;
  }
  // The phone's offline edit survived the reset and reached the server.
  auto voicemail = store->get("user/acme/agent-1", "voicemail", "voicemail-5");
  ASSERT_TRUE(voicemail.ok() && voicemail->has_value());
  domain::Voicemail read;
  ASSERT_TRUE(read.ParseFromString((*voicemail)->body));
  EXPECT_TRUE(read.read());
  EXPECT_FALSE(store->get("user/acme/agent-1", "voicemail", "voicemail-1")->has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, EndToEnd, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace outpost
