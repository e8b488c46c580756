#include "capi/change_hub.h"

#include <algorithm>
#include <utility>

#include "capi/boundary.h"
#include "capi/records.h"

namespace outpost::capi {

std::string change_set_json(const ChangeSet& changes) {
  std::string out = "{\"keys\":{";
  bool first_collection = true;
  for (const auto& [collection, keys] : changes.keys) {
    if (!first_collection) out += ',';
    first_collection = false;
    out += json_quote(collection) + ":[";
    bool first_key = true;
    for (const std::string& key : keys) {
      if (!first_key) out += ',';
      first_key = false;
      out += json_quote(key);
    }
    out += ']';
  }
  auto flag = [](bool value) { return value ? "true" : "false"; };
  out += std::string("},\"outbox_changed\":") + flag(changes.outbox_changed) +
         ",\"rejections_changed\":" + flag(changes.rejections_changed) +
         ",\"cursors_changed\":" + flag(changes.cursors_changed) +
         ",\"everything_changed\":" + flag(changes.everything_changed) + "}";
  return out;
}

uint64_t ChangeHub::add_callback(outpost_changes_fn fn, void* user_data) {
  auto subscription = std::make_shared<Subscription>();
  subscription->fn = fn;
  subscription->user_data = user_data;
  std::lock_guard lock(mutex_);
  subscription->id = next_id_++;
  subscriptions_.push_back(subscription);
  return subscription->id;
}

uint64_t ChangeHub::add_pending(outpost_signal_fn signal, void* user_data) {
  auto subscription = std::make_shared<Subscription>();
  subscription->signal = signal;
  subscription->user_data = user_data;
  std::lock_guard lock(mutex_);
  subscription->id = next_id_++;
  subscriptions_.push_back(subscription);
  return subscription->id;
}

bool ChangeHub::remove(uint64_t id) {
  std::unique_lock lock(mutex_);
  auto found = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                            [id](const auto& subscription) { return subscription->id == id; });
  if (found == subscriptions_.end()) return false;
  (*found)->active = false;
  subscriptions_.erase(found);
  // Deliveries on other threads may still be calling it: wait for them (not for our own
  // thread, which may be inside the callback that unsubscribes).
  const auto self = std::this_thread::get_id();
  idle_.wait(lock, [&] {
    return std::all_of(delivering_.begin(), delivering_.end(),
                       [self](std::thread::id thread) { return thread == self; });
  });
  return true;
}

std::optional<ChangeSet> ChangeHub::drain(uint64_t id, bool* known) {
  std::lock_guard lock(mutex_);
  for (const auto& subscription : subscriptions_) {
    if (subscription->id != id || subscription->signal == nullptr) continue;
    *known = true;
    std::optional<ChangeSet> waiting;
    waiting.swap(subscription->waiting);
    return waiting;
  }
  *known = false;
  return std::nullopt;
}

void ChangeHub::enqueue(const ChangeSet& changes) {
  if (changes.empty()) return;
  std::lock_guard lock(mutex_);
  queue_.push_back(changes);
}

void ChangeHub::flush() {
  struct Call {
    std::shared_ptr<Subscription> subscription;
    std::shared_ptr<const std::string> json;  // callbacks; null: a signal
  };
  std::vector<Call> calls;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return;
    for (const ChangeSet& changes : queue_) {
      std::shared_ptr<const std::string> json;
      for (const auto& subscription : subscriptions_) {
        if (subscription->signal != nullptr) {
          bool was_empty = !subscription->waiting.has_value();
          if (was_empty) subscription->waiting.emplace();
          subscription->waiting->merge(changes);
          if (was_empty) calls.push_back({subscription, nullptr});
        } else {
          if (json == nullptr) json = std::make_shared<const std::string>(change_set_json(changes));
          calls.push_back({subscription, json});
        }
      }
    }
    queue_.clear();
    if (calls.empty()) return;
    delivering_.push_back(std::this_thread::get_id());
  }
  CallbackScope scope(owner_);
  for (const Call& call : calls) {
    {
      std::lock_guard lock(mutex_);
      if (!call.subscription->active) continue;
    }
    // unsubscribe() on another thread waits for this delivery to end; on this thread (from
    // inside a callback) it returns at once and `active` stops the calls after it.
    if (call.json != nullptr) {
      call.subscription->fn(call.subscription->user_data, call.json->data(), call.json->size());
    } else {
      call.subscription->signal(call.subscription->user_data);
    }
  }
  std::lock_guard lock(mutex_);
  delivering_.erase(std::find(delivering_.begin(), delivering_.end(), std::this_thread::get_id()));
  idle_.notify_all();
}

}  // namespace outpost::capi
