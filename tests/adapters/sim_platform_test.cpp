// The simulated contact center: deterministic from its seed, every media type routed,
// interactions ended, voicemail left, the website's logouts, web edits of drafts loaded
// from the real store, and the platform's refusals.
#include "adapters/sim_platform.h"

#include <gtest/gtest.h>

#include <algorithm>
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

// What outpost-sim drives: one action at a time for one agent, deterministic per seed.
class SimPlatformActTest : public SimPlatformTest {
 protected:
  void SetUp() override {
    SimPlatformTest::SetUp();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    for (const char* id : {"draft-1", "draft-2"}) {
      d::Draft draft;
      draft.set_id(id);
      draft.set_status(d::DRAFT_EDITING);
      draft.set_body("Dear Ann your parcel leaves today");
      put(draft);
    }
    d::Interaction interaction;
    interaction.set_id("conversation-1");
    put(interaction);
  }
  template <typename T>
  void put(const T& record) {
    ASSERT_TRUE(core_
                    ->write_as(Principal{"acme", "agent-1", "t"}, 0,
                               [&](MutationContext& ctx) { return ctx.put(record); })
                    .ok());
  }
  std::vector<upstream::Event> act(SimPlatform& platform, int times) {
    std::vector<upstream::Event> all;
    for (int i = 0; i < times; ++i) {
      auto events = platform.act({"acme", "agent-1"}, 1'795'000'000'000 + int64_t{i} * 100);
      EXPECT_TRUE(events.ok()) << events.status().to_string();
      if (!events.ok()) break;
      for (auto& event : *events) all.push_back(std::move(event));
    }
    return all;
  }
  static SimPlatformOptions unique_words() {
    SimPlatformOptions options;
    options.seed = 9;
    options.web_types_unique_words = true;
    return options;
  }
  std::unique_ptr<ServerCore> core_;
};

TEST_F(SimPlatformActTest, TheSameSeedActsTheSameAndAnotherSeedOtherwise) {
  SimPlatformOptions options = unique_words();
  SimPlatform first(options, *store_), again(options, *store_);
  const std::string events = serialized(act(first, 300));
  EXPECT_EQ(events, serialized(act(again, 300)));
  options.seed = 10;
  SimPlatform other(options, *store_);
  EXPECT_NE(events, serialized(act(other, 300)));
}

TEST_F(SimPlatformActTest, EveryKindOfActionHappens) {
  SimPlatform platform(unique_words(), *store_);
  std::set<int> kinds;
  for (const auto& event : act(platform, 400)) kinds.insert(event.kind_case());
  EXPECT_EQ(kinds, (std::set<int>{upstream::Event::kInteraction, upstream::Event::kVoicemailLeft,
                                  upstream::Event::kDraftEdited, upstream::Event::kNoteEdited,
                                  upstream::Event::kPresence}));
  const SimPlatform::Counters counters = platform.counters();
  EXPECT_GT(counters.routed, 0u);
  EXPECT_GT(counters.ended, 0u);
}

TEST_F(SimPlatformActTest, TheWebSavesWhatItLoadedWithOneUniqueWordTyped) {
  SimPlatform platform(unique_words(), *store_);
  std::set<std::string> typed;
  int edits = 0;
  for (const auto& event : act(platform, 400)) {
    if (!event.has_draft_edited()) continue;
    ++edits;
    const auto& edit = event.draft_edited();
    EXPECT_EQ(edit.base().body(), "Dear Ann your parcel leaves today");  // as loaded
    std::string body = edit.edited().body();
    const size_t at = body.find("web");
    ASSERT_NE(at, std::string::npos) << body;
    const std::string word = body.substr(at, body.find(' ', at) - at);
    EXPECT_TRUE(typed.insert(word).second) << word << " typed twice";
    body.erase(at, word.size());
    body.erase(
        std::unique(body.begin(), body.end(), [](char a, char b) { return a == ' ' && b == ' '; }),
        body.end());
    if (!body.empty() && body.front() == ' ') body.erase(body.begin());
    if (!body.empty() && body.back() == ' ') body.pop_back();
    EXPECT_EQ(body, "Dear Ann your parcel leaves today");
  }
  EXPECT_GT(edits, 0);
}

TEST_F(SimPlatformActTest, AnUnavailablePlatformSaysSoUntilCalmed) {
  SimPlatformOptions options;
  options.unavailable_chance = 1;
  options.send_refuse_chance = 1;
  SimPlatform platform(options, *store_);
  AgentRef agent{"acme", "agent-1"};
  d::Draft email;
  email.set_kind(d::DRAFT_EMAIL_REPLY);
  email.add_to("ann@example.com");
  auto unanswered = platform.send(agent, email, 0);
  EXPECT_EQ(unanswered.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(platform.set_queue_joined(agent, "queue-1", true, 0).status().code(),
            ErrorCode::kUnavailable);
  platform.calm();
  auto answered = platform.send(agent, email, 0);
  ASSERT_TRUE(answered.ok()) << answered.status().to_string();
  EXPECT_EQ(answered->reason, "mailbox unavailable");
  EXPECT_EQ(platform.counters().unavailable, 2u);
}

TEST_F(SimPlatformActTest, ItRefusesToLogOffDuringAConnectedInteraction) {
  SimPlatformOptions options = unique_words();
  SimPlatform platform(options, *store_);
  AgentRef agent{"acme", "agent-1"};
  // Act until an interaction is connected, then ask to log off.
  bool connected = false;
  for (int i = 0; i < 200 && !connected; ++i) {
    for (const auto& event : act(platform, 1)) {
      if (event.has_interaction() && event.interaction().state() == d::INTERACTION_CONNECTED) {
        connected = true;
      }
    }
  }
  ASSERT_TRUE(connected);
  auto offline = platform.set_presence(agent, d::PRESENCE_OFFLINE, "", 0);
  ASSERT_TRUE(offline.ok());
  EXPECT_FALSE(offline->accepted);
}

TEST_F(SimPlatformActTest, AfterRebindItReadsTheNewStore) {
  SimPlatform platform(unique_words(), *store_);
  auto other = SqliteServerStore::open(dir_.file("other.db"));
  ASSERT_TRUE(other.ok());
  platform.rebind(**other);  // an empty store: no drafts, no interactions to edit
  for (const auto& event : act(platform, 200)) {
    EXPECT_FALSE(event.has_draft_edited());
    EXPECT_FALSE(event.has_note_edited());
  }
}

}  // namespace
}  // namespace outpost
