// The core's sends at most once (decision 055), against outpost-sim's model of Genesys
// Cloud through a hand-stepped driver whose requests can be delivered with their answer
// lost (the platform acted) or dropped on the way: an attempted send found by the retry's
// look-up is accepted without a POST, one not found is POSTed once, an accepted mark
// answers at once, a refusal forgets the mark, a fresh core (a restart) with the same
// journal looks only once the old life's requests can no longer arrive.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "adapters/genesys/genesys_core.h"
#include "adapters/genesys/genesys_new_conversations.h"
#include "apps/outpost-sim/genesys_model.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
constexpr int64_t kStart = 1'795'000'000'000;
constexpr int64_t kTimeout = 1'000;
using Mark = SendMarks::Mark;

enum class Fate { kAnswer, kLoseAnswer, kDrop };

class GenesysCoreSendsTest : public ::testing::Test {
 protected:
  GenesysCoreSendsTest() : model_({"agent-1"}, kStart) { core_ = fresh_core(); }

  std::unique_ptr<GenesysCore> fresh_core() {
    CoreOptions o;
    o.tenant = "acme";
    o.users = {"agent-1"};
    o.run_mirror = false;  // the writes alone
    o.request_timeout_ms = kTimeout;
    o.backoff_ms = {100, 300};
    o.send_marks = &marks_;
    return std::make_unique<GenesysCore>(o);
  }

  // Runs the core's requests through the model until none is left; `fate` decides each.
  void run(const std::function<Fate(const CoreRequest&)>& fate = {}) {
    for (int round = 0; round < 100; ++round) {
      core_->tick(now_);
      auto requests = core_->take_requests();
      if (requests.empty()) {
        auto next = core_->next_deadline();
        if (!next || *next > now_ + 10 * kTimeout) return;
        now_ = std::max(now_ + 1, *next);
        continue;
      }
      for (const CoreRequest& r : requests) {
        log_.push_back(r.method + " " + r.target.substr(0, r.target.find('?')));
        const Fate f = fate ? fate(r) : Fate::kAnswer;
        if (f == Fate::kDrop) continue;
        auto a = model_.handle(r.method, r.target, r.body, now_);
        if (!r.send_key.empty() && a.status >= 200 && a.status < 300) ++acted_[r.send_key];
        if (f == Fate::kLoseAnswer) continue;
        CoreAnswer answer;
        answer.status = a.status;
        answer.body = a.body;
        core_->on_answer(r.id, answer, now_);
      }
    }
  }

  // The device's retries: asked until answered (or `tries` run out), time passing between.
  Result<PlatformAnswer> send(const d::Draft& draft,
                              const std::function<Fate(const CoreRequest&)>& fate = {},
                              int tries = 20) {
    Result<PlatformAnswer> got = error(ErrorCode::kUnavailable, "never asked");
    for (int i = 0; i < tries; ++i) {
      got = core_->send(agent_, draft, now_);
      if (got.ok() || got.status().code() != ErrorCode::kUnavailable) return got;
      run(fate);
      now_ += 500;
    }
    return got;
  }

  size_t count(const std::string& line) const {
    return static_cast<size_t>(std::count(log_.begin(), log_.end(), line));
  }

  d::Draft email_reply(const std::string& conversation) const {
    d::Draft reply;
    reply.set_id("d-mail");
    reply.set_kind(d::DRAFT_EMAIL_REPLY);
    reply.set_interaction_id(conversation);
    reply.set_subject("Re: Question");
    reply.set_body("Thanks, Ann. It is fixed.");
    reply.add_to("ann@example.com");
    reply.set_revision(3);
    return reply;
  }
  d::Draft sms(const std::string& conversation) const {
    d::Draft m;
    m.set_id("d-sms");
    m.set_kind(d::DRAFT_SMS);
    m.set_interaction_id(conversation);
    m.set_body("On my way");
    m.set_revision(1);
    return m;
  }
  d::Draft callback() const {
    d::Draft c;
    c.set_id("d-cb");
    c.set_kind(d::DRAFT_CALLBACK_REQUEST);
    c.set_queue_id("queue-1");
    c.set_callback_number("+358 40 111 2223");
    c.set_subject("Ann");
    c.set_body("About the order");
    c.set_revision(2);
    return c;
  }

  static Fate lose_first_post(const CoreRequest& r, int* posts) {
    if (r.send_key.empty()) return Fate::kAnswer;
    return (*posts)++ == 0 ? Fate::kLoseAnswer : Fate::kAnswer;
  }

  const AgentRef agent_{"acme", "agent-1"};
  MemorySendMarks marks_;
  sim::GenesysModel model_;
  std::unique_ptr<GenesysCore> core_;
  int64_t now_ = kStart;
  std::vector<std::string> log_;
  std::map<std::string, int> acted_;  // by send key: POSTs the platform acted on
};

TEST_F(GenesysCoreSendsTest, AnAttemptedReplyFoundByTheLookUpIsAcceptedWithoutAPost) {
  const std::string id = model_.route("agent-1", "email", now_);
  const std::string key = "send/agent-1/d-mail/3";
  const std::string post = "POST /api/v2/conversations/emails/" + id + "/messages";
  int posts = 0;
  auto sent =
      send(email_reply(id), [&](const CoreRequest& r) { return lose_first_post(r, &posts); });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(count(post), 1u);  // the lost answer's POST, never a second
  EXPECT_EQ(count("GET /api/v2/conversations/emails/" + id + "/messages"), 1u);  // the look-up
  EXPECT_EQ(acted_[key], 1);
  EXPECT_EQ(core_->counters().sends_unknown, 1u);
  EXPECT_EQ(core_->counters().sends_found, 1u);
  EXPECT_EQ(marks_.get(key), Mark::kAccepted);
}

TEST_F(GenesysCoreSendsTest, AnAttemptedMessageNotFoundIsPostedOnce) {
  const std::string id = model_.route("agent-1", "message", now_);
  const std::string key = "send/agent-1/d-sms/1";
  int posts = 0;
  // The first POST never reaches the platform: the retry looks, finds nothing, sends once.
  auto sent = send(sms(id), [&](const CoreRequest& r) {
    if (r.send_key.empty()) return Fate::kAnswer;
    return posts++ == 0 ? Fate::kDrop : Fate::kAnswer;
  });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(posts, 2);
  EXPECT_EQ(acted_[key], 1);
  EXPECT_EQ(count("POST /api/v2/conversations/messages/" + id + "/messages/bulk"), 1u);
  EXPECT_EQ(core_->counters().sends_found, 0u);
  EXPECT_EQ(marks_.get(key), Mark::kAccepted);
}

TEST_F(GenesysCoreSendsTest, AnAttemptedMessageFoundInTheBatchReadIsNotSentAgain) {
  const std::string id = model_.route("agent-1", "message", now_);
  int posts = 0;
  auto sent = send(sms(id), [&](const CoreRequest& r) { return lose_first_post(r, &posts); });
  ASSERT_TRUE(sent.ok() && sent->accepted);
  EXPECT_EQ(posts, 1);
  EXPECT_EQ(acted_["send/agent-1/d-sms/1"], 1);
  EXPECT_EQ(core_->counters().sends_found, 1u);
}

TEST_F(GenesysCoreSendsTest, AnAcceptedMarkIsTheAnswerWithoutAskingThePlatform) {
  const std::string id = model_.route("agent-1", "email", now_);
  ASSERT_TRUE(marks_.set("send/agent-1/d-mail/3", Mark::kAccepted).ok());
  auto sent = core_->send(agent_, email_reply(id), now_);
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted);
  EXPECT_TRUE(core_->take_requests().empty());
}

TEST_F(GenesysCoreSendsTest, ARefusalForgetsTheMark) {
  const std::string id = model_.route("agent-1", "email", now_);
  ASSERT_TRUE(model_.disconnect(id, now_));  // a reply to an ended email is refused
  auto sent = send(email_reply(id));
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_FALSE(sent->accepted);
  EXPECT_NE(sent->reason.find("disconnected"), std::string::npos) << sent->reason;
  EXPECT_EQ(marks_.get("send/agent-1/d-mail/3"), Mark::kNone);
  EXPECT_EQ(acted_.size(), 0u);
}

TEST_F(GenesysCoreSendsTest, ACallbackWhoseAnswerIsLostIsFoundByItsSendKey) {
  int posts = 0;
  auto sent = send(callback(), [&](const CoreRequest& r) { return lose_first_post(r, &posts); });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(count("POST /api/v2/conversations/callbacks"), 1u);
  EXPECT_EQ(count("POST /api/v2/analytics/conversations/details/query"), 1u);
  EXPECT_EQ(acted_["send/agent-1/d-cb/2"], 1);
  EXPECT_EQ(core_->counters().sends_found, 1u);
}

TEST_F(GenesysCoreSendsTest, ACallbackNeverMadeIsRefusedNotSentAgain) {
  int posts = 0;
  auto sent = send(callback(), [&](const CoreRequest& r) {
    if (r.send_key.empty()) return Fate::kAnswer;
    return posts++ == 0 ? Fate::kDrop : Fate::kAnswer;
  });
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_FALSE(sent->accepted);
  EXPECT_NE(sent->reason.find("not sent again"), std::string::npos) << sent->reason;
  EXPECT_EQ(posts, 1);
  EXPECT_EQ(acted_.size(), 0u);
}

TEST_F(GenesysCoreSendsTest, AFreshCoreWithTheSameJournalLooksOnceTheOldRequestsAreGone) {
  const std::string id = model_.route("agent-1", "message", now_);
  EXPECT_FALSE(core_->send(agent_, sms(id), now_).ok());  // started, not answered yet
  run([](const CoreRequest& r) { return r.send_key.empty() ? Fate::kAnswer : Fate::kLoseAnswer; });
  core_ = fresh_core();  // the server restarts; the journal says "attempted"
  log_.clear();
  auto early = core_->send(agent_, sms(id), now_);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(core_->take_requests().empty());  // no look-up yet, and no POST
  auto sent = send(sms(id));
  ASSERT_TRUE(sent.ok() && sent->accepted);
  EXPECT_EQ(count("POST /api/v2/conversations/messages/" + id + "/messages/bulk"), 1u);
  EXPECT_EQ(acted_["send/agent-1/d-sms/1"], 1);
}

}  // namespace
}  // namespace outpost::genesys
