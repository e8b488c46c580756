// The sans-I/O Genesys core: requests with the retry rules, the notification channel and
// its gaps, the notifications as events, and what poll() would take. The reconcile is
// genesys_core_mirror.cpp; the intents genesys_core_intents.cpp.
#include "adapters/genesys/genesys_core.h"

#include <algorithm>
#include <boost/json.hpp>

namespace outpost::genesys {
namespace {

constexpr int64_t kOwnOfflineWindowMs = 60'000;
constexpr int64_t kDefaultChannelTtlMs = 86'400'000;
constexpr size_t kMaxAgentsPerChannel = 250;  // 4 topics each under a channel's 1000

}  // namespace

struct GenesysCore::Call {
  std::string method, target, body, user;
  Done done;
  size_t attempts = 0;  // 5xx and transport retries used
  int throttled = 0;    // 429 retries used
  int64_t sent_ms = 0;
  int64_t due_ms = 0;  // while waiting: when to send again
  // A send's single POST (decision 055): an unknown outcome (timeout, transport error,
  // 502/503/504) is its answer, never retried; a 429 (the platform did not act) is.
  bool once = false;
  std::string send_key;
  CoreRequest::Kind kind = CoreRequest::Kind::kApi;  // a download (decision 064)
  uint64_t max_bytes = 0;
  // A draft PUT (decision 062): every failure, a 429 too, is the caller's, which reads the
  // draft again before writing (a blind retry would write over a web edit made meanwhile).
  bool single = false;
};

GenesysCore::GenesysCore(CoreOptions options) : options_(std::move(options)) {
  const size_t per = std::clamp<size_t>(options_.agents_per_channel, 1, kMaxAgentsPerChannel);
  for (size_t i = 0; i < options_.users.size(); ++i) {
    if (i % per == 0) {
      if (channels_.size() == options_.max_channels) {
        unchanneled_.assign(options_.users.begin() + static_cast<std::ptrdiff_t>(i),
                            options_.users.end());
        break;
      }
      channels_.emplace_back();
    }
    channels_.back().users.push_back(options_.users[i]);
  }
  if (options_.users.empty()) channels_.emplace_back();  // the org's channel alone
  if (!unchanneled_.empty() && options_.log) {
    options_.log("genesys: " + std::to_string(unchanneled_.size()) + " agents past " +
                 std::to_string(channels_.size()) +
                 " notification channels are reconciled by REST only");
  }
}
GenesysCore::~GenesysCore() = default;

void GenesysCore::advance(int64_t now_ms) {
  if (now_ms > now_ms_) now_ms_ = now_ms;
  if (started_ms_ < 0) started_ms_ = now_ms_;
}

// --------------------------------------------------------------------------- requests

void GenesysCore::call(const std::string& method, const std::string& target,
                       const std::string& body, Done done, const std::string& user) {
  auto c = std::make_shared<Call>();
  c->user = user;
  c->method = method;
  c->target = target;
  c->body = body;
  c->done = std::move(done);
  issue(c);
}

void GenesysCore::call_once(const std::string& target, const std::string& body, Done done,
                            const std::string& user, const std::string& send_key) {
  auto c = std::make_shared<Call>();
  c->user = user;
  c->method = "POST";
  c->target = target;
  c->body = body;
  c->done = std::move(done);
  c->once = true;
  c->send_key = send_key;
  issue(c);
}

void GenesysCore::download(const std::string& url, uint64_t max_bytes, Done done) {
  auto c = std::make_shared<Call>();
  c->method = "GET";
  c->target = url;
  c->kind = CoreRequest::Kind::kDownload;  // a voicemail recording's link (decision 064)
  c->max_bytes = max_bytes;
  c->done = std::move(done);
  issue(c);
}

void GenesysCore::call_single(const std::string& method, const std::string& target,
                              const std::string& body, Done done, const std::string& user) {
  auto c = std::make_shared<Call>();
  c->user = user;
  c->method = method;
  c->target = target;
  c->body = body;
  c->done = std::move(done);
  c->single = true;
  issue(c);
}

void GenesysCore::issue(const std::shared_ptr<Call>& c) {
  const uint64_t id = ++next_request_;
  c->sent_ms = now_ms_;
  in_flight_[id] = c;
  ++counters_.requests;
  requests_out_.push_back(
      CoreRequest{id, c->method, c->target, c->body, c->user, c->send_key, c->kind, c->max_bytes});
}

void GenesysCore::retry_later(const std::shared_ptr<Call>& c, int64_t delay_ms, bool throttled) {
  if (throttled) {
    if (++c->throttled > options_.max_429_retries || delay_ms > options_.max_retry_after_ms) {
      return c->done(error(ErrorCode::kUnavailable, c->method + " " + c->target + ": throttled"));
    }
    ++counters_.retried_429;
  } else {
    if (c->attempts >= options_.backoff_ms.size()) {
      return c->done(error(ErrorCode::kUnavailable,
                           c->method + " " + c->target + ": unavailable after retries"));
    }
    delay_ms = options_.backoff_ms[c->attempts++];
    ++counters_.retried_5xx;
  }
  c->due_ms = now_ms_ + delay_ms;
  waiting_.push_back(c);
}

void GenesysCore::settle(const std::shared_ptr<Call>& c, const CoreAnswer& answer) {
  if (c->single) return c->done(answer);
  if (answer.transport_error || answer.status == 502 || answer.status == 503 ||
      answer.status == 504) {
    if (c->once) return c->done(answer);  // the platform may have acted: not sent again
    return retry_later(c, 0, false);
  }
  if (answer.status == 429) {
    const int64_t wait =
        answer.retry_after_ms >= 0 ? answer.retry_after_ms : options_.default_retry_after_ms;
    return retry_later(c, wait, true);
  }
  c->done(answer);
}

void GenesysCore::on_answer(uint64_t id, const CoreAnswer& answer, int64_t now_ms) {
  advance(now_ms);
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;  // timed out already: the retry carries on
  std::shared_ptr<Call> c = it->second;
  in_flight_.erase(it);
  settle(c, answer);
}

void GenesysCore::tick(int64_t now_ms) {
  advance(now_ms);
  // Requests past their timeout count as transport errors (the answer may still come: it
  // is then ignored).
  std::vector<std::shared_ptr<Call>> expired;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now_ms_ - it->second->sent_ms >= options_.request_timeout_ms) {
      expired.push_back(it->second);
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& c : expired) {
    ++counters_.timeouts;
    CoreAnswer timeout;
    timeout.transport_error = true;
    settle(c, timeout);
  }
  std::vector<std::shared_ptr<Call>> due;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->due_ms <= now_ms_) {
      due.push_back(*it);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& c : due) issue(c);
  pump_drafts();
  tick_recordings();
  if (!options_.run_mirror) return;
  for (size_t i = 0; i < channels_.size(); ++i) tick_channel(i);
  maybe_reconcile();
}

void GenesysCore::tick_channel(size_t i) {
  Channel& ch = channels_[i];
  if (ch.state == ChannelState::kDown && now_ms_ >= ch.retry_at) open_channel(i);
  if (ch.state != ChannelState::kOpen) return;
  const int64_t silent = now_ms_ - ch.last_message_ms;
  if (silent > options_.heartbeat_timeout_ms) {
    socket_out_.push_back({SocketCommand::Kind::kClose, "", i});
    channel_lost(i, "no heartbeat; the channel is treated as dead");
  } else if (silent > options_.heartbeat_timeout_ms / 2 && !ch.pinged) {
    ch.pinged = true;
    socket_out_.push_back({SocketCommand::Kind::kSend, R"({"message":"ping"})", i});
  } else if (now_ms_ > ch.expires_ms - options_.channel_renew_margin_ms) {
    socket_out_.push_back({SocketCommand::Kind::kClose, "", i});
    channel_lost(i, "the channel expires soon: renewed");
  }
}

bool GenesysCore::all_open() const {
  for (const Channel& ch : channels_)
    if (ch.state != ChannelState::kOpen) return false;
  return true;
}

std::optional<int64_t> GenesysCore::next_deadline() const {
  std::optional<int64_t> next;
  auto consider = [&](int64_t at) {
    if (!next || at < *next) next = at;
  };
  for (const auto& [id, c] : in_flight_) consider(c->sent_ms + options_.request_timeout_ms);
  for (const auto& c : waiting_) consider(c->due_ms);
  if (auto drafts = drafts_deadline()) consider(*drafts);
  if (auto recordings = recordings_deadline()) consider(*recordings);
  if (!options_.run_mirror) return next;
  bool need = need_org_ || need_all_;
  for (const Channel& ch : channels_) {
    need = need || ch.need_reconcile;
    if (ch.state == ChannelState::kDown) consider(ch.retry_at);
    if (ch.state != ChannelState::kOpen) continue;
    consider(ch.last_message_ms +
             (ch.pinged ? options_.heartbeat_timeout_ms : options_.heartbeat_timeout_ms / 2) + 1);
    consider(ch.expires_ms - options_.channel_renew_margin_ms + 1);
  }
  if (need_org_listings_ && !listing_org_) consider(org_listings_retry_at_);
  if (all_open() && !reconciling_) {
    if (need) consider(reconcile_retry_at_);
    consider(last_agents_ms_ + options_.agent_reconcile_every_ms + 1);
    consider(last_org_ms_ + options_.org_reconcile_every_ms + 1);
  }
  return next;
}

std::vector<CoreRequest> GenesysCore::take_requests() {
  std::vector<CoreRequest> out;
  out.swap(requests_out_);
  return out;
}

std::vector<SocketCommand> GenesysCore::take_socket_commands() {
  std::vector<SocketCommand> out;
  out.swap(socket_out_);
  return out;
}

std::vector<upstream::Event> GenesysCore::take_events() {
  std::vector<upstream::Event> out;
  out.swap(events_out_);
  return out;
}

CoreReconciled GenesysCore::take_reconciled() {
  CoreReconciled out;
  std::swap(out, reconciled_);
  return out;
}

void GenesysCore::set_own_login(const std::string& user, bool held) {
  if (held) {
    own_logins_.insert(user);
  } else {
    own_logins_.erase(user);
  }
}

void GenesysCore::forget(const std::string& key) {
  // Kept as known, with no bytes: sent again, and an org record still deleted by the next
  // complete listing that does not show it (decision 063).
  if (auto it = last_sent_.find(key); it != last_sent_.end()) it->second.clear();
}

bool GenesysCore::connected() const {
  return all_open();
}

void GenesysCore::set_presence_map(PresenceMap map) {
  presence_map_ = std::move(map);
  presence_loaded_ = true;
}

bool GenesysCore::quiet() const {
  if (!drafts_quiet() || !recordings_.empty()) return false;
  if (!options_.run_mirror) {
    return in_flight_.empty() && waiting_.empty() && events_out_.empty() && requests_out_.empty();
  }
  for (const Channel& ch : channels_)
    if (ch.need_reconcile) return false;
  if (need_org_listings_ || listing_org_) return false;
  return all_open() && !reconciling_ && !need_org_ && !need_all_ && in_flight_.empty() &&
         waiting_.empty() && events_out_.empty() && requests_out_.empty();
}

// --------------------------------------------------------------------------- the channel

void GenesysCore::open_channel(size_t i) {
  Channel& ch = channels_[i];
  ch.state = ChannelState::kCreating;
  const uint64_t generation = ++ch.generation;
  call("POST", "/api/v2/notifications/channels", "{}",
       [this, i, generation](Result<CoreAnswer> made) {
         Channel& ch = channels_[i];
         if (generation != ch.generation) return;
         if (!made.ok()) return channel_failed(i, "create channel: " + made.status().message());
         if (made->status != 200 && made->status != 201) {
           return channel_failed(i, "create channel: HTTP " + std::to_string(made->status));
         }
         boost::system::error_code ec;
         auto value = boost::json::parse(made->body, ec);
         if (ec || !value.is_object()) return channel_failed(i, "create channel: not a Channel");
         const auto& obj = value.as_object();
         auto text = [&](const char* key) {
           const auto* v = obj.if_contains(key);
           return v && v->is_string() ? std::string(v->as_string()) : std::string();
         };
         const std::string id = text("id");
         const std::string uri = text("connectUri");
         if (id.empty() || uri.empty())
           return channel_failed(i, "create channel: no id or connectUri");
         ch.expires_ms = parse_iso_ms(text("expires")).value_or(now_ms_ + kDefaultChannelTtlMs);
         boost::json::array topics;
         for (const std::string& user : ch.users) {
           for (const char* topic :
                {"presence", "routingStatus", "conversations", "voicemail.messages"}) {
             topics.push_back(boost::json::object{{"id", "v2.users." + user + "." + topic}});
           }
         }
         ch.state = ChannelState::kSubscribing;
         call("PUT", "/api/v2/notifications/channels/" + id + "/subscriptions",
              boost::json::serialize(topics),
              [this, i, generation, uri](Result<CoreAnswer> subscribed) {
                Channel& ch = channels_[i];
                if (generation != ch.generation) return;
                if (!subscribed.ok())
                  return channel_failed(i, "subscribe: " + subscribed.status().message());
                if (subscribed->status != 200) {
                  return channel_failed(i, "subscribe: HTTP " + std::to_string(subscribed->status));
                }
                if (auto page = decode_page(subscribed->body); page.ok() && options_.log) {
                  for (const std::string& entity : page->entities)
                    if (entity.find("\"Rejected\"") != std::string::npos)
                      options_.log("genesys: topic rejected: " + entity);
                }
                ch.state = ChannelState::kOpening;
                socket_out_.push_back({SocketCommand::Kind::kOpen, uri, i});
              });
       });
}

void GenesysCore::channel_failed(size_t i, const std::string& why) {
  Channel& ch = channels_[i];
  ch.state = ChannelState::kDown;
  ++ch.generation;
  ch.retry_at = now_ms_ + options_.retry_after_failure_ms;
  socket_out_.push_back({SocketCommand::Kind::kClose, "", i});
  if (options_.log) options_.log("genesys: notification channel: " + why);
}

void GenesysCore::channel_lost(size_t i, const std::string& why) {
  Channel& ch = channels_[i];
  ch.state = ChannelState::kDown;
  ++ch.generation;
  ch.retry_at = now_ms_;  // a new channel at once; its opening reconciles its agents
  if (options_.log) options_.log("genesys: " + why);
}

void GenesysCore::on_socket_opened(int64_t now_ms, size_t i) {
  advance(now_ms);
  if (i >= channels_.size()) return;
  Channel& ch = channels_[i];
  if (ch.state != ChannelState::kOpening) return;
  ch.state = ChannelState::kOpen;
  ch.last_message_ms = now_ms_;
  ch.pinged = false;
  ++counters_.channels_created;
  if (ch.had) ++counters_.gaps;
  // Subscribe first, then reconcile (decision 024): whatever the gap missed is read now,
  // for this channel's agents only.
  if (!ch.had || !options_.skip_gap_reconcile) ch.need_reconcile = true;
  ch.had = true;
  maybe_reconcile();
}

void GenesysCore::on_socket_closed(int64_t now_ms, size_t i) {
  advance(now_ms);
  if (i >= channels_.size()) return;
  if (channels_[i].state == ChannelState::kOpen) {
    channel_lost(i, "the notification socket closed");
  } else if (channels_[i].state == ChannelState::kOpening) {
    channel_failed(i, "the socket did not open");
  }
}

void GenesysCore::on_socket_message(std::string_view text, int64_t now_ms, size_t i) {
  advance(now_ms);
  if (i >= channels_.size()) return;
  Channel& ch = channels_[i];
  if (ch.state != ChannelState::kOpen) return;
  ch.last_message_ms = now_ms_;
  ch.pinged = false;
  auto n = decode_notification(text);
  if (!n.ok()) return decode_failed("notification", n.status(), "");
  switch (n->kind) {
    case Notification::Kind::kHeartbeat:
      ++counters_.heartbeats;
      break;
    case Notification::Kind::kEvent:
      ++counters_.notifications;
      handle_event(n->topic, n->body, n->correlation_id);
      break;
    case Notification::Kind::kSocketClosing:
    case Notification::Kind::kChannelGone:
      socket_out_.push_back({SocketCommand::Kind::kClose, "", i});
      channel_lost(i, "the platform is closing the channel");
      break;
    default:
      break;
  }
}

void GenesysCore::handle_event(const std::string& topic, const std::string& body,
                               const std::string& corr) {
  constexpr std::string_view kPrefix = "v2.users.";
  if (topic.rfind(kPrefix, 0) != 0) return;
  const size_t dot = topic.find('.', kPrefix.size());
  if (dot == std::string::npos) return;
  const std::string user = topic.substr(kPrefix.size(), dot - kPrefix.size());
  const std::string what = topic.substr(dot + 1);
  if (!is_mirrored(AgentRef{options_.tenant, user})) return;
  if (what == "presence") {
    int64_t modified_ms = 0;
    auto change = decode_presence(body, presence_map_, &modified_ms);
    if (!change.ok()) return decode_failed("presence event", change.status(), corr);
    if (change->presence() == domain::PRESENCE_OFFLINE) {
      const int64_t asked = agents_[user].offline_requested_ms;
      if (asked == 0 || now_ms_ - asked > kOwnOfflineWindowMs) {
        change->set_cause(upstream::CAUSE_WEBSITE_CLOSED);
      }
    }
    return emit_presence(user, std::move(change).value(), modified_ms);
  }
  if (what == "routingStatus") {
    auto status = decode_routing_status(body);
    if (!status.ok()) return decode_failed("routing status event", status.status(), corr);
    if (!agents_[user].presence_known) return;  // the reconcile brings both
    upstream::PresenceChanged change = agents_[user].presence;
    change.set_routing_status(*status);
    return emit_presence(user, std::move(change));
  }
  if (what == "conversations" || what.rfind("conversations.", 0) == 0) {
    emit_conversation(user, body, corr);
    return;
  }
  if (what == "voicemail.messages") {
    auto vm = decode_voicemail(body);
    if (!vm.ok()) return decode_failed("voicemail event", vm.status(), corr);
    const std::string action = voicemail_action(body);
    const std::string id = vm->id();
    if (action == "delete") return voicemail_gone(user, id);
    if (is_gone(user, id)) return;
    upstream::Event event;
    event.set_tenant(options_.tenant);
    event.set_user(user);
    if (action == "create") {
      *event.mutable_voicemail_left() = std::move(vm).value();
    } else {
      *event.mutable_voicemail_updated() = std::move(vm).value();
    }
    emit_voicemail(std::move(event), "voicemail/" + user + "/" + id);  // with its recording
  }
}

// --------------------------------------------------------------------------- events

void GenesysCore::voicemail_gone(const std::string& user, const std::string& id) {
  constexpr size_t kMaxGone = 10'000;
  if (id.empty() || !voicemails_gone_.insert(user + "/" + id).second) return;
  voicemails_gone_order_.push_back(user + "/" + id);
  if (voicemails_gone_order_.size() > kMaxGone) {
    voicemails_gone_.erase(voicemails_gone_order_.front());
    voicemails_gone_order_.pop_front();
  }
  const std::string key = "voicemail/" + user + "/" + id;
  last_sent_.erase(key);
  // A recording on its way would send the voicemail after this deletion (decision 064's
  // event waits for its recording): it is dropped, its answers find nothing.
  recordings_.erase(key);
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  event.set_voicemail_deleted(id);
  ++counters_.events;
  events_out_.push_back(std::move(event));
}

void GenesysCore::decode_failed(const std::string& what, const Status& status,
                                const std::string& corr) {
  ++counters_.decode_errors;
  if (options_.log) {
    options_.log("genesys: dropped a " + what + " the adapter cannot read: " + status.to_string() +
                 " [correlation " + (corr.empty() ? "none" : corr) + "]");
  }
}

void GenesysCore::emit(upstream::Event event, const std::string& key) {
  std::string bytes = event.SerializeAsString();
  auto& last = last_sent_[key];
  if (last == bytes) {
    ++counters_.duplicates_skipped;
    return;
  }
  last = std::move(bytes);
  if (event.has_interaction()) interaction_state_[key] = event.interaction().state();
  ++counters_.events;
  events_out_.push_back(std::move(event));
}

void GenesysCore::emit_presence(const std::string& user, upstream::PresenceChanged change,
                                int64_t modified_ms) {
  AgentMirror& agent = agents_[user];
  // Notifications come out of order with reads answered late (a retried routing status
  // after the presence's GET): the platform's modifiedDate says which is newer.
  if (modified_ms != 0 && modified_ms < agent.presence_modified_ms) {
    if (options_.log) options_.log("genesys: an older presence of " + user + " is not taken");
    return;
  }
  agent.presence_modified_ms = std::max(agent.presence_modified_ms, modified_ms);
  if (change.routing_status().empty()) change.set_routing_status(agent.presence.routing_status());
  agent.presence = change;
  agent.presence.set_cause(upstream::CAUSE_PLATFORM);
  agent.presence_known = true;
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  *event.mutable_presence() = std::move(change);
  emit(std::move(event), "presence/" + user);
}

std::string GenesysCore::emit_conversation(const std::string& user, const std::string& body,
                                           const std::string& corr) {
  auto conversation = decode_conversation(body, user);
  if (conversation.status().code() == ErrorCode::kNotFound) return "";
  if (!conversation.ok()) {
    decode_failed("conversation", conversation.status(), corr);
    return "";
  }
  std::string media = conversation->media_path;
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  *event.mutable_interaction() = std::move(conversation->interaction);
  const std::string key = "interaction/" + user + "/" + event.interaction().id();
  const std::string id = event.interaction().id();
  emit(std::move(event), key);
  // Its reply draft may have been edited in the web interface (decision 057).
  if (media == "emails") draft_seen(user, id);
  return media;
}

bool GenesysCore::is_mirrored(const AgentRef& agent) const {
  if (agent.tenant != options_.tenant) return false;
  for (const std::string& user : options_.users)
    if (user == agent.user) return true;
  return false;
}

}  // namespace outpost::genesys
