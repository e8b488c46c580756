// More agents than one notification channel holds (1000 topics, 4 per agent): the adapter
// spreads them over several channels of the fake Genesys Cloud, an event for an agent on
// the second channel reaches the store's queue, and a dropped socket re-creates that channel
// and reconciles by REST the agents on it only (decision 037).
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "adapters/genesys/genesys_upstream.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

using namespace std::chrono_literals;

constexpr int kAgents = 260;  // 250 on the first channel, 10 on the second

std::string agent(int i) {
  return "agent-" + std::to_string(i);
}

// The user named by a REST path (/api/v2/users/{id}/..., /api/v2/voicemail/users/{id}/...).
std::string user_of(const std::string& path) {
  for (const std::string prefix : {"/api/v2/users/", "/api/v2/voicemail/users/"}) {
    if (path.rfind(prefix, 0) == 0) {
      const size_t end = path.find('/', prefix.size());
      return path.substr(prefix.size(), end - prefix.size());
    }
  }
  return "";
}

TEST(GenesysChannels, AgentsSpreadOverChannelsAndADroppedOneReconcilesOnlyItsAgents) {
  std::string users;
  std::vector<std::string> all;
  for (int i = 1; i <= kAgents; ++i) {
    all.push_back(agent(i));
    users += (i > 1 ? "," : "") + agent(i);
  }
  testing::FakeGenesys fake(users, 5);
  ASSERT_TRUE(fake.ok()) << fake.log();
  fake.control("config", R"({"rate_allowed": 1000000})");
  GenesysOptions o = testing::options_against(fake);
  o.users = all;
  o.mirror_contacts = false;
  o.rest.requests_per_minute = 1'000'000;
  o.log = [](const std::string& line) { fprintf(stderr, "%s\n", line.c_str()); };
  GenesysUpstream upstream(std::move(o));
  upstream.start();
  ASSERT_TRUE(upstream.wait_mirrored(60s));
  ASSERT_TRUE(upstream.connected());

  // Two channels: 250 agents' 1000 topics, and 10 agents' 40.
  std::string second;
  std::multiset<size_t> sizes;
  const boost::json::value channels = fake.control("channels");
  for (const auto& [id, c] : channels.as_object()) {
    const auto& topics = c.at("topics").as_array();
    sizes.insert(topics.size());
    for (const auto& t : topics)
      if (t.as_string() == "v2.users.agent-255.presence") second = std::string(id);
  }
  EXPECT_EQ(sizes, (std::multiset<size_t>{40, 1000}));
  ASSERT_FALSE(second.empty());

  // A conversation for an agent on the second channel arrives live.
  (void)upstream.poll(0);
  fake.control("route", R"({"user":"agent-255","media":"message","id":"c-255"})");
  bool arrived = false;
  for (int i = 0; i < 100 && !arrived; ++i) {
    auto events = upstream.poll(0);
    ASSERT_TRUE(events.ok());
    for (const auto& e : *events)
      arrived = arrived ||
                (e.has_interaction() && e.interaction().id() == "c-255" && e.user() == "agent-255");
    if (!arrived) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(arrived);

  // The second channel's socket drops: a new channel for its 10 agents, reconciled alone.
  fake.control("clear");
  const auto before = upstream.counters();
  fake.control("socket", R"({"action":"drop","channel":")" + second + R"("})");
  std::set<std::string> reconciled;
  for (int i = 0; i < 200; ++i) {
    reconciled.clear();
    const boost::json::value requests = fake.control("requests");
    for (const auto& r : requests.as_array()) {
      const std::string u = user_of(std::string(r.at("path").as_string()));
      if (!u.empty()) reconciled.insert(u);
    }
    if (upstream.counters().agent_reconciles >= before.agent_reconciles + 10 &&
        upstream.connected()) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  const auto after = upstream.counters();
  EXPECT_EQ(after.gaps, before.gaps + 1);
  EXPECT_EQ(after.channels_created, before.channels_created + 1);
  EXPECT_EQ(after.agent_reconciles, before.agent_reconciles + 10);
  std::set<std::string> expected;
  for (int i = 251; i <= kAgents; ++i) expected.insert(agent(i));
  EXPECT_EQ(reconciled, expected) << "agents of the first channel were reconciled too";
  EXPECT_EQ(fake.count_requests("POST", "/api/v2/notifications/channels"), 1);
  upstream.stop();
}

// Fewer agents per channel (a test knob) give more channels; socket_closing on one renews
// that one only, and its agent keeps its channel's events.
TEST(GenesysChannels, EachChannelRenewsOnItsOwn) {
  testing::FakeGenesys fake("agent-1,agent-2,agent-3", 5);
  ASSERT_TRUE(fake.ok()) << fake.log();
  fake.control("config", R"({"closing_grace_s": 0.2})");
  GenesysOptions o = testing::options_against(fake);
  o.users = {"agent-1", "agent-2", "agent-3"};
  o.agents_per_channel = 1;
  o.mirror_contacts = false;
  GenesysUpstream upstream(std::move(o));
  upstream.start();
  ASSERT_TRUE(upstream.wait_mirrored(30s));
  const boost::json::value channels = fake.control("channels");
  ASSERT_EQ(channels.as_object().size(), 3u);
  std::string of_agent_2;
  for (const auto& [id, c] : channels.as_object())
    for (const auto& t : c.at("topics").as_array())
      if (t.as_string() == "v2.users.agent-2.presence") of_agent_2 = std::string(id);
  fake.control("clear");
  fake.control("socket", R"({"action":"socket_closing","channel":")" + of_agent_2 + R"("})");
  for (int i = 0; i < 100; ++i) {
    if (fake.count_requests("GET", "/api/v2/users/agent-2/presences") > 0 && upstream.connected())
      break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(fake.count_requests("GET", "/api/v2/users/agent-2/presences"), 1);
  EXPECT_EQ(fake.count_requests("GET", "/api/v2/users/agent-1/presences"), 0);
  EXPECT_EQ(fake.count_requests("GET", "/api/v2/users/agent-3/presences"), 0);
  EXPECT_EQ(fake.count_requests("POST", "/api/v2/notifications/channels"), 1);
  upstream.stop();
}

}  // namespace
}  // namespace outpost::genesys
