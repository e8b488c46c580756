// The core tests' driver: GenesysCore (decision 038) stepped by hand against outpost-sim's model of
// Genesys Cloud. Each round answers every request the core made (a script first, then the model;
// correlation "corr-<id>"), opens the sockets it asks for, delivers the model's socket messages,
// and takes the core's events and recordings; when a round does nothing, time moves to the core's
// next deadline, until the core is quiet (or has nothing due within the horizon, 10 s unless told).
// Shared by the core's test files (genesys_core_test.cpp and the others).
// Thread rules: one test's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/genesys/genesys_core.h"
#include "apps/outpost-sim/genesys_model.h"

namespace outpost::genesys {

class CoreTestDriver {
 public:
  using Script = std::function<std::optional<CoreAnswer>(const CoreRequest&)>;
  struct Options {
    bool tick_model = true;  // the model's heartbeats and channel expiry
    int max_rounds = 2'000;
  };

  // `model`, `core` and `now` outlive the driver; `now` is advanced by run().
  CoreTestDriver(sim::GenesysModel& model, GenesysCore& core, int64_t& now, Options options);
  CoreTestDriver(sim::GenesysModel& model, GenesysCore& core, int64_t& now)
      : CoreTestDriver(model, core, now, Options{}) {}

  // Until the core is quiet or has nothing due within `horizon_ms` (0: only what is due now).
  void run(const Script& script = {}, int64_t horizon_ms = 10'000);
  // Steps `core` from now on (a restarted process), keeping the log and the events.
  void use(GenesysCore& core) { core_ = &core; }
  // How many times `line` ("METHOD path", "socket open") was logged.
  size_t count(const std::string& line) const;

  std::vector<std::string> log;  // "METHOD path" per request (no query), "socket open"
  std::vector<upstream::Event> events;
  std::vector<CoreMedia> media;  // the recordings the core downloaded (decision 064)

 private:
  sim::GenesysModel& model_;
  GenesysCore* core_;
  int64_t& now_;
  Options options_;
};

}  // namespace outpost::genesys
