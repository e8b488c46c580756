// SyncAgentOptions::on_token_expired: the server refuses an expired token (mid-stream or at
// the upgrade), the agent asks the app, the app hands a new one (inside the callback or
// later), and sync resumes with nothing lost. The server's clock is the test's, so tokens
// expire when the test says, not after a sleep.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "tests/engine/test_support.h"
#include "transport/sync_agent.h"
#include "transport/sync_server.h"
#include "transport/token.h"

namespace outpost {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenant = "T";
constexpr const char* kUser = "U";
const std::string kKey(32, 'k');
constexpr int64_t kStart = 1'800'000'000'000;  // the server's clock starts here

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class SyncAgentCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    SyncServerOptions options;
    options.shutdown_grace_ms = 1000;
    options.now_ms = [this] { return clock_.load(); };
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    ASSERT_TRUE(server_->start().ok());
  }

  void TearDown() override {
    agent_.reset();
    server_->stop();
  }

  // A token valid for an hour of the server's clock from now.
  std::string token() {
    protocol::TokenClaims claims;
    claims.set_tenant(kTenant);
    claims.set_user(kUser);
    claims.set_device("device-1");
    claims.set_issued_ms(clock_.load());
    claims.set_expires_ms(clock_.load() + 3600'000);
    auto issued = tokens_.issue(claims);
    EXPECT_TRUE(issued.ok()) << issued.status().to_string();
    return issued.ok() ? *issued : "";
  }

  void open_agent(std::function<void(const Status&)> on_token_expired) {
    SyncAgentOptions options;
    options.server_url = "http://127.0.0.1:" + std::to_string(server_->port());
    options.token = token();
    options.replica_path = dir_.file("device.db");
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    options.random_seed = 7;
    options.on_token_expired = std::move(on_token_expired);
    auto agent = SyncAgent::open(std::move(options));
    ASSERT_TRUE(agent.ok()) << agent.status().to_string();
    agent_ = std::move(agent).value();
  }

  void save_draft(const std::string& id, const std::string& body) {
    Status posted = agent_->post([id, body](Replica& replica) {
      mutations::SaveDraft args;
      args.mutable_draft()->set_id(id);
      args.mutable_draft()->set_body(body);
      auto mutated = replica.mutate("save_draft", args, kStart);
      ASSERT_TRUE(mutated.ok()) << mutated.status().to_string();
    });
    ASSERT_TRUE(posted.ok()) << posted.to_string();
  }

  bool server_has_draft(const std::string& id) {
    auto record = store_->get(user_scope(kTenant, kUser), "draft", id);
    return record.ok() && record->has_value();
  }

  testing::TempDir dir_;
  std::atomic<int64_t> clock_{kStart};
  TokenAuthority tokens_{kKey};
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<SyncServer> server_;
  std::unique_ptr<SyncAgent> agent_;
};

// The token expires while the stream is open; the next push is refused mid-stream, the
// callback hands a new token at once, and the draft reaches the server.
TEST_F(SyncAgentCredentialsTest, TokenExpiredMidStreamIsRefreshedInsideTheCallback) {
  std::atomic<int> asked{0};
  open_agent([&](const Status& why) {
    EXPECT_EQ(why.code(), ErrorCode::kUnauthenticated) << why.to_string();
    asked++;
    EXPECT_TRUE(agent_->set_token(token()).ok());
  });
  ASSERT_TRUE(agent_->sync_for(10s).caught_up);
  clock_ += 2 * 3600'000;  // the first token is two hours past its expiry
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return agent_->state() == AgentState::kConnected; }));
  save_draft("draft-1", "typed after the token expired");
  EXPECT_TRUE(eventually([&] { return server_has_draft("draft-1"); }));
  EXPECT_EQ(asked.load(), 1);
  SyncSummary summary = agent_->sync_for(10s);
  EXPECT_TRUE(summary.caught_up) << summary.status.to_string();
  EXPECT_EQ(summary.progress.pending_mutations, 0u);
}

// The app's login answers later (another thread): the agent waits in kFailed, then
// reconnects by itself when the token comes, without wake().
TEST_F(SyncAgentCredentialsTest, TokenGivenLaterFromAnotherThreadResumesSync) {
  std::atomic<int> asked{0};
  open_agent([&](const Status&) { asked++; });
  Status offline = agent_->with_replica([](Replica& replica) {
    mutations::SaveDraft args;
    args.mutable_draft()->set_id("draft-offline");
    args.mutable_draft()->set_body("saved before the agent started");
    ASSERT_TRUE(replica.mutate("save_draft", args, kStart).ok());
  });
  ASSERT_TRUE(offline.ok());
  clock_ += 2 * 3600'000;  // refused at the upgrade
  ASSERT_TRUE(agent_->start().ok());
  ASSERT_TRUE(eventually([&] { return asked.load() == 1; }));
  EXPECT_EQ(agent_->state(), AgentState::kFailed);
  EXPECT_EQ(agent_->last_error().code(), ErrorCode::kUnauthenticated);
  std::this_thread::sleep_for(100ms);  // several backoff periods: it does not spin
  EXPECT_EQ(asked.load(), 1);
  EXPECT_FALSE(server_has_draft("draft-offline"));

  std::thread login([&] { EXPECT_TRUE(agent_->set_token(token()).ok()); });
  login.join();
  EXPECT_TRUE(eventually([&] { return server_has_draft("draft-offline"); }));
  EXPECT_EQ(asked.load(), 1);
}

// No new token: sync_for() is not cut short as by a fatal error; it waits for one within
// its budget and reports the refusal.
TEST_F(SyncAgentCredentialsTest, WithoutANewTokenSyncForWaitsOutItsBudget) {
  std::atomic<int> asked{0};
  open_agent([&](const Status&) { asked++; });
  clock_ += 2 * 3600'000;
  SyncSummary summary = agent_->sync_for(500ms);
  EXPECT_FALSE(summary.caught_up);
  EXPECT_TRUE(summary.budget_exhausted) << summary.status.to_string();
  EXPECT_NE(summary.status.message().find("unauthenticated"), std::string::npos)
      << summary.status.to_string();
  EXPECT_EQ(asked.load(), 1);
}

}  // namespace
}  // namespace outpost
