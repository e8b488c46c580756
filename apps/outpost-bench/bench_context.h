// What every outpost-bench scenario shares: the options, the work directory, the server
// processes (started, stopped, restarted on the same store), the token issuer and the
// report the figures go to.
// Thread rules: used from the benchmark's main thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/outpost-bench/bench_options.h"
#include "apps/outpost-bench/server_process.h"
#include "engine/status.h"
#include "support/bench_report.h"

namespace outpost::bench {

struct BenchContext {
  BenchOptions options;
  ServerSetup setup;
  std::string work_dir;
  std::optional<TokenIssuer> tokens;
  Report report;
  std::vector<std::unique_ptr<ServerProcess>> servers;

  // Starts options.servers server processes on the store (when none are running).
  Status start_servers();
  // Stops them all gracefully; the first failure is returned.
  Status stop_servers();
  // The server a device talks to: devices are spread round-robin over the servers.
  std::string server_url(size_t device_index) const;
  // A fresh directory for one scenario's device files.
  std::string scenario_dir(const std::string& name) const;
  // Params every figure carries (the store and the number of servers).
  std::vector<Param> common_params() const;
};

}  // namespace outpost::bench
