// GenesysUpstream against the fake Genesys Cloud (fake_genesys.py on loopback): the initial
// mirror, live notifications, the writes and their refusals, and every fault mode: 429 with
// Retry-After, 5xx, revoked tokens, slow answers (decision 023), dropped sockets, missed
// notifications, socket_closing, partial pages, malformed JSON and unknown enums.
#include "adapters/genesys/genesys_upstream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
using namespace std::chrono_literals;

class GenesysUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1,agent-2", 250);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
  }
  void TearDown() override {
    if (upstream_) upstream_->stop();
  }

  GenesysOptions options() {
    GenesysOptions o = testing::options_against(*fake_);
    o.rest.timeout_ms = 5000;
    o.users = {"agent-1"};
    o.log = [this](const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_ += line + "\n";
    };
    return o;
  }

  void start(GenesysOptions o) {
    upstream_ = std::make_unique<GenesysUpstream>(std::move(o));
    upstream_->start();
    ASSERT_TRUE(upstream_->wait_mirrored(30s)) << logs();
  }

  std::string logs() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  // Polls until an event matches, collecting every event seen into seen_.
  template <typename Pred>
  bool wait_event(Pred pred, std::chrono::milliseconds timeout = 10s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto events = upstream_->poll(0);
      bool found = false;
      for (auto& e : *events) {
        found = found || pred(e);
        seen_.push_back(std::move(e));
      }
      if (found) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  size_t count_seen(upstream::Event::KindCase kind) {
    (void)wait_event([](const upstream::Event&) { return false; }, 300ms);
    size_t n = 0;
    for (const auto& e : seen_) n += e.kind_case() == kind ? 1 : 0;
    return n;
  }

  static bool interaction(const upstream::Event& e, const std::string& id,
                          d::InteractionState state) {
    return e.has_interaction() && e.interaction().id() == id && e.interaction().state() == state;
  }

  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<GenesysUpstream> upstream_;
  std::vector<upstream::Event> seen_;
  std::mutex log_mutex_;
  std::string log_;
};

TEST_F(GenesysUpstreamTest, MirrorsTheOrgAndTheAgent) {
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-old"})");
  fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-old","subject":"Hi"})");
  start(options());
  EXPECT_EQ(count_seen(upstream::Event::kContact), 250u);  // by scan cursor, past 200
  EXPECT_EQ(count_seen(upstream::Event::kWrapupCode), 4u);
  EXPECT_EQ(count_seen(upstream::Event::kCannedResponse), 7u);
  EXPECT_EQ(count_seen(upstream::Event::kQueue), 3u);  // joined and not joined
  EXPECT_GE(count_seen(upstream::Event::kAuxReason), 10u);
  EXPECT_EQ(count_seen(upstream::Event::kVoicemailLeft), 1u);
  bool presence = false, journal = false;
  for (const auto& e : seen_) {
    presence = presence || (e.has_presence() && e.presence().presence() == d::PRESENCE_OFFLINE &&
                            e.presence().routing_status() == "OFF_QUEUE");
    journal = journal || (e.has_interaction() && e.interaction().id() == "c-old" &&
                          e.interaction().media() == d::MEDIA_EMAIL && e.user() == "agent-1");
    EXPECT_EQ(e.tenant(), "acme");
  }
  EXPECT_TRUE(presence);
  EXPECT_TRUE(journal);
  EXPECT_EQ(upstream_->counters().decode_errors, 0u);
}

// Decision 056: the org's listings and the agents' queues run on the core, and the first
// mirror waits for them: every one is queued for poll() when wait_mirrored returns.
TEST_F(GenesysUpstreamTest, WaitMirroredWaitsForTheOrgsListingsAndTheQueues) {
  start(options());
  auto events = upstream_->poll(0);
  ASSERT_TRUE(events.ok());
  size_t contacts = 0, responses = 0, queues = 0;
  for (const auto& e : *events) {
    contacts += e.has_contact();
    responses += e.has_canned_response();
    queues += e.has_queue() && e.user() == "agent-1";
  }
  EXPECT_EQ(contacts, 250u);
  EXPECT_EQ(responses, 7u);
  EXPECT_EQ(queues, 3u);
}

// Decision 063: the org's records the store held before the start are told to the core, and
// the first complete listing deletes those the platform no longer has.
TEST_F(GenesysUpstreamTest, StoredOrgRecordsThePlatformNoLongerHasAreDeleted) {
  GenesysOptions o = options();
  o.stored_org_ids = [](const std::string& collection) {
    return collection == "contact" ? std::vector<std::string>{"ec-00001", "contact-from-before"}
                                   : std::vector<std::string>{"resp-old"};
  };
  start(std::move(o));
  auto events = upstream_->poll(0);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> deleted;
  for (const auto& e : *events) {
    if (!e.contact_deleted().empty()) deleted.push_back("contact " + e.contact_deleted());
    if (!e.canned_response_deleted().empty()) {
      deleted.push_back("canned_response " + e.canned_response_deleted());
    }
  }
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted,
            (std::vector<std::string>{"canned_response resp-old", "contact contact-from-before"}));
  EXPECT_EQ(upstream_->counters().org_deletions, 2u);  // what /metrics shows the operator
}

// Issue 16 (decision 063): the agents' voicemails the store held before the start are told
// to the core; the first complete listing deletes the one the platform no longer has (read
// alone: the fake answers 404) and keeps the one it still has.
TEST_F(GenesysUpstreamTest, StoredVoicemailsThePlatformNoLongerHasAreDeleted) {
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-kept"})");
  GenesysOptions o = options();
  o.stored_voicemail_ids = [](const std::string& user) {
    return user == "agent-1" ? std::vector<std::string>{"vm-kept", "vm-from-before"}
                             : std::vector<std::string>{};
  };
  start(std::move(o));
  auto events = upstream_->poll(0);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> deleted;
  for (const auto& e : *events)
    if (!e.voicemail_deleted().empty()) deleted.push_back(e.user() + " " + e.voicemail_deleted());
  EXPECT_EQ(deleted, std::vector<std::string>{"agent-1 vm-from-before"});
  EXPECT_EQ(upstream_->counters().voicemails_unlisted, 1u);  // what /metrics shows
}

TEST_F(GenesysUpstreamTest, LiveNotificationsBecomeEvents) {
  auto o = options();
  start(o);
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-live"})");
  EXPECT_TRUE(wait_event([](auto& e) {
    return interaction(e, "c-live", d::INTERACTION_CONNECTED);
  })) << logs();
  fake_->control("disconnect", R"({"conversation":"c-live"})");
  EXPECT_TRUE(
      wait_event([](auto& e) { return interaction(e, "c-live", d::INTERACTION_DISCONNECTED); }));
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-new"})");
  EXPECT_TRUE(wait_event(
      [](auto& e) { return e.has_voicemail_left() && e.voicemail_left().id() == "vm-new"; }));
  fake_->control("route", R"({"user":"agent-2","media":"voice","id":"c-other"})");
  EXPECT_FALSE(
      wait_event([](auto& e) { return e.has_interaction() && e.interaction().id() == "c-other"; },
                 1s));  // not a mirrored agent
}

TEST_F(GenesysUpstreamTest, PresenceWritesAndRefusals) {
  start(options());
  AgentRef agent{"acme", "agent-1"};
  auto ready = upstream_->set_presence(agent, d::PRESENCE_READY, "", 0);
  ASSERT_TRUE(ready.ok()) << ready.status().to_string();
  EXPECT_TRUE(ready->accepted);
  EXPECT_TRUE(wait_event(
      [](auto& e) { return e.has_presence() && e.presence().presence() == d::PRESENCE_READY; }));
  auto state = fake_->state();
  EXPECT_EQ(state.at("users").at("agent-1").at("presence").at("presenceDefinition").at("id"),
            "pd-onqueue");
  auto old = upstream_->set_presence(agent, d::PRESENCE_NOT_READY, "aux-old", 0);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->accepted);
  EXPECT_NE(old->reason.find("not valid"), std::string::npos) << old->reason;
  auto stranger = upstream_->set_presence({"acme", "agent-9"}, d::PRESENCE_READY, "", 0);
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(stranger->accepted);
}

TEST_F(GenesysUpstreamTest, WrapUpRefusedWhileActiveAcceptedAfter) {
  start(options());
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-w"})");
  d::Interaction it;
  it.set_id("c-w");
  AgentRef agent{"acme", "agent-1"};
  auto early = upstream_->wrap_up(agent, it, "wrapup-1", 0);
  ASSERT_TRUE(early.ok()) << early.status().to_string();
  EXPECT_FALSE(early->accepted);
  EXPECT_EQ(early->reason, "The communication is still active");
  fake_->control("disconnect", R"({"conversation":"c-w"})");
  auto done = upstream_->wrap_up(agent, it, "wrapup-1", 0);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_TRUE(done->accepted);
  EXPECT_EQ(fake_->state().at("wrapups").as_array().size(), 1u);
  EXPECT_TRUE(wait_event([](auto& e) { return interaction(e, "c-w", d::INTERACTION_QUALIFIED); }));
}

// Found by outpost-sim --platform-kind genesys (decision 038): the answer to our own
// wrap-up lost on the way (a timeout), the retried POST is refused as a second wrap-up.
TEST_F(GenesysUpstreamTest, AWrapUpWhoseAnswerWasLostIsAcceptedWhenThePlatformHoldsOurCode) {
  auto o = options();
  o.rest.timeout_ms = 800;
  o.rest.backoff_ms = {1500};  // the retry comes after the platform took the first POST
  o.intent_wait = 10s;
  start(o);
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-lost"})");
  fake_->control("disconnect", R"({"conversation":"c-lost"})");
  fake_->control("faults", R"({"method":"POST","path":"/api/v2/conversations/calls/c-lost",
                               "delay_ms":1500})");
  d::Interaction it;
  it.set_id("c-lost");
  auto answer = upstream_->wrap_up({"acme", "agent-1"}, it, "wrapup-1", 0);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string() << logs();
  EXPECT_TRUE(answer->accepted) << answer->reason;
  EXPECT_EQ(fake_->state().at("wrapups").as_array().size(), 1u);
  // Another code than the platform's is still refused.
  auto other = upstream_->wrap_up({"acme", "agent-1"}, it, "wrapup-2", 0);
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  EXPECT_FALSE(other->accepted);
  EXPECT_EQ(other->reason, "Wrap-up was already submitted");
}

// Found by outpost-sim --platform-kind genesys (decision 038): a presence write answered
// late, its answer taken after a supervisor changed the presence again; the server writes
// the late answer, so the adapter reads the presence back (sent even though unchanged).
TEST_F(GenesysUpstreamTest, APresenceWriteIsReadBackAfterItsAnswerIsTaken) {
  auto o = options();
  o.intent_wait = 300ms;
  start(o);
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                               "delay_ms":1200})");
  AgentRef agent{"acme", "agent-1"};
  auto first = upstream_->set_presence(agent, d::PRESENCE_READY, "", 0);
  EXPECT_EQ(first.status().code(), ErrorCode::kUnavailable);
  auto away = [](const upstream::Event& e) {
    return e.has_presence() && e.presence().presence() == d::PRESENCE_NOT_READY &&
           e.presence().aux_reason_id() == "pd-away";
  };
  ASSERT_TRUE(wait_event([](const upstream::Event& e) {
    return e.has_presence() && e.presence().presence() == d::PRESENCE_READY;
  })) << logs();
  fake_->control("presence", R"({"user":"agent-1","definition":"pd-away"})");
  ASSERT_TRUE(wait_event(away)) << logs();
  auto late = upstream_->set_presence(agent, d::PRESENCE_READY, "", 0);
  ASSERT_TRUE(late.ok()) << late.status().to_string();
  EXPECT_TRUE(late->accepted);  // the server now writes READY: stale
  seen_.clear();
  EXPECT_TRUE(wait_event(away, 5s)) << "the platform's presence read back after the write";
}

TEST_F(GenesysUpstreamTest, RateLimitsServerErrorsAndRevokedTokensAreRetried) {
  start(options());
  fake_->control("faults", R"([
    {"method":"PATCH","path":"/api/v2/users/agent-1/presences","status":429,"retry_after":2},
    {"method":"PATCH","path":"/api/v2/users/agent-1/presences","status":503},
    {"method":"PATCH","path":"/api/v2/users/agent-1/presences","status":502}])");
  auto answer = upstream_->set_presence({"acme", "agent-1"}, d::PRESENCE_READY, "", 0);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_TRUE(answer->accepted);
  auto counters = upstream_->counters();
  EXPECT_EQ(counters.rest.retried_429, 1u);
  EXPECT_EQ(counters.rest.retried_5xx, 2u);
  fake_->control("revoke");
  auto again = upstream_->set_presence({"acme", "agent-1"}, d::PRESENCE_OFFLINE, "", 0);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->accepted);
  EXPECT_GE(upstream_->counters().rest.refreshed_401, 1u);
}

TEST_F(GenesysUpstreamTest, PersistentOutageIsUnavailableNotARefusal) {
  start(options());
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users","status":503,"times":10})");
  auto answer = upstream_->set_presence({"acme", "agent-1"}, d::PRESENCE_READY, "", 0);
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
}

TEST_F(GenesysUpstreamTest, SlowPlatformAnswerWaitsOutsideTheCallerAndIsTakenOnRetry) {
  auto o = options();
  o.intent_wait = 300ms;
  start(o);
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                               "delay_ms":2000})");
  AgentRef agent{"acme", "agent-1"};
  auto t0 = std::chrono::steady_clock::now();
  auto first = upstream_->set_presence(agent, d::PRESENCE_READY, "", 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(first.status().code(), ErrorCode::kUnavailable);
  std::this_thread::sleep_for(2500ms);
  auto retry = upstream_->set_presence(agent, d::PRESENCE_READY, "", 0);
  ASSERT_TRUE(retry.ok()) << retry.status().to_string();
  EXPECT_TRUE(retry->accepted);
  EXPECT_EQ(fake_->count_requests("PATCH", "/api/v2/users/agent-1/presences"), 1);
}

TEST_F(GenesysUpstreamTest, DroppedSocketsAndSocketClosingOpenANewChannelAndReconcile) {
  start(options());
  const auto channels = upstream_->counters().channels_created;
  fake_->control("socket", R"({"action":"drop"})");
  ASSERT_TRUE(wait_event([&](auto&) { return false; }, 1500ms) ||
              upstream_->counters().channels_created > channels);
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-after-drop"})");
  EXPECT_TRUE(wait_event([](auto& e) {
    return e.has_interaction() && e.interaction().id() == "c-after-drop";
  })) << logs();
  fake_->control("config", R"({"closing_grace_s":0.3})");
  fake_->control("socket", R"({"action":"socket_closing"})");
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-after-closing"})");
  EXPECT_TRUE(wait_event([](auto& e) {
    return e.has_interaction() && e.interaction().id() == "c-after-closing";
  })) << logs();
  EXPECT_GE(upstream_->counters().channels_created, channels + 2);
  EXPECT_GE(upstream_->counters().gaps, 2u);
}

TEST_F(GenesysUpstreamTest, MissedNotificationsAreFoundByTheNextReconcile) {
  auto o = options();
  o.agent_reconcile_every = 1500ms;
  start(o);
  fake_->control("miss", R"({"count":1})");
  fake_->control("voicemail", R"({"user":"agent-1","id":"vm-missed"})");
  EXPECT_TRUE(wait_event([](auto& e) {
    return e.has_voicemail_left() && e.voicemail_left().id() == "vm-missed";
  })) << logs();
}

TEST_F(GenesysUpstreamTest, HeartbeatsAreCountedPingsKeepASilentChannelSilenceIsAGap) {
  fake_->control("config", R"({"heartbeat_s":0.2})");
  auto o = options();
  o.heartbeat_timeout = 4000ms;  // a ping after 2 s of silence
  start(o);
  std::this_thread::sleep_for(1s);
  EXPECT_GT(upstream_->counters().heartbeats, 0u);
  const auto gaps = upstream_->counters().gaps;
  fake_->control("config", R"({"heartbeat_s":1000})");  // silence; pings are answered
  std::this_thread::sleep_for(6s);
  EXPECT_EQ(upstream_->counters().gaps, gaps);    // the ping's pong keeps it alive
  fake_->control("config", R"({"pong":false})");  // a dead channel: nothing at all
  std::this_thread::sleep_for(6s);
  EXPECT_GT(upstream_->counters().gaps, gaps) << logs();
  fake_->control("config", R"({"heartbeat_s":0.5,"pong":true})");
  fake_->control("route", R"({"user":"agent-1","media":"voice","id":"c-after-silence"})");
  EXPECT_TRUE(wait_event(
      [](auto& e) { return e.has_interaction() && e.interaction().id() == "c-after-silence"; }));
}

TEST_F(GenesysUpstreamTest, MalformedJsonAndUnknownEnumsChangeNothing) {
  start(options());
  (void)count_seen(upstream::Event::kPresence);
  const size_t before = seen_.size();
  fake_->control("notify", R"({"topic":"v2.users.agent-1.presence",
    "eventBody":{"presenceDefinition":{"id":"x","systemPresence":"Dancing"}}})");
  fake_->control("notify", R"({"topic":"v2.users.agent-1.routingStatus",
    "eventBody":{"routingStatus":{"status":"FLYING"}}})");
  fake_->control("notify", R"({"topic":"v2.users.agent-1.conversations",
    "eventBody":{"participants":[]}})");
  std::this_thread::sleep_for(800ms);
  (void)count_seen(upstream::Event::kPresence);
  EXPECT_EQ(seen_.size(), before);
  EXPECT_EQ(upstream_->counters().decode_errors, 3u);
  EXPECT_NE(logs().find("correlation"), std::string::npos);
}

TEST_F(GenesysUpstreamTest, PartialAndTruncatedPagesAreRetriedUntilComplete) {
  fake_->control("faults", R"([
    {"path":"/api/v2/externalcontacts/scan/contacts","partial":true},
    {"path":"/api/v2/routing/wrapupcodes","truncate":30}])");
  start(options());
  EXPECT_EQ(count_seen(upstream::Event::kContact), 250u);
  auto counters = upstream_->counters();
  EXPECT_GE(counters.incomplete_listings, 1u);
  EXPECT_GE(counters.decode_errors, 1u);
}

TEST_F(GenesysUpstreamTest, TheRequestBudgetHoldsRequestsBack) {
  auto o = options();
  o.rest.requests_per_minute = 600;  // 10 a second, a burst of 100
  o.mirror_contacts = false;
  start(o);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 120; ++i) {
    (void)upstream_->set_presence({"acme", "agent-1"},
                                  i % 2 ? d::PRESENCE_READY : d::PRESENCE_OFFLINE, "", 0);
  }
  EXPECT_GT(upstream_->counters().rest.budget_waits, 0u);
  EXPECT_GT(std::chrono::steady_clock::now() - t0, 1s);
}

// The platform's inin-ratelimit-* headers say its window is nearly spent: the client waits
// for the window's reset instead of meeting 429s (a budget far above the platform's).
TEST(GenesysRest, TheRateLimitHeadersHoldRequestsBeforeThePlatformRefuses) {
  testing::FakeGenesys fake("agent-1", 5);
  ASSERT_TRUE(fake.ok()) << fake.log();
  fake.control("config", R"({"rate_allowed": 20, "rate_window_s": 2})");
  RestOptions o = testing::options_against(fake).rest;
  o.requests_per_minute = 1'000'000;
  RestClient rest(o);
  for (int i = 0; i < 50; ++i) {
    auto got = rest.call("GET", "/api/v2/routing/wrapupcodes");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got->status, 200);
  }
  EXPECT_EQ(rest.counters().retried_429, 0u);
  EXPECT_GT(rest.counters().rate_limit_holds, 0u);
  EXPECT_EQ(fake.count_requests("GET", "/api/v2/routing/wrapupcodes"), 50);
}

}  // namespace
}  // namespace outpost::genesys
