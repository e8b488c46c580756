// SessionRegistry's index of streams by scope (transport/server_session.h, decision 059):
// under random connects and disconnects the index holds exactly the registered streams of
// each scope and lets a scope go with its last stream; a commit reaches only the streams of
// its scopes, each once even when it moved both of a stream's scopes, with the ids the
// stream was given; an id is never given twice. Sessions here record what they hear (the
// registry calls them directly before the listener runs), over a real ServerCore.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "tests/engine/test_support.h"
#include "transport/server_session.h"
#include "transport/token.h"

namespace outpost::server_impl {
namespace {

// A session that reads `scopes` and counts the commits it hears.
class RecordingSession final : public Session {
 public:
  RecordingSession(ServerContext& context, std::vector<std::string> scopes)
      : Session(context), scopes_(std::move(scopes)) {}

  void join() { ASSERT_TRUE(register_self(scopes_, ids_)); }
  void shutdown() override {}
  void force_close() override {}
  void on_commit(const std::shared_ptr<const CommitNotice>& commit) override {
    notices.push_back(commit);
  }

  const std::vector<std::string>& scopes() const { return scopes_; }
  const std::array<ScopeId, kMaxSessionScopes>& ids() const { return ids_; }
  std::vector<std::shared_ptr<const CommitNotice>> notices;

 private:
  std::vector<std::string> scopes_;
  std::array<ScopeId, kMaxSessionScopes> ids_{};
};

class SessionRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.path() + "/outpost.db");
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    context_ = std::make_unique<ServerContext>(*core_, tokens_, SyncServerOptions{});
  }

  std::shared_ptr<RecordingSession> open(std::vector<std::string> scopes) {
    auto session = std::make_shared<RecordingSession>(*context_, std::move(scopes));
    session->join();
    return session;
  }
  SessionRegistry& registry() { return *context_->registry; }

  testing::TempDir dir_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  TokenAuthority tokens_{std::string(32, 'k')};
  std::unique_ptr<ServerContext> context_;
};

CommittedHead head(const std::string& scope, uint64_t seq) {
  return CommittedHead{scope, seq};
}

TEST_F(SessionRegistryTest, TheIndexFollowsConnectsAndDisconnects) {
  const std::vector<std::string> users = {"user:t1/a", "user:t1/b", "user:t2/c", "user:t2/d"};
  std::mt19937 random(59);
  std::vector<std::shared_ptr<RecordingSession>> live;
  for (int step = 0; step < 2000; ++step) {
    if (live.empty() || random() % 5 < 3) {
      const std::string& user = users[random() % users.size()];
      live.push_back(open({user, user.substr(5, 2) == "t1" ? "org:t1" : "org:t2"}));
    } else {
      const size_t gone = random() % live.size();
      live[gone] = std::move(live.back());
      live.pop_back();  // the last reference: the session leaves the registry
    }
    if (step % 50 != 0) continue;
    std::map<std::string, size_t> model;
    for (const auto& session : live) {
      for (const std::string& scope : session->scopes()) ++model[scope];
    }
    const size_t read_scopes = model.size();
    for (const std::string scope :
         {"user:t1/a", "user:t1/b", "user:t2/c", "user:t2/d", "org:t1", "org:t2"}) {
      ASSERT_EQ(registry().readers_of(scope), model[scope]) << scope << " at step " << step;
    }
    ASSERT_EQ(registry().indexed_scopes(), read_scopes) << "step " << step;
    ASSERT_EQ(registry().size(), live.size());
  }
  // A commit of one user's scope reaches each of that user's streams once, and no other.
  registry().poke({head("user:t1/a", 7)});
  for (const auto& session : live) {
    const bool reader = session->scopes()[0] == "user:t1/a";
    ASSERT_EQ(session->notices.size(), reader ? 1u : 0u);
    if (reader) {
      EXPECT_EQ(session->notices[0]->scope_ids[0], session->ids()[0]);
    }
  }
  live.clear();
  EXPECT_EQ(registry().indexed_scopes(), 0u);
  EXPECT_EQ(registry().size(), 0u);
}

TEST_F(SessionRegistryTest, ACommitOfBothScopesReachesAStreamOnce) {
  auto a = open({"user:t1/a", "org:t1"});
  auto b = open({"user:t1/b", "org:t1"});
  auto other = open({"user:t2/c", "org:t2"});
  registry().poke({head("user:t1/a", 3), head("org:t1", 9)});
  ASSERT_EQ(a->notices.size(), 1u);
  ASSERT_EQ(b->notices.size(), 1u);
  EXPECT_TRUE(other->notices.empty());
  // The notice names each head's scope by the id its streams were given.
  const CommitNotice& notice = *a->notices[0];
  ASSERT_EQ(notice.scope_ids.size(), 2u);
  EXPECT_EQ(notice.scope_ids[0], a->ids()[0]);
  EXPECT_EQ(notice.scope_ids[1], a->ids()[1]);
  EXPECT_EQ(b->ids()[1], a->ids()[1]);  // one org scope, one id
  EXPECT_NE(b->ids()[0], a->ids()[0]);
  // A scope no stream reads: nobody hears it, and its head has no id.
  registry().poke({head("user:t9/z", 1)});
  EXPECT_EQ(a->notices.size(), 1u);
  EXPECT_EQ(other->notices.size(), 0u);
}

TEST_F(SessionRegistryTest, AScopeIdIsNeverGivenTwice) {
  std::set<ScopeId> seen;
  for (int round = 0; round < 5; ++round) {
    auto session = open({"user:t1/a", "org:t1"});
    for (ScopeId id : session->ids()) {
      EXPECT_NE(id, 0u);
      EXPECT_TRUE(seen.insert(id).second) << "id " << id << " given again";
    }
    // The same scope twice is one membership, with one id.
    auto twice = open({"user:t1/b", "user:t1/b"});
    EXPECT_EQ(twice->ids()[0], twice->ids()[1]);
    EXPECT_EQ(registry().readers_of("user:t1/b"), 1u);
    seen.insert(twice->ids()[0]);
  }
  EXPECT_EQ(registry().indexed_scopes(), 0u);
}

}  // namespace
}  // namespace outpost::server_impl
