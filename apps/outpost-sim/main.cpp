// outpost-sim: runs one seed or sweeps many; a failing seed is shrunk to the fewest steps
// that still break the same invariant and printed with its trace. docs/reliability.md.
#include <chrono>
#include <cstdio>

#include "apps/outpost-sim/sim_cli.h"
#include "apps/outpost-sim/simulation.h"
#include "engine/domain_mutators.h"

namespace {

using outpost::sim::CliOptions;
using outpost::sim::SimOptions;
using outpost::sim::SimResult;

void print_failure(uint64_t seed, const SimOptions& options, const SimResult& result) {
  const std::string channels =
      options.genesys && options.genesys_channel_agents != 250
          ? " --genesys-channel-agents " + std::to_string(options.genesys_channel_agents)
          : "";
  printf(
      "FAIL seed %llu (--seed %llu --devices %d --two-process %d --users %d --steps "
      "%d%s%s%s%s%s%s%s%s%s)\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), options.devices,
      options.two_process_devices, options.users, options.steps,
      options.genesys ? " --platform-kind genesys" : "",
      options.break_gap_reconcile ? " --break-gap-reconcile" : "",
      options.break_contacts_reconcile ? " --break-contacts-reconcile" : "",
      options.break_send_journal ? " --break-send-journal" : "",
      options.break_recordings ? " --break-recordings" : "",
      options.break_draft_retry ? " --break-draft-retry" : "",
      options.break_listing_deletes ? " --break-listing-deletes" : "",
      options.break_voicemail_listing_deletes ? " --break-voicemail-listing-deletes" : "",
      channels.c_str());
  for (const auto& violation : result.violations) {
    printf("  %s: %s\n", violation.invariant.c_str(), violation.detail.c_str());
  }
  printf("  trace (events that mention the violation, and the last ones):\n");
  for (const auto& line : result.trace) printf("    %s\n", line.c_str());
  if (!result.dir.empty()) printf("  files kept in %s\n", result.dir.c_str());
}

// Run directories kept for the first failing seeds only (a sweep may fail many).
constexpr size_t kKeptFailures = 3;

// The smallest step count (binary search) whose run still breaks the first invariant.
int shrink(const SimOptions& options, const std::string& invariant) {
  int low = 0, high = options.steps;  // high fails
  while (low < high) {
    int mid = low + (high - low) / 2;
    SimOptions trial = options;
    trial.steps = mid;
    trial.verbose = false;
    trial.keep_on_failure = false;
    SimResult result = outpost::sim::run_simulation(trial);
    bool same = false;
    for (const auto& violation : result.violations) same |= violation.invariant == invariant;
    if (same) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return high;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = outpost::sim::parse_cli(args);
  if (!parsed.ok()) {
    fprintf(stderr, "outpost-sim: %s\n", parsed.status().message().c_str());
    return 2;
  }
  CliOptions cli = std::move(parsed).value();
  if (cli.help) {
    printf("%s", outpost::sim::cli_usage().c_str());
    return 0;
  }
  if (outpost::Status built = outpost::check_built_in_domain(); !built.ok()) {
    fprintf(stderr, "outpost-sim: %s\n", built.to_string().c_str());
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();  // for the report only
  outpost::sim::SimStats total;
  uint64_t passed = 0, failed = 0;
  std::vector<uint64_t> failing;
  for (uint64_t seed = cli.first_seed; seed <= cli.last_seed; ++seed) {
    SimOptions options = cli.sim;
    options.seed = seed;
    options.keep_on_failure = failing.size() < kKeptFailures;
    SimResult result = outpost::sim::run_simulation(options);
    total.add(result.stats);
    if (result.ok()) {
      ++passed;
      if (cli.first_seed == cli.last_seed) {
        printf("seed %llu passed: trace hash %016llx, %llu events\n",
               static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(result.trace_hash),
               static_cast<unsigned long long>(result.trace_events));
      }
      continue;
    }
    ++failed;
    failing.push_back(seed);
    if (cli.shrink && options.steps > 0) {
      int steps = shrink(options, result.violations.front().invariant);
      if (steps < options.steps) {
        printf("seed %llu: %s also breaks with --steps %d (shrunk from %d)\n",
               static_cast<unsigned long long>(seed), result.violations.front().invariant.c_str(),
               steps, options.steps);
        options.steps = steps;
        result = outpost::sim::run_simulation(options);
      }
    }
    print_failure(seed, options, result);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  printf(
      "seeds %llu..%llu, %d devices, %d users, %d steps each: %llu steps, %llu mutations "
      "(%llu refused locally, %llu rejected by the server), %llu words typed, %llu platform "
      "events, %llu frames, faults: %llu drops, %llu ghosts, %llu resets, %llu partitions, "
      "%llu kills, %llu backups, %llu restores (%llu mutations renumbered), %llu server restarts, "
      "%llu sleeps past the horizon, %llu compactions; "
      "%llu voicemails played (%llu downloads cut by a kill, %llu resumed); push: %llu wakes, "
      "%llu inactivity logouts; longest quiescence %lld ms simulated; %.1f s\n",
      static_cast<unsigned long long>(cli.first_seed),
      static_cast<unsigned long long>(cli.last_seed), cli.sim.devices, cli.sim.users, cli.sim.steps,
      static_cast<unsigned long long>(total.steps),
      static_cast<unsigned long long>(total.mutations),
      static_cast<unsigned long long>(total.local_refusals),
      static_cast<unsigned long long>(total.server_rejections),
      static_cast<unsigned long long>(total.words_typed),
      static_cast<unsigned long long>(total.platform_events),
      static_cast<unsigned long long>(total.frames), static_cast<unsigned long long>(total.drops),
      static_cast<unsigned long long>(total.ghosts), static_cast<unsigned long long>(total.resets),
      static_cast<unsigned long long>(total.partitions),
      static_cast<unsigned long long>(total.kills), static_cast<unsigned long long>(total.backups),
      static_cast<unsigned long long>(total.restores),
      static_cast<unsigned long long>(total.renumbered),
      static_cast<unsigned long long>(total.restarts),
      static_cast<unsigned long long>(total.sleeps),
      static_cast<unsigned long long>(total.compactions),
      static_cast<unsigned long long>(total.blob_plays),
      static_cast<unsigned long long>(total.blob_downloads_cut),
      static_cast<unsigned long long>(total.blob_resumed),
      static_cast<unsigned long long>(total.push_wakes),
      static_cast<unsigned long long>(total.push_logouts), static_cast<long long>(total.quiesce_ms),
      seconds);
  if (cli.sim.genesys) {
    printf(
        "genesys: %llu adapter requests, %llu request/notification faults, %llu socket drops "
        "and channel expiries, %llu gaps, %llu events applied\n",
        static_cast<unsigned long long>(total.genesys_requests),
        static_cast<unsigned long long>(total.genesys_faults),
        static_cast<unsigned long long>(total.genesys_socket_faults),
        static_cast<unsigned long long>(total.genesys_gaps),
        static_cast<unsigned long long>(total.genesys_events));
    printf(
        "genesys sends: %llu reached the platform, %llu accepted, %llu refused, %llu found by a "
        "retry's look-up\n",
        static_cast<unsigned long long>(total.genesys_sends),
        static_cast<unsigned long long>(total.genesys_sends_accepted),
        static_cast<unsigned long long>(total.genesys_sends_refused),
        static_cast<unsigned long long>(total.genesys_sends_found));
    printf("genesys recordings: %llu hashed, %llu download links expired, missing or slow\n",
           static_cast<unsigned long long>(total.genesys_recordings),
           static_cast<unsigned long long>(total.genesys_media_faults));
  }
  if (!failing.empty()) {
    printf("failing seeds:");
    for (uint64_t seed : failing) printf(" %llu", static_cast<unsigned long long>(seed));
    printf("\n");
  }
  printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(passed),
         static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}
