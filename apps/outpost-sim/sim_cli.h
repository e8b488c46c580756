// Command line of outpost-sim: one seed (--seed S) or a sweep (--seeds A..B), the world's
// size (--devices N --users M --steps K), fault knobs (--drop P ...), --verbose for the
// live trace, --no-shrink, --dir and --keep for the run files. Parsing only; main.cpp runs.
// Thread rules: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/outpost-sim/simulation.h"

namespace outpost::sim {

struct CliOptions {
  SimOptions sim;
  uint64_t first_seed = 1;
  uint64_t last_seed = 1;
  bool shrink = true;
  bool help = false;
};

// Errors: kInvalidArgument with a message naming the bad flag.
Result<CliOptions> parse_cli(const std::vector<std::string>& args);
std::string cli_usage();

}  // namespace outpost::sim
