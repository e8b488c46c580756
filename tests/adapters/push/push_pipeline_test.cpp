// The policy, the retry queue and the APNs sender together against the fake APNs, with the
// policy on compressed simulated time: a burst of commits becomes one wake; a voicemail
// notifies; the inactivity timers send the silent check, the keepalive and the "logged out"
// notification and log the agent out; a token APNs reports unregistered is dropped.
#include <gtest/gtest.h>

#include "adapters/push/apns_sender.h"
#include "adapters/push/push_delivery.h"
#include "engine/push_policy.h"
#include "tests/adapters/push/fake_service.h"
#include "tests/adapters/push/sender_test_support.h"

namespace outpost::push {
namespace {

using testing::str;

TEST(PushPipeline, CompressedTimelineReachesTheFakeApnsAndLogsTheAgentOut) {
  testing::FakeService fake("apns");
  ASSERT_TRUE(fake.ok()) << "see " << fake.log();
  fake.post("/config", R"({"enforce_refresh_interval": false})");
  ApnsConfig config;
  config.key_pem = fake.read_file("key_file");
  config.key_id = fake.get("key_id");
  config.team_id = fake.get("team_id");
  config.production_host = fake.get("base_url");
  config.http.ca_file = fake.get("ca");
  auto sender = ApnsSender::create(std::move(config));
  ASSERT_TRUE(sender.ok()) << sender.status().to_string();
  PushDelivery delivery(**sender, DeliveryOptions{}, [] { return 0.0; });

  Settings s;
  s.coalesce = 20;
  s.silent_after = 300;
  s.keepalive_after = 600;
  s.logout_after_keepalive = 50;
  PushPolicy policy(s);
  const std::int64_t wall = testing::wall_ms();
  Millis now = 0;
  int logouts = 0;
  std::vector<Finished> finished;
  auto pump = [&](Millis until) {
    for (;;) {
      for (auto& action : policy.poll(now)) {
        if (std::holds_alternative<SetPresenceOffline>(action)) {
          ++logouts;
          continue;
        }
        PushMessage m{"p" + std::to_string(now), std::get<Push>(std::move(action))};
        ASSERT_TRUE(delivery.submit(std::move(m), wall + now).ok());
      }
      for (auto& f : delivery.run(wall + now)) {
        if (f.result.outcome == Outcome::kRemoveTarget) {
          policy.on_event(TargetDead{f.message.push.device, f.message.push.target.token}, now);
        }
        finished.push_back(std::move(f));
      }
      auto next = policy.next_deadline();
      if (!next || *next > until) break;
      now = std::max(now, *next);
    }
    now = until;
  };

  const std::string token = testing::hex_token('9');
  policy.on_event(
      TargetRegistered{"u1", "d1", Target{Platform::kApns, token, "com.example.outpost"}}, now);
  policy.on_event(StreamOpened{"u1", "d1"}, now);
  policy.on_event(StreamClosed{"u1", "d1"}, now);
  for (std::uint64_t head = 1; head <= 5; ++head) {
    policy.on_event(ScopeCommitted{"u1", "user/u1", head}, now);
  }
  policy.on_event(NewVoicemail{"u1", "vm-1", "Alice Customer"}, now);
  pump(1'000);

  auto got = fake.received();
  std::vector<std::string> kinds;
  for (const auto& r : got) kinds.push_back(str(testing::body_json(r), {"kind"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"voicemail", "wake", "inactivity_check", "keepalive",
                                             "logged_out"}));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(str(testing::body_json(got[1]), {"head"}), "5");  // the burst became one wake
  EXPECT_EQ(str(got[2], {"headers", "apns-push-type"}), "background");
  EXPECT_EQ(str(got[3], {"headers", "apns-push-type"}), "alert");
  EXPECT_EQ(got[0].as_object().at("body").as_string().find("Alice"), boost::json::string::npos);
  EXPECT_EQ(logouts, 1);
  EXPECT_TRUE(policy.logged_out("u1"));

  // APNs reports the token unregistered: the policy stops waking the device.
  fake.unregister(token);
  policy.on_event(StreamOpened{"u1", "d1"}, now);
  policy.on_event(StreamClosed{"u1", "d1"}, now);
  policy.on_event(ScopeCommitted{"u1", "user/u1", 6}, now);
  pump(now + 100);
  ASSERT_FALSE(finished.empty());
  EXPECT_EQ(finished.back().result.outcome, Outcome::kRemoveTarget);
  const auto sent = fake.received().size();
  policy.on_event(ScopeCommitted{"u1", "user/u1", 7}, now);
  pump(now + 100);
  EXPECT_EQ(fake.received().size(), sent);
}

}  // namespace
}  // namespace outpost::push
