// outpost-bench's command line: which scenarios, how big, which server and store.
// Thread rules: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost::bench {

inline constexpr const char* kScenarios[] = {
    "initial_sync",     "catch_up",       "ui_reads",     "draft_save", "fanout",
    "idle_connections", "device_reports", "push",         "tls_sync",   "genesys_lag",
    "genesys_mirror",   "blob_transfer",  "wire_encoding"};

// Bounds of every knob: a benchmark run that cannot finish is refused up front.
inline constexpr uint64_t kMaxRecords = 2'000'000;
inline constexpr int kMaxDevices = 2'000;
inline constexpr int kMaxIdleConnections = 50'000;
inline constexpr int kMaxServers = 8;

struct BenchOptions {
  std::vector<uint64_t> records = {10'000, 100'000};  // initial_sync sizes; the last: catch_up
  std::vector<int> devices = {100, 1'000};            // fanout sizes
  int idle_connections = 10'000;
  uint64_t blob_bytes = 100ull * 1024 * 1024;  // blob_transfer
  std::string scenario = "all";
  bool quick = false;
  bool table = false;     // the human table on stderr even when it is not a terminal
  std::string store_url;  // empty: the embedded SQLite store in the data directory
  int servers = 1;
  int server_threads = 2;
  std::string server_bin;  // empty: outpost-server next to this executable
  std::string work_dir;    // empty: a fresh directory under $TMPDIR, removed at the end
  // The fake APNs script (tests/adapters/push/fake_push_service.py); empty: no push scenario.
  std::string push_fake;
  int push_devices = 1'000;
  // genesys_lag: the fake Genesys Cloud script (tests/adapters/genesys/fake_genesys.py);
  // without it `all` skips the scenario.
  std::string genesys_fake;

  bool wants(const std::string& name) const { return scenario == "all" || scenario == name; }
  bool embedded_store() const { return store_url.empty(); }
};

// Errors: kInvalidArgument naming the bad flag or value (also for --servers N > 1 on the
// embedded store).
Result<BenchOptions> parse_bench_options(int argc, char** argv);

extern const char* const kBenchUsage;

}  // namespace outpost::bench
