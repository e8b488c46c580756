// End to end on PostgreSQL with the real binaries: several outpost-server processes on
// one database, devices (the outpost CLI) moving between them, a change through one
// process reaching a device streaming from another, the same push through two processes
// at once, and PostgreSQL killed under streaming devices.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "adapters/postgres_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "support/process.h"
#include "support/views.h"
#include "tests/apps/http_probe.h"
#include "tests/apps/server_token.h"
#include "tests/support/pg_test.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;
using support::Process;
using support::run_command;
namespace fs = std::filesystem;

const std::vector<std::string> kScopes = {"user/acme/agent-1", "org/acme"};

class PostgresEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path().string() + "/outpost-pge2e-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    servers_.clear();
    fs::remove_all(dir_);
  }

  // Starts one more outpost-server on the database; returns its index.
  // With `admin`, it has an admin listener too (its port in admins_[index]).
  size_t start_server(const std::string& store_url, const std::string& listen = "127.0.0.1:0",
                      bool admin = false) {
    const size_t index = servers_.size();
    std::vector<std::string> args = {OUTPOST_SERVER_BIN, "serve", "--data",  dir_ + "/server",
                                     "--listen",         listen,  "--store", store_url,
                                     "--pg-connections", "4"};
    if (admin) args.insert(args.end(), {"--admin-listen", "127.0.0.1:0"});
    auto server = std::make_unique<Process>(
        args, dir_ + "/server-" + std::to_string(index) + "-" + std::to_string(++starts_) + ".log");
    EXPECT_TRUE(server->wait_for_output("outpost-server listening on ", 20s)) << server->output();
    if (admin) {
      EXPECT_TRUE(server->wait_for_output("outpost-server admin on ", 20s)) << server->output();
    }
    const std::string out = server->output();
    const size_t at = out.find("outpost-server listening on ") + 28;
    const std::string address = out.substr(at, out.find_first_of(" \n", at) - at);
    urls_.push_back("http://127.0.0.1:" + address.substr(address.rfind(':') + 1));
    admins_.push_back(admin ? testing::port_after(out, "outpost-server admin on ") : "");
    servers_.push_back(std::move(server));
    return index;
  }

  // A transport counter on server `index`'s /metrics (outpost_transport_events_total), or -1.
  double transport_event(size_t index, const std::string& event) {
    const std::string metrics = testing::http_get(admins_.at(index), "/metrics");
    const std::string series = "outpost_transport_events_total{event=\"" + event + "\"} ";
    const size_t at = metrics.find(series);
    if (at == std::string::npos) return -1;
    return std::stod(metrics.substr(at + series.size()));
  }

  void stop_servers() {
    for (auto& server : servers_) server->signal(SIGTERM);
    for (auto& server : servers_) EXPECT_EQ(server->wait(30s), 0) << server->output();
    servers_.clear();
  }

  std::string token(const std::string& device) {
    return testing::mint_token(OUTPOST_SERVER_BIN, dir_ + "/server", device);
  }

  int mutate(const std::string& device, const std::string& name, const std::string& value) {
    std::string out;
    return run_command(
        {OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + device + ".db", "mutate", "set_user_setting",
         R"({"name": ")" + name + R"(", "value": ")" + value + R"("})"},
        &out);
  }

  std::vector<std::string> sync_args(const std::string& device, size_t server,
                                     const std::string& db_name = "") {
    return {OUTPOST_DEVICE_BIN,
            "--db",
            dir_ + "/" + (db_name.empty() ? device : db_name) + ".db",
            "--server",
            urls_[server],
            "--token",
            token(device),
            "sync"};
  }

  std::unique_ptr<Process> watch(const std::string& device, size_t server) {
    return std::make_unique<Process>(
        std::vector<std::string>{OUTPOST_DEVICE_BIN, "--db", dir_ + "/" + device + ".db",
                                 "--server", urls_[server], "--token", token(device), "watch"},
        dir_ + "/watch-" + device + ".log");
  }

  std::unique_ptr<PostgresServerStore> open_store(const std::string& url) {
    PostgresStoreOptions options;
    options.url = url;
    options.max_connections = 2;
    auto store = PostgresServerStore::open(options);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  support::RecordView device_view(const std::string& device) {
    auto replica = Replica::open(dir_ + "/" + device + ".db", Schema::domain(), &domain_mutators());
    EXPECT_TRUE(replica.ok()) << replica.status().to_string();
    if (!replica.ok()) return {};
    EXPECT_TRUE((*replica)->pending()->empty()) << device;
    return support::device_view(**replica);
  }

  // How many times each user setting was written in the change log (exactly-once check).
  std::map<std::string, int> setting_writes(ServerStore& store) {
    std::map<std::string, int> writes;
    uint64_t after = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      auto page = store.read_log("user/acme/agent-1", after, 1000, 1 << 20, -1);
      EXPECT_TRUE(page.ok()) << page.status().to_string();
      if (!page.ok()) break;
      for (const auto& entry : page->entries) {
        if (entry.collection == "user_setting") ++writes[entry.key];
      }
      if (!page->has_more) break;
      after = page->next_after_seq;
    }
    return writes;
  }

  std::string dir_;
  std::vector<std::unique_ptr<Process>> servers_;
  std::vector<std::string> urls_;
  std::vector<std::string> admins_;
  int starts_ = 0;
};

TEST_F(PostgresEndToEnd, ThreeServersOnOneDatabaseDevicesMoveBetweenThemAndConverge) {
  pg_test::TestDatabase db;
  std::string out;
  ASSERT_EQ(run_command({OUTPOST_SERVER_BIN, "seed", "--data", dir_ + "/server", "--store",
                         db.url(), "--tenant", "acme", "--user", "agent-1", "--contacts", "300"},
                        &out),
            0)
      << out;
  for (int i = 0; i < 3; ++i) start_server(db.url());
  ASSERT_EQ(servers_.size(), 3u);
  ASSERT_EQ(run_command(sync_args("phone", 1), &out), 0) << out;
  auto watcher = watch("phone", 1);  // streams from server 1
  ASSERT_TRUE(watcher->wait_for_output("connected to", 10s)) << watcher->output();

  // A change through server 0 reaches the device streaming from server 1 promptly.
  ASSERT_EQ(mutate("tablet", "through-a", "1"), 0);
  const auto pushed = std::chrono::steady_clock::now();
  ASSERT_EQ(run_command(sync_args("tablet", 0), &out), 0) << out;
  ASSERT_TRUE(watcher->wait_for_output("through-a", 5s)) << watcher->output();
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - pushed);
  std::cout << "server 0 push -> device on server 1: " << latency.count()
            << " ms (including the pushing CLI's own sync)\n";

  // Devices move between the processes, each round through another one.
  const std::vector<std::string> devices = {"tablet", "laptop", "kiosk"};
  for (int round = 0; round < 6; ++round) {
    for (size_t d = 0; d < devices.size(); ++d) {
      const std::string name = "r" + std::to_string(round) + "-" + devices[d];
      ASSERT_EQ(mutate(devices[d], name, std::to_string(round)), 0);
      ASSERT_EQ(run_command(sync_args(devices[d], (round + d) % 3), &out), 0) << out;
    }
  }
  ASSERT_TRUE(watcher->wait_for_output("r5-kiosk", 10s)) << watcher->output();
  for (size_t d = 0; d < devices.size(); ++d) {
    ASSERT_EQ(run_command(sync_args(devices[d], d % 3), &out), 0) << out;
  }
  watcher->signal(SIGTERM);
  EXPECT_EQ(watcher->wait(20s), 0) << watcher->output();
  stop_servers();

  auto store = open_store(db.url());
  ASSERT_TRUE(store);
  const support::RecordView server = support::server_view(*store, kScopes);
  EXPECT_GT(server.size(), 300u);
  for (const char* device : {"phone", "tablet", "laptop", "kiosk"}) {
    EXPECT_EQ(device_view(device), server) << device;
  }
  for (const auto& [key, count] : setting_writes(*store)) EXPECT_EQ(count, 1) << key;
}

// Decision 041: a commit made through server 0 reaches the device streaming from server 1
// as the changes themselves (server 1 heard the commit's base through the commit feed and
// encoded the carried frame for its own streams), not as a poke the device pulls after.
TEST_F(PostgresEndToEnd, ThreeServersOnOneDatabaseACommitThroughOneIsCarriedToDevicesOnAnother) {
  pg_test::TestDatabase db;
  start_server(db.url());
  start_server(db.url(), "127.0.0.1:0", /*admin=*/true);
  start_server(db.url());
  ASSERT_EQ(servers_.size(), 3u);
  std::string out;
  ASSERT_EQ(run_command(sync_args("phone", 1), &out), 0) << out;
  auto watcher = watch("phone", 1);  // streams from server 1
  ASSERT_TRUE(watcher->wait_for_output("connected to", 10s)) << watcher->output();
  // The watcher's first pull announced it takes carried changes and left it at the head:
  // server 1 now knows its cursor. Wait until that pull was answered.
  ASSERT_EQ(mutate("tablet", "warm-up", "0"), 0);
  ASSERT_EQ(run_command(sync_args("tablet", 2), &out), 0) << out;
  ASSERT_TRUE(watcher->wait_for_output("warm-up", 10s)) << watcher->output();
  const double sent_before = transport_event(1, "carried_sent");
  ASSERT_GE(sent_before, 0) << testing::http_get(admins_[1], "/metrics");

  constexpr int kCommits = 3;
  for (int i = 0; i < kCommits; ++i) {
    const std::string name = "through-0-" + std::to_string(i);
    ASSERT_EQ(mutate("tablet", name, std::to_string(i)), 0);
    ASSERT_EQ(run_command(sync_args("tablet", 0), &out), 0) << out;
    ASSERT_TRUE(watcher->wait_for_output("user_setting\t" + name + "\tput", 10s))
        << watcher->output();
  }
  // Server 1 sent the commits of server 0 as carried frames (each of the tablet's pushes is
  // one commit of the user scope; the tablet's pulls commit nothing).
  EXPECT_GE(transport_event(1, "carried_sent") - sent_before, kCommits);
  EXPECT_GE(transport_event(1, "carried_encodings"), kCommits);
  watcher->signal(SIGTERM);
  EXPECT_EQ(watcher->wait(20s), 0) << watcher->output();
  // The device applied them as carried frames, by its own count.
  const std::string said = watcher->output();
  const size_t at = said.find("commits carried with the poke applied");
  ASSERT_NE(at, std::string::npos) << said;
  const size_t number = said.rfind(", ", at) + 2;
  EXPECT_GE(std::stoi(said.substr(number, at - number)), kCommits) << said;
  stop_servers();

  auto store = open_store(db.url());
  ASSERT_TRUE(store);
  EXPECT_EQ(device_view("phone"), support::server_view(*store, kScopes));
}

TEST_F(PostgresEndToEnd, TheSamePushThroughTwoServersAtOnceIsAppliedOnce) {
  pg_test::TestDatabase db;
  start_server(db.url());
  start_server(db.url());
  std::string out;
  ASSERT_EQ(run_command(sync_args("phone", 0), &out), 0) << out;
  constexpr int kRounds = 3;
  constexpr int kMutations = 20;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kMutations; ++i) {
      ASSERT_EQ(mutate("phone", "s" + std::to_string(round) + "-" + std::to_string(i), "v"), 0);
    }
    // A byte-for-byte copy of the device (same client id, same outbox) pushes the same
    // mutations through the other server at the same moment.
    fs::remove(dir_ + "/twin.db");
    fs::copy_file(dir_ + "/phone.db", dir_ + "/twin.db");
    for (const char* suffix : {"-wal", "-shm"}) {
      fs::remove(dir_ + "/twin.db" + suffix);
      if (fs::exists(dir_ + "/phone.db" + suffix)) {
        fs::copy_file(dir_ + "/phone.db" + suffix, dir_ + "/twin.db" + suffix);
      }
    }
    Process a(sync_args("phone", 0), dir_ + "/sync-a.log");
    Process b(sync_args("phone", 1, "twin"), dir_ + "/sync-b.log");
    EXPECT_EQ(a.wait(60s), 0) << a.output();
    EXPECT_EQ(b.wait(60s), 0) << b.output();
  }
  stop_servers();
  auto store = open_store(db.url());
  ASSERT_TRUE(store);
  auto writes = setting_writes(*store);
  EXPECT_EQ(writes.size(), static_cast<size_t>(kRounds * kMutations));
  for (const auto& [key, count] : writes) EXPECT_EQ(count, 1) << key << " applied " << count;
  const support::RecordView server = support::server_view(*store, kScopes);
  EXPECT_EQ(device_view("phone"), server);
  EXPECT_EQ(device_view("twin"), server);
}

TEST_F(PostgresEndToEnd, PostgresKilledUnderStreamingDevicesIsRetryableAndServiceResumes) {
  pg_test::PrivateCluster cluster;
  pg_test::TestDatabase db(cluster.url());
  start_server(db.url());
  start_server(db.url());
  std::string out;
  ASSERT_EQ(run_command(sync_args("phone", 1), &out), 0) << out;
  auto watcher = watch("phone", 1);
  ASSERT_TRUE(watcher->wait_for_output("connected to", 10s)) << watcher->output();
  ASSERT_EQ(mutate("tablet", "before", "1"), 0);
  ASSERT_EQ(run_command(sync_args("tablet", 0), &out), 0) << out;
  ASSERT_TRUE(watcher->wait_for_output("before", 5s)) << watcher->output();

  cluster.kill();
  ASSERT_EQ(mutate("tablet", "during", "2"), 0);
  std::vector<std::string> bounded = sync_args("tablet", 0);
  bounded.insert(bounded.end(), {"--budget", "2"});
  const int failed = run_command(bounded, &out);
  EXPECT_NE(failed, 0) << out;
  EXPECT_NE(out.find("pending 1"), std::string::npos) << out;  // kept in the outbox
  for (auto& server : servers_) EXPECT_TRUE(server->running());
  // The servers said why: the store is unavailable (a retryable error).
  EXPECT_NE(servers_[0]->output().find("PostgreSQL connection lost"), std::string::npos)
      << servers_[0]->output();

  cluster.restart();
  ASSERT_EQ(run_command(sync_args("tablet", 0), &out), 0) << out;
  // The device streaming from the other process hears of it: its server's feed
  // reconnected and pokes on every commit again.
  ASSERT_TRUE(watcher->wait_for_output("during", 10s)) << watcher->output();
  ASSERT_EQ(mutate("tablet", "after", "3"), 0);
  ASSERT_EQ(run_command(sync_args("tablet", 0), &out), 0) << out;
  ASSERT_TRUE(watcher->wait_for_output("after", 5s)) << watcher->output();
  watcher->signal(SIGTERM);
  EXPECT_EQ(watcher->wait(20s), 0) << watcher->output();
  stop_servers();

  auto store = open_store(db.url());
  ASSERT_TRUE(store);
  auto writes = setting_writes(*store);
  EXPECT_EQ(writes.size(), 3u);
  for (const auto& [key, count] : writes) EXPECT_EQ(count, 1) << key;
  const support::RecordView server = support::server_view(*store, kScopes);
  EXPECT_EQ(device_view("phone"), server);
  EXPECT_EQ(device_view("tablet"), server);
}

}  // namespace
}  // namespace outpost
