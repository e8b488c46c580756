// The run's event trace: every step, message, fault and mutation as one line, hashed as
// it grows (the replay check compares hashes), printed live with --verbose and, for a
// failing seed, filtered down to the events that concern the violation.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::sim {

struct TraceEvent {
  uint64_t step = 0;
  int64_t now_ms = 0;
  std::string text;
};

class Trace {
 public:
  // Keeps at most `max_events` (the oldest are dropped; the hash covers all of them).
  explicit Trace(bool verbose, size_t max_events = 200000)
      : verbose_(verbose), max_events_(max_events) {}

  void set_clock(uint64_t step, int64_t now_ms) {
    step_ = step;
    now_ms_ = now_ms;
  }
  void add(std::string text);

  uint64_t hash() const { return hash_; }
  uint64_t count() const { return count_; }
  // The events that mention any of `terms` (whole-token match on "d3", "m17", "d3n5", ...),
  // plus the last `tail` events, oldest first, at most `limit` lines.
  std::vector<std::string> relevant(const std::vector<std::string>& terms, size_t tail,
                                    size_t limit) const;

  static std::string format(const TraceEvent& event);

 private:
  bool verbose_;
  size_t max_events_;
  uint64_t step_ = 0;
  int64_t now_ms_ = 0;
  uint64_t hash_ = 1469598103934665603ull;  // FNV-1a offset basis
  uint64_t count_ = 0;
  std::vector<TraceEvent> events_;
};

}  // namespace outpost::sim
