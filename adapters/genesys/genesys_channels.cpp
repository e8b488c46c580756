// The Genesys adapter's worker thread and its notification channels. One channel holds at
// most 1000 topics (4 per agent: `agents_per_channel`, 250) and one OAuth client at most 20
// channels (the 21st evicts the least recently used), so the agents are spread over
// several channels, each with its own WebSocket, heartbeats, expiry and renewal; an agent
// stays on its channel for the adapter's life. A channel's gap (a dropped socket, missed
// heartbeats, socket_closing, an expiring channel) re-creates that channel and reconciles by
// REST the agents on it only (decision 024, per channel). Channels are read in turn, each
// for its slice of about a second.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_socket.h"
#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kTopicsPerAgent = 4;
constexpr size_t kMaxTopicsPerChannel = 1000;
constexpr size_t kMaxChannels = 20;  // per OAuth client: a 21st evicts one of ours

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct GenesysUpstream::Channel {
  std::vector<std::string> users;  // the agents whose topics it holds
  std::string id;
  int64_t expires_ms = 0;
  NotificationSocket socket;
  Clock::time_point last_message = Clock::now();
  bool pinged = false;
  bool opened_before = false;  // a new one replaces it: a gap for its agents
};

std::vector<std::vector<std::string>> GenesysUpstream::channel_plan() const {
  const size_t per =
      std::clamp<size_t>(options_.agents_per_channel, 1, kMaxTopicsPerChannel / kTopicsPerAgent);
  std::vector<std::vector<std::string>> plan;
  for (size_t i = 0; i < options_.users.size(); ++i) {
    if (i % per == 0) {
      if (plan.size() == kMaxChannels) break;  // the rest: reconciled by REST only
      plan.emplace_back();
    }
    plan.back().push_back(options_.users[i]);
  }
  return plan;
}

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
  for (const std::string& user : channel.users) {
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

// Reads the channel for `slice`. Closes the socket when the channel must be replaced
// (closed, silent past the heartbeat timeout, socket_closing, gone): run() then opens a
// new channel for its agents and reconciles them.
void GenesysUpstream::read_channel(Channel& channel, std::chrono::milliseconds slice) {
  const auto until = Clock::now() + slice;
  while (Clock::now() < until && channel.socket.is_open()) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    auto message = channel.socket.read(
        std::clamp(left, std::chrono::milliseconds(10), std::chrono::milliseconds(200)));
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

// Re-creates every channel that is closed or about to expire (subscribe first, then
// reconcile: nothing falls between the REST read and the first notification), marking its
// agents for a reconcile. False when one could not be opened.
bool GenesysUpstream::open_channels(std::vector<std::unique_ptr<Channel>>& channels,
                                    std::vector<char>& reconcile) {
  for (size_t i = 0; i < channels.size(); ++i) {
    Channel& old = *channels[i];
    const bool renew =
        old.socket.is_open() && wall_ms() > old.expires_ms - options_.channel_renew_margin.count();
    if (old.socket.is_open() && !renew) continue;
    auto fresh = std::make_unique<Channel>();
    fresh->users = old.users;
    Status opened = open_channel(*fresh);
    if (!opened.ok()) {
      if (options_.log) options_.log("genesys: notification channel: " + opened.to_string());
      old.socket.close();
      return false;
    }
    if (old.opened_before) {
      std::lock_guard lock(mutex_);
      ++counters_.gaps;
    }
    fresh->opened_before = true;
    channels[i] = std::move(fresh);
    reconcile[i] = 1;
  }
  return true;
}

void GenesysUpstream::run() {
  std::vector<std::unique_ptr<Channel>> channels;
  std::vector<std::string> unchanneled;  // past 20 channels: reconciled by REST only
  {
    const auto plan = channel_plan();
    size_t planned = 0;
    for (const auto& users : plan) {
      channels.push_back(std::make_unique<Channel>());
      channels.back()->users = users;
      planned += users.size();
    }
    unchanneled.assign(options_.users.begin() + static_cast<std::ptrdiff_t>(planned),
                       options_.users.end());
    if (!unchanneled.empty() && options_.log) {
      options_.log("genesys: " + std::to_string(unchanneled.size()) +
                   " agents past 20 notification channels are reconciled by REST only");
    }
  }
  std::vector<char> reconcile(channels.size(), 1);
  bool need_org = true, need_all = true;
  auto last_org = Clock::now(), last_agents = Clock::now();
  auto pause = [this](std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, how_long, [this] { return stopping_; });
  };
  auto all_open = [&] {
    for (const auto& c : channels)
      if (!c->socket.is_open()) return false;
    return true;
  };
  auto log = [this](const std::string& line) {
    if (options_.log) options_.log("genesys: " + line);
  };
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    if (!open_channels(channels, reconcile)) {
      connected_ = false;
      pause(options_.retry_after_failure);
      continue;
    }
    connected_ = all_open();
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
    if (now - last_agents > options_.agent_reconcile_every) {
      need_all = true;
      std::fill(reconcile.begin(), reconcile.end(), 1);
    }
    Status s = Status::Ok();
    for (size_t i = 0; i < channels.size() && s.ok(); ++i) {
      if (!reconcile[i]) continue;
      for (const std::string& user : channels[i]->users) {
        s = mirror_agent(user);
        if (!s.ok()) break;
      }
      if (s.ok()) reconcile[i] = 0;
    }
    if (s.ok() && need_all) {
      for (const std::string& user : unchanneled) {
        s = mirror_agent(user);
        if (!s.ok()) break;
      }
    }
    if (!s.ok()) {
      log("agent mirror: " + s.to_string());
      pause(options_.retry_after_failure);
      continue;
    }
    if (need_all) {
      need_all = false;
      last_agents = Clock::now();
      {
        std::lock_guard lock(mutex_);
        mirrored_ = true;
      }
      wake_.notify_all();
    }
    connected_ = all_open();
    put_drafts();
    const auto slice = std::chrono::milliseconds(
        std::max<int64_t>(50, 1000 / static_cast<int64_t>(std::max<size_t>(1, channels.size()))));
    for (auto& channel : channels) read_channel(*channel, slice);
    if (channels.empty()) pause(std::chrono::seconds(1));
    connected_ = all_open();
  }
  connected_ = false;
  for (auto& channel : channels) channel->socket.close();
}

}  // namespace outpost::genesys
