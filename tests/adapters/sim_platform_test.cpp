// The simulated contact center: deterministic from its seed, every media type routed,
// interactions ended, voicemail left, the website's logouts, web edits of drafts loaded
// from the real store, and the platform's refusals.
#include "adapters/sim_platform.h"

#include <gtest/gtest.h>

#include <set>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "tests/engine/test_support.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

class SimPlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
  }

  std::vector<upstream::Event> run(SimPlatformOptions options, int steps) {
    SimPlatform platform(std::move(options), *store_);
    std::vector<upstream::Event> all;
    for (int i = 0; i <= steps; ++i) {
      auto events = platform.poll(1'795'000'000'000 + int64_t{i} * 1000);
      EXPECT_TRUE(events.ok());
      for (auto& event : *events) all.push_back(std::move(event));
    }
    return all;
  }

  static std::string serialized(const std::vector<upstream::Event>& events) {
    std::string out;
    for (const auto& event : events) out += event.SerializeAsString();
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
};

TEST_F(SimPlatformTest, TheSameSeedGivesTheSameEventsAndAnotherSeedOthers) {
  SimPlatformOptions options;
  options.agents = {{"acme", "agent-1"}, {"acme", "agent-2"}, {"globex", "agent-1"}};
  options.seed = 42;
  auto first = run(options, 500);
  auto again = run(options, 500);
  EXPECT_EQ(serialized(first), serialized(again));
  options.seed = 43;
  EXPECT_NE(serialized(first), serialized(run(options, 500)));
}

TEST_F(SimPlatformTest, ItRoutesEveryMediaTypeEndsInteractionsAndLeavesVoicemail) {
  SimPlatformOptions options;
  options.route_chance = 0.2;
  options.website_close_chance = 0.01;
  auto events = run(options, 1000);
  std::set<int> media;
  int ended = 0, voicemails = 0, logouts = 0;
  std::set<std::string> tenants;
  for (const auto& event : events) {
    tenants.insert(event.tenant());
    if (event.has_interaction()) {
      media.insert(event.interaction().media());
      if (event.interaction().state() == d::INTERACTION_DISCONNECTED) {
        ++ended;
        EXPECT_GE(event.interaction().ended_ms(), event.interaction().started_ms());
      }
    }
    if (event.has_voicemail_left()) ++voicemails;
    if (event.has_presence() && event.presence().cause() == upstream::CAUSE_WEBSITE_CLOSED) {
      ++logouts;
    }
  }
  EXPECT_EQ(media.size(), 6u);
  EXPECT_GT(ended, 50);
  EXPECT_GT(voicemails, 0);
  EXPECT_GT(logouts, 0);
  EXPECT_EQ(tenants, std::set<std::string>{"acme"});
}

TEST_F(SimPlatformTest, TheWebInterfaceEditsADraftItLoadedFromTheStoreOnce) {
  ServerCore core(*store_, Schema::domain(), domain_mutators());
  d::Draft draft;
  draft.set_id("draft-1");
  draft.set_status(d::DRAFT_EDITING);
  draft.set_body("Hello Ann");
  ASSERT_TRUE(core.write_as(Principal{"acme", "agent-1", "t"}, 0,
                            [&](MutationContext& ctx) { return ctx.put(draft); })
                  .ok());
  SimPlatformOptions options;
  options.route_chance = options.voicemail_chance = 0;
  options.web_edit_delay_ms = 3000;
  auto events = run(options, 20);
  int edits = 0;
  for (const auto& event : events) {
    if (!event.has_draft_edited()) continue;
    ++edits;
    EXPECT_EQ(event.draft_edited().base().body(), "Hello Ann");
    EXPECT_NE(event.draft_edited().edited().body().find("Hello Ann"), std::string::npos);
    EXPECT_NE(event.draft_edited().edited().body(), "Hello Ann");
  }
  EXPECT_EQ(edits, 1);
}

TEST_F(SimPlatformTest, ItRefusesWhatThePlatformRefuses) {
  SimPlatformOptions options;
  options.wrapup_refuse_chance = 0;
  SimPlatform platform(options, *store_);
  AgentRef agent{"acme", "agent-1"};
  auto training = platform.set_presence(agent, d::PRESENCE_NOT_READY, "aux-training", 0);
  ASSERT_TRUE(training.ok());
  EXPECT_FALSE(training->accepted);
  EXPECT_TRUE(platform.set_presence(agent, d::PRESENCE_NOT_READY, "aux-lunch", 0)->accepted);
  d::Draft email;
  email.set_kind(d::DRAFT_OUTBOUND_EMAIL);
  EXPECT_EQ(platform.send(agent, email, 0)->reason, "no recipient");
  email.add_to("ann@example.com");
  EXPECT_TRUE(platform.send(agent, email, 0)->accepted);
  d::Draft sms;
  sms.set_kind(d::DRAFT_SMS);
  sms.add_to("+32475000000");
  sms.set_body(std::string(1601, 'x'));
  EXPECT_FALSE(platform.send(agent, sms, 0)->accepted);
  d::Draft callback;
  callback.set_kind(d::DRAFT_CALLBACK_REQUEST);
  EXPECT_FALSE(platform.send(agent, callback, 0)->accepted);
  d::Interaction ended;
  ended.set_id("c-1");
  EXPECT_TRUE(platform.wrap_up(agent, ended, "wrapup-1", 0)->accepted);
  EXPECT_EQ(platform.counters().refusals, 4u);  // training, no recipient, SMS, callback
}

}  // namespace
}  // namespace outpost
