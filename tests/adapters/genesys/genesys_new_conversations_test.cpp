// New conversations a device starts on Genesys Cloud (decision 044): a callback scheduled
// on a queue and a new email sent on behalf of one. The checks made before any POST and the
// request bodies alone; then the adapter against the fake Genesys Cloud: the platform gets
// the right fields, its refusal is the draft's with its message, and an attempt whose answer
// was lost is made at most once (found by its send key, or refused, never POSTed twice),
// within one adapter and across a restart with the same journal.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "adapters/genesys/genesys_json.h"
#include "adapters/genesys/genesys_new_conversations.h"
#include "adapters/genesys/genesys_upstream.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15

d::Draft callback_draft(int64_t at_ms) {
  d::Draft cb;
  cb.set_id("d-cb");
  cb.set_kind(d::DRAFT_CALLBACK_REQUEST);
  cb.set_queue_id("queue-1");
  cb.set_callback_number("+358 40-111 2223");
  cb.set_callback_at_ms(at_ms);
  cb.set_subject("Ann Example");
  cb.set_body("Wants to hear about the invoice");
  cb.set_revision(4);
  return cb;
}

d::Draft email_draft() {
  d::Draft mail;
  mail.set_id("d-new");
  mail.set_kind(d::DRAFT_OUTBOUND_EMAIL);
  mail.set_queue_id("queue-1");
  mail.add_to("bo@example.com");
  mail.set_subject("Your order");
  mail.set_body("It shipped today.");
  mail.set_revision(2);
  return mail;
}

TEST(NewConversationChecks, WhatThePlatformIsNeverAsked) {
  EXPECT_EQ(new_conversation_refusal(callback_draft(kNow + 3'600'000), kNow), "");
  EXPECT_EQ(new_conversation_refusal(callback_draft(0), kNow), "");  // as soon as possible
  auto refused = [](d::Draft draft) { return new_conversation_refusal(draft, kNow); };
  d::Draft cb = callback_draft(kNow + 1000);
  cb.clear_queue_id();
  EXPECT_NE(refused(cb).find("queue"), std::string::npos);
  cb = callback_draft(kNow + 1000);
  cb.clear_callback_number();
  EXPECT_NE(refused(cb).find("phone number"), std::string::npos);
  cb.set_callback_number("call me");
  EXPECT_NE(refused(cb).find("not a phone number"), std::string::npos);
  cb.set_callback_number("12");
  EXPECT_NE(refused(cb).find("not a phone number"), std::string::npos);
  EXPECT_NE(refused(callback_draft(kNow - 1)).find("time has passed"), std::string::npos);

  EXPECT_EQ(refused(email_draft()), "");
  d::Draft mail = email_draft();
  mail.clear_queue_id();
  EXPECT_NE(refused(mail).find("queue"), std::string::npos);
  mail = email_draft();
  mail.add_to("cy@example.com");
  EXPECT_NE(refused(mail).find("exactly one address"), std::string::npos);
  mail = email_draft();
  mail.add_cc("cy@example.com");
  EXPECT_NE(refused(mail).find("no copies"), std::string::npos);
  for (const char* bad : {"bo", "bo@example", "@example.com", "bo@@example.com", "Bo <bo@x.fi>"}) {
    mail = email_draft();
    mail.set_to(0, bad);
    EXPECT_NE(refused(mail).find("not an email address"), std::string::npos) << bad;
  }
  mail = email_draft();
  mail.set_body(" \n");
  EXPECT_NE(refused(mail).find("needs a body"), std::string::npos);
  mail = email_draft();
  mail.add_attachments()->set_name("a.pdf");
  EXPECT_NE(refused(mail).find("attachments"), std::string::npos);

  d::Draft sms;
  sms.set_kind(d::DRAFT_SMS);
  sms.add_to("+358401112223");
  sms.set_body("Hello");
  EXPECT_EQ(new_conversation_of(sms), NewConversation::kSms);
  EXPECT_NE(refused(sms).find("new SMS"), std::string::npos);
  sms.set_interaction_id("c-1");  // a reply: not a new conversation
  EXPECT_EQ(new_conversation_of(sms), NewConversation::kNone);
}

TEST(NewConversationChecks, TheBodiesCarryTheDraftAndItsSendKey) {
  const int64_t at = kNow + 3'600'000;
  json::object cb = json::parse(encode_new_callback(callback_draft(at), "send/k")).as_object();
  EXPECT_EQ(cb.at("queueId").as_string(), "queue-1");
  EXPECT_EQ(json::serialize(cb.at("callbackNumbers")), R"(["+358401112223"])");
  EXPECT_EQ(cb.at("callbackUserName").as_string(), "Ann Example");
  EXPECT_EQ(parse_iso_ms(cb.at("callbackScheduledTime").as_string()), at);
  EXPECT_EQ(cb.at("data").at("outpostSendKey").as_string(), "send/k");
  EXPECT_EQ(cb.at("data").at("outpostNote").as_string(), "Wants to hear about the invoice");
  EXPECT_FALSE(json::parse(encode_new_callback(callback_draft(0), "k"))
                   .as_object()
                   .contains("callbackScheduledTime"));

  json::object mail = json::parse(encode_new_email(email_draft(), "send/e")).as_object();
  EXPECT_EQ(mail.at("direction").as_string(), "OUTBOUND");
  EXPECT_EQ(mail.at("provider").as_string(), "PureCloud Email");
  EXPECT_EQ(mail.at("queueId").as_string(), "queue-1");
  EXPECT_EQ(mail.at("toAddress").as_string(), "bo@example.com");
  EXPECT_EQ(mail.at("subject").as_string(), "Your order");
  EXPECT_EQ(mail.at("textBody").as_string(), "It shipped today.");
  EXPECT_EQ(mail.at("attributes").at("outpostSendKey").as_string(), "send/e");

  json::object query = json::parse(encode_created_query("send/k", kNow - 1000, kNow)).as_object();
  const json::object& predicate =
      query.at("segmentFilters").at(0).at("predicates").at(0).as_object();
  EXPECT_EQ(predicate.at("type").as_string(), "property");
  EXPECT_EQ(predicate.at("property").as_string(), "outpostSendKey");
  EXPECT_EQ(predicate.at("value").as_string(), "send/k");
}

TEST(NewConversationChecks, TheAnswersDecode) {
  EXPECT_EQ(
      *decode_created_conversation(R"({"conversation":{"id":"cb-1"},"callbackIdentifiers":[]})"),
      "cb-1");
  EXPECT_EQ(*decode_created_conversation(R"({"id":"c-7","participants":[]})"), "c-7");
  EXPECT_EQ(decode_created_conversation(R"({"conversation":{}})").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode_created_conversation("[").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*decode_found_conversations(R"({"totalHits":0})"), std::vector<std::string>{});
  EXPECT_EQ(
      *decode_found_conversations(R"({"totalHits":1,"conversations":[{"conversationId":"a"}]})"),
      std::vector<std::string>{"a"});
  EXPECT_FALSE(decode_found_conversations(R"({"conversations":[{}]})").ok());
  EXPECT_FALSE(decode_found_conversations(R"({"entities":[]})").ok());
}

class GenesysNewConversationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1", 5);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
    journal_ = fake_->dir() + "/platform-sends";
  }
  void TearDown() override {
    if (upstream_) upstream_->stop();
  }

  void start() {
    if (upstream_) upstream_->stop();
    GenesysOptions o = testing::options_against(*fake_);
    o.users = {"agent-1"};
    o.intent_wait = 300ms;
    o.rest.timeout_ms = 1'000;  // unanswered for 1 s: the outcome is unknown
    o.send_journal_dir = journal_;
    upstream_ = std::make_unique<GenesysUpstream>(std::move(o));
    upstream_->start();
    ASSERT_TRUE(upstream_->wait_mirrored(30s));
  }

  // The device's retries of kUnavailable, with backoff.
  Result<PlatformAnswer> answer(const d::Draft& draft) {
    for (int i = 0; i < 60; ++i) {
      auto got = upstream_->send(agent_, draft, now_ms());
      if (got.ok() || got.status().code() != ErrorCode::kUnavailable) return got;
      std::this_thread::sleep_for(200ms);
    }
    return error(ErrorCode::kUnavailable, "no answer");
  }

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  json::array callbacks() { return fake_->state().as_object().at("callbacks").as_array(); }

  const AgentRef agent_{"acme", "agent-1"};
  std::string journal_;
  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<GenesysUpstream> upstream_;
};

TEST_F(GenesysNewConversationTest, ACallbackReachesThePlatformWithItsFields) {
  start();
  const int64_t at = now_ms() + 3'600'000;
  auto sent = answer(callback_draft(at));
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  json::array made = callbacks();
  ASSERT_EQ(made.size(), 1u);
  const json::object& cb = made[0].as_object();
  EXPECT_EQ(cb.at("queueId").as_string(), "queue-1");
  EXPECT_EQ(json::serialize(cb.at("callbackNumbers")), R"(["+358401112223"])");
  EXPECT_EQ(cb.at("callbackUserName").as_string(), "Ann Example");
  EXPECT_EQ(parse_iso_ms(cb.at("callbackScheduledTime").as_string()), at);
  EXPECT_EQ(cb.at("data").at("outpostSendKey").as_string(), "send/agent-1/d-cb/4");
  // Asked again (the device's retry after a lost answer): from the journal, no second POST.
  sent = answer(callback_draft(at));
  ASSERT_TRUE(sent.ok() && sent->accepted);
  // Even once its time has passed (the retry comes late): accepted, not checked again.
  sent = upstream_->send(agent_, callback_draft(at), at + 60'000);
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/callbacks"), 1);
}

TEST_F(GenesysNewConversationTest, ANewEmailIsSentOnBehalfOfItsQueue) {
  start();
  auto sent = answer(email_draft());
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  const json::array out = fake_->state().as_object().at("sent").as_array();
  ASSERT_EQ(out.size(), 1u);
  const json::object& last = out[0].as_object();
  EXPECT_EQ(last.at("textBody").as_string(), "It shipped today.");
  EXPECT_EQ(last.at("subject").as_string(), "Your order");
  EXPECT_EQ(last.at("to").at(0).at("email").as_string(), "bo@example.com");
}

TEST_F(GenesysNewConversationTest, ANewEmailWithTheAgentsLoginBecomesTheAgentsInteraction) {
  start();
  ASSERT_TRUE(upstream_->set_user_login(agent_, fake_->user_login("agent-1"), 0).ok());
  auto sent = answer(email_draft());
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  ASSERT_TRUE(sent->accepted) << sent->reason;
  // The platform notifies the agent's new conversation; the mirror shows it as outbound.
  std::optional<d::Interaction> mine;
  for (int i = 0; i < 100 && !mine; ++i) {
    auto events = upstream_->poll(0);
    ASSERT_TRUE(events.ok());
    for (const upstream::Event& e : *events) {
      if (e.has_interaction() && e.interaction().direction() == d::DIRECTION_OUTBOUND &&
          e.interaction().media() == d::MEDIA_EMAIL) {
        mine = e.interaction();
      }
    }
    if (!mine) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails"), 1);
}

TEST_F(GenesysNewConversationTest, RefusalsKeepTheirReasonAndChecksComeBeforeAnyPost) {
  start();
  // The platform refuses (no such queue there): its message is the draft's refusal, and
  // the journal forgets the attempt, so the edited draft is sent normally.
  d::Draft cb = callback_draft(now_ms() + 3'600'000);
  cb.set_queue_id("queue-9");
  auto refused = answer(cb);
  ASSERT_TRUE(refused.ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->accepted);
  EXPECT_NE(refused->reason.find("queue-9 does not exist"), std::string::npos) << refused->reason;
  EXPECT_TRUE(callbacks().empty());
  cb.set_queue_id("queue-1");
  auto sent = answer(cb);
  ASSERT_TRUE(sent.ok() && sent->accepted) << (sent.ok() ? sent->reason : "");
  EXPECT_EQ(callbacks().size(), 1u);

  // Refused by the checks: the platform is not asked.
  const int posts = fake_->count_requests("POST", "/api/v2/conversations/");
  d::Draft past = callback_draft(now_ms() - 60'000);
  past.set_id("d-past");
  refused = upstream_->send(agent_, past, now_ms());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->accepted);
  EXPECT_NE(refused->reason.find("time has passed"), std::string::npos);
  d::Draft mail = email_draft();
  mail.set_to(0, "not-an-address");
  refused = upstream_->send(agent_, mail, now_ms());
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->accepted);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/"), posts);
}

TEST_F(GenesysNewConversationTest, ACallbackWhoseAnswerIsLostIsMadeOnce) {
  start();
  // The platform schedules it at once and answers after 2.5 s: past the 1 s timeout.
  fake_->control("faults", R"({"method":"POST","path":"/api/v2/conversations/callbacks",
                              "answer_after_ms":2500})");
  auto sent = answer(callback_draft(now_ms() + 3'600'000));
  ASSERT_TRUE(sent.ok()) << sent.status().to_string();
  EXPECT_TRUE(sent->accepted) << sent->reason;
  EXPECT_EQ(callbacks().size(), 1u);
  // The fake logs the late answer when it leaves, 2.5 s after the POST.
  for (int i = 0; i < 50 && fake_->count_requests("POST", "/api/v2/conversations/callbacks") == 0;
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/callbacks"), 1);
  EXPECT_EQ(upstream_->counters().sends_found, 1u);
  EXPECT_GE(upstream_->counters().sends_unknown, 1u);
}

TEST_F(GenesysNewConversationTest, AnUnknownAttemptThatCannotBeFoundIsRefusedNotSentAgain) {
  start();
  // A 503: the platform may or may not have acted. Here it did not.
  fake_->control("faults", R"({"method":"POST","path":"/api/v2/conversations/emails",
                              "status":503,"times":1})");
  auto refused = answer(email_draft());
  ASSERT_TRUE(refused.ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->accepted);
  EXPECT_NE(refused->reason.find("not sent again"), std::string::npos) << refused->reason;
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails"), 1);
  // The agent edits it (a new revision) and sends: a new email, sent once.
  d::Draft edited = email_draft();
  edited.set_revision(3);
  auto sent = answer(edited);
  ASSERT_TRUE(sent.ok() && sent->accepted);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails"), 2);
}

TEST_F(GenesysNewConversationTest, AnAttemptInFlightWhenTheAdapterStopsIsFoundAfterARestart) {
  start();
  fake_->control("faults", R"([{"method":"POST","path":"/api/v2/conversations/callbacks",
                               "no_answer":true,"times":5},
                              {"method":"POST","path":"/api/v2/conversations/emails",
                               "no_answer":true,"times":5}])");
  const d::Draft cb = callback_draft(now_ms() + 3'600'000);
  EXPECT_FALSE(upstream_->send(agent_, cb, now_ms()).ok());  // not answered yet
  EXPECT_FALSE(upstream_->send(agent_, email_draft(), now_ms()).ok());
  std::this_thread::sleep_for(200ms);
  upstream_->stop();
  upstream_.reset();
  fake_->control("clear");  // the platform answers again; the request log restarts

  start();  // the same journal: the device retries
  for (const d::Draft& draft : {cb, email_draft()}) {
    auto sent = answer(draft);
    ASSERT_TRUE(sent.ok()) << sent.status().to_string();
    EXPECT_TRUE(sent->accepted) << sent->reason;
  }
  EXPECT_EQ(callbacks().size(), 1u);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/callbacks"), 0);
  EXPECT_EQ(fake_->count_requests("POST", "/api/v2/conversations/emails"), 0);
  EXPECT_EQ(upstream_->counters().sends_found, 2u);
}

}  // namespace
}  // namespace outpost::genesys
