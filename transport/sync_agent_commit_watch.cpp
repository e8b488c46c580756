#include "transport/sync_agent_commit_watch.h"

#include <algorithm>
#include <utility>

namespace outpost {

CommitWatch& CommitWatch::process() {
  // Never destroyed: an agent stopped by a static destructor at exit may still remove()
  // itself, whatever the order of destruction. Its thread ends with the process.
  static CommitWatch* const watch = new CommitWatch();
  return *watch;
}

CommitWatch::~CommitWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t CommitWatch::add(Replica::CommitStampReader reader, std::chrono::milliseconds interval,
                          Wake wake) {
  std::lock_guard lock(mutex_);
  const uint64_t id = ++next_id_;
  entries_.emplace(id, Entry{std::move(reader),
                             std::max(interval, std::chrono::milliseconds(1)),
                             std::move(wake),
                             {},
                             true});
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  changed_.notify_all();
  return id;
}

void CommitWatch::remove(uint64_t id) {
  std::lock_guard lock(mutex_);  // a tick holds it while it calls wake callbacks
  entries_.erase(id);
}

void CommitWatch::seen(uint64_t id, const Replica::CommitStamp& stamp) {
  std::lock_guard lock(mutex_);
  auto entry = entries_.find(id);
  if (entry == entries_.end()) return;
  entry->second.seen = stamp;
  entry->second.fresh = false;
}

void CommitWatch::look_again(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto entry = entries_.find(id);
  if (entry != entries_.end()) entry->second.fresh = true;
}

std::chrono::milliseconds CommitWatch::interval_locked() const {
  if (entries_.empty()) return std::chrono::seconds(1);  // never used to wait: no entries
  auto interval = entries_.begin()->second.interval;
  for (const auto& [id, entry] : entries_) interval = std::min(interval, entry.interval);
  return interval;
}

void CommitWatch::run() {
  std::unique_lock lock(mutex_);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (entries_.empty()) {
      changed_.wait(lock, [this] { return stopping_ || !entries_.empty(); });
      if (stopping_) break;
      next = std::chrono::steady_clock::now() + interval_locked();
      continue;
    }
    // An add() may shorten the interval: the next tick is never later than one of its.
    next = std::min(next, std::chrono::steady_clock::now() + interval_locked());
    if (changed_.wait_until(lock, next) == std::cv_status::no_timeout) continue;
    ++ticks_;
    for (auto& [id, entry] : entries_) {
      const Replica::CommitStamp stamp = entry.reader();
      if (!entry.fresh && stamp == entry.seen) continue;
      entry.seen = stamp;
      entry.fresh = false;
      entry.wake();
    }
    next = std::chrono::steady_clock::now() + interval_locked();
  }
}

}  // namespace outpost
