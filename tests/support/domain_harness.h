// An in-process contact center for the domain tests: the real server core over the real
// SQLite server store, the simulated platform behind it, the domain mirror, and devices
// (real replica files driven by the sans-I/O sync client) that go offline and come back.
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <vector>

#include "adapters/sim_platform.h"
#include "adapters/sqlite_server_store.h"
#include "engine/domain_server.h"
#include "engine/replica.h"
#include "engine/server_core.h"
#include "engine/sync_client.h"

namespace outpost::testing {

struct TestDevice {
  std::string path;
  Principal who;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncClient> client;

  // (Re)opens the replica from its file, as after an app kill.
  void open();
  // Runs mutate() and expects it to succeed; returns the mutation id.
  uint64_t mutate(const std::string& name, const google::protobuf::Message& args, int64_t now_ms);
  template <typename T>
  std::optional<T> get(const std::string& key) {
    auto found = replica->get<T>(key);
    return found.ok() ? *found : std::nullopt;
  }
};

// Connects the device and runs its sync against `core` until it has nothing to send
// (at most max_exchanges request/response pairs); expects no error. A pull refused for a
// cursor the server did not issue restarts that scope, as a device does. Returns the exchanges.
int sync_in_process(ServerCore& core, TestDevice& device, int64_t now_ms,
                    int max_exchanges = 10000);

class DomainWorld {
 public:
  // `directory` holds every file; `platform` configures the simulated contact center.
  DomainWorld(const std::string& directory, SimPlatformOptions platform);

  TestDevice& device(const std::string& name, const std::string& tenant, const std::string& user);
  // Pushes and pulls until the device has nothing to send (bounded); expects no error.
  void sync(TestDevice& device);
  // Writes a record into its scope of `tenant`/`user` as the platform would.
  void seed(const std::string& tenant, const std::string& user,
            const google::protobuf::Message& record);
  // Applies a platform event; expects success.
  void platform_event(const upstream::Event& event);
  // Polls the simulated platform up to now and applies its events, then the tick.
  void run_platform();
  // Every device's store equals the server's view of its scopes, and its outbox is empty.
  void expect_converged(TestDevice& device);

  template <typename T>
  std::optional<T> server_get(const std::string& scope, const std::string& key) {
    const Collection* collection = Schema::domain().find(T::descriptor());
    auto stored = store_->get(scope, collection->name, key);
    if (!stored.ok() || !stored->has_value()) return std::nullopt;
    T record;
    record.ParseFromString((*stored)->body);
    return record;
  }

  int64_t now_ms = 1'795'000'000'000;  // 2026-11-18 11:06:40 UTC
  ServerCore& core() { return *core_; }
  DomainServer& domain() { return *domain_; }
  SimPlatform& platform() { return *platform_; }
  ServerStore& store() { return *store_; }

 private:
  std::string directory_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<SimPlatform> platform_;
  std::unique_ptr<DomainServer> domain_;
  std::vector<std::unique_ptr<TestDevice>> devices_;
};

}  // namespace outpost::testing
