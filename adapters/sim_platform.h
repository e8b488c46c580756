// A deterministic simulated contact center behind the Upstream interface: from its seed it
// routes interactions of every media type to its agents and ends them, leaves voicemails,
// edits drafts and notepads the way the web interface does (loading the draft from the
// server's store, changing some words, saving against what it loaded), changes presence
// (the website closing logs the agent off; a supervisor sets a state) and refuses some
// intents the way the platform does. `outpost-server serve --upstream sim` runs it.
// Thread rules: every method locks; safe from several threads. Deterministic for a given
// seed and sequence of calls.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adapters/upstream.h"
#include "engine/server_store.h"

namespace outpost {

struct SimPlatformOptions {
  uint64_t seed = 1;
  std::vector<AgentRef> agents = {{"acme", "agent-1"}};
  int64_t step_ms = 1000;  // one platform step per this much time passed to poll()
  // Per agent and step.
  double route_chance = 0.03;
  double end_chance = 0.15;  // of each connected interaction
  double voicemail_chance = 0.01;
  double website_close_chance = 0.002;
  double supervisor_chance = 0.001;
  double note_edit_chance = 0.02;  // of each notepad the web shows
  // The web interface opens each draft this long after it appears and saves an edit (once
  // per draft): the switching between web and app that used to lose drafts.
  int64_t web_edit_delay_ms = 1500;
  // Refusals: presence changes to these AUX reasons ("planned by your supervisor"), a
  // seeded share of wrap-ups, sends without a recipient.
  std::set<std::string> refused_aux_reasons = {"aux-training"};
  double wrapup_refuse_chance = 0.1;
  uint32_t max_catch_up_steps = 100;  // poll() after a long pause runs at most this many
};

class SimPlatform : public Upstream {
 public:
  // Reads drafts and notes from `store` the way the web interface loads them.
  SimPlatform(SimPlatformOptions options, ServerStore& store);

  Result<std::vector<upstream::Event>> poll(int64_t now_ms) override;
  std::vector<AgentRef> agents() const override { return options_.agents; }

  Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                      const std::string& aux_reason_id, int64_t now_ms) override;
  Result<PlatformAnswer> wrap_up(const AgentRef& agent, const domain::Interaction& interaction,
                                 const std::string& code_id, int64_t now_ms) override;
  Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft,
                              int64_t now_ms) override;
  Result<PlatformAnswer> set_queue_joined(const AgentRef& agent, const std::string& queue_id,
                                          bool joined, int64_t now_ms) override;

  struct Counters {
    uint64_t steps = 0, routed = 0, ended = 0, voicemails = 0, web_draft_edits = 0,
             web_note_edits = 0, presence_changes = 0, refusals = 0;
  };
  Counters counters() const;

 private:
  struct AgentSim {
    std::map<std::string, domain::Interaction> live;  // alerting or connected
    std::map<std::string, int64_t> drafts_seen_ms;    // draft id -> first seen
    std::set<std::string> drafts_edited;
    uint64_t next_interaction = 1;
    uint64_t next_voicemail = 1;
  };

  Status step(int64_t now_ms, std::vector<upstream::Event>& out);
  Status step_agent(const AgentRef& agent, AgentSim& sim, int64_t now_ms,
                    std::vector<upstream::Event>& out);
  Status edit_drafts(const AgentRef& agent, AgentSim& sim, int64_t now_ms,
                     std::vector<upstream::Event>& out);
  Status edit_notes(const AgentRef& agent, int64_t now_ms, std::vector<upstream::Event>& out);
  bool chance(double p);

  SimPlatformOptions options_;
  ServerStore& store_;
  mutable std::mutex mutex_;
  std::mt19937_64 random_;
  int64_t last_step_ms_ = -1;
  std::map<std::string, AgentSim> agents_;  // "tenant/user"
  Counters counters_;
};

}  // namespace outpost
