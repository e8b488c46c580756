// outpost-sim's genesys mode (decision 038): the adapter's sans-I/O core
// (adapters/genesys/genesys_core.h) mirrors tenant acme's org from the in-process model of
// Genesys Cloud (genesys_model.h) through a seeded network of its own: each request and
// notification is delayed, and may be lost, reordered with the others, answered 429 with a
// Retry-After or 503, or done by the platform with its answer lost (a timeout); the
// notification socket may drop (noticed at once or only by missing heartbeats), miss
// notifications, or its channel expire. The core's events are applied through the
// engine's DomainServer as the server's upstream loop applies them (one the platform
// could not serve yet is tried again on later steps, in order); the server's
// authoritative mutators ask it as their Platform. A server restart is a fresh core.
// At quiescence the faults stop and the socket drops once more: the adapter's own gap
// reconcile must bring the mirror to the platform's state, which check() compares.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/genesys/genesys_core.h"
#include "adapters/sim_random.h"
#include "apps/outpost-sim/genesys_model.h"
#include "apps/outpost-sim/ledger.h"
#include "apps/outpost-sim/trace.h"
#include "apps/outpost-sim/world.h"
#include "engine/platform.h"
#include "engine/server_core.h"

namespace outpost::sim {

struct GenesysFaults {
  int64_t min_delay_ms = 2;
  int64_t max_delay_ms = 150;
  double drop = 0.02;          // per request: lost on the way (the core times out)
  double lost_answer = 0.02;   // per request: done by the platform, the answer lost
  double throttle = 0.04;      // per request: 429 with a Retry-After of 0-2 s
  double unavailable = 0.03;   // per request: 503
  double miss = 0.05;          // per notification: never delivered
  double socket_drop = 0.004;  // per step: the socket drops (half of the time silently)
  double expire = 0.002;       // per step: the channel expires (socket_closing)
  // Not a fault: the core's agents per channel (production's 250: one channel here).
  size_t channel_agents = 250;
  // The checker's self-test (--break-send-journal): the core's send journal forgets every
  // mark, so a retry after a lost answer sends again; the at-most-once check must fail.
  bool forget_sends = false;
  // Voicemail recordings (decision 064), per download link: answered 403 (the link expired
  // on the way), 404 (NoSuchKey), or slow (past the core's request timeout).
  double media_expired = 0.08;
  double media_missing = 0.03;
  double media_slow = 0.05;
  // The checker's self-test (--break-recordings): the core hashes other bytes than the
  // platform's recording; (M) must fail.
  bool break_recordings = false;
  // The checker's self-test (--break-draft-retry): the core retries a draft PUT blind.
  bool blind_draft_retries = false;
  // The checker's self-test (--break-listing-deletes, decision 063): a complete org listing
  // deletes nothing from the server; the mirror check must fail.
  bool skip_listing_deletes = false;
  // The checker's self-test (--break-voicemail-listing-deletes, decision 063): an agent's
  // complete voicemail listing deletes nothing; the mirror check must fail.
  bool skip_voicemail_listing_deletes = false;
};

struct GenesysSimStats {
  uint64_t requests = 0, dropped = 0, lost_answers = 0, throttled = 0, unavailable = 0,
           notifications = 0, missed = 0, socket_drops = 0, expiries = 0, events = 0,
           event_retries = 0, platform_actions = 0, gaps = 0, reconciles = 0, restarts = 0,
           sends = 0, sends_accepted = 0, sends_refused = 0, sends_found = 0,  // decision 055
      web_edits = 0, web_logoffs = 0;
  uint64_t recordings = 0, media_faults = 0;  // decision 064
};

class SimGenesys : public Platform {
 public:
  // `break_gap_reconcile`: the checker's self-test (the core skips its reconcile after a
  // gap); `break_contacts`: the core does not list the external contacts (decision 056).
  // The mirror check must then fail.
  SimGenesys(const World& world, Trace& trace, uint64_t seed, int64_t now_ms, GenesysFaults faults,
             bool break_gap_reconcile, bool break_contacts = false);

  // One action of the platform for `user` (routing, a customer hanging up, a voicemail, a
  // supervisor's presence change). Users of the other tenant: nothing.
  void act(const SimUser& user, int64_t now_ms);
  // Delivers what is due, runs the core and the model, applies the core's events through
  // `core`. Errors: the server failed an event (the run reports it).
  Status pump(ServerCore& core, int64_t now_ms);
  // Per-step faults of the socket and the channel.
  void step_faults(int64_t now_ms);
  std::optional<int64_t> next_due() const;
  // The server process restarted: the adapter starts again (its state and calls gone).
  void restart(int64_t now_ms);
  // Quiescence: no more faults; the socket drops once more (the last gap).
  void calm(int64_t now_ms);
  bool quiet() const;
  // The mirror equals the platform: presence, the journal, voicemail, and the listings of
  // decision 056: queues, contacts, canned responses (one line per difference).
  std::vector<std::string> check(ServerStore& store) const;
  // Each send reached the platform at most once, and an accepted one exactly once, across
  // lost answers, timeouts and restarts (decision 055; one line per difference).
  std::vector<std::string> check_sends() const;
  // Hears each event once applied (the push actor).
  void set_observer(std::function<void(const upstream::Event&, int64_t)> observer) {
    observer_ = std::move(observer);
  }
  // Its stats with the current adapter's gaps and reconciles.
  GenesysSimStats stats() const;
  // Where the intents of the other tenant's agents go (the simulated contact center).
  void set_others(Platform* others) { others_ = others; }
  // The recordings the core downloaded (decision 064) go here, as production's go to the
  // server's blob store (GenesysOptions::media_fetched).
  void set_media_sink(std::function<void(const genesys::CoreMedia&)> sink) {
    media_sink_ = std::move(sink);
  }
  // The platform's recording of a genesys-media: URI (the blob service's on-demand fetch,
  // as GenesysUpstream::fetch_media). Errors: kNotFound, kTooLarge.
  Result<std::string> fetch_media(std::string_view uri, uint64_t max_bytes) const;

  // ---- email reply drafts and the web interface (genesys_sim_web.cpp, decision 057)
  // The web edits the words typed go to (a platform edit each, as --platform-kind sim's).
  void set_ledger(Ledger* ledger) { ledger_ = ledger; }
  // "<user scope>|<draft id>" -> the model's email conversation that draft replies to
  // (made at the start, one per agent and draft id): the workload's drafts point there.
  const std::map<std::string, std::string>& draft_conversations() const {
    return draft_conversations_;
  }
  void draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms) override;

  // Platform: the core's intents.
  Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                      const std::string& aux_reason_id, int64_t now_ms) override;
  Result<PlatformAnswer> wrap_up(const AgentRef& agent, const domain::Interaction& interaction,
                                 const std::string& code_id, int64_t now_ms) override;
  Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft,
                              int64_t now_ms) override;
  Result<PlatformAnswer> set_queue_joined(const AgentRef& agent, const std::string& queue_id,
                                          bool joined, int64_t now_ms) override;
  Result<PlatformAnswer> mark_voicemail_read(const AgentRef& agent, const std::string& id,
                                             int64_t now_ms) override;
  Result<PlatformAnswer> delete_voicemail(const AgentRef& agent, const std::string& id,
                                          int64_t now_ms) override;

 private:
  struct Message {
    enum class Kind { kRequest, kAnswer, kSocketOpen, kSocketText, kSocketClosed } kind;
    uint64_t epoch = 0;   // the core it belongs to (restarts)
    uint64_t socket = 0;  // the socket generation (texts, opens, closes)
    genesys::CoreRequest request;
    genesys::CoreAnswer answer;
    std::string text;
    size_t slot = 0;      // which channel's socket
    int64_t sent_ms = 0;  // kRequest: when the core sent it (the model dates a draft PUT so)
  };
  genesys::CoreOptions core_options() const;
  void enqueue(int64_t due_ms, Message message);
  // A download link's request (decision 064): its faults, else delivered as any request.
  void flush_download(Message message, int64_t now_ms);
  int64_t delay();
  void flush(int64_t now_ms);  // the core's requests and socket commands, the model's texts
  void deliver(const Message& message, int64_t now_ms);
  Status apply_events(ServerCore& core, int64_t now_ms);
  // genesys_sim_web.cpp
  void web_act(const SimUser& user);
  // A fresh core learns the stored drafts' conversations (a restarted server).
  Status seed_drafts(ServerCore& core);
  // Whether a DraftEdited comes too late (the draft was sent from the app meanwhile).
  bool moot_edit(ServerCore& core, const upstream::Event& event) const;
  void note_web_edit(const upstream::Event& event, bool moot);
  // The platform's draft equals the server's for each draft not sent (one line per difference).
  std::vector<std::string> check_drafts(ServerStore& store) const;

  Trace& trace_;
  SimRandom random_;
  GenesysFaults faults_;
  bool break_gap_reconcile_;
  bool break_contacts_;
  // The org's listings changed on the web: quiet only once the core has finished this many
  // org listings (one that started after the change; decision 056).
  uint64_t org_listings_due_ = 0;
  void check_listings(ServerStore& store, std::vector<std::string>& out) const;
  // The org's contacts and canned responses the store holds, told to a fresh core (as the
  // server tells production's at its start, decision 063); genesys_sim_listings.cpp.
  Status seed_org_records(ServerCore& core);
  bool org_records_seeded_ = false;
  std::string tenant_;
  std::vector<std::string> users_;
  GenesysModel model_;
  std::unique_ptr<genesys::GenesysCore> core_;
  uint64_t epoch_ = 0;
  // Per channel (the core's slot): the socket generation and the last text's delivery time.
  std::map<size_t, uint64_t> socket_;
  std::map<size_t, int64_t> socket_last_due_;
  // Drops slot's socket (the platform closes it, noticed at once or not at all).
  void drop_socket(size_t slot, bool noticed);
  int64_t now_ms_ = 0;
  std::map<std::pair<int64_t, uint64_t>, Message> queue_;
  uint64_t seq_ = 0;
  std::deque<upstream::Event> pending_;
  int head_attempts_ = 0;
  std::function<void(const upstream::Event&, int64_t)> observer_;
  GenesysSimStats stats_;
  Platform* others_ = nullptr;
  std::function<void(const genesys::CoreMedia&)> media_sink_;
  // Each mirrored voicemail names the hash of the platform's recording (decision 064).
  void check_recordings(ServerStore& store, std::vector<std::string>& out) const;
  // Sends (decision 055): the journal, durable across restarts as DATA/platform-sends is
  // (a forgetting one for the self-test); the POSTs the platform acted on, by send key;
  // the sends the core answered accepted.
  class ForgetfulMarks : public genesys::SendMarks {
   public:
    Mark get(const std::string&) override { return Mark::kNone; }
    Status set(const std::string&, Mark) override { return Status::Ok(); }
    Status forget(const std::string&) override { return Status::Ok(); }
  };
  mutable genesys::MemorySendMarks send_marks_;  // handed to each core (core_options)
  mutable ForgetfulMarks forgetful_marks_;
  std::map<std::string, int> sends_reached_;
  std::set<std::string> sends_accepted_;
  Ledger* ledger_ = nullptr;
  std::map<std::string, std::string> draft_conversations_;
  bool drafts_seeded_ = false;
  uint64_t web_words_ = 0;
  // Words the web typed per conversation, not yet in a DraftEdited the server applied: the
  // ledger takes each from the event that carries it (so a word the adapter drops stays
  // here, and the check reports it).
  std::map<std::string, std::set<std::string>> web_typed_;
  bool mine(const AgentRef& agent) const { return agent.tenant == tenant_ || others_ == nullptr; }
};

}  // namespace outpost::sim
