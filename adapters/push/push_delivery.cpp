#include "adapters/push/push_delivery.h"

#include <algorithm>

namespace outpost::push {

std::int64_t retry_delay_ms(const DeliveryOptions& options, int attempts,
                            std::int64_t retry_after_ms, double jitter) {
  std::int64_t delay = retry_after_ms;
  if (delay < 0) {
    delay = options.base_backoff_ms;
    for (int i = 1; i < attempts && delay < options.max_backoff_ms; ++i) delay *= 2;
    delay = std::min(delay, options.max_backoff_ms);
  }
  jitter = std::clamp(jitter, 0.0, 1.0);
  return delay +
         static_cast<std::int64_t>(static_cast<double>(delay) * options.jitter_fraction * jitter);
}

PushDelivery::PushDelivery(PushSender& sender, DeliveryOptions options,
                           std::function<double()> jitter)
    : sender_(sender), options_(options), jitter_(std::move(jitter)) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
}

Status PushDelivery::submit(PushMessage message, std::int64_t now_ms) {
  if (queue_.size() >= options_.max_queue) {
    ++counters_.queue_full;
    return error(ErrorCode::kUnavailable, "push queue full");
  }
  ++counters_.submitted;
  queue_.emplace(now_ms, Entry{std::move(message), 0});
  return Status::Ok();
}

std::vector<Finished> PushDelivery::run(std::int64_t now_ms) {
  std::vector<Finished> finished;
  while (!queue_.empty() && queue_.begin()->first <= now_ms) {
    std::vector<Entry> due;
    while (!queue_.empty() && queue_.begin()->first <= now_ms && due.size() < options_.max_batch) {
      due.push_back(std::move(queue_.begin()->second));
      queue_.erase(queue_.begin());
    }
    std::vector<PushMessage> batch;
    batch.reserve(due.size());
    for (const auto& e : due) batch.push_back(e.message);
    std::vector<SendResult> results = sender_.send(batch, now_ms);
    for (size_t i = 0; i < due.size(); ++i) {
      Entry& e = due[i];
      ++e.attempts;
      SendResult& r = results[i];
      if (r.outcome != Outcome::kRetry) {
        finished.push_back({std::move(e.message), std::move(r), e.attempts});
        continue;
      }
      if (e.attempts >= options_.max_attempts) {
        ++counters_.gave_up;
        r.outcome = Outcome::kFailed;
        r.reason = "gave up after " + std::to_string(e.attempts) + " attempts: " + r.reason;
        finished.push_back({std::move(e.message), std::move(r), e.attempts});
        continue;
      }
      ++counters_.retries;
      const std::int64_t delay = retry_delay_ms(options_, e.attempts, r.retry_after_ms, jitter_());
      queue_.emplace(now_ms + delay, std::move(e));
    }
  }
  return finished;
}

std::optional<std::int64_t> PushDelivery::next_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

}  // namespace outpost::push
