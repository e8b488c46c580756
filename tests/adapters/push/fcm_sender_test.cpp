// FcmSender against the fake FCM (fake_fcm.py): the service-account assertion exchanged
// for an access token, cached until shortly before expiry, refreshed once on 401; the data
// message of the reference; every failure answer mapped to its outcome and counted.
#include "adapters/push/fcm_sender.h"

#include <gtest/gtest.h>

#include "tests/adapters/push/fake_service.h"
#include "tests/adapters/push/sender_test_support.h"

namespace outpost::push {
namespace {

using testing::str;
using testing::wall_ms;

PushMessage fcm_wake(std::string scope, std::uint64_t head,
                     std::string token = "fcm-registration-token-0001") {
  return testing::wake(std::move(token), std::move(scope), head, Platform::kFcm, "app");
}

class FcmSenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new testing::FakeService("fcm"); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fake_->ok()) << "the fake FCM did not start; see " << fake_->log();
    fake_->clear();
    fake_->post("/config", R"({"token_lifetime": 3600})");
  }

  std::unique_ptr<FcmSender> sender(long timeout_ms = 20'000) {
    FcmConfig config;
    config.service_account_json = fake_->read_file("service_account");
    config.base_url = fake_->get("base_url");
    config.http.ca_file = fake_->get("ca");
    config.http.timeout_ms = timeout_ms;
    auto s = FcmSender::create(std::move(config));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return std::move(s).value();
  }
  static std::vector<boost::json::value> sends() {
    std::vector<boost::json::value> out;
    for (const auto& r : fake_->received()) {
      if (str(r, {"path"}) != "/token") out.push_back(r);
    }
    return out;
  }
  static std::int64_t token_requests() { return fake_->stats().at("token_requests").as_int64(); }

  static testing::FakeService* fake_;
};
testing::FakeService* FcmSenderTest::fake_ = nullptr;

TEST_F(FcmSenderTest, DataMessageWithCollapseKeyAndNormalPriorityAfterATokenExchange) {
  auto s = sender();
  const auto before = token_requests();
  auto r = s->send({fcm_wake("user/u1", 9)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kDelivered) << r[0].reason;
  EXPECT_EQ(token_requests() - before, 1);
  auto got = fake_->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(str(got[0], {"path"}), "/token");
  EXPECT_EQ(str(got[0], {"jwt", "header", "alg"}), "RS256");
  EXPECT_EQ(str(got[0], {"jwt", "claims", "aud"}), fake_->get("token_url"));
  EXPECT_EQ(str(got[0], {"jwt", "claims", "scope"}),
            "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(str(got[1], {"path"}), "/v1/projects/" + fake_->get("project_id") + "/messages:send");
  auto body = testing::body_json(got[1]);
  EXPECT_EQ(str(body, {"message", "token"}), "fcm-registration-token-0001");
  EXPECT_EQ(str(body, {"message", "data", "scope"}), "user/u1");
  EXPECT_EQ(str(body, {"message", "data", "head"}), "9");
  EXPECT_EQ(str(body, {"message", "data", "kind"}), "wake");
  EXPECT_EQ(str(body, {"message", "android", "priority"}), "normal");
  EXPECT_EQ(str(body, {"message", "android", "collapse_key"}), "user/u1");
  EXPECT_EQ(str(body, {"message", "notification"}), "<missing>");
  EXPECT_EQ(str(body, {"message", "apns", "headers", "apns-priority"}), "5");
}

TEST_F(FcmSenderTest, AccessTokenIsCachedUntilShortlyBeforeItExpires) {
  fake_->post("/config", R"({"token_lifetime": 300})");
  auto s = sender();
  const std::int64_t now = wall_ms();
  const auto before = token_requests();
  EXPECT_EQ(s->send({fcm_wake("s", 1)}, now)[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(s->send({fcm_wake("s", 2)}, now + 200'000)[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(token_requests() - before, 1);  // cached
  EXPECT_EQ(s->send({fcm_wake("s", 3)}, now + 241'000)[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(token_requests() - before, 2);  // within a minute of expiry: replaced
  EXPECT_EQ(s->counters().provider_token_refreshes, 1u);
}

TEST_F(FcmSenderTest, UnauthorizedIsRefreshedOnceAndRetried) {
  auto s = sender();
  ASSERT_EQ(s->send({fcm_wake("s", 1)}, wall_ms())[0].outcome, Outcome::kDelivered);
  fake_->post("/revoke", "{}");
  auto r = s->send({fcm_wake("s", 2)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kDelivered) << r[0].reason;
  EXPECT_EQ(s->counters().provider_token_rejected, 1u);
  EXPECT_EQ(s->counters().provider_token_refreshes, 1u);

  fake_->script(R"([{"status":401,"reason":"THIRD_PARTY_AUTH_ERROR"},
                    {"status":401,"reason":"THIRD_PARTY_AUTH_ERROR"}])");
  r = s->send({fcm_wake("s", 3)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r[0].http_status, 401);
}

TEST_F(FcmSenderTest, UnregisteredAndInvalidTokensMeanRemoveTheTarget) {
  auto s = sender();
  fake_->unregister("fcm-registration-token-dead");
  auto r = s->send({fcm_wake("s", 1, "fcm-registration-token-dead"), fcm_wake("s", 1, "bad token")},
                   wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRemoveTarget);
  EXPECT_EQ(r[0].http_status, 404);
  EXPECT_EQ(r[0].reason, "UNREGISTERED");
  EXPECT_EQ(r[1].outcome, Outcome::kRemoveTarget);
  EXPECT_EQ(r[1].http_status, 400);
  // INVALID_ARGUMENT about something other than the token is our bug: fail, keep the target.
  fake_->script(R"([{"status":400,"reason":"INVALID_ARGUMENT","field":"message.data"}])");
  r = s->send({fcm_wake("s", 2)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kFailed);
  EXPECT_EQ(s->counters().removed_targets, 2u);
}

TEST_F(FcmSenderTest, QuotaUnavailableAndInternalAreRetries) {
  auto s = sender();
  fake_->script(R"([{"status":429,"reason":"QUOTA_EXCEEDED","retry_after":30},
                    {"status":503,"reason":"UNAVAILABLE","retry_after":2},
                    {"status":500,"reason":"INTERNAL"}])");
  auto r = s->send({fcm_wake("a", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].retry_after_ms, 30'000);
  r = s->send({fcm_wake("a", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].retry_after_ms, 2'000);
  r = s->send({fcm_wake("a", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].reason, "INTERNAL");
  EXPECT_EQ(s->counters().rate_limited, 1u);
  EXPECT_EQ(s->counters().unavailable, 1u);
  EXPECT_EQ(s->counters().server_errors, 1u);
}

TEST_F(FcmSenderTest, TokenEndpointFailureIsARetryForEveryMessage) {
  auto s = sender();
  fake_->script(R"([{"on":"token","status":503,"reason":"UNAVAILABLE"}])");
  auto r = s->send({fcm_wake("a", 1), fcm_wake("b", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[1].outcome, Outcome::kRetry);
  EXPECT_TRUE(sends().empty());
  EXPECT_EQ(s->counters().token_errors, 1u);
  EXPECT_EQ(s->send({fcm_wake("a", 2)}, wall_ms())[0].outcome, Outcome::kDelivered);
}

TEST_F(FcmSenderTest, OversizeMessageNeverLeaves) {
  auto s = sender();
  PushMessage m = fcm_wake("s", 1);
  m.push.kind = PushKind::kVoicemail;
  m.push.title = "Voicemail";
  m.push.body = std::string(4200, 'y');
  EXPECT_EQ(s->send({m}, wall_ms())[0].outcome, Outcome::kFailed);
  EXPECT_EQ(s->counters().payload_too_large, 1u);
  EXPECT_TRUE(sends().empty());
}

TEST_F(FcmSenderTest, ResetsAndSlowAnswersAreRetries) {
  auto s = sender(/*timeout_ms=*/2'000);
  ASSERT_EQ(s->send({fcm_wake("s", 1)}, wall_ms())[0].outcome, Outcome::kDelivered);
  fake_->script(R"([{"action":"reset_stream"}])");
  EXPECT_EQ(s->send({fcm_wake("s", 2)}, wall_ms())[0].outcome, Outcome::kRetry);
  fake_->script(R"([{"action":"reset_connection"}])");
  EXPECT_EQ(s->send({fcm_wake("s", 3)}, wall_ms())[0].outcome, Outcome::kRetry);
  fake_->script(R"([{"delay":8}])");
  EXPECT_EQ(s->send({fcm_wake("s", 4)}, wall_ms())[0].outcome, Outcome::kRetry);
  EXPECT_EQ(s->counters().transport_errors, 2u);
  EXPECT_EQ(s->counters().timeouts, 1u);
}

}  // namespace
}  // namespace outpost::push
