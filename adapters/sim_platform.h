// The simulated contact center, one model for both of its drivers: from its seed it routes
// interactions of every media type to its agents and ends them, leaves voicemails, has the
// web interface edit drafts and notepads (an editor loads the record from the server's
// store, the agent types there and saves later, against what it loaded), changes presence
// (the website closing logs the agent off; a supervisor sets a state), edits contacts, and
// answers the devices' intents the way the platform does (refusals, and "unavailable, try
// later" when asked to). Behind the Upstream interface.
// - `outpost-server serve --upstream sim` polls it on the wall clock: poll(now) runs one
//   platform step per step_ms, each agent's events drawn with the *_chance options.
// - apps/outpost-sim calls act(agent, now) on its own platform steps: one weighted action
//   for that agent, web edits typing unique words its checker can follow.
// Thread rules: every method locks; safe from several threads. Deterministic for a given
// seed and sequence of calls, on every machine (adapters/sim_random.h).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/sim_random.h"
#include "adapters/upstream.h"
#include "engine/server_store.h"

namespace outpost {

struct SimPlatformOptions {
  uint64_t seed = 1;
  std::vector<AgentRef> agents = {{"acme", "agent-1"}};
  int64_t step_ms = 1000;  // poll(): one platform step per this much time
  // poll(): per agent and step.
  double route_chance = 0.03;
  double end_chance = 0.15;  // of each connected interaction
  double voicemail_chance = 0.01;
  double website_close_chance = 0.002;
  double supervisor_chance = 0.001;
  double note_edit_chance = 0.02;  // of each notepad the web shows
  // poll(): the web interface opens each draft when it appears and saves an edit this long
  // later (once per draft): the switching between web and app that used to lose drafts.
  int64_t web_edit_delay_ms = 1500;
  // What the web's agent types: a greeting or a signature (phrases), or one unique word
  // ("web17") at a random place, which a checker can follow through every merge.
  bool web_types_unique_words = false;
  // Refusals: presence changes to these AUX reasons ("planned by your supervisor"), a log
  // off during a connected interaction, a wrap-up of an interaction still live, a seeded
  // share of the other wrap-ups and sends, sends the channel cannot carry.
  std::set<std::string> refused_aux_reasons = {"aux-training"};
  double wrapup_refuse_chance = 0.1;
  double send_refuse_chance = 0;
  // Of every intent: the platform does not answer (kUnavailable; the device retries).
  double unavailable_chance = 0;
  uint32_t max_catch_up_steps = 100;  // poll() after a long pause runs at most this many
};

class SimPlatform : public Upstream {
 public:
  // Reads drafts, notes, interactions and contacts from `store` the way the web loads them.
  SimPlatform(SimPlatformOptions options, ServerStore& store);

  // The store it reads from from now on (a restarted server's); the platform's own state
  // (live interactions, open web editors) carries over.
  void rebind(ServerStore& store);

  Result<std::vector<upstream::Event>> poll(int64_t now_ms) override;
  std::vector<AgentRef> agents() const override { return options_.agents; }
  // One action of the platform for `agent` now, drawn with fixed weights: a web editor
  // opens or saves a draft or a notepad, an interaction is routed or ended, a voicemail
  // left, presence or a contact changed. Its events, oldest first (often one, maybe none).
  Result<std::vector<upstream::Event>> act(const AgentRef& agent, int64_t now_ms);
  // From now on every intent gets an answer (unavailable_chance 0); refusals go on.
  void calm();

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
             web_note_edits = 0, presence_changes = 0, contact_edits = 0, refusals = 0,
             unavailable = 0;
  };
  Counters counters() const;

 private:
  // A web editor open on one draft or notepad: what it loaded (nothing: a new notepad).
  struct WebEditor {
    std::optional<domain::Draft> draft;
    std::optional<domain::Note> note;
    int64_t opened_ms = 0;
  };
  struct AgentSim {
    std::map<std::string, domain::Interaction> live;  // alerting or connected, by id
    std::map<std::string, WebEditor> draft_editors;   // by draft id
    std::map<std::string, WebEditor> note_editors;    // by interaction id
    std::set<std::string> drafts_seen;                // poll(): each draft is edited once
    uint64_t next_interaction = 1;
    uint64_t next_voicemail = 1;
  };
  using Events = std::vector<upstream::Event>;

  Status step(int64_t now_ms, Events& out);
  Status step_agent(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out);
  AgentSim& sim_of(const AgentRef& agent);

  // The actions both drivers share.
  void connect_alerting(const AgentRef& agent, AgentSim& sim, Events& out);
  void route(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out);
  void end(const AgentRef& agent, AgentSim& sim, const std::string& id, int64_t now_ms,
           Events& out);
  void leave_voicemail(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out);
  void change_presence(const AgentRef& agent, upstream::PresenceCause cause, Events& out);
  Status edit_contact(const AgentRef& agent, int64_t now_ms, Events& out);
  // The editor open on `id`, taken off `editors`; none when no editor is open there.
  static std::optional<WebEditor> close(std::map<std::string, WebEditor>& editors,
                                        const std::string& id);
  Status open_draft(const AgentRef& agent, AgentSim& sim, const std::string& id, int64_t now_ms);
  void save_draft(const AgentRef& agent, AgentSim& sim, const std::string& id, Events& out);
  Status open_note(const AgentRef& agent, AgentSim& sim, const std::string& id, int64_t now_ms);
  void save_note(const AgentRef& agent, AgentSim& sim, const std::string& id, Events& out);
  // poll(): new drafts get an editor, editors open long enough save; notepads by chance.
  Status edit_drafts(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out);
  Status edit_notes(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out);

  // What the web's agent makes of a text (see web_types_unique_words).
  std::string web_draft_text(const std::string& body);
  std::string web_note_text(const std::string& text);
  std::string type_unique_word(const std::string& text);
  // Keys of one collection in the agent's user scope (or its org scope), at most `max`.
  Result<std::vector<std::string>> keys(const std::string& scope, const std::string& collection,
                                        uint32_t max);
  template <typename T>
  Result<std::optional<T>> load(const std::string& scope, const std::string& collection,
                                const std::string& key);
  Result<PlatformAnswer> refuse(std::string why);
  Status maybe_unavailable(const std::string& what);

  SimPlatformOptions options_;
  ServerStore* store_;
  mutable std::mutex mutex_;
  SimRandom random_;
  int64_t last_step_ms_ = -1;
  std::map<std::string, AgentSim> agents_;  // "tenant/user"
  uint64_t words_ = 0;                      // unique words typed on the web so far
  Counters counters_;
};

}  // namespace outpost
