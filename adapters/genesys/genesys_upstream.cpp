// The live half of the Genesys adapter: the worker thread (the notification channel, its
// renewal and gaps, when to reconcile), the notifications as upstream events, and the
// queue poll() drains. The REST mirror is genesys_mirror.cpp; the writes genesys_intents.cpp.
#include "adapters/genesys/genesys_upstream.h"

#include <boost/json.hpp>

#include "adapters/genesys/genesys_socket.h"

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

struct GenesysUpstream::Channel {
  std::string id;
  int64_t expires_ms = 0;
  NotificationSocket socket;
  Clock::time_point last_message = Clock::now();
  bool pinged = false;
};

GenesysUpstream::GenesysUpstream(GenesysOptions options)
    : options_(std::move(options)), rest_([this] {
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
      sends_(options_.send_journal_dir) {}

GenesysUpstream::~GenesysUpstream() {
  stop();
}

void GenesysUpstream::start() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable() || stopping_) return;
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

Status GenesysUpstream::open_channel(Channel& channel) {
  OUTPOST_ASSIGN_OR_RETURN(RestResponse made,
                           rest_.call("POST", "/api/v2/notifications/channels", "{}"));
  if (made.status != 200 && made.status != 201) {
    return error(ErrorCode::kUnavailable, "create channel: HTTP " + std::to_string(made.status));
  }
  boost::system::error_code ec;
  auto value = boost::json::parse(made.body, ec);
  if (ec || !value.is_object()) {
    return error(ErrorCode::kInvalidArgument, "create channel: not a Channel");
  }
  const auto& obj = value.as_object();
  auto text = [&](const char* key) {
    const auto* v = obj.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  channel.id = text("id");
  const std::string uri = text("connectUri");
  channel.expires_ms = parse_iso_ms(text("expires")).value_or(wall_ms() + 86'400'000LL);
  if (channel.id.empty() || uri.empty()) {
    return error(ErrorCode::kInvalidArgument, "create channel: no id or connectUri");
  }
  boost::json::array topics;
  for (const std::string& user : options_.users) {
    for (const char* topic : {"presence", "routingStatus", "conversations", "voicemail.messages"}) {
      topics.push_back(boost::json::object{{"id", "v2.users." + user + "." + topic}});
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(
      RestResponse subscribed,
      rest_.call("PUT", "/api/v2/notifications/channels/" + channel.id + "/subscriptions",
                 boost::json::serialize(topics)));
  if (subscribed.status != 200) {
    return error(ErrorCode::kUnavailable, "subscribe: HTTP " + std::to_string(subscribed.status));
  }
  auto page = decode_page(subscribed.body);
  if (page.ok()) {
    for (const std::string& entity : page->entities) {
      if (entity.find("\"Rejected\"") != std::string::npos && options_.log) {
        options_.log("genesys: topic rejected: " + entity);
      }
    }
  }
  OUTPOST_RETURN_IF_ERROR(channel.socket.open(uri, options_.ca_file, options_.socket_timeout));
  channel.last_message = Clock::now();
  std::lock_guard lock(mutex_);
  ++counters_.channels_created;
  return Status::Ok();
}

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

// Reads the channel for about a second. Closes the socket when the channel must be
// replaced (closed, silent past the heartbeat timeout, socket_closing, gone): run() then
// opens a new channel and reconciles.
void GenesysUpstream::read_channel(Channel& channel) {
  const auto until = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < until && channel.socket.is_open()) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    auto message = channel.socket.read(std::chrono::milliseconds(200));
    if (!message.ok()) {
      if (options_.log)
        options_.log("genesys: notification socket: " + message.status().to_string());
      channel.socket.close();
      return;
    }
    const auto now = Clock::now();
    if (!message->has_value()) {
      const auto silent = now - channel.last_message;
      if (silent > options_.heartbeat_timeout) {
        if (options_.log) options_.log("genesys: no heartbeat; the channel is treated as dead");
        channel.socket.close();
        return;
      }
      if (silent > options_.heartbeat_timeout / 2 && !channel.pinged) {
        channel.pinged = true;
        (void)channel.socket.send(R"({"message":"ping"})");
      }
      continue;
    }
    channel.last_message = now;
    channel.pinged = false;
    auto n = decode_notification(**message);
    if (!n.ok()) {
      decode_failed("notification", n.status(), "");
      continue;
    }
    handle_notification(*n);
    switch (n->kind) {
      case Notification::Kind::kEvent:
        handle_event(n->topic, n->body, n->correlation_id);
        break;
      case Notification::Kind::kSocketClosing:
      case Notification::Kind::kChannelGone:
        if (options_.log) options_.log("genesys: the platform is closing the channel");
        channel.socket.close();
        return;
      default:
        break;
    }
  }
}

void GenesysUpstream::run() {
  std::unique_ptr<Channel> channel;
  bool need_org = true, need_agents = true;
  auto last_org = Clock::now(), last_agents = Clock::now();
  auto pause = [this](std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, how_long, [this] { return stopping_; });
  };
  auto log = [this](const std::string& line) {
    if (options_.log) options_.log("genesys: " + line);
  };
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const bool renew = channel && channel->socket.is_open() &&
                       wall_ms() > channel->expires_ms - options_.channel_renew_margin.count();
    if (!channel || !channel->socket.is_open() || renew) {
      // Subscribe first, then reconcile: nothing falls between the REST read and the
      // first notification.
      auto fresh = std::make_unique<Channel>();
      Status opened = open_channel(*fresh);
      if (!opened.ok()) {
        log("notification channel: " + opened.to_string());
        connected_ = false;
        if (channel) channel->socket.close();
        pause(options_.retry_after_failure);
        continue;
      }
      if (channel) {
        std::lock_guard lock(mutex_);
        ++counters_.gaps;
      }
      channel = std::move(fresh);
      need_agents = true;
    }
    const auto now = Clock::now();
    if (need_org || now - last_org > options_.org_reconcile_every) {
      Status s = mirror_org();
      if (!s.ok()) {
        log("org mirror: " + s.to_string());
        pause(options_.retry_after_failure);
        continue;
      }
      need_org = false;
      last_org = Clock::now();
    }
    if (need_agents || now - last_agents > options_.agent_reconcile_every) {
      Status s = Status::Ok();
      for (const std::string& user : options_.users) {
        s = mirror_agent(user);
        if (!s.ok()) break;
      }
      if (!s.ok()) {
        log("agent mirror: " + s.to_string());
        pause(options_.retry_after_failure);
        continue;
      }
      need_agents = false;
      last_agents = Clock::now();
      {
        std::lock_guard lock(mutex_);
        mirrored_ = true;
      }
      wake_.notify_all();
    }
    connected_ = channel->socket.is_open();
    put_drafts();
    read_channel(*channel);
    connected_ = channel->socket.is_open();
  }
  connected_ = false;
  if (channel) channel->socket.close();
}

}  // namespace outpost::genesys
