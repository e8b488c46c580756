// GenesysUpstream's per-user half against the fake Genesys Cloud: an agent's own login
// (checked to be that agent's, refreshed, used for that agent only), the sends (email reply,
// message) with the platform's refusals, the app's drafts saved on the platform, and a draft
// edited in the web interface coming back with its base for the three-way merge.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "adapters/genesys/genesys_upstream.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
using namespace std::chrono_literals;

class GenesysUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1,agent-2", 20);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
  }
  void TearDown() override {
    if (upstream_) upstream_->stop();
  }

  void start() {
    GenesysOptions o = testing::options_against(*fake_);
    o.users = {"agent-1", "agent-2"};
    o.intent_wait = 5s;
    upstream_ = std::make_unique<GenesysUpstream>(std::move(o));
    upstream_->start();
    ASSERT_TRUE(upstream_->wait_mirrored(30s));
  }

  // An intent's answer; kUnavailable (still running) is asked again, as a device retries.
  template <typename Call>
  Result<PlatformAnswer> answer(Call call) {
    for (int i = 0; i < 40; ++i) {
      auto got = call();
      if (got.ok() || got.status().code() != ErrorCode::kUnavailable) return got;
      std::this_thread::sleep_for(250ms);
    }
    return error(ErrorCode::kUnavailable, "no answer");
  }

  // The fake's request log: (method, path, user of the token or "").
  std::vector<std::tuple<std::string, std::string, std::string>> requests() {
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    auto all = fake_->control("requests");
    for (const auto& r : all.as_array()) {
      const auto& o = r.as_object();
      const auto& user = o.at("user");
      out.emplace_back(std::string(o.at("method").as_string()),
                       std::string(o.at("path").as_string()),
                       user.is_string() ? std::string(user.as_string()) : std::string());
    }
    return out;
  }

  template <typename Pred>
  bool eventually(Pred pred, std::chrono::milliseconds timeout = 15s) {
    for (auto until = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
      if (pred()) return true;
    }
    return false;
  }

  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<GenesysUpstream> upstream_;
};

TEST_F(GenesysUserTest, ALoginActsForItsUserOnlyAndIsRefreshed) {
  fake_->control("config", R"({"token_ttl_s": 3})");  // every token expires quickly
  start();
  const AgentRef a{"acme", "agent-1"}, b{"acme", "agent-2"};
  const std::string login_a = fake_->user_login("agent-1");
  ASSERT_FALSE(login_a.empty());
  // A's login handed over for B: the platform says whose it is, and it is refused.
  EXPECT_EQ(upstream_->set_user_login(b, login_a, 0).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(upstream_->set_user_login(a, "{not json", 0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(upstream_->set_user_login(AgentRef{"acme", "stranger"}, login_a, 0).code(),
            ErrorCode::kNotFound);
  ASSERT_TRUE(upstream_->set_user_login(a, login_a, 0).ok());

  // Past the token's lifetime: A's login is refreshed with its refresh token.
  std::this_thread::sleep_for(3500ms);
  for (const AgentRef& agent : {a, b}) {
    auto got = answer(
        [&] { return upstream_->set_presence(agent, d::PRESENCE_NOT_READY, "aux-lunch", 0); });
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_TRUE(got->accepted) << got->reason;
  }
  EXPECT_GE(upstream_->counters().rest.user_refreshes, 1u);
  EXPECT_GE(fake_->control("stats").as_object().at("refreshes").as_int64(), 1);

  bool a_as_a = false, b_as_client = false;
  for (const auto& [method, path, user] : requests()) {
    // The proof: nothing for agent-2 ever carries agent-1's token.
    if (path.find("agent-2") != std::string::npos) {
      EXPECT_NE(user, "agent-1") << method << " " << path;
    }
    if (method == "PATCH" && path == "/api/v2/users/agent-1/presences/purecloud") {
      a_as_a = user == "agent-1";
    }
    if (method == "PATCH" && path == "/api/v2/users/agent-2/presences/purecloud") {
      b_as_client = user.empty();
    }
  }
  EXPECT_TRUE(a_as_a);       // A's write went with A's own login
  EXPECT_TRUE(b_as_client);  // B has none: the client's token, never A's

  // After a gap the mirror reads A's voicemail for the logged-in user.
  fake_->control("socket", R"({"action":"drop"})");
  EXPECT_TRUE(eventually([&] {
    for (const auto& [method, path, user] : requests()) {
      if (path.rfind("/api/v2/voicemail/me/messages", 0) == 0 && user == "agent-1") return true;
    }
    return false;
  }));
}

TEST_F(GenesysUserTest, SendsAnEmailReplyAndAMessageAndKeepsTheRefusal) {
  start();
  const AgentRef a{"acme", "agent-1"};
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-mail"})");
  fake_->control("route", R"({"user":"agent-1","media":"message","id":"c-chat"})");
  d::Draft reply;
  reply.set_id("d-1");
  reply.set_kind(d::DRAFT_EMAIL_REPLY);
  reply.set_interaction_id("c-mail");
  reply.set_subject("Re: Question");
  reply.set_body("Thanks, Ann.");
  reply.add_to("ann@example.com");
  auto sent = answer([&] { return upstream_->send(a, reply, 0); });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;

  d::Draft sms;
  sms.set_id("d-2");
  sms.set_kind(d::DRAFT_SMS);
  sms.set_interaction_id("c-chat");
  sms.set_body("On my way");
  sent = answer([&] { return upstream_->send(a, sms, 0); });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;

  auto state = fake_->state().as_object();
  const auto& out = state.at("sent").as_array();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].as_object().at("textBody").as_string(), "Thanks, Ann.");
  EXPECT_EQ(out[1].as_object().at("textBody").as_string(), "On my way");

  // The platform refuses a message into an ended conversation: the record's refusal.
  fake_->control("disconnect", R"({"conversation":"c-chat"})");
  sms.set_revision(2);
  sms.set_body("Still there?");
  auto refused = answer([&] { return upstream_->send(a, sms, 0); });
  ASSERT_TRUE(refused.ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->accepted);
  EXPECT_NE(refused->reason.find("disconnected"), std::string::npos) << refused->reason;
  d::Draft callback;
  callback.set_id("d-3");
  callback.set_kind(d::DRAFT_CALLBACK_REQUEST);
  EXPECT_FALSE(upstream_->send(a, callback, 0)->accepted);  // not in the reference
}

TEST_F(GenesysUserTest, AWebEditComesBackWithTheBaseTheAppSaved) {
  start();
  const AgentRef a{"acme", "agent-1"};
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-web"})");
  d::Draft draft;
  draft.set_id("d-app");
  draft.set_kind(d::DRAFT_EMAIL_REPLY);
  draft.set_interaction_id("c-web");
  draft.set_subject("Re: Question");
  draft.set_body("Hello Ann,\nyour order shipped.");
  upstream_->draft_saved(a, draft, 0);
  // The worker saves it on the platform, outside any transaction.
  ASSERT_TRUE(eventually([&] {
    const auto drafts = fake_->state().as_object().at("drafts").as_object();
    const auto* d = drafts.if_contains("c-web");
    return d && d->as_object().at("textBody").as_string() == draft.body();
  }));
  // The agent adds a line in the Genesys web interface.
  fake_->control("web/draft", R"({"conversation":"c-web",)"
                              R"("textBody":"Hello Ann,\nyour order shipped.\nBest, Bo"})");
  upstream::DraftEdited edit;
  ASSERT_TRUE(eventually([&] {
    auto events = upstream_->poll(0);
    if (!events.ok()) return false;
    for (auto& e : *events) {
      if (e.has_draft_edited()) edit = e.draft_edited();
    }
    return edit.has_edited();
  }));
  EXPECT_EQ(edit.edited().id(), "d-app");  // the app's draft, merged three-way
  EXPECT_EQ(edit.edited().interaction_id(), "c-web");
  EXPECT_EQ(edit.edited().body(), "Hello Ann,\nyour order shipped.\nBest, Bo");
  ASSERT_TRUE(edit.has_base());
  EXPECT_EQ(edit.base().body(), draft.body());
  EXPECT_EQ(upstream_->counters().web_draft_edits, 1u);
  // Our own save is not mistaken for a web edit: saved again, then a gap makes the
  // reconcile read the live conversation's draft.
  draft.set_body("Hello Ann,\nyour order shipped.\nBest, Bo\nPS: tracking attached.");
  upstream_->draft_saved(a, draft, 0);
  ASSERT_TRUE(eventually([&] {
    const auto drafts = fake_->state().as_object().at("drafts").as_object();
    return drafts.at("c-web").as_object().at("textBody").as_string() == draft.body();
  }));
  const auto before = upstream_->counters();
  fake_->control("socket", R"({"action":"drop"})");
  ASSERT_TRUE(eventually([&] {
    return upstream_->counters().drafts_read > before.drafts_read &&
           upstream_->counters().agent_reconciles > before.agent_reconciles;
  })) << "drafts_read "
      << upstream_->counters().drafts_read << " (" << before.drafts_read << ") reconciles "
      << upstream_->counters().agent_reconciles << " (" << before.agent_reconciles << ") gaps "
      << upstream_->counters().gaps << "\n"
      << boost::json::serialize(fake_->control("requests"));
  EXPECT_EQ(upstream_->counters().web_draft_edits, 1u);
}

}  // namespace
}  // namespace outpost::genesys
