// The sans-I/O core of the Genesys Cloud mirror (decision 038): the notification channels'
// life (250 agents' topics each, at most 20; create, subscribe, open, heartbeats, renewal,
// gaps, a gap reconciling its channel's agents), the reconciliation by REST with paging, the
// notifications as upstream events, and the intents of decision 023 as request chains.
// Inputs: decoded REST answers (by request id), each channel's socket text messages, its
// opening and closing, and `now`. Outputs: requests to send, socket commands, upstream events,
// intent answers, the next deadline. No sockets, threads, clocks or randomness: outpost-sim drives
// it through its seeded network (apps/outpost-sim/genesys_sim.h). The REST retry rules of
// genesys_rest.h (429 Retry-After, 502/503/504 and timeouts with backoff) live here too.
// Slice: presence, routing status, presence definitions, wrap-up codes, the journal
// (analytics query, conversations), voicemail listing, the agents' queues, the org's
// response libraries and responses and external contacts (decision 056); writes: presence,
// wrap-up, queue, voicemail read/delete, and the sends at most once (decision 055: email
// replies, SMS/chat messages, new callbacks and emails, journaled through the SendMarks port);
// email reply drafts both ways (decision 057: the app's saves PUT, the web interface's edits
// read back); voicemail recordings downloaded and hashed before their event (decision 064:
// a download request kind, take_media); deletions (decision 063: a voicemail the platform
// deleted, or a complete voicemail listing no longer shows and its read finds gone, the
// contacts and responses a complete listing no longer shows). Production runs
// it through GenesysCoreDriver (decisions 043, 049) with `run_mirror` on: the channels, the
// reconcile, the notifications, the writes, the drafts and the recordings.
// Thread rules: one owner; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "adapters/genesys/genesys_json.h"
#include "adapters/genesys/genesys_send_marks.h"
#include "engine/platform.h"
#include "engine/status.h"
#include "outpost/upstream.pb.h"

namespace outpost::genesys {

// Voicemail audio URIs the adapter puts in records (audio_uri): "genesys-media:voicemail/<id>".
inline constexpr std::string_view kGenesysMediaScheme = "genesys-media:";
std::string genesys_media_uri(std::string_view voicemail_id);

struct CoreOptions {
  std::string tenant;
  std::vector<std::string> users;
  int64_t request_timeout_ms = 10'000;
  std::vector<int64_t> backoff_ms = {3'000, 9'000, 27'000};
  int64_t default_retry_after_ms = 3'000;
  int64_t max_retry_after_ms = 180'000;
  int max_429_retries = 20;
  int64_t heartbeat_timeout_ms = 75'000;
  int64_t retry_after_failure_ms = 5'000;
  int64_t channel_renew_margin_ms = 600'000;
  int64_t agent_reconcile_every_ms = 900'000;
  int64_t org_reconcile_every_ms = 3'600'000;
  int64_t answer_keep_ms = 120'000;
  size_t max_intents_in_flight = 32;
  // Agents per notification channel (4 topics each under its 1000: at most 250) and channels
  // per OAuth client (the 21st would evict one); agents past them are reconciled only.
  size_t agents_per_channel = 250;
  size_t max_channels = 20;
  // The channels and the reconcile run here (production and outpost-sim). Off: only the
  // intents run (and the presence read-back after an accepted write); set_presence_map()
  // gives the definitions.
  bool run_mirror = true;
  // Refusals are logged with their correlation id when set.
  std::function<void(const std::string&)> log;
  // Test hook (the simulator's self-test, docs/reliability.md): a new channel after a gap
  // does not reconcile the agents. The mirror check must then fail.
  bool skip_gap_reconcile = false;
  // The org's listings (decision 056): the external contacts scan's page size (10..200);
  // mirror_contacts off: no contacts (outpost-sim's self-test, tests that need none).
  size_t contact_scan_limit = 200;
  bool mirror_contacts = true;
  // Test hook (outpost-sim's --break-listing-deletes): a complete org listing deletes
  // nothing (decision 063). The mirror check must then fail.
  bool skip_listing_deletes = false;
  // Test hook (outpost-sim's --break-voicemail-listing-deletes): an agent's complete voicemail
  // listing deletes nothing (decision 063). The mirror check must then fail.
  bool skip_voicemail_listing_deletes = false;
  // Where sends are journaled before their POST (decision 055); outlives the core. nullptr:
  // the core's own marks in memory (a restart forgets them).
  SendMarks* send_marks = nullptr;
  // A fresh core looks for an earlier attempt of a send only this long after its start, when
  // a POST of its previous life can no longer reach the platform; -1: request_timeout_ms.
  int64_t send_settle_ms = -1;
  // Voicemail recordings (decisions 034, 064): a voicemail's event waits for its recording,
  // downloaded (at most max_voicemail_bytes) and hashed so the record names its blob; off:
  // voicemail events without audio. `audio_stored`, when set, is a port asked synchronously
  // (as send_marks): the store names this voicemail's audio already, no download (a restart).
  bool record_audio = true;
  uint64_t max_voicemail_bytes = 10ull * 1024 * 1024;
  std::function<bool(const std::string& user, const std::string& voicemail_id)> audio_stored;
  // Test hook (outpost-sim's --break-recordings): the recording's bytes are mangled before
  // they are hashed, so the record names a blob the platform does not have. (M) must fail.
  bool break_recordings = false;
  // Test hook (outpost-sim's --break-draft-retry, decision 062): a draft PUT goes through
  // the REST retry rules, sent again blind after a timeout or a 5xx. The web-word check
  // must then fail.
  bool blind_draft_retries = false;
};

struct CoreRequest {
  // kApi: the platform's REST API (the client's or the user's token, the org's budget);
  // kDownload: GET of a download link the platform gave (`target` is the absolute URL, on
  // its media host): no bearer, no budget, at most `max_bytes` (the answer is 413 past it).
  enum class Kind { kApi, kDownload };
  uint64_t id = 0;
  std::string method;
  std::string target;  // a path ("/api/v2/...") or a nextUri
  std::string body;
  // The agent whose own login (decision 030) carries this request when the driver holds
  // one; empty: the client's token. Set for an agent's writes and their reads.
  std::string user;
  // The send this POST makes (send/user/draft/revision), "" for any other request: logged,
  // and counted by outpost-sim's at-most-once check (decision 055).
  std::string send_key;
  Kind kind = Kind::kApi;
  uint64_t max_bytes = 0;  // kDownload
};

// A voicemail recording downloaded and hashed (decision 064): the driver hands it to the
// server's blob store, so a device's first play needs no second download.
struct CoreMedia {
  std::string sha256_hex;
  std::string bytes;
};

struct CoreAnswer {
  long status = 0;
  std::string body;
  std::string correlation_id;
  int64_t retry_after_ms = -1;  // Retry-After of a 429, -1 when absent
  bool transport_error = false;
};

struct SocketCommand {
  enum class Kind { kOpen, kSend, kClose };
  Kind kind = Kind::kOpen;
  std::string text;    // kOpen: the connectUri; kSend: the message
  size_t channel = 0;  // which channel's socket (0 .. channel_count() - 1)
};

// What a reconcile finished (the driver's caller mirrors what the core does not, for the
// same agents: decision 043).
struct CoreReconciled {
  bool org = false;
  bool all = false;  // every agent (the first full mirror, and every agent_reconcile_every)
  std::vector<std::string> users;
};

struct CoreCounters {
  uint64_t requests = 0, retried_429 = 0, retried_5xx = 0, timeouts = 0, channels_created = 0,
           gaps = 0, agent_reconciles = 0, org_reconciles = 0, notifications = 0, heartbeats = 0,
           decode_errors = 0, events = 0, duplicates_skipped = 0, intents = 0, refusals = 0,
           sends_unknown = 0, sends_found = 0;         // decision 055
  uint64_t incomplete_listings = 0, org_listings = 0;  // decision 056
  uint64_t org_deletions = 0;                          // decision 063
  // Decision 063: voicemails a complete listing did not show, read alone and found deleted.
  uint64_t voicemails_unlisted = 0;
  // Email reply drafts (decision 057).
  uint64_t drafts_put = 0, drafts_read = 0, web_draft_edits = 0, drafts_refused = 0;
  uint64_t audio_fetched = 0, audio_failures = 0;  // decision 064
  // Decision 062: a PUT of ours whose outcome was unknown found on the platform afterwards
  // (the app's latest save put back over it); a notification of the conversation while our
  // PUT was on its way (a web edit may have been written over: its words stay only in the
  // web editor).
  uint64_t drafts_ghosts_found = 0, drafts_maybe_overwritten = 0;
};

class GenesysCore {
 public:
  explicit GenesysCore(CoreOptions options);
  ~GenesysCore();
  GenesysCore(const GenesysCore&) = delete;
  GenesysCore& operator=(const GenesysCore&) = delete;

  // ---- inputs
  // Timers: retries due, request timeouts, heartbeats, renewal, reconciles.
  void tick(int64_t now_ms);
  // The answer to request `id` (a late answer to a request already timed out is ignored).
  void on_answer(uint64_t id, const CoreAnswer& answer, int64_t now_ms);
  // The socket of channel `channel` (SocketCommand::channel).
  void on_socket_opened(int64_t now_ms, size_t channel = 0);
  void on_socket_message(std::string_view text, int64_t now_ms, size_t channel = 0);
  void on_socket_closed(int64_t now_ms, size_t channel = 0);
  // The agent's own login is held (decision 030): its voicemail is listed with the endpoint
  // for the logged-in user, carried by that login (CoreRequest::user).
  void set_own_login(const std::string& user, bool held);
  // The event last sent under `key` was not kept whole (its recording failed): the next
  // reconcile sends it again even if unchanged.
  void forget(const std::string& key);
  // An org record the server holds from before this core's start (decision 063):
  // `collection` "contact" or "canned_response". A complete listing that does not show it
  // deletes it from the server, as it does the records this core sent.
  void org_record_known(const std::string& collection, const std::string& id);
  // A voicemail of `user` the server holds from before this core's start (decision 063):
  // an agent's complete voicemail listing that does not show it reads it alone and deletes
  // it from the server when the platform no longer has it, as it does the voicemails this
  // core sent.
  void voicemail_known(const std::string& user, const std::string& id);

  // ---- outputs
  std::vector<CoreRequest> take_requests();
  std::vector<SocketCommand> take_socket_commands();
  std::vector<upstream::Event> take_events();
  CoreReconciled take_reconciled();
  std::vector<CoreMedia> take_media();  // the recordings downloaded (decision 064)
  // The earliest time tick() has something to do (nullopt: nothing scheduled).
  std::optional<int64_t> next_deadline() const;

  // ---- intents (decision 023 with no wait: the first call starts the chain and answers
  // kUnavailable; a later call with the same arguments takes the answer once it came; with
  // AgentRef::mutation set, the answer stays for that mutation's retries, answer_keep past
  // the last one: decision 050).
  Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                      const std::string& aux_reason_id, int64_t now_ms);
  Result<PlatformAnswer> wrap_up(const AgentRef& agent, const std::string& interaction_id,
                                 const std::string& code_id, int64_t now_ms);
  Result<PlatformAnswer> set_queue_joined(const AgentRef& agent, const std::string& queue_id,
                                          bool joined, int64_t now_ms);
  Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms);
  Result<PlatformAnswer> mark_voicemail_read(const AgentRef& agent, const std::string& id,
                                             int64_t now_ms);
  Result<PlatformAnswer> delete_voicemail(const AgentRef& agent, const std::string& id,
                                          int64_t now_ms);

  // ---- email reply drafts both ways (decision 057; genesys_core_drafts.cpp)
  // An email reply draft the app saved (Platform::draft_saved): the latest text per
  // conversation is PUT to the platform (`…/emails/{id}/messages/draft`, with the agent's
  // login; read first: a web edit found is sent instead, and the server's merge comes
  // back), one request per conversation at a time, again after retry_after_failure while
  // the platform is unavailable; a refusal is logged. What the platform holds from us is
  // the base of the next web edit. Each email conversation notified or read again has its
  // platform draft read: a text other than that base is a DraftEdited{base, edited} event
  // for the app's draft id (merged three-way by the server). At most 10,000 conversations.
  void draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms);
  // A draft the store holds from before a start (a restarted server): its conversation's web
  // edits are for this draft id. What the platform holds is not known, so its draft is read
  // at the next tick: the stored text, it is the base; another (a web edit, or our PUT lost
  // with the old process) is a DraftEdited without a base, merged keeping both texts.
  void draft_known(const AgentRef& agent, const domain::Draft& draft);

  // The channel is open, no reconcile is due or running, no request is in flight or
  // waiting, no event waits to be taken.
  bool quiet() const;
  size_t channel_count() const { return channels_.size(); }
  // The org's presence definitions, read elsewhere (with run_mirror off).
  void set_presence_map(PresenceMap map);
  // How many intents have been answered by the platform (or given up) so far, and how many
  // intent calls returned "not answered yet": a driver that waits on an intent compares them
  // before and after a call (decision 043).
  uint64_t intents_answered() const { return intents_answered_; }
  uint64_t intents_not_yet() const { return intents_not_yet_; }
  bool connected() const;
  // The first full mirror finished, and no voicemail it brought waits for its recording.
  bool mirrored() const { return mirrored_ && !recordings_running(); }
  const CoreCounters& counters() const { return counters_; }

 private:
  using Done = std::function<void(Result<CoreAnswer>)>;
  using Next = std::function<void(Status)>;
  using EntityFn = std::function<void(const std::string& entity, const std::string& corr)>;
  using Answered = std::function<void(Result<PlatformAnswer>)>;
  struct Call;
  struct Listing;
  struct Intent;
  struct AgentMirror {
    upstream::PresenceChanged presence;
    bool presence_known = false;
    int64_t presence_modified_ms = 0;  // the newest modifiedDate taken
    int64_t offline_requested_ms = 0;
  };
  enum class ChannelState { kDown, kCreating, kSubscribing, kOpening, kOpen };
  struct Channel {
    std::vector<std::string> users;  // the agents whose topics it holds
    ChannelState state = ChannelState::kDown;
    uint64_t generation = 0;
    int64_t retry_at = 0;
    int64_t expires_ms = 0;
    int64_t last_message_ms = 0;
    bool pinged = false;
    bool had = false;             // opened before: the next opening follows a gap
    bool need_reconcile = false;  // its agents are reconciled once every channel is open
  };

  // REST with the retry rules.
  void call(const std::string& method, const std::string& target, const std::string& body,
            Done done, const std::string& user = "");
  // A send's POST made once (decision 055): see Call::once.
  void call_once(const std::string& target, const std::string& body, Done done,
                 const std::string& user, const std::string& send_key);
  // One attempt whatever the answer (a timeout comes as a transport error): Call::single.
  void call_single(const std::string& method, const std::string& target, const std::string& body,
                   Done done, const std::string& user);
  void issue(const std::shared_ptr<Call>& call);
  void settle(const std::shared_ptr<Call>& call, const CoreAnswer& answer);
  void retry_later(const std::shared_ptr<Call>& call, int64_t delay_ms, bool throttled);

  // genesys_core.cpp: the channel and the notifications.
  void open_channel(size_t channel);
  void channel_failed(size_t channel, const std::string& why);
  void channel_lost(size_t channel, const std::string& why);
  void tick_channel(size_t channel);
  bool all_open() const;
  void handle_event(const std::string& topic, const std::string& body, const std::string& corr);

  // genesys_core_mirror.cpp: the reconcile.
  void maybe_reconcile();
  void reconcile_org(Next next);
  void reconcile_agents(std::shared_ptr<std::vector<std::string>> users, size_t at, Next next);
  void reconcile_agent(const std::string& user, Next next);
  // GET presence and routing status, emitted (with `force`, even when unchanged).
  void read_presence(const std::string& user, bool force, Next next);
  void reconcile_conversations(const std::string& user, int page, Next next);
  void refresh_conversations(const std::string& user, std::shared_ptr<std::vector<std::string>> ids,
                             size_t at, Next next);
  void each_page(const std::shared_ptr<Listing>& listing, const std::string& target, Next next);
  // `limit`: the page size asked for when the answer does not say it (the scan).
  void list(const std::string& first, const std::string& member, EntityFn fn, Next next,
            const std::string& user = "", size_t limit = 0);

  // genesys_core_listings.cpp (decision 056): the org's response libraries and responses
  // and its external contacts (after an org reconcile, beside the agents' reconciles), each
  // agent's queues joined and not (in its reconcile).
  void maybe_list_org();
  void list_responses(std::shared_ptr<std::vector<std::string>> libraries, size_t at, Next next);
  void list_contacts(Next next);
  void list_queues(const std::string& user, Next next);
  // An agent's voicemail (in its reconcile). Decision 063: the voicemails sent or known when
  // it starts are its candidates (one notified or seen later is not judged by it); when
  // every page was read, each candidate it did not show is read alone (a numbered page may
  // skip one when another is deleted meanwhile) and, when the platform says it is deleted
  // (404, or `deleted`), deleted from the server through voicemail_gone.
  void list_voicemail(const std::string& user, Next next);
  void confirm_unlisted(const std::string& user, std::shared_ptr<std::vector<std::string>> ids,
                        size_t at, Next next);
  void mark_mirrored();
  // Decision 063: the ids a running org listing showed, per collection; `unsure` when one
  // could not be told (an entity without id, more than the bound): it then deletes nothing.
  struct Listed {
    std::unordered_set<std::string> ids;
    bool unsure = false;
  };
  void note_listed(Listed& listed, const std::string& entity);
  // A complete listing of `collection`: every record sent or known and not listed is
  // deleted from the server (an event each).
  void delete_unlisted(const std::string& collection, Listed& listed);

  // genesys_core_intents.cpp
  Result<PlatformAnswer> run_intent(const std::string& what, const AgentRef& agent, int64_t now_ms,
                                    const std::function<void(Answered)>& start);
  Result<PlatformAnswer> answer_of(const Result<CoreAnswer>& answer, const std::string& what);
  void write(const std::string& method, const std::string& target, const std::string& body,
             const std::string& what, const std::string& user, Answered answered);
  bool is_mirrored(const AgentRef& agent) const;

  // genesys_core_sends.cpp (decision 055): the sends at most once.
  using Found = std::function<void(Result<bool>)>;
  void send_chain(const std::string& key, const std::string& user, const domain::Draft& draft,
                  Answered answered);
  void post_send(const std::string& key, const std::string& user, const domain::Draft& draft,
                 Answered answered);
  void post_journaled(const std::string& key, const std::string& user, const std::string& path,
                      const std::string& body, const std::string& what, Answered answered);
  void find_sent_email(const std::string& user, const domain::Draft& draft, Found found);
  void list_emails(const std::string& user, const domain::Draft& draft,
                   std::shared_ptr<std::vector<std::string>> previews, const std::string& target,
                   size_t pages, Found found);
  void read_emails(const std::string& user, const domain::Draft& draft,
                   std::shared_ptr<std::vector<std::string>> ids, size_t at, size_t read,
                   Found found);
  void find_sent_message(const std::string& user, const domain::Draft& draft, Found found);
  void read_messages(const std::string& user, const domain::Draft& draft,
                     std::shared_ptr<std::vector<std::string>> ids, size_t end, Found found);
  void find_created(const std::string& key, Found found);
  SendMarks& marks() { return options_.send_marks ? *options_.send_marks : own_marks_; }

  void emit(upstream::Event event, const std::string& key);

  // genesys_core_recordings.cpp (decision 064): a voicemail event waits for its recording
  // (the media endpoint's link, then the download), emitted with its hash; a failure emits
  // it without audio and forgets it (the next reconcile sends it again), and tries again
  // after retry_after_failure, at most kRecordingAttempts times per sighting.
  struct Recording {
    upstream::Event event;  // the latest sighting, emitted once the recording is known
    bool running = false;
    int failures = 0;
    int64_t retry_at = 0;
  };
  void emit_voicemail(upstream::Event event, const std::string& key);
  void fetch_recording(const std::string& key, int link);
  void recording_done(const std::string& key, std::string bytes);
  void recording_failed(const std::string& key, const std::string& why, bool retry);
  void recording_gone(const std::string& key);  // the media endpoint's 404
  void tick_recordings();
  std::optional<int64_t> recordings_deadline() const;
  bool recordings_running() const;
  void download(const std::string& url, uint64_t max_bytes, Done done);
  // `modified_ms`: the presence's modifiedDate (0: unknown); one older than the newest
  // taken is dropped (a read answered late, decision 050).
  void emit_presence(const std::string& user, upstream::PresenceChanged change,
                     int64_t modified_ms = 0);
  std::string emit_conversation(const std::string& user, const std::string& body,
                                const std::string& corr);
  // The platform deleted the user's voicemail `id` (our DELETE answered, or its notification):
  // a voicemail_deleted event once, and nothing more is sent for it (decision 063).
  void voicemail_gone(const std::string& user, const std::string& id);
  // By the agent and the id: Genesys ids are never reused, but the store may hold others'
  // (the demo data's voicemail-1 of every agent: docs/reliability.md bug 18).
  bool is_gone(const std::string& user, const std::string& id) const {
    return voicemails_gone_.count(user + "/" + id) != 0;
  }

  // genesys_core_drafts.cpp: an email conversation's draft as both sides last agreed.
  struct DraftLink {
    std::string user;
    std::string draft_id;         // the app's (empty until the app saves one)
    domain::Draft platform_copy;  // the text the platform last held from us or showed us
    bool known = false;           // platform_copy read or written at least once
    bool stored_only = false;     // platform_copy is the store's text, not yet read back
    bool put_pending = false;     // to_put waits to be PUT
    domain::Draft to_put;
    bool check_pending = false;  // the platform's draft is to be read
    bool busy = false;           // a PUT or a read in flight (one at a time)
    int64_t retry_at = 0;        // a failed PUT is tried again from then
    // The text a send PUT before its POST (genesys_core_sends.cpp): read back, it is ours,
    // not a web edit (outpost-sim seed 1 lost web words to that mistake).
    std::optional<domain::Draft> sent_put;
    // PUTs accepted (ours and a send's): a read sent before one and answered after it is
    // stale (it may show the text before ours), so it is made again, never taken for a web
    // edit (outpost-sim seed 30 at 300 steps).
    uint64_t writes = 0;
    std::optional<domain::Draft> latest;  // the app's latest save (what the platform should hold)
    // A PUT of ours (a save's or a send's) whose outcome is unknown (timed out, 502/503/504,
    // never retried blind: decision 062): it may have landed, or land until ghost_until
    // (its send + send_settle). The link neither reads nor writes before then; its next
    // read finds the ghost's text (ours: the latest save goes back over it), the text before
    // it, or a web edit over one of them (base unknown unless both are the same).
    std::optional<domain::Draft> ghost;
    int64_t ghost_until = 0;
    bool writing = false;  // our PUT is on its way (its read answered)
    bool notified_while_writing = false;
  };
  void draft_seen(const std::string& user, const std::string& conversation);
  void pump_drafts();
  void put_draft(const std::string& conversation);  // GET first, then write_draft
  void write_draft(const std::string& conversation, const domain::Draft& sent);
  void put_failed(const std::string& conversation, const domain::Draft& sent,
                  const Result<CoreAnswer>& answer);
  void read_draft(const std::string& conversation);
  // True when the platform's draft is a web edit (a DraftEdited emitted).
  bool web_draft_read(const std::string& conversation, const CoreAnswer& answer);
  // A send's PUT of its email reply draft reads the platform's draft first: a web edit not
  // seen yet goes to the server (DraftEdited) and `then` gets kUnavailable (the device sends
  // again, after the merge); otherwise Ok, and the text to PUT is marked ours on the link.
  void read_before_send(const std::string& user, const domain::Draft& draft,
                        std::function<void(Status)> then);
  void send_put_done(const domain::Draft& draft);  // the send's PUT accepted: the new base
  // The send's PUT, sent at `sent_ms`, got no answer that says what the platform did: its
  // text is a ghost of the link (above).
  void send_put_unknown(const domain::Draft& draft, int64_t sent_ms);
  // The latest a request sent at `sent_ms` can still reach the platform (send_settle).
  int64_t landing_bound(int64_t sent_ms) const;
  // The send after that PUT did not go out: the app's latest save, if another text, is PUT
  // again (else the platform keeps the send's older text).
  void send_not_sent(const domain::Draft& draft);
  bool drafts_quiet() const;
  std::optional<int64_t> drafts_deadline() const;
  void decode_failed(const std::string& what, const Status& status, const std::string& corr);
  void advance(int64_t now_ms);

  CoreOptions options_;
  int64_t now_ms_ = 0;
  uint64_t next_request_ = 0;
  std::map<uint64_t, std::shared_ptr<Call>> in_flight_;
  std::vector<std::shared_ptr<Call>> waiting_;  // retries not yet due
  std::vector<CoreRequest> requests_out_;
  std::vector<SocketCommand> socket_out_;
  std::vector<upstream::Event> events_out_;

  std::vector<Channel> channels_;
  std::vector<std::string> unchanneled_;  // past max_channels: reconciled by REST only

  bool need_org_ = true;
  bool need_all_ = true;  // every agent, the unchanneled too (the first and the periodic)
  bool reconciling_ = false;
  int64_t reconcile_retry_at_ = 0;
  int64_t last_org_ms_ = 0;
  int64_t last_agents_ms_ = 0;
  bool mirrored_ = false;
  // The org's listings (genesys_core_listings.cpp): due, running, retried after a failure;
  // the first full mirror needs both the agents and one listing done.
  bool need_org_listings_ = false;
  bool listing_org_ = false;
  int64_t org_listings_retry_at_ = 0;
  bool org_listed_ = false;
  bool agents_mirrored_ = false;
  Listed listed_responses_, listed_contacts_;  // decision 063
  // Voicemails the platform deleted ("<user>/<id>"), the newest 10,000: a page or a
  // notification read before the delete does not bring one back (outpost-sim seed 119).
  std::set<std::string> voicemails_gone_;
  std::deque<std::string> voicemails_gone_order_;

  PresenceMap presence_map_;
  bool presence_loaded_ = false;
  std::map<std::string, AgentMirror> agents_;
  std::map<std::string, std::string> last_sent_;
  std::map<std::string, domain::InteractionState> interaction_state_;
  std::map<std::string, std::shared_ptr<Intent>> intents_;
  std::set<std::string> own_logins_;
  CoreReconciled reconciled_;
  std::map<std::string, DraftLink> drafts_;  // by conversation id
  CoreCounters counters_;
  std::map<std::string, Recording> recordings_;  // by event key, until emitted with audio
  std::map<std::string, std::pair<std::string, int64_t>> audio_;  // voicemail -> hash, size
  std::vector<CoreMedia> media_out_;
  uint64_t intents_answered_ = 0;
  uint64_t intents_not_yet_ = 0;
  // Sends (decision 055): the keys whose chain runs, the core's own marks when given none,
  // and its first time (a retry looks for an earlier attempt only once a request of the
  // previous life can no longer reach the platform).
  std::set<std::string> sends_running_;
  MemorySendMarks own_marks_;
  int64_t started_ms_ = -1;
};

}  // namespace outpost::genesys
