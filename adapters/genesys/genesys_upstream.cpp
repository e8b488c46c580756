// The Genesys adapter's shell: its parts (the REST client, the core's driver, the send
// journal), the core's events queued for poll(), its recordings handed to media_fetched
// (decision 064), and the counters. The writes are genesys_intents.cpp (all on the core).
#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

constexpr size_t kMaxPendingEvents = 500'000;

// The core's dedupe key of an event (genesys_core.cpp emit()).
std::string core_key(const upstream::Event& e) {
  if (e.has_presence()) return "presence/" + e.user();
  if (e.has_interaction()) return "interaction/" + e.user() + "/" + e.interaction().id();
  if (e.has_voicemail_left()) return "voicemail/" + e.user() + "/" + e.voicemail_left().id();
  if (e.has_voicemail_updated()) return "voicemail/" + e.user() + "/" + e.voicemail_updated().id();
  if (e.has_aux_reason()) return "aux_reason/" + e.aux_reason().id();
  if (e.has_wrapup_code()) return "wrapup_code/" + e.wrapup_code().id();
  if (e.has_queue()) return "queue/" + e.user() + "/" + e.queue().id();
  if (e.has_contact()) return "contact/" + e.contact().id();
  if (e.has_canned_response()) return "canned_response/" + e.canned_response().id();
  return "";
}

}  // namespace

GenesysUpstream::GenesysUpstream(GenesysOptions options)
    : options_(std::move(options)),
      rest_([this] {
        RestOptions rest = options_.rest;
        if (!rest.log) rest.log = options_.log;
        // Only the mirrored agents' own logins are kept (not the login probes).
        rest.user_token_changed = [this](const std::string& user, const Token* token) {
          if (!mirrored(AgentRef{options_.tenant, user})) return;
          // The core lists the voicemail with the agent's own login while it is held.
          core_.with_core([&](GenesysCore& core) { core.set_own_login(user, token != nullptr); });
          if (options_.login_changed) options_.login_changed(user, token);
        };
        return rest;
      }()),
      sends_(options_.send_journal_dir),
      core_(core_options(), rest_) {}

CoreDriverOptions GenesysUpstream::core_options() {
  const RestOptions& rest = options_.rest;
  CoreDriverOptions o;
  o.core.tenant = options_.tenant;
  o.core.users = options_.users;
  o.core.run_mirror = true;  // the channels and the reconcile run on the core (decision 049)
  o.core.heartbeat_timeout_ms = options_.heartbeat_timeout.count();
  o.core.retry_after_failure_ms = options_.retry_after_failure.count();
  o.core.channel_renew_margin_ms = options_.channel_renew_margin.count();
  o.core.agent_reconcile_every_ms = options_.agent_reconcile_every.count();
  o.core.org_reconcile_every_ms = options_.org_reconcile_every.count();
  o.core.agents_per_channel = options_.agents_per_channel;
  o.core.max_channels = 20;  // per OAuth client: a 21st would evict one of ours
  // The driver's RestClient deadline is half of this: a request's curl timeout and a wait for
  // the budget fit in it, so the core hears the transport error before its own timeout.
  o.core.request_timeout_ms = 2 * (rest.timeout_ms + rest.connect_timeout_ms) + 2'000;
  o.core.backoff_ms = rest.backoff_ms;
  o.core.default_retry_after_ms = static_cast<int64_t>(
      static_cast<double>(rest.default_retry_after_ms) * rest.retry_after_scale);
  o.core.max_retry_after_ms = rest.max_retry_after_ms;
  o.core.max_429_retries = 5;  // as RestClient::call
  o.core.answer_keep_ms = options_.answer_keep.count();
  o.core.max_intents_in_flight = options_.max_intents_in_flight;
  o.core.contact_scan_limit = options_.contact_scan_limit;
  o.core.mirror_contacts = options_.mirror_contacts;
  o.core.log = rest.log ? rest.log : options_.log;
  o.core.send_marks = &sends_;  // decision 055: DATA/platform-sends
  // The previous process waited at most this long for any answer (curl's timeout).
  o.core.send_settle_ms = rest.timeout_ms;
  // Voicemail recordings (decisions 034, 064): hashed by the core before the event.
  o.core.record_audio = true;
  o.core.max_voicemail_bytes = options_.max_voicemail_bytes;
  o.core.audio_stored = options_.audio_stored;
  o.events = [this](std::vector<upstream::Event> events) { core_events(std::move(events)); };
  o.media = [this](std::vector<CoreMedia> media) {
    if (!options_.media_fetched) return;
    for (const CoreMedia& m : media) {
      auto hash = BlobHash::parse(m.sha256_hex);
      if (hash.ok()) options_.media_fetched(*hash, m.bytes);
    }
  };
  o.ca_file = options_.ca_file;
  o.socket_timeout = options_.socket_timeout;
  return o;
}

void GenesysUpstream::core_events(std::vector<upstream::Event> events) {
  std::lock_guard lock(mutex_);
  for (upstream::Event& event : events) {
    // Already deduplicated by the core (its read-backs are sent even when unchanged), the
    // voicemails with their recordings (a deletion after them, in the order the core emits).
    if (pending_.size() >= kMaxPendingEvents) {
      to_forget_.push_back(core_key(event));  // nobody polls: the next reconcile sends it again
      continue;
    }
    pending_.push_back(std::move(event));
  }
  wake_.notify_all();
}

void GenesysUpstream::draft_saved(const AgentRef& agent, const domain::Draft& draft,
                                  int64_t now_ms) {
  // The core only queues it (decision 057): never a wait inside the caller's transaction.
  // (An older `now_ms` than the core's clock leaves the clock where it is.)
  core_.with_core([&](GenesysCore& core) { core.draft_saved(agent, draft, now_ms); });
}

GenesysUpstream::~GenesysUpstream() {
  stop();
}

void GenesysUpstream::start() {
  // The stored drafts first, outside mutex_ (the driver's sinks take it under its lock).
  if (options_.stored_drafts) {
    for (const std::string& user : options_.users) {
      const AgentRef agent{options_.tenant, user};
      std::vector<domain::Draft> drafts = options_.stored_drafts(user);
      core_.with_core([&](GenesysCore& core) {
        for (const domain::Draft& draft : drafts) core.draft_known(agent, draft);
      });
    }
  }
  if (options_.stored_org_ids) {
    for (const char* collection : {"contact", "canned_response"}) {
      std::vector<std::string> ids = options_.stored_org_ids(collection);
      core_.with_core([&](GenesysCore& core) {
        for (const std::string& id : ids) core.org_record_known(collection, id);
      });
    }
  }
  if (options_.stored_voicemail_ids) {
    for (const std::string& user : options_.users) {
      std::vector<std::string> ids = options_.stored_voicemail_ids(user);
      core_.with_core([&](GenesysCore& core) {
        for (const std::string& id : ids) core.voicemail_known(user, id);
      });
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  core_.start();
}

void GenesysUpstream::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  rest_.stop();
  wake_.notify_all();
  core_.stop();
}

std::vector<AgentRef> GenesysUpstream::agents() const {
  std::vector<AgentRef> out;
  for (const std::string& user : options_.users) out.push_back(AgentRef{options_.tenant, user});
  return out;
}

Result<std::vector<upstream::Event>> GenesysUpstream::poll(int64_t) {
  std::vector<upstream::Event> out;
  std::vector<std::string> forget;
  {
    std::lock_guard lock(mutex_);
    out.swap(pending_);
    forget.swap(to_forget_);
  }
  // Events dropped while nobody polled: the core's next reconcile sends them again. (Not
  // under mutex_: the driver's sinks take it under the driver's lock.)
  if (!forget.empty()) {
    core_.with_core([&](GenesysCore& core) {
      for (const std::string& key : forget) core.forget(key);
    });
  }
  return out;
}

GenesysUpstream::Counters GenesysUpstream::counters() const {
  Counters out;
  {
    std::lock_guard lock(mutex_);
    out = counters_;
  }
  out.rest = rest_.counters();
  // The mirror and the writes run on the core: its counts are the adapter's.
  const CoreCounters core = core_.counters();
  out.events += core.events;
  out.notifications += core.notifications;
  out.heartbeats += core.heartbeats;
  out.gaps += core.gaps;
  out.channels_created += core.channels_created;
  out.agent_reconciles += core.agent_reconciles;
  out.org_reconciles += core.org_reconciles;
  out.duplicates_skipped += core.duplicates_skipped;
  out.intents += core.intents;
  out.refusals += core.refusals;
  out.decode_errors += core.decode_errors;
  out.incomplete_listings += core.incomplete_listings;
  out.sends_unknown += core.sends_unknown;
  out.sends_found += core.sends_found;
  out.intents_pending += core_.intents_pending();
  out.drafts_put += core.drafts_put;
  out.drafts_read += core.drafts_read;
  out.web_draft_edits += core.web_draft_edits;
  out.drafts_ghosts_found += core.drafts_ghosts_found;
  out.drafts_maybe_overwritten += core.drafts_maybe_overwritten;
  out.org_deletions += core.org_deletions;
  out.voicemails_unlisted += core.voicemails_unlisted;
  out.rest.retried_429 += core.retried_429;
  out.rest.retried_5xx += core.retried_5xx;
  out.audio_fetched += core.audio_fetched;
  out.audio_failures += core.audio_failures;
  return out;
}

bool GenesysUpstream::wait_mirrored(std::chrono::milliseconds timeout) {
  // The core's first full mirror with the recordings it brought (their events are queued
  // for poll() by then). Asked every 20 ms: the core's state is under the driver's lock,
  // which its sinks hold when they take mutex_.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (core_.mirrored()) return true;
    std::unique_lock lock(mutex_);
    if (stopping_ || std::chrono::steady_clock::now() >= deadline) return false;
    wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_; });
  }
}

void GenesysUpstream::decode_failed(const std::string& what, const Status& status,
                                    const std::string& corr) {
  {
    std::lock_guard lock(mutex_);
    ++counters_.decode_errors;
  }
  if (options_.log) {
    options_.log("genesys: dropped a " + what + " the adapter cannot read: " + status.to_string() +
                 " [correlation " + (corr.empty() ? "none" : corr) + "]");
  }
}

}  // namespace outpost::genesys
