// The simulators' source of randomness (apps/outpost-sim, adapters/sim_platform.h): one
// std::mt19937_64 seeded from the run's seed, with the few draws they need written out by
// hand (no standard distributions, whose output may differ between library versions), so
// a seed replays the same run on every machine.
// Thread rules: one object per user; not safe to share between threads unlocked.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace outpost {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }
  // Uniform in [0, n); 0 when n is 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : engine_() % n; }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) {
    return hi <= lo ? lo : lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability p.
  bool chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }
  // An index drawn with the given weights (all zero: 0).
  size_t weighted(const std::vector<uint32_t>& weights) {
    uint64_t total = 0;
    for (uint32_t w : weights) total += w;
    uint64_t draw = below(total);
    for (size_t i = 0; i < weights.size(); ++i) {
      if (draw < weights[i]) return i;
      draw -= weights[i];
    }
    return 0;
  }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace outpost
