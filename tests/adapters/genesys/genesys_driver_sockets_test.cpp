// GenesysCoreDriver with the mirror on (decision 049) against the fake Genesys Cloud on
// loopback: a socket thread per notification channel runs the core's socket commands, and
// the core hears each socket's opening, messages and closing. Several channels each with its
// socket; a dropped socket, socket_closing, an expired channel and a renewal before expiry
// each re-create that channel only and reconcile its agents only; a notification missed in
// a gap is found by that reconcile; stop is prompt with every socket open.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "adapters/genesys/genesys_core_driver.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class GenesysDriverSocketsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1,agent-2,agent-3", 5);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
  }
  void TearDown() override {
    if (rest_) rest_->stop();
    if (driver_) driver_->stop();
  }

  // Starts the driver with one channel per agent (the mirror on) and waits for its first
  // full mirror with every socket open.
  void start(int64_t channel_renew_margin_ms = 600'000) {
    RestOptions r = testing::options_against(*fake_).rest;
    r.timeout_ms = 5'000;
    rest_ = std::make_unique<RestClient>(r);
    CoreDriverOptions o;
    o.core.tenant = "acme";
    o.core.users = {"agent-1", "agent-2", "agent-3"};
    o.core.agents_per_channel = 1;
    o.core.backoff_ms = r.backoff_ms;
    o.core.default_retry_after_ms = 100;
    o.core.retry_after_failure_ms = 200;
    o.core.channel_renew_margin_ms = channel_renew_margin_ms;
    o.core.request_timeout_ms = 2 * (r.timeout_ms + r.connect_timeout_ms) + 2'000;
    o.core.log = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      log_ += line + "\n";
    };
    o.events = [this](std::vector<upstream::Event> events) {
      std::lock_guard lock(mutex_);
      for (auto& e : events) events_.push_back(std::move(e));
    };
    o.reconciled = [this](CoreReconciled reconciled) {
      std::lock_guard lock(mutex_);
      reconciled_.insert(reconciled_.end(), reconciled.users.begin(), reconciled.users.end());
    };
    driver_ = std::make_unique<GenesysCoreDriver>(o, *rest_);
    driver_->start();
    ASSERT_TRUE(eventually([&] { return driver_->mirrored() && driver_->connected(); })) << logs();
  }

  template <typename Pred>
  static bool eventually(Pred pred, std::chrono::milliseconds timeout = 15s) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }

  std::string logs() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // The fake's channel holding this agent's topics.
  std::string channel_of(const std::string& user) {
    const boost::json::value channels = fake_->control("channels");
    for (const auto& [id, c] : channels.as_object())
      for (const auto& t : c.at("topics").as_array())
        if (t.as_string() == "v2.users." + user + ".presence") return std::string(id);
    return "";
  }

  bool seen_interaction(const std::string& id, const std::string& user) {
    std::lock_guard lock(mutex_);
    for (const auto& e : events_)
      if (e.has_interaction() && e.interaction().id() == id && e.user() == user) return true;
    return false;
  }

  bool seen_voicemail(const std::string& id) {
    std::lock_guard lock(mutex_);
    for (const auto& e : events_)
      if (e.has_voicemail_left() && e.voicemail_left().id() == id) return true;
    return false;
  }

  // Clears what was reconciled so far and the fake's request log.
  void clear() {
    fake_->control("clear");
    std::lock_guard lock(mutex_);
    reconciled_.clear();
  }

  std::multiset<std::string> reconciled() {
    std::lock_guard lock(mutex_);
    return {reconciled_.begin(), reconciled_.end()};
  }

  // After a gap of `user`'s channel: a new channel for it alone, its agent alone reconciled,
  // every socket open again, and its notifications flowing.
  void expect_gap_of(const std::string& user, uint64_t gaps_before, const std::string& probe) {
    ASSERT_TRUE(eventually([&] {
      return driver_->counters().gaps > gaps_before && driver_->connected() &&
             reconciled().count(user) > 0;
    })) << logs();
    EXPECT_EQ(driver_->counters().gaps, gaps_before + 1);
    EXPECT_EQ(reconciled(), std::multiset<std::string>{user});
    EXPECT_EQ(fake_->count_requests("POST", "/api/v2/notifications/channels"), 1);
    for (const std::string other : {"agent-1", "agent-2", "agent-3"}) {
      if (other == user) continue;
      EXPECT_EQ(fake_->count_requests("GET", "/api/v2/users/" + other + "/presences"), 0)
          << other << " was reconciled too";
    }
    fake_->control("route", R"({"user":")" + user + R"(","media":"voice","id":")" + probe + "\"}");
    EXPECT_TRUE(eventually([&] { return seen_interaction(probe, user); })) << logs();
  }

  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<RestClient> rest_;
  std::unique_ptr<GenesysCoreDriver> driver_;
  std::mutex mutex_;
  std::vector<upstream::Event> events_;
  std::vector<std::string> reconciled_;
  std::string log_;
};

TEST_F(GenesysDriverSocketsTest, EveryChannelHasItsOwnSocketAndItsAgentsEvents) {
  start();
  const boost::json::value channels = fake_->control("channels");
  ASSERT_EQ(channels.as_object().size(), 3u);
  for (const auto& [id, c] : channels.as_object()) {
    EXPECT_TRUE(c.at("live").as_bool()) << id;
    EXPECT_EQ(c.at("topics").as_array().size(), 4u);
  }
  EXPECT_EQ(driver_->counters().channels_created, 3u);
  EXPECT_EQ(driver_->counters().gaps, 0u);
  for (const std::string user : {"agent-1", "agent-2", "agent-3"}) {
    fake_->control("route", R"({"user":")" + user + R"(","media":"voice","id":"c-)" + user + "\"}");
  }
  for (const std::string user : {"agent-1", "agent-2", "agent-3"}) {
    EXPECT_TRUE(eventually([&] { return seen_interaction("c-" + user, user); })) << user;
  }
}

TEST_F(GenesysDriverSocketsTest, ADroppedSocketReCreatesItsChannelAndReconcilesItsAgentOnly) {
  start();
  const uint64_t gaps = driver_->counters().gaps;
  const std::string channel = channel_of("agent-2");
  ASSERT_FALSE(channel.empty());
  clear();
  fake_->control("socket", R"({"action":"drop","channel":")" + channel + "\"}");
  expect_gap_of("agent-2", gaps, "c-after-drop");
}

TEST_F(GenesysDriverSocketsTest, SocketClosingRenewsThatChannel) {
  fake_->control("config", R"({"closing_grace_s":0.3})");
  start();
  const uint64_t gaps = driver_->counters().gaps;
  const std::string channel = channel_of("agent-3");
  clear();
  fake_->control("socket", R"({"action":"socket_closing","channel":")" + channel + "\"}");
  expect_gap_of("agent-3", gaps, "c-after-closing");
}

TEST_F(GenesysDriverSocketsTest, AnExpiredChannelIsCreatedAgain) {
  start();
  const uint64_t gaps = driver_->counters().gaps;
  const std::string channel = channel_of("agent-1");
  clear();
  fake_->control("socket", R"({"action":"expire","channel":")" + channel + "\"}");
  expect_gap_of("agent-1", gaps, "c-after-expiry");
}

TEST_F(GenesysDriverSocketsTest, ChannelsAreRenewedBeforeTheyExpire) {
  // Channels live 4 s; renewed 3 s before: about a second after each opening.
  fake_->control("config", R"({"channel_ttl_s":4})");
  start(3'000);
  const uint64_t created = driver_->counters().channels_created;
  ASSERT_TRUE(eventually([&] { return driver_->counters().channels_created >= created + 3; }))
      << logs();
  // Renewed before the platform closed anything: nothing missed, every socket open.
  EXPECT_TRUE(eventually([&] { return driver_->connected(); }));
  fake_->control("route", R"({"user":"agent-2","media":"voice","id":"c-renewed"})");
  EXPECT_TRUE(eventually([&] { return seen_interaction("c-renewed", "agent-2"); })) << logs();
}

TEST_F(GenesysDriverSocketsTest, ANotificationMissedInAGapIsFoundByItsReconcile) {
  start();
  fake_->control("miss", R"({"count":1})");
  fake_->control("voicemail", R"({"user":"agent-2","id":"vm-missed"})");
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(seen_voicemail("vm-missed"));
  fake_->control("socket", R"({"action":"drop","channel":")" + channel_of("agent-2") + "\"}");
  EXPECT_TRUE(eventually([&] { return seen_voicemail("vm-missed"); })) << logs();
}

TEST_F(GenesysDriverSocketsTest, StopIsPromptWithEverySocketOpen) {
  start();
  const auto t0 = Clock::now();
  rest_->stop();
  driver_->stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_FALSE(driver_->connected());
}

}  // namespace
}  // namespace outpost::genesys
