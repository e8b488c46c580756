// One simulated device: its replica file, the real SyncClient, and the connection logic of
// transport/sync_agent_loop.cpp replayed over the simulated network (connect -> on_connected
// and a pull; one request at a time, a pipelined pull as a page arrives; a lost
// connection -> on_request_failed and a reconnect after jittered backoff; a server's error
// frame -> on_request_refused as the agent does, so a restarted scope or a renumbered outbox
// is replayed too). kill() drops the Replica and the client mid-flight without any goodbye;
// open() reopens the file. take_backup() copies the replica's files as a phone backup
// would; restore_backup() kills the app and puts that copy back (decision 042's case).
// Thread rules: one object per device, used by the simulation's single thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/sim_random.h"
#include "apps/outpost-sim/crash_image.h"
#include "apps/outpost-sim/network.h"
#include "apps/outpost-sim/trace.h"
#include "engine/mutator.h"
#include "engine/replica.h"
#include "engine/server_core.h"
#include "engine/sync_client.h"

namespace outpost::sim {

// Named limits of the device model.
struct DeviceLimits {
  static constexpr uint64_t kBackoffBaseMs = 50;
  static constexpr uint64_t kBackoffMaxMs = 4000;
  static constexpr uint32_t kChangesPerPull = 20;  // small pages: many round trips
  static constexpr uint32_t kMutationsPerPush = 8;
  static constexpr uint32_t kFetchKeys = 5;
};

class SimDevice {
 public:
  SimDevice(int index, Principal who, std::string path, std::string client_id, Trace& trace,
            SimRandom& random);

  int index() const { return index_; }
  const std::string& name() const { return who_.device; }
  const Principal& who() const { return who_; }
  const std::string& client_id() const { return client_id_; }
  const std::string& path() const { return path_; }  // the replica file

  Status open(const Schema& schema, const MutatorRegistry& mutators);
  // The app dies (SIGKILL): its files stay as they are on disk this instant (no clean
  // close, see crash_image.h), objects are dropped without finishing anything, and its
  // connection goes away (requests in flight may still reach the server). When another
  // process still has the file open, only this process's objects go.
  Status kill(SimNetwork& network, int64_t now_ms);
  bool alive() const { return replica_ != nullptr; }

  // The replica's files copied as they are this instant (a phone's backup), with the next
  // mutation id they will hand out. Only for a device without a second process.
  Status take_backup(uint64_t next_mutation_id);
  bool has_backup() const { return backup_.has_value(); }
  // Kills the app (as kill()) and replaces its files with the backup, which is used up;
  // returns the backup's next mutation id. kFailedPrecondition without a backup.
  Result<uint64_t> restore_backup(SimNetwork& network, int64_t now_ms);
  // The print (engine/mutation_print.h) of pending mutation `id`. kNotFound if not pending.
  Result<uint64_t> pending_print(uint64_t id);
  // The renumbering (old id, new id) a refusal caused since the last call, if any.
  std::vector<std::pair<uint64_t, uint64_t>> take_renumbered() { return std::move(renumbered_); }
  Replica& replica() { return *replica_; }
  SyncClient& client() { return *client_; }

  bool connected() const { return connection_ != 0; }
  uint64_t connection() const { return connection_; }
  // Connects when due (alive, not partitioned or asleep, backoff over).
  Status maybe_connect(SimNetwork& network, int64_t now_ms);
  // The device drops its connection (reset, partition, sleep); it reconnects later.
  void disconnect(SimNetwork& network, int64_t now_ms, const std::string& why);
  // The network says the connection is gone.
  void on_closed(SimNetwork& network, uint64_t connection, int64_t now_ms);
  // A frame from the server on `connection`.
  Status on_frame(SimNetwork& network, uint64_t connection, const std::string& bytes,
                  int64_t now_ms);
  // Sends the next request if none is in flight.
  Status pump(SimNetwork& network, int64_t now_ms);

  // Up to date: connected, nothing in flight or pending, not behind.
  bool settled() const;

  // The device's clock is off by this much (mutations carry created_ms from it).
  int64_t clock_skew_ms = 0;
  bool partitioned = false;
  int64_t down_until_ms = 0;  // asleep or killed until then

  uint64_t next_word = 0;  // the device's typed-word counter (survives kills: it is the user)
  // The other process on the same replica file (two-process devices), else nullptr.
  SimDevice* other_process = nullptr;

 private:
  void send(SimNetwork& network, const protocol::ClientFrame& frame, int64_t now_ms);
  void lose_connection(int64_t now_ms);
  // The agent's answer to an error frame (transport/sync_agent_loop.cpp): the refusal goes
  // to on_request_refused; renumbered ids are kept for take_renumbered().
  Status on_error_frame(SimNetwork& network, const protocol::Error& error, int64_t now_ms);
  std::string frame_summary(const protocol::ClientFrame& frame) const;

  int index_;
  Principal who_;
  std::string path_;
  std::string client_id_;
  Trace& trace_;
  SimRandom& random_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<SyncClient> client_;
  uint64_t connection_ = 0;
  int64_t reconnect_at_ms_ = 0;
  Backoff backoff_{DeviceLimits::kBackoffBaseMs, DeviceLimits::kBackoffMaxMs};
  std::optional<CrashImage> backup_;
  uint64_t backup_next_id_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> renumbered_;
};

}  // namespace outpost::sim
