// The sans-I/O Genesys core (decision 038) on its own, answered by outpost-sim's model of
// Genesys Cloud through a hand-stepped driver: subscribe before reconciling, the retry
// rules (429 with Retry-After, 503, timeouts), intents started by the first call and taken
// by the retry, a gap reconciled, and the read-backs. outpost-sim drives it under faults.
#include "adapters/genesys/genesys_core.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "apps/outpost-sim/genesys_model.h"
#include "tests/adapters/genesys/core_test_driver.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
constexpr int64_t kStart = 1'795'000'000'000;

class GenesysCoreTest : public ::testing::Test {
 protected:
  explicit GenesysCoreTest(const std::vector<std::string>& users = {"agent-1"},
                           size_t agents_per_channel = 250, size_t max_channels = 20)
      : model_(users, kStart), core_(options(users, agents_per_channel, max_channels)) {}

  static CoreOptions options(const std::vector<std::string>& users, size_t agents_per_channel,
                             size_t max_channels) {
    CoreOptions o;
    o.tenant = "acme";
    o.users = users;
    o.agents_per_channel = agents_per_channel;
    o.max_channels = max_channels;
    o.request_timeout_ms = 1'000;
    o.backoff_ms = {100, 300};
    o.heartbeat_timeout_ms = 3'000;
    o.retry_after_failure_ms = 200;
    return o;
  }

  // Answers every request the core made (with `answer` overriding the model's when set),
  // opens the socket it asks for, delivers the model's socket messages; repeats until the
  // core asks nothing more (the shared driver, core_test_driver.h).
  void run(const CoreTestDriver::Script& answer = {}) { driver_.run(answer); }

  size_t count(const std::string& line) const { return driver_.count(line); }

  sim::GenesysModel model_;
  GenesysCore core_;
  int64_t now_ = kStart;
  CoreTestDriver driver_{model_, core_, now_, {/*tick_model=*/false, /*max_rounds=*/200}};
  std::vector<std::string>& log_ = driver_.log;
  std::vector<upstream::Event>& events_ = driver_.events;
};

TEST_F(GenesysCoreTest, SubscribesOpensTheSocketThenMirrors) {
  run();
  ASSERT_GE(log_.size(), 4u);
  EXPECT_EQ(log_[0], "POST /api/v2/notifications/channels");
  EXPECT_EQ(log_[1].rfind("PUT /api/v2/notifications/channels/", 0), 0u);
  EXPECT_EQ(log_[2], "socket open");
  EXPECT_EQ(log_[3], "GET /api/v2/presence/definitions");
  EXPECT_TRUE(core_.quiet());
  EXPECT_TRUE(core_.mirrored());
  bool presence = false, aux = false, codes = false;
  for (const auto& e : events_) {
    presence |= e.has_presence() && e.presence().presence() == d::PRESENCE_OFFLINE;
    aux |= e.has_aux_reason() && e.aux_reason().id() == "aux-lunch";
    codes |= e.has_wrapup_code() && e.wrapup_code().id() == "wrapup-4";
  }
  EXPECT_TRUE(presence && aux && codes);
  // Live: a routed conversation arrives as a notification.
  events_.clear();
  const std::string id = model_.route("agent-1", "email", now_);
  run();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].interaction().id(), id);
  EXPECT_EQ(events_[0].interaction().state(), d::INTERACTION_CONNECTED);
}

TEST_F(GenesysCoreTest, ThrottledUnavailableAndTimedOutRequestsAreRetried) {
  int throttled = 0, failed = 0, silent = 0;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    CoreAnswer a;
    if (r.target.rfind("/api/v2/presence/definitions", 0) == 0 && throttled++ == 0) {
      a.status = 429;
      a.retry_after_ms = 700;
      return a;
    }
    if (r.target.rfind("/api/v2/routing/wrapupcodes", 0) == 0 && failed++ == 0) {
      a.status = 503;
      return a;
    }
    if (r.target.rfind("/api/v2/users/agent-1/routingstatus", 0) == 0 && silent++ == 0) {
      a.transport_error = true;  // as the timeout would
      return a;
    }
    return std::nullopt;
  });
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(core_.counters().retried_429, 1u);
  EXPECT_EQ(core_.counters().retried_5xx, 2u);
  EXPECT_EQ(count("GET /api/v2/presence/definitions"), 2u);
}

TEST_F(GenesysCoreTest, AnIntentIsStartedByTheFirstCallAndTakenByTheRetry) {
  run();
  const AgentRef agent{"acme", "agent-1"};
  auto first = core_.set_presence(agent, d::PRESENCE_READY, "", now_);
  EXPECT_EQ(first.status().code(), ErrorCode::kUnavailable);
  run();
  EXPECT_EQ(model_.presence_definition("agent-1"), "pd-onqueue");
  auto taken = core_.set_presence(agent, d::PRESENCE_READY, "", now_);
  ASSERT_TRUE(taken.ok());
  EXPECT_TRUE(taken->accepted);
  // A deactivated definition is the platform's refusal, kept with its message.
  (void)core_.set_presence(agent, d::PRESENCE_NOT_READY, "aux-old", now_);
  run();
  auto refused = core_.set_presence(agent, d::PRESENCE_NOT_READY, "aux-old", now_);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->accepted);
  EXPECT_EQ(refused->reason, "presence definition aux-old is not valid");
}

TEST_F(GenesysCoreTest, AcceptedPresenceIsReadBackAndALostWrapUpAnswerIsOurs) {
  run();
  const AgentRef agent{"acme", "agent-1"};
  (void)core_.set_presence(agent, d::PRESENCE_READY, "", now_);
  run();
  model_.supervisor_sets("agent-1", "pd-away", now_);
  run();
  events_.clear();
  ASSERT_TRUE(core_.set_presence(agent, d::PRESENCE_READY, "", now_).ok());
  run();
  ASSERT_FALSE(events_.empty()) << "read back, though unchanged since the last event";
  EXPECT_EQ(events_.back().presence().aux_reason_id(), "pd-away");

  const std::string id = model_.route("agent-1", "voice", now_);
  model_.disconnect(id, now_);
  run();
  // The platform takes the POST, its answer is lost; the retry is refused as a second one.
  bool lost = false;
  (void)core_.wrap_up(agent, id, "wrapup-2", now_);
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "POST" || lost) return std::nullopt;
    lost = true;
    model_.handle(r.method, r.target, r.body, now_);
    CoreAnswer a;
    a.transport_error = true;
    return a;
  });
  auto answer = core_.wrap_up(agent, id, "wrapup-2", now_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_TRUE(answer->accepted) << answer->reason;
}

// Found by outpost-sim --genesys-channel-agents 1 (decision 043, seed 5): the wrap_up
// mutator asks for each interaction in turn and stops at the first not answered yet. Each
// retry took the answers already come and erased them, so the next retry started those
// again: the mutation never settled. Its answers are kept for its retries (decision 050).
TEST_F(GenesysCoreTest, AWrapUpOfSeveralInteractionsSettlesAsItsRetriesKeepTheAnswers) {
  run();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(model_.route("agent-1", "voice", now_));
    model_.disconnect(ids.back(), now_);
  }
  run();
  log_.clear();
  const AgentRef agent{"acme", "agent-1", "phone#7"};
  // One attempt of the mutation: every interaction in order, stopping where not answered.
  auto attempt = [&] {
    for (const std::string& id : ids) {
      auto answer = core_.wrap_up(agent, id, "wrapup-2", now_);
      if (!answer.ok()) return false;
      EXPECT_TRUE(answer->accepted) << id << ": " << answer->reason;
    }
    return true;
  };
  size_t attempts = 1;
  while (!attempt() && attempts < 20) {
    ++attempts;
    run();
  }
  EXPECT_EQ(attempts, ids.size() + 1) << "one more interaction answered per retry";
  size_t posts = 0;
  for (const std::string& line : log_)
    posts += line.rfind("POST ", 0) == 0 && line.size() > 7 &&
             line.compare(line.size() - 7, 7, "/wrapup") == 0;
  EXPECT_EQ(posts, ids.size()) << "each interaction wrapped up once";
  for (const sim::ModelConversation& c : model_.conversations()) {
    if (std::find(ids.begin(), ids.end(), c.id) != ids.end()) {
      EXPECT_EQ(c.wrapup_code, "wrapup-2") << c.id;
    }
  }

  // Kept for that mutation only: another mutation asks the platform again, and a refusal
  // kept for one mutation is not the answer to a later one.
  const std::string live = model_.route("agent-1", "voice", now_);
  run();
  const AgentRef early{"acme", "agent-1", "phone#8"};
  (void)core_.wrap_up(early, live, "wrapup-2", now_);
  run();
  auto refused = core_.wrap_up(early, live, "wrapup-2", now_);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->accepted) << "the call is still active";
  model_.disconnect(live, now_);
  run();
  const AgentRef later{"acme", "agent-1", "phone#9"};
  EXPECT_FALSE(core_.wrap_up(later, live, "wrapup-2", now_).ok()) << "asked again";
  run();
  auto accepted = core_.wrap_up(later, live, "wrapup-2", now_);
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->accepted) << accepted->reason;
}

// Found by outpost-sim --genesys-channel-agents 1 (seed 26 of 1..60): a presence read whose
// routing status came late (retried) was emitted after a newer presence had been, and the
// mirror kept the older one. A presence older (modifiedDate) than the newest known is not
// taken (decision 050).
TEST_F(GenesysCoreTest, APresenceReadOlderThanTheNewestKnownDoesNotOverwriteIt) {
  run();
  const AgentRef agent{"acme", "agent-1"};
  (void)core_.set_presence(agent, d::PRESENCE_READY, "", now_);
  run();
  events_.clear();
  ASSERT_TRUE(core_.set_presence(agent, d::PRESENCE_READY, "", now_).ok());  // reads back
  bool late = false;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (late || r.target != "/api/v2/users/agent-1/routingstatus") return std::nullopt;
    // The presence was read; before the routing status is, a supervisor changes it.
    late = true;
    now_ += 50;
    model_.supervisor_sets("agent-1", "pd-away", now_);
    CoreAnswer lost;
    lost.transport_error = true;
    return lost;
  });
  ASSERT_TRUE(late);
  ASSERT_FALSE(events_.empty());
  EXPECT_EQ(events_.back().presence().presence(), d::PRESENCE_NOT_READY);
  EXPECT_EQ(events_.back().presence().aux_reason_id(), "pd-away") << "the newer state stays";
}

TEST_F(GenesysCoreTest, AGapOpensANewChannelAndReconciles) {
  run();
  const uint64_t reconciles = core_.counters().agent_reconciles;
  model_.close_socket();  // silently: only the missing heartbeats tell
  const std::string missed = model_.leave_voicemail("agent-1", now_);
  now_ += 3'500;
  run();
  EXPECT_EQ(core_.counters().gaps, 1u);
  EXPECT_EQ(core_.counters().agent_reconciles, reconciles + 1);
  bool found = false;
  for (const auto& e : events_)
    found |= e.has_voicemail_left() && e.voicemail_left().id() == missed;
  EXPECT_TRUE(found) << "the voicemail left during the gap comes with the reconcile";
}

// outpost-sim's seed 119 (--platform 0.3 --devices 4 --users 3 --steps 400): a device's
// delete of gc-vm-97 reached the platform, but the device was restored from a backup before
// its retry came, so no mutation took the answer; the delete notification was not carried
// either, and the server kept the voicemail for good. What the platform deleted is carried:
// our DELETE answered (whoever takes it), or its notification (the web's delete); and a
// listing read before the delete does not bring it back.
TEST_F(GenesysCoreTest, AVoicemailThePlatformDeletedIsDeletedFromTheServer) {
  const std::string ours = model_.leave_voicemail("agent-1", now_);
  const std::string webs = model_.leave_voicemail("agent-1", now_);
  run();
  const std::string listing = "/api/v2/voicemail/users/agent-1/messages?pageSize=100&pageNumber=1";
  const std::string stale = model_.handle("GET", listing, "", now_).body;
  auto deleted = [&](const std::string& id) {
    return std::count_if(events_.begin(), events_.end(),
                         [&](const auto& e) { return e.voicemail_deleted() == id; });
  };
  // The socket dies silently first: only our DELETE's answer can tell.
  model_.close_socket();
  const AgentRef device{"acme", "agent-1", "phone#18"};
  EXPECT_FALSE(core_.delete_voicemail(device, ours, now_).ok());  // asked; never retried
  run();
  EXPECT_EQ(deleted(ours), 1) << "the platform deleted " << ours << "; the server must too";
  core_.on_socket_closed(now_);  // the gap noticed: a new channel, its reconcile
  run();
  // Deleted on the web: its notification.
  ASSERT_EQ(model_.handle("DELETE", "/api/v2/voicemail/messages/" + webs, "", now_).status, 204);
  run();
  EXPECT_EQ(deleted(webs), 1) << "the platform's delete notification is carried";
  // A gap whose reconcile reads a page from before both deletes: nothing comes back.
  events_.clear();
  model_.close_socket();
  core_.on_socket_closed(now_);
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target != listing) return std::nullopt;
    return CoreAnswer{200, stale, "corr-stale", -1, false};
  });
  for (const auto& e : events_) {
    EXPECT_FALSE(e.has_voicemail_left() &&
                 (e.voicemail_left().id() == ours || e.voicemail_left().id() == webs))
        << e.voicemail_left().id() << " came back from a page read before its delete";
  }
}

// Issue 16 (decision 063's first "Left open"): a voicemail deleted on the platform whose
// notification was missed stayed on the server for good: the gap's reconcile listed the
// agent's voicemail but deleted nothing by it. A complete listing now deletes each voicemail
// known when it started that it did not show (read alone first: the platform must say it is
// gone); one created while the listing runs is not its to judge.
TEST_F(GenesysCoreTest, AVoicemailWhoseDeleteNotificationWasMissedIsDeletedByTheNextListing) {
  const std::string kept = model_.leave_voicemail("agent-1", now_);
  const std::string gone = model_.leave_voicemail("agent-1", now_);
  run();
  auto deleted = [&](const std::string& id) {
    return std::count_if(events_.begin(), events_.end(),
                         [&](const auto& e) { return e.voicemail_deleted() == id; });
  };
  // The socket dies silently; the web's delete notification goes nowhere.
  model_.close_socket();
  ASSERT_EQ(model_.handle("DELETE", "/api/v2/voicemail/messages/" + gone, "", now_).status, 204);
  now_ += 3'500;
  run();
  EXPECT_EQ(core_.counters().gaps, 1u);
  EXPECT_EQ(deleted(gone), 1) << "the gap's complete listing did not show " << gone;
  EXPECT_EQ(deleted(kept), 0);
  EXPECT_EQ(core_.counters().voicemails_unlisted, 1u);
  // Once only: the next gap's listing has nothing more to delete.
  model_.close_socket();
  now_ += 3'500;
  run();
  EXPECT_EQ(core_.counters().gaps, 2u);
  EXPECT_EQ(deleted(gone), 1);
  EXPECT_EQ(deleted(kept), 0);
}

TEST_F(GenesysCoreTest, AVoicemailCreatedWhileTheListingRunsIsNotDeletedByIt) {
  const std::string old = model_.leave_voicemail("agent-1", now_);
  run();
  const std::string listing = "/api/v2/voicemail/users/agent-1/messages?pageSize=100&pageNumber=1";
  // A gap; its listing's page is read, then lost on the way (a timeout, retried): meanwhile
  // a voicemail is left, notified and sent with its recording; the retry is answered with
  // the page read before it, which does not show it.
  model_.close_socket();
  now_ += 3'500;
  std::string fresh, page;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target != listing) return std::nullopt;
    if (page.empty()) {
      page = model_.handle("GET", listing, "", now_).body;
      fresh = model_.leave_voicemail("agent-1", now_);  // notified on the reopened socket
      CoreAnswer lost;
      lost.transport_error = true;
      return lost;
    }
    return CoreAnswer{200, page, "corr-page", -1, false};
  });
  ASSERT_FALSE(fresh.empty());
  for (const auto& e : events_) {
    EXPECT_NE(e.voicemail_deleted(), fresh) << "created after the listing started";
    EXPECT_NE(e.voicemail_deleted(), old);
  }
  EXPECT_EQ(count("GET /api/v2/voicemail/messages/" + fresh), 0u)
      << "a voicemail the listing's start did not know is not read alone";
  bool sent = false;
  for (const auto& e : events_) sent |= e.has_voicemail_left() && e.voicemail_left().id() == fresh;
  EXPECT_TRUE(sent);
}

// The store's voicemails told at start (a restarted server): the first complete listing
// deletes those the platform no longer has (the demo data's, one deleted while the server
// was down); one the listing's pages skipped (a numbered page shifted by a delete) but the
// platform still has is kept.
TEST_F(GenesysCoreTest, VoicemailsTheStoreHeldAreDeletedWhenThePlatformHasThemNoMore) {
  const std::string skipped = model_.leave_voicemail("agent-1", now_);
  const std::string listed = model_.leave_voicemail("agent-1", now_);
  core_.voicemail_known("agent-1", "vm-demo-1");
  core_.voicemail_known("agent-1", skipped);
  core_.voicemail_known("agent-2", "vm-not-mirrored");
  const std::string listing = "/api/v2/voicemail/users/agent-1/messages?pageSize=100&pageNumber=1";
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target != listing) return std::nullopt;
    // The page as if `skipped` had shifted onto a page never read.
    boost::json::object page =
        boost::json::parse(model_.handle("GET", listing, "", now_).body).as_object();
    boost::json::array kept;
    for (const auto& v : page["entities"].as_array())
      if (v.as_object().at("id").as_string() != skipped) kept.push_back(v);
    page["entities"] = kept;
    page["total"] = kept.size();
    return CoreAnswer{200, boost::json::serialize(page), "corr-shifted", -1, false};
  });
  std::set<std::string> deleted;
  for (const auto& e : events_)
    if (!e.voicemail_deleted().empty()) deleted.insert(e.voicemail_deleted());
  EXPECT_EQ(deleted, std::set<std::string>{"vm-demo-1"});
  EXPECT_EQ(count("GET /api/v2/voicemail/messages/" + skipped), 1u);
  EXPECT_EQ(count("GET /api/v2/voicemail/messages/" + listed), 0u);
}

// outpost-sim (seeds 1..10 at 400 steps, docs/reliability.md bug 18): the demo data gives
// every agent voicemail-1..3; the first agent's deleted ids were taken as gone for the
// second agent too, whose demo voicemails then stayed on the server. A deletion is the
// agent's voicemail's.
class GenesysCoreTwoAgentsTest : public GenesysCoreTest {
 protected:
  GenesysCoreTwoAgentsTest() : GenesysCoreTest({"agent-1", "agent-2"}) {}
};

TEST_F(GenesysCoreTwoAgentsTest, TheSameVoicemailIdOfTwoAgentsIsDeletedForEach) {
  core_.voicemail_known("agent-1", "voicemail-1");
  core_.voicemail_known("agent-2", "voicemail-1");
  run();
  std::set<std::string> deleted;
  for (const auto& e : events_)
    if (!e.voicemail_deleted().empty()) deleted.insert(e.user() + "/" + e.voicemail_deleted());
  EXPECT_EQ(deleted, (std::set<std::string>{"agent-1/voicemail-1", "agent-2/voicemail-1"}));
}

// Several notification channels (decision 037 in the core, decision 043): agents_per_channel
// agents' topics each, a gap reconciling only the agents of its channel, agents past
// max_channels reconciled by REST only.
class GenesysCoreChannelsTest : public GenesysCoreTest {
 protected:
  GenesysCoreChannelsTest() : GenesysCoreTest({"agent-1", "agent-2", "agent-3"}, 2) {
    model_.set_heartbeat_ms(1'000);
  }
  // Time passes with the platform's heartbeats on the open sockets.
  void pass(int64_t ms) {
    for (int64_t step = 0; step < ms; step += 250) {
      now_ += 250;
      model_.tick(now_);
      run();
    }
  }
};

TEST_F(GenesysCoreChannelsTest, EachChannelCarriesItsAgentsAndAGapReconcilesOnlyThem) {
  run();
  EXPECT_EQ(core_.channel_count(), 2u);
  EXPECT_EQ(count("POST /api/v2/notifications/channels"), 2u);
  EXPECT_EQ(count("socket open"), 2u);
  ASSERT_TRUE(core_.mirrored());
  const CoreReconciled first = core_.take_reconciled();
  EXPECT_TRUE(first.org);
  EXPECT_EQ(first.users, (std::vector<std::string>{"agent-1", "agent-2", "agent-3"}));
  // Live on the second channel.
  events_.clear();
  const std::string id = model_.route("agent-3", "email", now_);
  run();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].interaction().id(), id);
  // The second channel's socket dies silently: only its agent is reconciled.
  const uint64_t reconciles = core_.counters().agent_reconciles;
  model_.close_socket(1);
  const std::string missed = model_.leave_voicemail("agent-3", now_);
  log_.clear();
  pass(3'500);
  EXPECT_EQ(core_.counters().gaps, 1u);
  EXPECT_EQ(core_.counters().agent_reconciles, reconciles + 1);
  EXPECT_EQ(count("GET /api/v2/users/agent-3/presences/purecloud"), 1u);
  EXPECT_EQ(count("GET /api/v2/users/agent-1/presences/purecloud"), 0u);
  EXPECT_EQ(count("POST /api/v2/notifications/channels"), 1u) << "the first channel stays";
  EXPECT_EQ(core_.take_reconciled().users, std::vector<std::string>{"agent-3"});
  bool found = false;
  for (const auto& e : events_)
    found |= e.has_voicemail_left() && e.voicemail_left().id() == missed;
  EXPECT_TRUE(found);
}

class GenesysCoreUnchanneledTest : public GenesysCoreTest {
 protected:
  GenesysCoreUnchanneledTest() : GenesysCoreTest({"agent-1", "agent-2"}, 1, 1) {}
};

TEST_F(GenesysCoreUnchanneledTest, AgentsPastTheChannelsAreReconciledOnly) {
  run();
  EXPECT_EQ(core_.channel_count(), 1u);
  EXPECT_EQ(core_.counters().agent_reconciles, 2u) << "the first mirror reads both";
  EXPECT_EQ(count("GET /api/v2/users/agent-2/presences/purecloud"), 1u);
  // No topic of agent-2's is subscribed: its conversation waits for a periodic reconcile.
  events_.clear();
  model_.route("agent-2", "email", now_);
  run();
  EXPECT_TRUE(events_.empty());
}

TEST_F(GenesysCoreTest, AnAgentsOwnLoginListsItsVoicemailAsTheLoggedInUser) {
  core_.set_own_login("agent-1", true);
  std::vector<std::string> carried;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target.rfind("/api/v2/voicemail/", 0) != 0) return std::nullopt;
    carried.push_back(r.target.substr(0, r.target.find('?')) + " as " + r.user);
    CoreAnswer a;
    a.status = 200;
    a.body = R"({"entities":[],"pageSize":100,"pageNumber":1,"total":0})";
    return a;
  });
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(carried, std::vector<std::string>{"/api/v2/voicemail/me/messages as agent-1"});
}

}  // namespace
}  // namespace outpost::genesys
