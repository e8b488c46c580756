// The simulator's network model: deterministic from its seed, ordered per connection,
// and its faults (loss, duplicates, stragglers) behave as docs/reliability.md says.
#include "apps/outpost-sim/network.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::sim {
namespace {

NetworkFaults calm() {
  NetworkFaults faults;
  faults.drop = 0;
  faults.duplicate = 0;
  faults.straggle = 0;
  faults.max_delay_ms = 500;
  return faults;
}

// Every envelope delivered up to `until_ms`, as "c<conn>:<bytes>[:ghost|:closed]".
std::vector<std::string> drain(SimNetwork& network, int64_t until_ms) {
  std::vector<std::string> out;
  for (int64_t now = 0; now <= until_ms; now += 10) {
    while (auto envelope = network.take_due(now)) {
      out.push_back("c" + std::to_string(envelope->connection) + ":" + envelope->bytes +
                    (envelope->ghost ? ":ghost" : "") + (envelope->closed_notice ? ":closed" : ""));
    }
  }
  return out;
}

std::vector<std::string> run(uint64_t seed, NetworkFaults faults) {
  SimRandom random(seed);
  SimNetwork network(random, faults);
  uint64_t a = network.open(0);
  uint64_t b = network.open(1);
  for (int i = 0; i < 50; ++i) {
    network.send(i % 2 ? a : b, i % 3 == 0, "f" + std::to_string(i), i);
  }
  return drain(network, 20'000);
}

TEST(SimNetwork, TheSameSeedDeliversTheSameFramesInTheSameOrder) {
  NetworkFaults faults;  // the defaults, faults included
  faults.drop = 0.05;
  faults.duplicate = 0.2;
  EXPECT_EQ(run(42, faults), run(42, faults));
  EXPECT_NE(run(42, calm()), run(43, calm()));  // reordered across connections differently
}

TEST(SimNetwork, FramesOfOneConnectionArriveInOrderAndConnectionsInterleave) {
  SimRandom random(7);
  SimNetwork network(random, calm());
  uint64_t a = network.open(0);
  uint64_t b = network.open(1);
  for (int i = 0; i < 40; ++i) {
    network.send(a, true, "a" + std::to_string(i), i);
    network.send(b, true, "b" + std::to_string(i), i);
  }
  std::vector<std::string> delivered = drain(network, 10'000);
  ASSERT_EQ(delivered.size(), 80u);
  int next_a = 0, next_b = 0;
  bool interleaved = false;
  for (const std::string& item : delivered) {
    if (item.rfind("c" + std::to_string(a) + ":a", 0) == 0) {
      EXPECT_EQ(item, "c" + std::to_string(a) + ":a" + std::to_string(next_a++));
      interleaved |= next_b > 0 && next_b < 40;
    } else {
      EXPECT_EQ(item, "c" + std::to_string(b) + ":b" + std::to_string(next_b++));
    }
  }
  EXPECT_TRUE(interleaved);
}

TEST(SimNetwork, ALostFrameKillsItsConnectionAndTheDeviceHearsLater) {
  NetworkFaults faults = calm();
  faults.drop = 1.0;
  SimRandom random(1);
  SimNetwork network(random, faults);
  uint64_t c = network.open(0);
  network.send(c, true, "lost", 0);
  network.send(c, false, "after", 1);  // the connection is dead: nothing more gets through
  EXPECT_EQ(drain(network, 10'000), std::vector<std::string>{"c1::closed"});
  EXPECT_EQ(network.stats().drops, 1u);
}

TEST(SimNetwork, RequestsInFlightWhenAConnectionClosesMayStraggleAsGhosts) {
  SimRandom random(3);
  SimNetwork network(random, calm());
  uint64_t c = network.open(0);
  network.send(c, true, "request", 0);
  network.send(c, false, "answer", 0);
  network.close(c, 0, false, 1.0);
  EXPECT_FALSE(network.is_open(c));
  // The answer is gone; the request still reaches the server, as a ghost.
  EXPECT_EQ(drain(network, 10'000), std::vector<std::string>{"c1:request:ghost"});
}

TEST(SimNetwork, ADuplicatedRequestArrivesAgainAsAGhost) {
  NetworkFaults faults = calm();
  faults.duplicate = 1.0;
  SimRandom random(5);
  SimNetwork network(random, faults);
  uint64_t c = network.open(0);
  network.send(c, true, "push", 0);
  network.send(c, false, "reply", 0);  // only requests are duplicated
  std::vector<std::string> delivered = drain(network, 10'000);
  std::sort(delivered.begin(), delivered.end());
  EXPECT_EQ(delivered, (std::vector<std::string>{"c1:push", "c1:push:ghost", "c1:reply"}));
}

}  // namespace
}  // namespace outpost::sim
