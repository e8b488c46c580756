// Checkpoints a replica's WAL from its own thread and its own SQLite connection, so that
// no commit of the device (a draft save the UI waits for) pays the copy and the fsync.
// SyncAgent runs one for its replica; the replica's own automatic checkpoint is then only
// a bound (ReplicaOptions::wal_autocheckpoint_pages). A PASSIVE checkpoint never blocks
// the writer or the readers: what it cannot copy yet waits for the next pass.
// Thread rules: construct and destroy from one thread; the work runs on a private thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "engine/status.h"

namespace outpost {

// The replica's automatic checkpoint while a WalCheckpointer runs: far enough that the
// checkpointer does the work, near enough to bound the WAL (4 KiB pages: 64 MiB) if it
// cannot keep up.
inline constexpr int kWalSafetyAutocheckpointPages = 16384;

struct WalCheckpointerOptions {
  // A pass every this often (a pass with nothing to copy costs a few microseconds).
  std::chrono::milliseconds interval{200};
};

class WalCheckpointer {
 public:
  // Starts the thread; the first pass opens the replica file (which must exist).
  explicit WalCheckpointer(std::string replica_path, WalCheckpointerOptions options = {});
  ~WalCheckpointer();  // stop()s
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Runs a pass now (asynchronously).
  void poke();
  // Finishes the pass in progress and joins. Idempotent.
  void stop();

  // Passes that copied frames, and the last error (Ok when the last pass succeeded).
  uint64_t checkpoints() const;
  Status last_error() const;

 private:
  void run();

  const std::string path_;
  const WalCheckpointerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool poked_ = false;
  uint64_t checkpoints_ = 0;
  Status last_error_;
  std::thread thread_;
};

}  // namespace outpost
