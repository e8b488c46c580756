// The sans-I/O core's email reply drafts both ways (decision 057) against outpost-sim's model of
// Genesys Cloud, stepped by the shared core test driver: the app's saves PUT, the latest per
// conversation, one request at a time, each read first (a web edit not seen yet is merged, not
// written over); a failed PUT tried again later, a refused one dropped; the web interface's edit
// read back on the conversation's notification with the base the platform held from us; our own
// save never taken for a web edit; a restarted core's drafts known from the store.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "adapters/genesys/genesys_core.h"
#include "apps/outpost-sim/genesys_model.h"
#include "tests/adapters/genesys/core_test_driver.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
constexpr int64_t kStart = 1'795'000'000'000;
const AgentRef kAgent{"acme", "agent-1"};

CoreOptions options() {
  CoreOptions o;
  o.tenant = "acme";
  o.users = {"agent-1"};
  o.request_timeout_ms = 1'000;
  o.backoff_ms = {100, 300};
  o.heartbeat_timeout_ms = 3'000;
  o.retry_after_failure_ms = 200;
  return o;
}

d::Draft reply(const std::string& conversation, const std::string& body) {
  d::Draft draft;
  draft.set_id("draft-app");
  draft.set_kind(d::DRAFT_EMAIL_REPLY);
  draft.set_interaction_id(conversation);
  draft.set_subject("Re: your order");
  draft.add_to("ann@example.com");
  draft.set_body(body);
  return draft;
}

class GenesysCoreDraftsTest : public ::testing::Test {
 protected:
  // Answers the core's requests (`answer` overrides the model's when it returns one), runs
  // its socket against the model, until it asks nothing more (the clock moves to its
  // deadlines, at most `horizon_ms` ahead): the shared driver, stepping the current core
  // (a test may restart it).
  void run(const CoreTestDriver::Script& answer = {}, int64_t horizon_ms = 10'000) {
    driver_.use(*core_);
    driver_.run(answer, horizon_ms);
  }

  size_t count(const std::string& line) const { return driver_.count(line); }
  // An email conversation whose draft the app saved ("Hello Ann") and the web interface then
  // edited ("gweb1"), that edit read back as the one DraftEdited so far; "" if not so.
  std::string saved_then_edited_on_the_web() {
    run();
    const std::string c = model_.route("agent-1", "email", now_);
    run();
    core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
    run();
    if (model_.web_edit_draft("agent-1", 0, "gweb1", now_) != c) return "";
    run();
    return web_edits().size() == 1 ? c : "";
  }
  std::vector<upstream::DraftEdited> web_edits() const {
    std::vector<upstream::DraftEdited> out;
    for (const auto& e : events_)
      if (e.has_draft_edited()) out.push_back(e.draft_edited());
    return out;
  }

  sim::GenesysModel model_{{"agent-1"}, kStart};
  std::unique_ptr<GenesysCore> core_ = std::make_unique<GenesysCore>(options());
  int64_t now_ = kStart;
  // The model's clock is the test's: no heartbeats or channel expiry unless a test ticks it.
  CoreTestDriver driver_{model_, *core_, now_, {.tick_model = false, .max_rounds = 400}};
  std::vector<std::string>& log_ = driver_.log;
  std::vector<upstream::Event>& events_ = driver_.events;
};

TEST_F(GenesysCoreDraftsTest, TheLatestSaveIsPutAndAWebEditComesBackWithItsBase) {
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  const std::string put = "PUT /api/v2/conversations/emails/" + c + "/messages/draft";
  const std::string get = "GET /api/v2/conversations/emails/" + c + "/messages/draft";
  EXPECT_EQ(count(get), 1u);  // the conversation's notification: no draft yet (404)
  EXPECT_TRUE(web_edits().empty());

  // Three saves while the first PUT is on its way: the first and the latest reach the platform.
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  core_->draft_saved(kAgent, reply(c, "Hello Ann your order"), now_);
  core_->draft_saved(kAgent, reply(c, "Hello Ann your order shipped"), now_);
  EXPECT_FALSE(core_->quiet());
  run();
  EXPECT_EQ(count(put), 2u);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann your order shipped");
  EXPECT_EQ(core_->counters().drafts_put, 2u);

  // The agent types a word in the web interface: the notification makes the core read the
  // draft, which comes back for the app's draft id with what the platform held from us.
  ASSERT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
  run();
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().id(), "draft-app");
  EXPECT_EQ(edits[0].edited().interaction_id(), c);
  EXPECT_EQ(edits[0].edited().body(), "gweb1 Hello Ann your order shipped");
  ASSERT_TRUE(edits[0].has_base());
  EXPECT_EQ(edits[0].base().body(), "Hello Ann your order shipped");
  EXPECT_EQ(core_->counters().web_draft_edits, 1u);

  // The server's merge handed back unchanged is not PUT again; our own next save, read back
  // on the next notification, is not a web edit.
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann your order shipped"), now_);
  EXPECT_TRUE(core_->quiet());
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann your order shipped today"), now_);
  run();
  EXPECT_EQ(count(put), 3u);
  ASSERT_TRUE(model_.disconnect(c, now_));
  run();
  EXPECT_EQ(count(get), 6u);  // each PUT reads first (3), and three notifications
  EXPECT_EQ(web_edits().size(), 1u);
  EXPECT_TRUE(core_->quiet());
}

TEST_F(GenesysCoreDraftsTest, ASaveReadsFirstSoAWebEditNotYetSeenIsMergedNotWrittenOver) {
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  // The web edit's notification is lost; the app saves again before any other read.
  ASSERT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
  bool closed = false;
  (void)model_.take_socket_messages(&closed);
  core_->draft_saved(kAgent, reply(c, "Hello Ann your order"), now_);
  run();
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().body(), "gweb1 Hello Ann");
  EXPECT_EQ(edits[0].base().body(), "Hello Ann");
  // Not written over: the server's merge (both edits) comes back through draft_saved.
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann");
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann your order"), now_);
  run();
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann your order");
  EXPECT_EQ(web_edits().size(), 1u);
}

TEST_F(GenesysCoreDraftsTest, ASendReadsTheDraftFirstSoAWebEditNotYetSeenIsNotSentOver) {
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  // The web edit's notification is lost; the app sends its text, without the web's word.
  ASSERT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
  bool closed = false;
  (void)model_.take_socket_messages(&closed);
  EXPECT_FALSE(core_->send(kAgent, reply(c, "Hello Ann"), now_).ok());  // started
  run();
  // Read first: the web edit goes to the server for the merge, and the send waits for it
  // (unavailable: the device sends again, with the merged text).
  auto answer = core_->send(kAgent, reply(c, "Hello Ann"), now_);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().body(), "gweb1 Hello Ann");
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann");
  EXPECT_FALSE(model_.replied(c));
  EXPECT_FALSE(core_->send(kAgent, reply(c, "gweb1 Hello Ann"), now_).ok());  // started
  run();
  auto sent = core_->send(kAgent, reply(c, "gweb1 Hello Ann"), now_);
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted);
  EXPECT_TRUE(model_.replied(c));
}

TEST_F(GenesysCoreDraftsTest, ASendsOwnPutIsNeverTakenForAWebEdit) {
  // outpost-sim seed 1 (branch gdrafts-readfirst): a web edit read (gweb5 gweb6, sent to the
  // server), while the app's send PUT the server's older text; the merge's save then read
  // that PUT first, took it for a web edit deleting the web's words, and the server's
  // merge lost them.
  const std::string c = saved_then_edited_on_the_web();
  ASSERT_FALSE(c.empty());
  // The send of the text before the merge: PUT, then its POST unanswered (the platform
  // slow), so the platform's draft stays the send's text.
  const auto slow_post = [](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method == "POST") return CoreAnswer{503, "{}", "corr", -1, false};
    return std::nullopt;
  };
  EXPECT_FALSE(core_->send(kAgent, reply(c, "Hello Ann"), now_).ok());
  run(slow_post);
  EXPECT_FALSE(model_.replied(c));
  // The server's merge comes back: it is PUT, and the send's text is not a web edit.
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann"), now_);
  run();
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u) << edits.back().edited().body();
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann");
}

TEST_F(GenesysCoreDraftsTest, ASendsPutWhoseAnswerIsLostIsNotTakenForAWebEditEither) {
  // The seed-1 interleaving: the send's PUT lands but its answer is lost, and the save of
  // the server's merge reads that text first.
  const std::string c = saved_then_edited_on_the_web();
  ASSERT_FALSE(c.empty());
  int puts = 0;
  const auto lost_put = [this, &puts](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "PUT" || ++puts > 1) return std::nullopt;  // the send's PUT
    (void)model_.handle(r.method, r.target, r.body, now_);
    return CoreAnswer{503, "{}", "corr", -1, false};
  };
  EXPECT_FALSE(core_->send(kAgent, reply(c, "Hello Ann soon"), now_).ok());
  run(lost_put);
  // The PUT is made once (decision 062): the send answers unavailable, and the core, reading
  // the draft once that PUT can no longer land, finds the send's text (ours, not a web
  // edit) and puts the app's latest save back over it.
  EXPECT_EQ(core_->counters().drafts_ghosts_found, 1u);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann");
  EXPECT_EQ(web_edits().size(), 1u);
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann soon"), now_);
  run();
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u) << edits.back().base().body() << " -> "
                              << edits.back().edited().body();
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann soon");
}

TEST_F(GenesysCoreDraftsTest, AReadAnsweredAfterOurPutIsStaleNotAWebEdit) {
  // outpost-sim seed 30 (300 steps): a send's read went out, the app's next save was PUT,
  // then the read's answer (the text before that PUT) came back and was taken for a web
  // edit deleting the save's words.
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  EXPECT_FALSE(core_->send(kAgent, reply(c, "Hello Ann now"), now_).ok());  // started
  core_->tick(now_);
  auto held = core_->take_requests();
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held[0].method, "GET");
  const auto early = model_.handle(held[0].method, held[0].target, held[0].body, now_);
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run({}, 0);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon");
  core_->on_answer(held[0].id, CoreAnswer{early.status, early.body, "corr", -1, false}, now_);
  run({}, 0);
  for (auto& e : core_->take_events()) events_.push_back(std::move(e));
  EXPECT_TRUE(web_edits().empty()) << web_edits().back().edited().body();
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon");
  auto answer = core_->send(kAgent, reply(c, "Hello Ann now"), now_);
  ASSERT_FALSE(answer.ok());  // unavailable: the device sends again
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
}

TEST_F(GenesysCoreDraftsTest, ASendThatDoesNotGoOutLeavesTheLatestSaveOnThePlatform) {
  // outpost-sim seed 151 (300 steps): the send of an older revision PUT its text, its POST
  // did not go out, and the platform kept that text, not the app's latest save (M).
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run();
  const auto refused_post = [](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method == "POST") return CoreAnswer{400, "{}", "corr", -1, false};
    return std::nullopt;
  };
  EXPECT_FALSE(core_->send(kAgent, reply(c, "Hello Ann"), now_).ok());
  run(refused_post);
  EXPECT_FALSE(model_.replied(c));
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon");
  EXPECT_TRUE(web_edits().empty());
}

TEST_F(GenesysCoreDraftsTest, AFailedPutIsTriedAgainLaterAndARefusedOneIsDropped) {
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  // The platform is unavailable past the request's retries: the PUT waits
  // retry_after_failure, then goes again (the platform back by then).
  bool down = true;
  auto unavailable = [&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (down && r.method == "PUT") return CoreAnswer{503, "", "corr", -1, false};
    return std::nullopt;
  };
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run(unavailable, 350);
  EXPECT_FALSE(core_->quiet());
  EXPECT_FALSE(model_.draft_text(c));
  const auto due = core_->next_deadline();
  ASSERT_TRUE(due.has_value());
  down = false;
  run(unavailable);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann");
  EXPECT_TRUE(core_->quiet());

  // A draft of a conversation the platform does not know is refused: dropped, not retried.
  core_->draft_saved(kAgent, reply("gc-unknown", "Hi"), now_);
  run();
  EXPECT_EQ(core_->counters().drafts_refused, 1u);
  EXPECT_EQ(count("PUT /api/v2/conversations/emails/gc-unknown/messages/draft"), 1u);
  EXPECT_TRUE(core_->quiet());
  // Not an email reply, not mirrored, or already sent: nothing.
  d::Draft sent = reply(c, "Sent text");
  sent.set_status(d::DRAFT_SENT);
  core_->draft_saved(kAgent, sent, now_);
  core_->draft_saved(AgentRef{"acme", "agent-9"}, reply(c, "Other"), now_);
  EXPECT_TRUE(core_->take_requests().empty());
}

TEST_F(GenesysCoreDraftsTest, ARestartedCoreReadsTheStoredDraftsAndTakesADifferenceWithoutABase) {
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  const std::string c2 = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  d::Draft other = reply(c2, "Dear Bo");
  other.set_id("draft-other");
  core_->draft_saved(kAgent, other, now_);
  run();
  // The server restarts: a fresh core, told the drafts the store holds, reads their platform
  // drafts at once (nothing is PUT). One was edited on the web meanwhile: it comes for the
  // app's draft without a base (the server keeps both texts). The other is the store's
  // text: it becomes the base, and a later web edit of it comes with that base.
  // The model picks among the agent's drafts in conversation id order.
  const std::string edited = model_.web_edit_draft("agent-1", 0, "gweb7", now_);
  const std::string later = edited == c ? c2 : c;
  ASSERT_TRUE(edited == c || edited == c2);
  const std::map<std::string, std::pair<std::string, std::string>> of = {
      {c, {"draft-app", "Hello Ann"}}, {c2, {"draft-other", "Dear Bo"}}};
  core_ = std::make_unique<GenesysCore>(options());
  log_.clear();
  core_->draft_known(kAgent, reply(c, "Hello Ann"));
  core_->draft_known(kAgent, other);
  run();
  EXPECT_EQ(count("GET /api/v2/conversations/emails/" + c + "/messages/draft"), 1u);
  EXPECT_EQ(count("GET /api/v2/conversations/emails/" + c2 + "/messages/draft"), 1u);
  for (const std::string& line : log_)
    EXPECT_EQ(line.rfind("PUT /api/v2/conversations/emails", 0), std::string::npos) << line;
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().id(), of.at(edited).first);
  EXPECT_EQ(edits[0].edited().body(), "gweb7 " + of.at(edited).second);
  EXPECT_FALSE(edits[0].has_base());
  ASSERT_EQ(model_.web_edit_draft("agent-1", 1, "gweb8", now_), later);
  run();
  edits = web_edits();
  ASSERT_EQ(edits.size(), 2u);
  EXPECT_EQ(edits[1].edited().id(), of.at(later).first);
  ASSERT_TRUE(edits[1].has_base());
  EXPECT_EQ(edits[1].base().body(), of.at(later).second);
}

TEST_F(GenesysCoreDraftsTest, ATimedOutPutIsNeverSentAgainBlindOverAWebEdit) {
  // outpost-sim seed 71 (channel sweep, 400 steps): a save's PUT was lost on the way, and the
  // retry rules sent the same text again 2 s after its read, blind, over the web's gweb1
  // gweb2 typed meanwhile, which never reached the server.
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  int puts = 0;
  const auto lost_then_typed = [&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "PUT" || ++puts > 1) return std::nullopt;
    // Lost on the way (the core sees a transport error); the web types meanwhile.
    EXPECT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
    return CoreAnswer{0, "", "", -1, true};
  };
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run(lost_then_typed);
  // The save goes again reading first: the web's word goes to the server, not under a PUT.
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().body(), "gweb1 Hello Ann");
  ASSERT_TRUE(edits[0].has_base());
  EXPECT_EQ(edits[0].base().body(), "Hello Ann");
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann");
  core_->draft_saved(kAgent, reply(c, "gweb1 Hello Ann soon"), now_);
  run();
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "gweb1 Hello Ann soon");
  EXPECT_EQ(web_edits().size(), 1u);
}

TEST_F(GenesysCoreDraftsTest, APutThatLandsAfterItsTimeoutIsFoundAndTheLatestSavePutBack) {
  // A PUT the core gave up on can still land until send_settle after its send. The core
  // neither reads nor writes that draft before then; then it reads it, takes the ghost's
  // text for its own (not a web edit) and puts the app's latest save back over it.
  CoreOptions o = options();
  o.send_settle_ms = 3'000;
  core_ = std::make_unique<GenesysCore>(o);
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  const std::string get = "GET /api/v2/conversations/emails/" + c + "/messages/draft";
  const std::string put = "PUT /api/v2/conversations/emails/" + c + "/messages/draft";
  std::optional<CoreRequest> held;
  const auto hold = [&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "PUT" || held) return std::nullopt;
    held = r;  // on its way, slowly; the core sees a transport error
    return CoreAnswer{0, "", "", -1, true};
  };
  const int64_t sent = now_;
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run(hold, 500);
  ASSERT_TRUE(held.has_value());
  const size_t gets = count(get), puts = count(put);
  // The app saves again and the web types a word, notified: nothing goes yet.
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon today"), now_);
  ASSERT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
  now_ += 1'000;
  run({}, 0);
  EXPECT_EQ(count(get), gets);
  EXPECT_EQ(count(put), puts);
  // The ghost lands, over the web's word (beyond anyone's reach now: it stays only in the
  // web editor).
  (void)model_.handle(held->method, held->target, held->body, now_);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon");
  run();
  EXPECT_GE(now_, sent + 3'000);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon today");
  EXPECT_TRUE(web_edits().empty()) << web_edits().back().edited().body();
  EXPECT_EQ(core_->counters().drafts_ghosts_found, 1u);
  EXPECT_TRUE(core_->quiet());
}

TEST_F(GenesysCoreDraftsTest, AWebEditOverALateLandedPutTakesItsTextAsTheBase) {
  CoreOptions o = options();
  o.send_settle_ms = 3'000;
  core_ = std::make_unique<GenesysCore>(o);
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  std::optional<CoreRequest> held;
  const auto hold = [&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "PUT" || held) return std::nullopt;
    held = r;
    return CoreAnswer{0, "", "", -1, true};
  };
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run(hold, 500);
  ASSERT_TRUE(held.has_value());
  (void)model_.handle(held->method, held->target, held->body, now_);
  ASSERT_EQ(model_.web_edit_draft("agent-1", 0, "gweb2", now_), c);
  run();
  // Its base is the ghost's text (one word from it), not the text before (two): the merge
  // adds gweb2 and deletes nothing.
  auto edits = web_edits();
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].edited().body(), "gweb2 Hello Ann soon");
  ASSERT_TRUE(edits[0].has_base());
  EXPECT_EQ(edits[0].base().body(), "Hello Ann soon");
}

TEST_F(GenesysCoreDraftsTest, ANotificationWhileOurPutIsOnItsWayIsCountedAsAPossibleOverwrite) {
  std::vector<std::string> logs;
  CoreOptions o = options();
  o.log = [&logs](const std::string& line) { logs.push_back(line); };
  core_ = std::make_unique<GenesysCore>(o);
  run();
  const std::string c = model_.route("agent-1", "email", now_);
  run();
  core_->draft_saved(kAgent, reply(c, "Hello Ann"), now_);
  run();
  EXPECT_EQ(core_->counters().drafts_maybe_overwritten, 0u);
  // The web types while our next PUT is on its way, and its notification comes before the
  // PUT's answer: the PUT lands over the word.
  const auto typed_meanwhile = [&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.method != "PUT") return std::nullopt;
    EXPECT_EQ(model_.web_edit_draft("agent-1", 0, "gweb1", now_), c);
    bool closed = false;
    for (const std::string& m : model_.take_socket_messages(&closed)) {
      core_->on_socket_message(m, now_);
    }
    auto a = model_.handle(r.method, r.target, r.body, now_);
    return CoreAnswer{a.status, a.body, "corr-put-2", -1, false};
  };
  core_->draft_saved(kAgent, reply(c, "Hello Ann soon"), now_);
  run(typed_meanwhile);
  EXPECT_EQ(model_.draft_text(c).value_or("-"), "Hello Ann soon");
  EXPECT_EQ(core_->counters().drafts_maybe_overwritten, 1u);
  const bool logged = std::any_of(logs.begin(), logs.end(), [](const std::string& line) {
    return line.find("may have been written over [correlation corr-put-2]") != std::string::npos;
  });
  EXPECT_TRUE(logged);
  EXPECT_TRUE(web_edits().empty());
}

}  // namespace
}  // namespace outpost::genesys
