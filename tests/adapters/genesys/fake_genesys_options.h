// The adapter's options against a running fake Genesys Cloud, with its timers compressed
// for tests (fast backoff, Retry-After scaled down, a generous request budget).
// Thread rules: a pure function.
#pragma once

#include <chrono>

#include "adapters/genesys/genesys_upstream.h"
#include "tests/adapters/genesys/fake_genesys_process.h"

namespace outpost::genesys::testing {

inline GenesysOptions options_against(const FakeGenesys& fake) {
  GenesysOptions o;
  o.rest.api_base = fake.api();
  o.rest.login_base = fake.api();
  o.rest.client_id = fake.get("client_id");
  o.rest.client_secret = fake.get("client_secret");
  o.rest.backoff_ms = {50, 100, 200};
  o.rest.retry_after_scale = 0.05;
  o.rest.requests_per_minute = 6000;
  o.tenant = "acme";
  o.retry_after_failure = std::chrono::milliseconds(200);
  return o;
}

}  // namespace outpost::genesys::testing
