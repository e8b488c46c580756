// The Genesys Cloud adapter behind the Upstream interface: one org (its client credentials)
// mirrored for one outpost tenant and a list of agents (Genesys user ids = outpost users).
// The mirror runs on the sans-I/O GenesysCore, the code outpost-sim checks, through
// GenesysCoreDriver (decisions 043, 049): the notification channels (250 agents' topics
// each, at most 20) with a socket thread each, their heartbeats, renewal and gaps, the
// reconcile by REST (presence definitions, wrap-up codes; each agent's presence and routing
// status, today's conversations, voicemail, queues), the notifications, and the writes (presence,
// queue membership, wrap-up, voicemail read/delete) with decision 023's bounded wait (the
// caller waits at most `intent_wait`, then gets kUnavailable while the call finishes, and
// the device's retry takes the answer). A 4xx refusal is the record's refusal (decision 006).
// The core also lists the org's responses and external contacts and each agent's queues
// (decision 056) and downloads and hashes each voicemail's recording before its event
// (decision 064: a failed one is forgotten, so the next reconcile sends it again; the bytes
// go to media_fetched). No thread of the adapter's own: the driver's. The app's email reply drafts
// and the web interface's edits of them run on the core (decision 057). Sends (email replies,
// messages, callbacks, new emails) run on the core too (decision 055): journaled in
// SendJournal before their POST and, when an earlier attempt's outcome is unknown, looked
// for before any new POST, so a customer never gets one twice (decisions 037, 044). Events
// are queued
// until poll() takes them; an event identical to the last one sent for its record is not
// sent again. Per-user logins (set_user_login): an agent's own token is used for that
// agent's writes and the "logged-in user" endpoints (/voicemail/me); nothing else carries it.
// Thread rules: every public method is safe from several threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/genesys/genesys_core_driver.h"
#include "adapters/genesys/genesys_json.h"
#include "adapters/genesys/genesys_rest.h"
#include "adapters/genesys/genesys_send_journal.h"
#include "adapters/upstream.h"
#include "engine/blob.h"

namespace outpost::genesys {

struct GenesysOptions {
  RestOptions rest;
  std::string tenant;              // the outpost tenant this org is
  std::vector<std::string> users;  // the mirrored agents' Genesys user ids
  std::string ca_file;             // for the notification WebSocket (wss://)
  // No message (a heartbeat comes about every 30 s) for this long: the socket is dead.
  std::chrono::milliseconds heartbeat_timeout{75'000};
  std::chrono::milliseconds socket_timeout{10'000};  // connect and upgrade
  std::chrono::milliseconds retry_after_failure{5'000};
  // Re-create the channel this long before it expires (24 h).
  std::chrono::milliseconds channel_renew_margin{600'000};
  std::chrono::milliseconds agent_reconcile_every{900'000};
  // Agents per notification channel: 4 topics each under the channel's 1000 (at most 250);
  // at most 20 channels per client (5000 agents live; more are reconciled by REST only).
  size_t agents_per_channel = 250;
  std::chrono::milliseconds org_reconcile_every{3'600'000};
  std::chrono::milliseconds intent_wait{1'500};    // decision 023
  std::chrono::milliseconds answer_keep{120'000};  // an answer nobody took is forgotten
  size_t max_intents_in_flight = 32;
  size_t contact_scan_limit = 200;  // 10..200
  bool mirror_contacts = true;
  // Voicemail recordings (decision 034): downloaded and hashed when a voicemail is first
  // mirrored, at most this many bytes (the blob bound of voicemail).
  uint64_t max_voicemail_bytes = 10ull * 1024 * 1024;
  // Whether the store already names this voicemail's audio (then it is not downloaded
  // again after a restart). Empty: always download.
  std::function<bool(const std::string& user, const std::string& voicemail_id)> audio_stored;
  // The downloaded bytes and their hash (the server puts them in its blob store, so a
  // device's first play needs no second download). Called on a download's thread, outside
  // the core's lock.
  std::function<void(const BlobHash& hash, const std::string& bytes)> media_fetched;
  // The agent's email reply drafts the store holds, read at start (decision 057: a web
  // edit after a restart is for the app's draft). Empty: none.
  std::function<std::vector<domain::Draft>(const std::string& user)> stored_drafts;
  // The ids of the org's records of `collection` ("contact", "canned_response") the store
  // holds, read at start: a complete listing deletes those the platform no longer has
  // (decision 063). Empty: only what this process mirrored.
  std::function<std::vector<std::string>(const std::string& collection)> stored_org_ids;
  // The ids of the agent's voicemails the store holds, read at start: a complete listing of
  // the agent's voicemail deletes those the platform no longer has (decision 063: a delete
  // notification missed, or sent while the server was down). Empty: only what this process
  // mirrored.
  std::function<std::vector<std::string>(const std::string& user)> stored_voicemail_ids;
  // A mirrored agent's login handed over, renewed (its refresh token rotated) or, with
  // nullptr, ended: the server keeps it sealed across restarts (decision 035). Called on
  // the adapter's threads, outside its locks.
  std::function<void(const std::string& user, const Token* token)> login_changed;
  // Where a send's attempts are journaled before its POST (decision 037: DATA/platform-sends);
  // empty: in memory only (a restart forgets them).
  std::string send_journal_dir;
  std::function<void(const std::string&)> log;
};

class GenesysUpstream : public Upstream {
 public:
  explicit GenesysUpstream(GenesysOptions options);
  ~GenesysUpstream() override;

  // Starts the core's driver (channels, mirror, notifications) and the worker.
  void start();
  // Stops it and every call in flight; joins. Idempotent.
  void stop();

  Result<std::vector<upstream::Event>> poll(int64_t now_ms) override;
  std::vector<AgentRef> agents() const override;

  Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                      const std::string& aux_reason_id, int64_t now_ms) override;
  Result<PlatformAnswer> wrap_up(const AgentRef& agent, const domain::Interaction& interaction,
                                 const std::string& code_id, int64_t now_ms) override;
  Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft,
                              int64_t now_ms) override;
  Result<PlatformAnswer> set_queue_joined(const AgentRef& agent, const std::string& queue_id,
                                          bool joined, int64_t now_ms) override;
  // The agent's own login (the OAuth token answer of an authorization-code grant the
  // device obtained): checked with GET /api/v2/users/me to be this agent's (else
  // kPermissionDenied), then held for the endpoints that act for the logged-in user and
  // the agent's writes, refreshed with its refresh token. Errors: kInvalidArgument (not a
  // token answer), kNotFound (not a mirrored agent), kUnauthenticated (the platform refused
  // the token), kUnavailable.
  Status set_user_login(const AgentRef& agent, const std::string& login_json,
                        int64_t now_ms) override;
  // A login kept from before a restart (decision 035), already checked to be this agent's
  // when it was handed over: held again without asking the platform (a refused refresh
  // ends it as any login). Errors: kNotFound (not a mirrored agent).
  Status restore_user_login(const std::string& user, const Token& token);
  // An email reply draft saved in the app: handed to the core, which PUTs it to the platform
  // (`…/emails/{id}/messages/draft`), the latest per conversation (decision 057). It is
  // also the base the web interface's next edit of that draft merges against (guide 2.1.4.3).
  void draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms) override;
  // The device's read and delete of a voicemail: PATCH {read:true} / DELETE
  // /api/v2/voicemail/messages/{id} (decision 023's intents; 404 is accepted: it is gone).
  Result<PlatformAnswer> mark_voicemail_read(const AgentRef& agent, const std::string& voicemail_id,
                                             int64_t now_ms) override;
  Result<PlatformAnswer> delete_voicemail(const AgentRef& agent, const std::string& voicemail_id,
                                          int64_t now_ms) override;
  // The bytes of a genesys-media: URI (the server's BlobService::fetch_media, on demand when
  // the blob store lacks them): a fresh download link from the media endpoint, then the
  // download, at most max_bytes; synchronous, not the core's (decision 064). Errors:
  // kNotFound (not such a URI, no such voicemail), kTooLarge, kUnavailable.
  Result<std::string> fetch_media(std::string_view uri, uint64_t max_bytes);

  struct Counters {
    uint64_t events = 0, notifications = 0, heartbeats = 0, decode_errors = 0, gaps = 0,
             channels_created = 0, agent_reconciles = 0, org_reconciles = 0,
             incomplete_listings = 0, intents = 0, intents_pending = 0, refusals = 0,
             duplicates_skipped = 0, user_logins = 0, drafts_read = 0, drafts_put = 0,
             web_draft_edits = 0, audio_fetched = 0, audio_failures = 0, sends_unknown = 0,
             sends_found = 0;
    uint64_t drafts_ghosts_found = 0, drafts_maybe_overwritten = 0;  // decision 062
    // Decision 063: contacts and responses a complete listing no longer showed; voicemails
    // an agent's listing no longer showed, confirmed gone by a read of each.
    uint64_t org_deletions = 0, voicemails_unlisted = 0;
    RestClient::Counters rest;
  };
  Counters counters() const;
  // True once the first full mirror finished (tests and the server's start log).
  bool wait_mirrored(std::chrono::milliseconds timeout);
  // The org's request budget its REST client was given (the server's /metrics).
  double requests_per_minute() const { return options_.rest.requests_per_minute; }
  // True while every notification channel's socket is open (the server's /readyz).
  bool connected() const { return core_.connected(); }

 private:
  // genesys_voicemail.cpp: the blob service's on-demand fetch.
  Result<std::string> fetch_voicemail_audio(const std::string& user, const std::string& id,
                                            uint64_t max_bytes);

  void decode_failed(const std::string& what, const Status& status, const std::string& corr);

  // The core's events (called under the driver's lock: queued for poll()).
  void core_events(std::vector<upstream::Event> events);
  CoreDriverOptions core_options();
  bool mirrored(const AgentRef& agent) const;

  GenesysOptions options_;
  RestClient rest_;
  SendJournal sends_;       // the core's SendMarks (decision 055): built before core_
  GenesysCoreDriver core_;  // the mirror and the writes (decisions 043, 049, 055)
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::vector<upstream::Event> pending_;
  std::vector<std::string> to_forget_;  // events nobody took (a full queue): the core forgets
  Counters counters_;
};

}  // namespace outpost::genesys
