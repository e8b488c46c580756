// Payload building and the retry delay, without a network.
#include "adapters/push/push_payload.h"

#include <gtest/gtest.h>

#include "adapters/push/push_delivery.h"
#include "tests/adapters/push/sender_test_support.h"

namespace outpost::push {
namespace {

TEST(PushPayload, CollapseIdIsTheScopeOrItsHashWhenTooLong) {
  Push p;
  p.kind = PushKind::kWake;
  p.scope = "user/u1";
  EXPECT_EQ(collapse_id_for(p), "user/u1");
  p.scope = std::string(100, 's');
  EXPECT_EQ(collapse_id_for(p).size(), 64u);
  EXPECT_NE(collapse_id_for(p), std::string(64, 's'));
  p.kind = PushKind::kKeepalive;
  EXPECT_EQ(collapse_id_for(p), "keepalive");
}

TEST(PushPayload, InactivityCheckIsBackgroundAndExpiresAtOnce) {
  auto m = testing::wake(testing::hex_token('a'), "", 0);
  m.push.kind = PushKind::kInactivityCheck;
  auto req = build_apns_request(m, "https://h", 1000);
  ASSERT_TRUE(req.ok());
  auto has = [&](const std::string& h) {
    return std::find(req->headers.begin(), req->headers.end(), h) != req->headers.end();
  };
  EXPECT_TRUE(has("apns-push-type: background"));
  EXPECT_TRUE(has("apns-priority: 5"));
  EXPECT_TRUE(has("apns-expiration: 0"));
  EXPECT_NE(req->body.find("\"content-available\":1"), std::string::npos);
}

TEST(PushPayload, ExactlyAtTheLimitPassesOneMoreByteFails) {
  // Find the scope length whose body is exactly 4096 bytes.
  auto m = testing::wake(testing::hex_token('a'), "", 1);
  auto base = build_apns_request(m, "https://h", 0);
  ASSERT_TRUE(base.ok());
  m.push.scope = std::string(kMaxPayloadBytes - base->body.size(), 'x');
  auto at = build_apns_request(m, "https://h", 0);
  ASSERT_TRUE(at.ok()) << at.status().to_string();
  EXPECT_EQ(at->body.size(), kMaxPayloadBytes);
  m.push.scope += "x";
  auto over = build_apns_request(m, "https://h", 0);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), ErrorCode::kTooLarge);
}

TEST(RetryDelay, RetryAfterIsHonouredBackoffDoublesJitterOnlyAdds) {
  DeliveryOptions o;
  o.base_backoff_ms = 1000;
  o.max_backoff_ms = 8000;
  o.jitter_fraction = 0.2;
  EXPECT_EQ(retry_delay_ms(o, 1, 30'000, 0.0), 30'000);
  EXPECT_EQ(retry_delay_ms(o, 1, 30'000, 0.99), 30'000 + 5'940);
  EXPECT_EQ(retry_delay_ms(o, 1, -1, 0.0), 1000);
  EXPECT_EQ(retry_delay_ms(o, 2, -1, 0.0), 2000);
  EXPECT_EQ(retry_delay_ms(o, 3, -1, 0.0), 4000);
  EXPECT_EQ(retry_delay_ms(o, 10, -1, 0.0), 8000);
  EXPECT_EQ(retry_delay_ms(o, 10, -1, 0.5), 8800);
}

}  // namespace
}  // namespace outpost::push
