// A bounded retry queue in front of a PushSender: sends what is due, schedules retries
// (Retry-After when the service gave one, else exponential backoff; plus jitter from a
// source passed in), gives up after a bound, and hands back every finished message so the
// caller can feed kRemoveTarget to the policy as TargetDead. Time is passed in (unix ms).
// Thread rules: one object per thread, like its sender.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "adapters/push/push_sender.h"

namespace outpost::push {

struct DeliveryOptions {
  std::size_t max_queue = 10'000;  // messages waiting (new or retrying)
  std::size_t max_batch = 500;     // messages per send() (streams on the connection)
  int max_attempts = 5;            // sends per message, first included
  std::int64_t base_backoff_ms = 1'000;
  std::int64_t max_backoff_ms = 5 * 60'000;
  double jitter_fraction = 0.2;  // a delay grows by up to this fraction, never shrinks
};

struct DeliveryCounters {
  std::uint64_t submitted = 0;
  std::uint64_t queue_full = 0;
  std::uint64_t retries = 0;
  std::uint64_t gave_up = 0;
};

struct Finished {
  PushMessage message;
  SendResult result;  // kDelivered, kRemoveTarget or kFailed (kFailed also when gave up)
  int attempts = 0;
};

// The delay before attempt `attempts + 1`: Retry-After when given (>= 0), else
// base * 2^(attempts-1) capped; then grown by jitter * jitter_fraction (jitter in [0, 1)).
std::int64_t retry_delay_ms(const DeliveryOptions& options, int attempts,
                            std::int64_t retry_after_ms, double jitter);

class PushDelivery {
 public:
  // `jitter` returns values in [0, 1): a seeded RNG in tests and the simulator.
  PushDelivery(PushSender& sender, DeliveryOptions options, std::function<double()> jitter);

  // Errors: kUnavailable when max_queue messages are already waiting (counted).
  Status submit(PushMessage message, std::int64_t now_ms);
  // Sends everything due at now_ms (in batches); returns the messages that finished.
  std::vector<Finished> run(std::int64_t now_ms);
  std::optional<std::int64_t> next_deadline() const;
  std::size_t queued() const { return queue_.size(); }
  const DeliveryCounters& counters() const { return counters_; }

 private:
  struct Entry {
    PushMessage message;
    int attempts = 0;
  };
  PushSender& sender_;
  DeliveryOptions options_;
  std::function<double()> jitter_;
  std::multimap<std::int64_t, Entry> queue_;  // by due time
  DeliveryCounters counters_;
};

}  // namespace outpost::push
