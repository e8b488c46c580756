// A customer never gets the same email reply or message twice (decision 037): a send whose
// POST reached the platform but whose answer was lost (too slow, the connection dropped, the
// server gone) is not POSTed again; the adapter reads the conversation's messages and takes
// the matching one as sent. Against the fake Genesys Cloud's answer_after_ms / no_answer
// faults, within one adapter and across two (the second with the first's send journal).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "adapters/genesys/genesys_upstream.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
using namespace std::chrono_literals;

class GenesysSendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1", 5);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
    journal_ = fake_->dir() + "/platform-sends";
    fake_->control("route", R"({"user":"agent-1","media":"email","id":"c-mail"})");
    fake_->control("route", R"({"user":"agent-1","media":"message","id":"c-chat"})");
  }
  void TearDown() override {
    if (upstream_) upstream_->stop();
  }

  void start() {
    if (upstream_) upstream_->stop();
    GenesysOptions o = testing::options_against(*fake_);
    o.users = {"agent-1"};
    o.intent_wait = 300ms;
    o.rest.timeout_ms = 1'000;  // a send unanswered for 1 s: its outcome is unknown
    o.send_journal_dir = journal_;
    upstream_ = std::make_unique<GenesysUpstream>(std::move(o));
    upstream_->start();
    ASSERT_TRUE(upstream_->wait_mirrored(30s));
  }

  // The device's retries: kUnavailable is asked again, as a device retries with backoff.
  Result<PlatformAnswer> answer(const d::Draft& draft) {
    for (int i = 0; i < 60; ++i) {
      auto got = upstream_->send(agent_, draft, 0);
      if (got.ok() || got.status().code() != ErrorCode::kUnavailable) return got;
      std::this_thread::sleep_for(200ms);
    }
    return error(ErrorCode::kUnavailable, "no answer");
  }

  std::vector<std::string> sent_texts() {
    std::vector<std::string> out;
    const boost::json::value state = fake_->state();
    for (const auto& s : state.as_object().at("sent").as_array())
      out.emplace_back(s.as_object().at("textBody").as_string());
    return out;
  }

  static d::Draft email_reply() {
    d::Draft reply;
    reply.set_id("d-mail");
    reply.set_kind(d::DRAFT_EMAIL_REPLY);
    reply.set_interaction_id("c-mail");
    reply.set_subject("Re: Question");
    reply.set_body("Thanks, Ann. It is fixed.");
    reply.add_to("ann@example.com");
    reply.set_revision(3);
    return reply;
  }
  static d::Draft sms() {
    d::Draft m;
    m.set_id("d-sms");
    m.set_kind(d::DRAFT_SMS);
    m.set_interaction_id("c-chat");
    m.set_body("On my way");
    m.set_revision(1);
    return m;
  }

  const AgentRef agent_{"acme", "agent-1"};
  std::string journal_;
  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<GenesysUpstream> upstream_;
};

TEST_F(GenesysSendTest, AnEmailReplyAcceptedButAnsweredTooLateIsSentOnce) {
  start();
  // The platform sends the reply at once and answers after 2.5 s: past the 1 s timeout.
  fake_->control("faults",
                 R"({"method":"POST","path":"/api/v2/conversations/emails/c-mail/messages",
                     "answer_after_ms":2500})");
  auto sent = answer(email_reply());
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(sent_texts(), std::vector<std::string>{"Thanks, Ann. It is fixed."});
}

TEST_F(GenesysSendTest, AMessageWhoseAnswerIsLostIsSentOnce) {
  start();
  fake_->control("faults",
                 R"({"method":"POST","path":"/api/v2/conversations/messages/c-chat/communications",
                     "no_answer":true,"times":5})");
  auto sent = answer(sms());
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(sent_texts(), std::vector<std::string>{"On my way"});
}

TEST_F(GenesysSendTest, ASendInFlightWhenTheServerStopsIsNotSentAgainAfterARestart) {
  start();
  // The platform sends both and never answers; the server goes away meanwhile.
  fake_->control("faults",
                 R"([{"method":"POST","path":"/api/v2/conversations/emails/c-mail/messages",
                      "no_answer":true,"times":5},
                     {"method":"POST","path":"/api/v2/conversations/messages/c-chat/communications",
                      "no_answer":true,"times":5}])");
  EXPECT_FALSE(upstream_->send(agent_, email_reply(), 0).ok());  // not answered yet
  EXPECT_FALSE(upstream_->send(agent_, sms(), 0).ok());
  std::this_thread::sleep_for(200ms);
  upstream_->stop();
  upstream_.reset();
  fake_->control("clear");  // the platform answers again

  start();  // a new adapter, the same data directory: the device retries
  auto mail = answer(email_reply());
  ASSERT_TRUE(mail.ok()) << mail.status().to_string();
  EXPECT_TRUE(mail->accepted) << mail->reason;
  auto text = answer(sms());
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  EXPECT_TRUE(text->accepted) << text->reason;
  EXPECT_EQ(sent_texts(), (std::vector<std::string>{"Thanks, Ann. It is fixed.", "On my way"}));
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails/c-mail/messages"), 0);
  EXPECT_EQ(upstream_->counters().sends_found, 2u);

  // A send that never reached the platform is still sent: the journal only says "maybe".
  d::Draft second = sms();
  second.set_id("d-sms-2");
  second.set_body("Here now");
  auto later = answer(second);
  ASSERT_TRUE(later.ok() && later->accepted);
  EXPECT_EQ(sent_texts().back(), "Here now");
}

TEST_F(GenesysSendTest, AnAnswerAcceptedBeforeTheRestartIsNotAskedAgain) {
  start();
  auto mail = answer(email_reply());
  ASSERT_TRUE(mail.ok() && mail->accepted);
  // The server accepted, then died before its store committed: the device retries the
  // same draft revision on the next server, which answers from its journal.
  start();
  fake_->control("clear");
  mail = answer(email_reply());
  ASSERT_TRUE(mail.ok()) << mail.status().to_string();
  EXPECT_TRUE(mail->accepted);
  EXPECT_EQ(sent_texts().size(), 1u);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails"), 0);
}

}  // namespace
}  // namespace outpost::genesys
