// Notices commits of other connections on the replicas of a process's running SyncAgents
// (decision 046): ONE thread per process, however many agents, reads each registered
// replica's commit stamp (Replica::commit_stamp_reader: the WAL-index header in shared
// memory, no SQLite call, no lock, no system call) every interval and wakes an agent's loop
// only when its stamp moved. An idle agent costs no wake-up of its own; the loop then asks
// Replica::refresh() (PRAGMA data_version) what changed, as the per-agent timer did.
// Thread rules: every member is safe from any thread. A wake callback runs on the watch
// thread with the watch's lock held (it must only post a task and never call back in) and
// never after remove() returned.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "engine/replica.h"

namespace outpost {

class CommitWatch {
 public:
  using Wake = std::function<void()>;

  // The process's watch (its thread starts with the first add() and, with nothing to
  // watch, waits without waking; it is never destroyed).
  static CommitWatch& process();

  CommitWatch() = default;
  ~CommitWatch();  // joins the thread (a watch of one's own: tests)
  CommitWatch(const CommitWatch&) = delete;
  CommitWatch& operator=(const CommitWatch&) = delete;

  // Watches a replica: `wake` is called once per change of its stamp seen by a tick, the
  // first tick included (commits before add() are looked for once). Ticks come every
  // `interval`, the smallest of all entries'. Returns the id for seen()/remove().
  uint64_t add(Replica::CommitStampReader reader, std::chrono::milliseconds interval, Wake wake);
  // Stops watching; when it returns, `wake` is not running and will not run again.
  void remove(uint64_t id);
  // The owner has accounted for every commit up to `stamp` (it read the stamp, then
  // refreshed): its own commits do not wake it.
  void seen(uint64_t id, const Replica::CommitStamp& stamp);
  // The owner could not look (a busy file): wake it again on the next tick.
  void look_again(uint64_t id);

  // Ticks begun so far (tests; also from a wake callback).
  uint64_t ticks() const { return ticks_.load(); }

 private:
  struct Entry {
    Replica::CommitStampReader reader;
    std::chrono::milliseconds interval;
    Wake wake;
    Replica::CommitStamp seen;
    bool fresh = true;  // not looked at yet: wake on the first tick whatever the stamp
  };
  void run();
  std::chrono::milliseconds interval_locked() const;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 0;
  std::atomic<uint64_t> ticks_{0};
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace outpost
