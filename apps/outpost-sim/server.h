// The simulated server: the real ServerCore over the real SQLite server store, answering
// frames from the simulated network and poking connected devices when heads move.
// restart() destroys both and reopens the file, as a crashed and restarted process would.
// Every server mutator runs through a wrapper that tells the Ledger which mutations a
// committed push applied or rejected, so exactly-once is counted by the simulator.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "adapters/sqlite_server_store.h"
#include "apps/outpost-sim/crash_image.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/network.h"
#include "apps/outpost-sim/trace.h"
#include "engine/platform.h"
#include "engine/server_core.h"

namespace outpost::sim {

class SimServer {
 public:
  // Who may read what: the principal of a device index.
  using PrincipalOf = std::function<const Principal&(int device)>;
  // Devices currently connected, with their connection ids (for pokes).
  using Connections = std::function<std::vector<std::pair<int, uint64_t>>()>;

  // `now_ms` is the simulation's clock, read when a commit pokes devices.
  SimServer(std::string path, SimNetwork& network, const int64_t& now_ms, Ledger& ledger,
            Trace& trace, PrincipalOf principal_of, Connections connections);

  // The platform the authoritative mutators forward intents to (kept across restarts).
  void set_platform(Platform* platform) {
    platform_ = platform;
    if (core_) core_->set_platform(platform);
  }
  // Hears every commit's moved heads, across restarts (the push actor).
  void set_commit_observer(std::function<void(const std::vector<CommittedHead>&)> observer) {
    commit_observer_ = std::move(observer);
  }
  Status open();
  // A crash and restart: the files as they are on disk this instant (crash_image.h), the
  // core and the store dropped (nothing in flight survives), the files reopened.
  Status restart();
  // Checker self-test: every restart rolls the store back to its state at the previous
  // restart (a disk that acknowledged writes it never kept). Devices then hold confirmed
  // mutations the server lost, which invariants (1) and (2) must report.
  void forget_on_restart(bool forget) { forget_on_restart_ = forget; }
  // Checker self-test: the store's mutation prints are deleted before every push.
  void forget_prints(bool forget) { forget_prints_ = forget; }
  // Decision 032: commits' changes sent with the poke (the default), or plain pokes only.
  void carry_changes(bool carry) { carried_ = carry; }

  ServerCore& core() { return *core_; }
  SqliteServerStore& store() { return *store_; }
  const MutatorRegistry& device_mutators() const;

  // Answers one request that arrived; the answer goes back on the same connection unless
  // the request was a ghost. Errors are protocol problems the checker reports.
  Status handle(const Envelope& envelope);

 private:
  void build_registry();
  void poke(const std::vector<CommittedHead>& heads);

  std::string path_;
  SimNetwork& network_;
  const int64_t& now_ms_;
  Ledger& ledger_;
  Trace& trace_;
  PrincipalOf principal_of_;
  Connections connections_;
  MutatorRegistry registry_;  // the domain mutators, each server version observed
  // Ids whose server mutator returned Ok during the push being handled (one client's).
  std::set<uint64_t> ran_ok_;
  Platform* platform_ = nullptr;
  std::function<void(const std::vector<CommittedHead>&)> commit_observer_;
  bool forget_on_restart_ = false;
  bool forget_prints_ = false;
  bool carried_ = true;
  uint64_t restarts_ = 0;
  std::optional<CrashImage> older_image_;  // forget_on_restart: the state to fall back to
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
};

}  // namespace outpost::sim
