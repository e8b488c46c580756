// The change subscriptions of one C replica handle: callback subscriptions get each change
// set, pending ones a signal and a merged set the app drains from its own thread.
// Deliveries run with no lock held (a callback may call back into the API, unsubscribe
// included); unsubscribe() waits for deliveries on other threads to finish.
// Thread rules: every member is safe from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/change_set.h"
#include "outpost/outpost.h"

namespace outpost::capi {

// {"keys": {...}, "outbox_changed": ..., ...} (the format outpost.h documents).
std::string change_set_json(const ChangeSet& changes);

class ChangeHub {
 public:
  // `owner`: the agent handle whose thread delivers (CallbackScope), or null.
  explicit ChangeHub(const void* owner) : owner_(owner) {}

  uint64_t add_callback(outpost_changes_fn fn, void* user_data);
  uint64_t add_pending(outpost_signal_fn signal, void* user_data);
  // False for an unknown id.
  bool remove(uint64_t id);
  // nullopt: unknown id (or not a pending subscription); an empty set: nothing waited.
  std::optional<ChangeSet> drain(uint64_t id, bool* known);

  // Queues a change set (from the engine's listener, possibly under the handle's lock).
  void enqueue(const ChangeSet& changes);
  // Delivers what is queued, on this thread. Call with no lock of ours held.
  void flush();

 private:
  struct Subscription {
    uint64_t id = 0;
    outpost_changes_fn fn = nullptr;
    outpost_signal_fn signal = nullptr;
    void* user_data = nullptr;
    bool active = true;
    std::optional<ChangeSet> waiting;  // pending subscriptions: merged since the last drain
  };

  const void* owner_;
  std::mutex mutex_;
  std::condition_variable idle_;
  uint64_t next_id_ = 1;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
  std::deque<ChangeSet> queue_;
  std::vector<std::thread::id> delivering_;  // threads inside flush()'s callbacks
};

}  // namespace outpost::capi
