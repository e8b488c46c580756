// ApnsSender against the fake APNs (fake_apns.py): the request shape of the reference, the
// provider token's reuse and refresh, one connection for many streams, and every failure
// answer mapped to its outcome and counted.
#include "adapters/push/apns_sender.h"

#include <gtest/gtest.h>

#include "adapters/push/push_delivery.h"
#include "tests/adapters/push/fake_service.h"
#include "tests/adapters/push/sender_test_support.h"

namespace outpost::push {
namespace {

using testing::hex_token;
using testing::str;
using testing::wake;
using testing::wall_ms;

class ApnsSenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new testing::FakeService("apns"); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fake_->ok()) << "the fake APNs did not start; see " << fake_->log();
    fake_->clear();
    fake_->post("/config", R"({"enforce_refresh_interval": false})");
  }

  std::unique_ptr<ApnsSender> sender(long timeout_ms = 20'000) {
    ApnsConfig config;
    config.key_pem = fake_->read_file("key_file");
    config.key_id = fake_->get("key_id");
    config.team_id = fake_->get("team_id");
    config.production_host = fake_->get("base_url");
    config.sandbox_host = fake_->get("base_url");
    config.http.ca_file = fake_->get("ca");
    config.http.timeout_ms = timeout_ms;
    auto s = ApnsSender::create(std::move(config));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return std::move(s).value();
  }

  static testing::FakeService* fake_;
};
testing::FakeService* ApnsSenderTest::fake_ = nullptr;

TEST_F(ApnsSenderTest, BackgroundWakeCarriesTheReferenceHeadersAndAVerifiedToken) {
  auto s = sender();
  auto results = s->send({wake(hex_token('a'), "user/u1", 42)}, wall_ms());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, Outcome::kDelivered) << results[0].reason;
  auto got = fake_->received();
  ASSERT_EQ(got.size(), 1u);
  const auto& r = got[0];
  EXPECT_EQ(str(r, {"path"}), "/3/device/" + hex_token('a'));
  EXPECT_EQ(str(r, {"headers", "apns-push-type"}), "background");
  EXPECT_EQ(str(r, {"headers", "apns-priority"}), "5");
  EXPECT_EQ(str(r, {"headers", "apns-collapse-id"}), "user/u1");
  EXPECT_EQ(str(r, {"headers", "apns-topic"}), "com.example.outpost");
  EXPECT_EQ(str(r, {"jwt", "header", "alg"}), "ES256");
  EXPECT_EQ(str(r, {"jwt", "header", "kid"}), fake_->get("key_id"));
  EXPECT_EQ(str(r, {"jwt", "claims", "iss"}), fake_->get("team_id"));
  auto body = testing::body_json(r);
  EXPECT_EQ(str(body, {"aps", "content-available"}), "1");
  EXPECT_EQ(str(body, {"aps", "alert"}), "<missing>");
  EXPECT_EQ(str(body, {"scope"}), "user/u1");
  EXPECT_EQ(str(body, {"head"}), "42");
  EXPECT_EQ(s->counters().delivered, 1u);
}

TEST_F(ApnsSenderTest, VisibleVoicemailIsAnAlertWithoutCustomerData) {
  auto s = sender();
  PushMessage m = wake(hex_token('b'), "", 0);
  m.push.kind = PushKind::kVoicemail;
  m.push.title = "Voicemail";
  m.push.body = "You have a new voicemail.";
  m.push.voicemail_id = "vm-1";
  auto results = s->send({m}, wall_ms());
  EXPECT_EQ(results[0].outcome, Outcome::kDelivered) << results[0].reason;
  auto r = fake_->received().at(0);
  EXPECT_EQ(str(r, {"headers", "apns-push-type"}), "alert");
  EXPECT_EQ(str(r, {"headers", "apns-priority"}), "10");
  auto body = testing::body_json(r);
  EXPECT_EQ(str(body, {"aps", "alert", "body"}), "You have a new voicemail.");
  EXPECT_EQ(str(body, {"voicemail_id"}), "vm-1");
}

TEST_F(ApnsSenderTest, ManyPushesAreStreamsOnOneReusedConnection) {
  auto s = sender();
  const auto before = fake_->stats().at("connections").as_int64();
  std::vector<PushMessage> batch;
  for (int i = 0; i < 40; ++i)
    batch.push_back(wake(hex_token('c'), "user/u" + std::to_string(i), 1));
  for (const auto& r : s->send(batch, wall_ms()))
    EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.reason;
  for (const auto& r : s->send(batch, wall_ms()))
    EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.reason;
  auto stats = fake_->stats();
  EXPECT_EQ(stats.at("connections").as_int64() - before, 1);
  EXPECT_EQ(s->connections_opened(), 1);
  // The first stream waits for the token to be accepted; the rest are multiplexed.
  EXPECT_GT(stats.at("max_concurrent_streams").as_int64(), 1);
  std::set<std::string> connections;
  for (const auto& r : fake_->received()) connections.insert(str(r, {"connection"}));
  EXPECT_EQ(connections.size(), 1u);
}

TEST_F(ApnsSenderTest, ProviderTokenIsReusedThenRefreshedBetween20And60Minutes) {
  auto s = sender();  // refresh after 50 minutes (the default)
  const std::int64_t t0 = wall_ms() - 50 * 60'000;
  ASSERT_EQ(s->send({wake(hex_token('d'), "s", 1)}, t0)[0].outcome, Outcome::kDelivered);
  ASSERT_EQ(s->send({wake(hex_token('d'), "s", 2)}, t0 + 19 * 60'000)[0].outcome,
            Outcome::kDelivered);
  ASSERT_EQ(s->send({wake(hex_token('d'), "s", 3)}, t0 + 50 * 60'000)[0].outcome,
            Outcome::kDelivered);
  auto got = fake_->received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(str(got[0], {"jwt", "claims", "iat"}), std::to_string(t0 / 1000));
  EXPECT_EQ(str(got[1], {"jwt", "claims", "iat"}), std::to_string(t0 / 1000));
  EXPECT_EQ(str(got[2], {"jwt", "claims", "iat"}), std::to_string((t0 + 50 * 60'000) / 1000));
  EXPECT_EQ(s->counters().provider_token_refreshes, 1u);
}

TEST_F(ApnsSenderTest, RejectedProviderTokenIsRefreshedOnceAndRetried) {
  auto s = sender();
  fake_->script(R"([{"status":403,"reason":"ExpiredProviderToken"}])");
  auto r = s->send({wake(hex_token('e'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kDelivered) << r[0].reason;
  EXPECT_EQ(fake_->received().size(), 2u);
  EXPECT_EQ(s->counters().provider_token_refreshes, 1u);
  EXPECT_EQ(s->counters().provider_token_rejected, 1u);

  // Refused again after the refresh: the credentials are wrong; no third try.
  fake_->clear();
  fake_->script(R"([{"status":403,"reason":"InvalidProviderToken"},
                    {"status":403,"reason":"InvalidProviderToken"}])");
  r = s->send({wake(hex_token('e'), "s", 2)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r[0].http_status, 403);
  EXPECT_EQ(fake_->received().size(), 2u);
  EXPECT_EQ(s->counters().provider_token_refreshes, 2u);
}

TEST_F(ApnsSenderTest, BadOrUnregisteredTokensMeanRemoveTheTarget) {
  auto s = sender();
  fake_->unregister(hex_token('f'));
  auto r = s->send({wake("not-a-device-token", "s", 1), wake(hex_token('f'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRemoveTarget);
  EXPECT_EQ(r[0].reason, "BadDeviceToken");
  EXPECT_EQ(r[1].outcome, Outcome::kRemoveTarget);
  EXPECT_EQ(r[1].http_status, 410);
  EXPECT_EQ(r[1].reason, "Unregistered");
  EXPECT_EQ(s->counters().removed_targets, 2u);
}

TEST_F(ApnsSenderTest, ThrottledAndServerErrorsAreRetriesWithRetryAfter) {
  auto s = sender();
  fake_->script(R"([{"status":429,"reason":"TooManyRequests","retry_after":7}])");
  auto r = s->send({wake(hex_token('1'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].retry_after_ms, 7000);
  fake_->script(R"([{"status":503,"reason":"ServiceUnavailable","retry_after":3}])");
  r = s->send({wake(hex_token('1'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].retry_after_ms, 3000);
  fake_->script(R"([{"status":500,"reason":"InternalServerError"}])");
  r = s->send({wake(hex_token('1'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(r[0].retry_after_ms, -1);
  EXPECT_EQ(s->counters().rate_limited, 1u);
  EXPECT_EQ(s->counters().unavailable, 1u);
  EXPECT_EQ(s->counters().server_errors, 1u);
}

TEST_F(ApnsSenderTest, PayloadOver4KBNeverLeaves) {
  auto s = sender();
  auto r = s->send({wake(hex_token('2'), std::string(5000, 'x'), 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kFailed);
  EXPECT_EQ(s->counters().payload_too_large, 1u);
  EXPECT_TRUE(fake_->received().empty());
}

TEST_F(ApnsSenderTest, ResetStreamResetConnectionAndGoawayAreRetriesAndTheSenderRecovers) {
  auto s = sender();
  for (const char* action : {"reset_stream", "reset_connection", "goaway"}) {
    fake_->script(std::string(R"([{"action":")") + action + R"("}])");
    auto r = s->send({wake(hex_token('3'), "s", 1)}, wall_ms());
    EXPECT_EQ(r[0].outcome, Outcome::kRetry) << action;
    EXPECT_EQ(r[0].http_status, 0) << action;
    r = s->send({wake(hex_token('3'), "s", 2)}, wall_ms());
    EXPECT_EQ(r[0].outcome, Outcome::kDelivered) << action << ": " << r[0].reason;
  }
  EXPECT_EQ(s->counters().transport_errors, 3u);
}

TEST_F(ApnsSenderTest, ASlowAnswerTimesOutAsARetry) {
  auto s = sender(/*timeout_ms=*/2'000);
  fake_->script(R"([{"delay":8}])");
  auto r = s->send({wake(hex_token('4'), "s", 1)}, wall_ms());
  EXPECT_EQ(r[0].outcome, Outcome::kRetry);
  EXPECT_EQ(s->counters().timeouts, 1u);
}

TEST_F(ApnsSenderTest, DeliveryRetriesWithBackoffAndGivesUpAtTheBound) {
  auto s = sender();
  DeliveryOptions options;
  options.max_attempts = 3;
  PushDelivery delivery(*s, options, [] { return 0.5; });
  std::int64_t now = wall_ms();
  fake_->script(R"([{"status":503,"retry_after":1},{"status":500}])");
  ASSERT_TRUE(delivery.submit(wake(hex_token('5'), "s", 1), now).ok());
  EXPECT_TRUE(delivery.run(now).empty());
  EXPECT_EQ(delivery.next_deadline(), now + 1100);  // Retry-After 1 s + 10% jitter
  now += 1100;
  EXPECT_TRUE(delivery.run(now).empty());
  EXPECT_EQ(delivery.next_deadline(), now + 2200);  // backoff 2 s + 10% jitter
  now += 2200;
  auto done = delivery.run(now);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].result.outcome, Outcome::kDelivered);
  EXPECT_EQ(done[0].attempts, 3);

  fake_->clear();
  fake_->script(R"([{"status":500},{"status":500},{"status":500},{"status":500}])");
  ASSERT_TRUE(delivery.submit(wake(hex_token('5'), "s", 2), now).ok());
  std::vector<Finished> finished;
  while (finished.empty()) {
    for (auto& f : delivery.run(now)) finished.push_back(std::move(f));
    if (auto next = delivery.next_deadline()) now = *next;
  }
  EXPECT_EQ(finished[0].result.outcome, Outcome::kFailed);
  EXPECT_NE(finished[0].result.reason.find("gave up after 3"), std::string::npos);
  EXPECT_EQ(fake_->received().size(), 3u);
  EXPECT_EQ(delivery.counters().gave_up, 1u);
}

}  // namespace
}  // namespace outpost::push
