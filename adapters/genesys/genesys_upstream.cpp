// The live half of the Genesys adapter: the notifications as upstream events, and the
// queue poll() drains. The worker thread and its channels are genesys_channels.cpp; the
// REST mirror genesys_mirror.cpp; the writes genesys_intents.cpp and genesys_sends.cpp.
#include "adapters/genesys/genesys_upstream.h"

#include <boost/json.hpp>

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPendingEvents = 500'000;
constexpr int64_t kOwnOfflineWindowMs = 60'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

GenesysUpstream::GenesysUpstream(GenesysOptions options)
    : options_(std::move(options)),
      rest_([this] {
        RestOptions rest = options_.rest;
        if (!rest.log) rest.log = options_.log;
        // Only the mirrored agents' own logins are kept (not the login probes).
        rest.user_token_changed = [this](const std::string& user, const Token* token) {
          if (options_.login_changed && mirrored(AgentRef{options_.tenant, user})) {
            options_.login_changed(user, token);
          }
        };
        return rest;
      }()),
      core_(core_options(), rest_),
      sends_(options_.send_journal_dir) {}

CoreDriverOptions GenesysUpstream::core_options() {
  const RestOptions& rest = options_.rest;
  CoreDriverOptions o;
  o.core.tenant = options_.tenant;
  o.core.users = options_.users;
  o.core.run_mirror = false;  // the worker runs the channels and the reconcile (decision 043)
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
  o.core.log = rest.log ? rest.log : options_.log;
  o.events = [this](std::vector<upstream::Event> events) { core_events(std::move(events)); };
  return o;
}

void GenesysUpstream::core_events(std::vector<upstream::Event> events) {
  for (upstream::Event& event : events) {
    // With run_mirror off the core emits nothing but these (its reconcile does not run).
    if (!event.has_presence()) continue;
    const std::string user = event.user();
    {
      std::lock_guard lock(mutex_);
      last_sent_.erase("presence/" + user);  // a read-back: sent even when unchanged
    }
    emit_presence(user, std::move(*event.mutable_presence()));
  }
}

GenesysUpstream::~GenesysUpstream() {
  stop();
}

void GenesysUpstream::start() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable() || stopping_) return;
  core_.start();
  worker_ = std::thread([this] { run(); });
}

void GenesysUpstream::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  rest_.stop();
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  core_.stop();
  std::vector<std::pair<std::shared_ptr<Intent>, std::thread>> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(intent_threads_);
  }
  for (auto& [intent, t] : threads)
    if (t.joinable()) t.join();
}

std::vector<AgentRef> GenesysUpstream::agents() const {
  std::vector<AgentRef> out;
  for (const std::string& user : options_.users) out.push_back(AgentRef{options_.tenant, user});
  return out;
}

Result<std::vector<upstream::Event>> GenesysUpstream::poll(int64_t) {
  std::lock_guard lock(mutex_);
  std::vector<upstream::Event> out;
  out.swap(pending_);
  return out;
}

GenesysUpstream::Counters GenesysUpstream::counters() const {
  Counters out;
  {
    std::lock_guard lock(mutex_);
    out = counters_;
  }
  out.rest = rest_.counters();
  // The writes run on the core: its intents, refusals and retries count here too.
  const CoreCounters core = core_.counters();
  out.intents += core.intents;
  out.refusals += core.refusals;
  out.decode_errors += core.decode_errors;
  out.intents_pending += core_.intents_pending();
  out.rest.retried_429 += core.retried_429;
  out.rest.retried_5xx += core.retried_5xx;
  return out;
}

bool GenesysUpstream::wait_mirrored(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, timeout, [this] { return mirrored_ || stopping_; }) && mirrored_;
}

PresenceMap GenesysUpstream::presence_map() const {
  std::lock_guard lock(mutex_);
  return presence_map_;
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

void GenesysUpstream::emit(upstream::Event event, const std::string& key) {
  std::string bytes = event.SerializeAsString();
  std::lock_guard lock(mutex_);
  auto& last = last_sent_[key];
  if (last == bytes) {
    ++counters_.duplicates_skipped;
    return;
  }
  if (pending_.size() >= kMaxPendingEvents) return;  // nobody polls; a reconcile repeats it
  last = std::move(bytes);
  if (event.has_interaction()) interaction_state_[key] = event.interaction().state();
  ++counters_.events;
  pending_.push_back(std::move(event));
}

domain::InteractionState GenesysUpstream::known_interaction_state(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = interaction_state_.find(key);
  return it == interaction_state_.end() ? domain::INTERACTION_STATE_UNSPECIFIED : it->second;
}

void GenesysUpstream::emit_presence(const std::string& user, upstream::PresenceChanged change) {
  {
    std::lock_guard lock(mutex_);
    AgentMirror& agent = agents_[user];
    if (change.routing_status().empty()) change.set_routing_status(agent.presence.routing_status());
    agent.presence = change;
    agent.presence.set_cause(upstream::CAUSE_PLATFORM);
    agent.presence_known = true;
  }
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  *event.mutable_presence() = std::move(change);
  emit(std::move(event), "presence/" + user);
}

std::string GenesysUpstream::emit_conversation(const std::string& user, const std::string& body,
                                               const std::string& correlation) {
  auto conversation = decode_conversation(body, user);
  if (conversation.status().code() == ErrorCode::kNotFound) return "";  // not this agent's
  if (!conversation.ok()) {
    decode_failed("conversation", conversation.status(), correlation);
    return "";
  }
  std::string media = conversation->media_path;
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  *event.mutable_interaction() = std::move(conversation->interaction);
  emit(std::move(event), "interaction/" + user + "/" + event.interaction().id());
  return media;
}

// ------------------------------------------------------------------------- the channel

void GenesysUpstream::handle_event(const std::string& topic, const std::string& body,
                                   const std::string& corr) {
  // v2.users.{id}.{what}
  constexpr std::string_view kPrefix = "v2.users.";
  if (topic.rfind(kPrefix, 0) != 0) return;
  size_t dot = topic.find('.', kPrefix.size());
  if (dot == std::string::npos) return;
  const std::string user = topic.substr(kPrefix.size(), dot - kPrefix.size());
  const std::string what = topic.substr(dot + 1);
  bool known = false;
  for (const std::string& u : options_.users) known = known || u == user;
  if (!known) return;
  if (what == "presence") {
    auto change = decode_presence(body, presence_map());
    if (!change.ok()) return decode_failed("presence event", change.status(), corr);
    if (change->presence() == domain::PRESENCE_OFFLINE) {
      std::lock_guard lock(mutex_);
      const int64_t asked = agents_[user].offline_requested_ms;
      // An OFFLINE nobody here asked for: the website closing logged the agent off [inf].
      if (asked == 0 || wall_ms() - asked > kOwnOfflineWindowMs) {
        change->set_cause(upstream::CAUSE_WEBSITE_CLOSED);
      }
    }
    return emit_presence(user, std::move(change).value());
  }
  if (what == "routingStatus") {
    auto status = decode_routing_status(body);
    if (!status.ok()) return decode_failed("routing status event", status.status(), corr);
    upstream::PresenceChanged change;
    {
      std::lock_guard lock(mutex_);
      if (!agents_[user].presence_known) return;  // the reconcile brings both
      change = agents_[user].presence;
    }
    change.set_routing_status(*status);
    return emit_presence(user, std::move(change));
  }
  if (what == "conversations" || what.rfind("conversations.", 0) == 0) {
    // An email conversation changed: maybe its draft, in the web interface.
    if (emit_conversation(user, body, corr) == "emails") {
      const std::string id = conversation_id(body);
      if (!id.empty()) check_web_draft(user, id);
    }
    return;
  }
  if (what == "voicemail.messages") {
    auto vm = decode_voicemail(body);
    if (!vm.ok()) return decode_failed("voicemail event", vm.status(), corr);
    const std::string action = voicemail_action(body);
    if (action == "delete") return;  // deleted on the platform: not carried (docs/genesys.md)
    attach_audio(user, *vm);
    upstream::Event event;
    event.set_tenant(options_.tenant);
    event.set_user(user);
    if (action == "create") {
      *event.mutable_voicemail_left() = std::move(vm).value();
    } else {
      *event.mutable_voicemail_updated() = std::move(vm).value();
    }
    const std::string id =
        event.has_voicemail_left() ? event.voicemail_left().id() : event.voicemail_updated().id();
    return emit(std::move(event), "voicemail/" + user + "/" + id);
  }
}

void GenesysUpstream::handle_notification(const Notification& n) {
  std::lock_guard lock(mutex_);
  if (n.kind == Notification::Kind::kHeartbeat) ++counters_.heartbeats;
  if (n.kind == Notification::Kind::kEvent) ++counters_.notifications;
}

}  // namespace outpost::genesys
