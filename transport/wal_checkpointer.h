// Checkpoints a replica's WAL from its own thread and its own SQLite connection, so that
// no commit of the device (a draft save the UI waits for) pays the copy and the fsync.
// SyncAgent runs one for its replica: Replica::hand_off_checkpoints pokes it once the WAL
// holds kWalCheckpointRequestPages, and the replica checkpoints itself only past
// kWalSafetyAutocheckpointPages. It passes only when poked (an idle device never wakes for
// it). A PASSIVE checkpoint never blocks the writer or the readers: what it cannot copy
// yet waits for the next poke.
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
// The WAL size at which the replica asks for a checkpoint (SQLite's own default).
inline constexpr int kWalCheckpointRequestPages = 1000;

struct WalCheckpointerOptions {
  // At most one pass this often, however often it is poked.
  std::chrono::milliseconds min_interval{100};
};

class WalCheckpointer {
 public:
  // Starts the thread; the first pass opens the replica file (which must exist).
  // Any thread may poke() it.
  explicit WalCheckpointer(std::string replica_path, WalCheckpointerOptions options = {});
  ~WalCheckpointer();  // stop()s
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Asks for a pass (asynchronously; cheap, never blocks on the pass).
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
  bool waiting_ = false;  // the thread waits for a poke (so poke() must wake it)
  uint64_t checkpoints_ = 0;
  Status last_error_;
  std::thread thread_;
};

}  // namespace outpost
