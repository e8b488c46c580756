// A realistic, deterministic Mobile Office data set for demos and benchmarks: contacts,
// canned responses, AUX reasons, wrap-up codes and colleagues of a tenant, and one agent's
// queues, journal and voicemail. Written through ServerCore::write like upstream events.
// Thread rules: plain functions; the ServerCore they write to is thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "engine/server_core.h"
#include "engine/status.h"

namespace outpost {

struct DemoDataOptions {
  std::string tenant = "acme";
  std::string user = "agent-1";
  uint32_t contacts = 200;
  uint32_t canned_responses = 40;
  uint32_t interactions = 30;  // today's journal
  uint32_t voicemails = 5;
  int64_t now_ms = 1'795'000'000'000;  // "today" for the journal
  uint64_t seed = 1;
  uint32_t records_per_transaction = 1000;
};

// Writes the org data of options.tenant and the user data of options.user.
Status seed_demo_data(ServerCore& core, const DemoDataOptions& options);

// Deterministic contact number `i` of the demo set (also used to size benchmarks).
std::string demo_contact(uint64_t i, uint64_t seed);

}  // namespace outpost
