#include "apps/outpost-bench/bench_options.h"

#include "support/cli_args.h"

#include <algorithm>
#include <iterator>

namespace outpost::bench {

const char* const kBenchUsage = R"(usage: outpost-bench [options]
  Starts outpost-server (next to this binary) on 127.0.0.1, seeds it with the demo contact
  center, runs the scenarios with real devices and prints one JSON object per line:
    {"scenario", "value", "unit", "baseline", "ratio", "params"}
  where the baseline is plain SQLite doing the same work in the same run and ratio =
  value / baseline (1.0: as fast as SQLite). A table goes to stderr on a terminal.
options:
  --scenario NAME     initial_sync | catch_up | ui_reads | draft_save | fanout |
                      idle_connections (with the /metrics scrape and the console's first
                      paint at that many devices) | device_reports | push | tls_sync |
                      genesys_lag | genesys_mirror | blob_transfer | all (default)
  --records N[,N..]   initial sync sizes (default 10000,100000; catch_up and tls_sync
                      use the last; tls_sync: one device over wss against one over ws)
  --devices D[,D..]   fan-out sizes (default 100,1000)
  --idle N            idle streaming connections to open (default 10000, at most 50000;
                      no more than the descriptor limit lets a process hold: with
                      --servers N > 1 the clients then run in worker processes of the
                      bench, stream format 2, no rounds; decision 052)
  --quick             a CI-sized run (under a minute)
  --table             print the table on stderr even when it is not a terminal
  --store URL         forwarded to `outpost-server serve/seed --store URL` (default: the
                      embedded SQLite store in the work directory; catch_up writes its
                      offline changes into that store directly, so it needs it)
  --servers N         N server processes on the same store, devices spread over them
                      (needs a shared store such as PostgreSQL)
  --server-threads N  forwarded as `serve --threads N` (default 2)
  --server-bin PATH   the outpost-server binary (default: next to outpost-bench)
  --work-dir DIR      keep the data there instead of a removed temporary directory
  --push-fake PATH    the fake APNs (tests/adapters/push/fake_push_service.py) the push
                      scenario sends to; without it that scenario is skipped
  --push-devices N    sleeping devices woken per commit (default 1000)
  --genesys-fake PY   genesys_lag: platform event -> device store lag through
                      `serve --upstream genesys` against this fake Genesys Cloud script
                      (tests/adapters/genesys/fake_genesys.py); skipped without it.
                      genesys_mirror (same fake): the initial mirror of 50,000
                      contacts under the request budget, REST requests per agent
                      per hour at steady state
)";

namespace {

Status invalid(const std::string& message) {
  return error(ErrorCode::kInvalidArgument, message);
}

template <typename Int>
Status parse_list(const std::string& flag, const std::string& text, Int min, Int max,
                  std::vector<Int>& out) {
  out.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    Int value{};
    OUTPOST_RETURN_IF_ERROR(
        cli::parse_int(flag, text.substr(start, comma - start), min, max, value));
    out.push_back(value);
    if (out.size() > 8) return invalid("--" + flag + " takes at most 8 values");
    start = comma + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<BenchOptions> parse_bench_options(int argc, char** argv) {
  BenchOptions options;
  bool records_given = false, devices_given = false, idle_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return invalid(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--table") {
      options.table = true;
    } else if (arg == "--scenario") {
      OUTPOST_ASSIGN_OR_RETURN(options.scenario, value());
      const bool known =
          options.scenario == "all" || std::find(std::begin(kScenarios), std::end(kScenarios),
                                                 options.scenario) != std::end(kScenarios);
      if (!known) return invalid("unknown scenario '" + options.scenario + "'");
    } else if (arg == "--records") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(
          parse_list<uint64_t>(arg.substr(2), text, 100, kMaxRecords, options.records));
      records_given = true;
    } else if (arg == "--devices") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(
          parse_list<int>(arg.substr(2), text, 1, kMaxDevices, options.devices));
      devices_given = true;
    } else if (arg == "--idle") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(cli::parse_int<int>(arg.substr(2), text, 1, kMaxIdleConnections,
                                                  options.idle_connections));
      idle_given = true;
    } else if (arg == "--store") {
      OUTPOST_ASSIGN_OR_RETURN(options.store_url, value());
      if (options.store_url.empty()) return invalid("--store needs a URL");
    } else if (arg == "--servers") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(
          cli::parse_int<int>(arg.substr(2), text, 1, kMaxServers, options.servers));
    } else if (arg == "--server-threads") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(
          cli::parse_int<int>(arg.substr(2), text, 1, 64, options.server_threads));
    } else if (arg == "--server-bin") {
      OUTPOST_ASSIGN_OR_RETURN(options.server_bin, value());
    } else if (arg == "--genesys-fake") {
      OUTPOST_ASSIGN_OR_RETURN(options.genesys_fake, value());
    } else if (arg == "--push-fake") {
      OUTPOST_ASSIGN_OR_RETURN(options.push_fake, value());
    } else if (arg == "--push-devices") {
      OUTPOST_ASSIGN_OR_RETURN(std::string text, value());
      OUTPOST_RETURN_IF_ERROR(
          cli::parse_int<int>(arg.substr(2), text, 1, kMaxDevices, options.push_devices));
    } else if (arg == "--work-dir") {
      OUTPOST_ASSIGN_OR_RETURN(options.work_dir, value());
    } else if (arg == "--help" || arg == "-h") {
      return error(ErrorCode::kCancelled, "help");
    } else {
      return invalid("unknown option '" + arg + "'");
    }
  }
  if (options.servers > 1 && options.embedded_store()) {
    return invalid(
        "--servers " + std::to_string(options.servers) +
        " needs a store the servers can share (--store postgres://...): the embedded SQLite "
        "store belongs to one server process");
  }
  if (options.scenario == "genesys_lag" && options.genesys_fake.empty()) {
    return invalid("--scenario genesys_lag needs --genesys-fake PATH");
  }
  if (options.quick) {
    if (!records_given) options.records = {2'000};
    if (!devices_given) options.devices = {20};
    if (!idle_given) options.idle_connections = 200;
  }
  return options;
}

}  // namespace outpost::bench
