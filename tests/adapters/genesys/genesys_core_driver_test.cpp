// GenesysCoreDriver (decision 043) against the fake Genesys Cloud on loopback: the core's
// intents with real I/O. RestClient::call_single leaves the retry rules to the core; an
// intent is answered within the caller's wait or kept for its retry; the core's read-back
// reaches the event sink; stop() does not wait on a platform that does not answer.
#include "adapters/genesys/genesys_core_driver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(GenesysRest, CallSingleLeavesTheRetriesToItsCaller) {
  testing::FakeGenesys fake("agent-1", 5);
  ASSERT_TRUE(fake.ok()) << fake.log();
  RestClient rest(testing::options_against(fake).rest);
  const std::string path = "/api/v2/users/agent-1/presences/purecloud";
  fake.control("faults", R"([{"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                              "status":429,"retry_after":2},
                             {"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                              "status":503}])");
  const std::string body = R"({"presenceDefinition":{"id":"pd-away"}})";
  auto throttled = rest.call_single("agent-1", "PATCH", path, body, Clock::now() + 5s);
  ASSERT_TRUE(throttled.ok()) << throttled.status().to_string();
  EXPECT_EQ(throttled->status, 429);
  EXPECT_EQ(throttled->retry_after_ms, 100);  // 2 s, scaled by the tests' 0.05
  auto unavailable = rest.call_single("agent-1", "PATCH", path, body, Clock::now() + 5s);
  ASSERT_TRUE(unavailable.ok()) << unavailable.status().to_string();
  EXPECT_EQ(unavailable->status, 503);
  fake.control("revoke");  // a 401 is still refreshed and retried here (OAuth stays in the client)
  auto accepted = rest.call_single("agent-1", "PATCH", path, body, Clock::now() + 5s);
  ASSERT_TRUE(accepted.ok()) << accepted.status().to_string();
  EXPECT_EQ(accepted->status, 200);
  EXPECT_EQ(rest.counters().retried_429, 0u);
  EXPECT_EQ(rest.counters().retried_5xx, 0u);
  EXPECT_GE(rest.counters().refreshed_401, 1u);
  EXPECT_EQ(fake.count_requests("PATCH", "/api/v2/users/agent-1/presences"), 4);
}

class GenesysCoreDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1", 5);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
    RestOptions r = testing::options_against(*fake_).rest;
    r.timeout_ms = 5'000;
    rest_ = std::make_unique<RestClient>(r);
    CoreDriverOptions o;
    o.core.tenant = "acme";
    o.core.users = {"agent-1"};
    o.core.run_mirror = false;
    o.core.backoff_ms = r.backoff_ms;
    o.core.default_retry_after_ms = 100;
    o.core.request_timeout_ms = 2 * (r.timeout_ms + r.connect_timeout_ms) + 2'000;
    o.events = [this](std::vector<upstream::Event> events) {
      std::lock_guard lock(mutex_);
      for (auto& e : events) events_.push_back(std::move(e));
    };
    driver_ = std::make_unique<GenesysCoreDriver>(o, *rest_);
    driver_->start();
    auto defs = rest_->call("GET", "/api/v2/presence/definitions?deactivated=true");
    ASSERT_TRUE(defs.ok()) << defs.status().to_string();
    auto decoded = decode_presence_definitions(defs->body);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    driver_->with_core([&](GenesysCore& core) { core.set_presence_map(decoded->map); });
  }
  void TearDown() override {
    if (rest_) rest_->stop();
    if (driver_) driver_->stop();
  }

  Result<PlatformAnswer> ready(std::chrono::milliseconds wait) {
    return driver_->intent(
        [](GenesysCore& core, int64_t now_ms) {
          return core.set_presence({"acme", "agent-1"}, d::PRESENCE_READY, "", now_ms);
        },
        wait);
  }

  size_t presence_events() {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& e : events_) n += e.has_presence() ? 1 : 0;
    return n;
  }

  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<RestClient> rest_;
  std::unique_ptr<GenesysCoreDriver> driver_;
  std::mutex mutex_;
  std::vector<upstream::Event> events_;
};

TEST_F(GenesysCoreDriverTest, AnIntentRetriedByTheCoreIsAnsweredWithinTheWait) {
  fake_->control("faults", R"([{"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                                "status":429,"retry_after":2},
                               {"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                                "status":503}])");
  auto answer = ready(5s);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_TRUE(answer->accepted);
  EXPECT_EQ(driver_->counters().retried_429, 1u);
  EXPECT_EQ(driver_->counters().retried_5xx, 1u);
  EXPECT_EQ(fake_->count_requests("PATCH", "/api/v2/users/agent-1/presences"), 3);
  // The core reads the presence back once the answer is taken; the sink gets it.
  const auto until = Clock::now() + 5s;
  while (presence_events() == 0 && Clock::now() < until) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(presence_events(), 1u);
}

TEST_F(GenesysCoreDriverTest, ASlowAnswerIsKeptForTheRetryAndTheCallerNeverWaitsLonger) {
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                               "delay_ms":1500})");
  const auto t0 = Clock::now();
  auto first = ready(200ms);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(first.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(driver_->intents_pending(), 1u);
  std::this_thread::sleep_for(2s);
  auto retry = ready(200ms);
  ASSERT_TRUE(retry.ok()) << retry.status().to_string();
  EXPECT_TRUE(retry->accepted);
  EXPECT_EQ(fake_->count_requests("PATCH", "/api/v2/users/agent-1/presences"), 1);
}

TEST_F(GenesysCoreDriverTest, StopDoesNotWaitOnAPlatformThatDoesNotAnswer) {
  fake_->control("faults", R"({"method":"PATCH","path":"/api/v2/users/agent-1/presences",
                               "delay_ms":8000})");
  EXPECT_EQ(ready(100ms).status().code(), ErrorCode::kUnavailable);
  const auto t0 = Clock::now();
  rest_->stop();
  driver_->stop();
  EXPECT_LT(Clock::now() - t0, 3s);  // not the 8 s the platform takes
  EXPECT_EQ(ready(100ms).status().code(), ErrorCode::kUnavailable);  // stopped: no new call
}

}  // namespace
}  // namespace outpost::genesys
