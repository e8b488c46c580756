#include "adapters/push/push_service.h"

#include <algorithm>

#include <chrono>
#include <random>
#include <variant>

#include "engine/domain_mutators.h"
#include "engine/limits.h"
#include "engine/scope.h"
#include "outpost/mutations.pb.h"

namespace outpost::push {
namespace {

namespace d = outpost::domain;

// "tenant/user" keys the policy's users; "tenant/user/device" its devices ('/' is never in
// a name). The pseudo device holding the agent's voice interactions cannot be a name.
std::string user_key(const std::string& tenant, const std::string& user) {
  return tenant + "/" + user;
}
std::string device_key(const std::string& user, const std::string& device) {
  return user + "/" + device;
}
std::string voice_device(const std::string& user) {
  return user + "/#voice";
}

// ("tenant", "user", "device") from a key made above.
std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash - start));
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

Target target_of(const d::PushTarget& record) {
  return Target{record.platform() == d::PUSH_FCM ? Platform::kFcm : Platform::kApns, record.token(),
                record.app_id(), record.sandbox()};
}

bool voice_active(const d::Interaction& interaction) {
  return interaction.media() == d::MEDIA_VOICE &&
         (interaction.state() == d::INTERACTION_ALERTING ||
          interaction.state() == d::INTERACTION_CONNECTED ||
          interaction.state() == d::INTERACTION_HELD);
}

}  // namespace

struct PushService::Tenant {
  explicit Tenant(Settings settings) : policy(settings) {}
  PushPolicy policy;
};

struct PushService::Queued {
  struct Commit {
    std::string scope;
    uint64_t head = 0;
  };
  struct Stream {
    Principal who;
    bool open = false;
  };
  std::variant<Commit, Stream, upstream::Event> what;
};

PushService::PushService(ServerCore& core, DomainServer* domain, outpost::Platform* platform,
                         std::unique_ptr<PushSender> apns, std::unique_ptr<PushSender> fcm,
                         PushServiceOptions options)
    : core_(core), domain_(domain), platform_(platform), options_(std::move(options)) {
  if (!options_.jitter) {
    auto rng = std::make_shared<std::mt19937_64>(static_cast<uint64_t>(now()));
    options_.jitter = [rng] { return std::uniform_real_distribution<double>(0, 1)(*rng); };
  }
  senders_[kApnsIndex] = std::move(apns);
  senders_[kFcmIndex] = std::move(fcm);
  for (int i = 0; i < 2; ++i) {
    if (senders_[i]) {
      deliveries_[i] =
          std::make_unique<PushDelivery>(*senders_[i], options_.delivery, options_.jitter);
    }
  }
}

PushService::~PushService() {
  stop();
}

int64_t PushService::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void PushService::log(const std::string& line) const {
  if (options_.log) options_.log("push: " + line);
}

Settings PushService::read_settings(const std::string& tenant_name) {
  Settings s = options_.defaults;
  const std::string scope = ScopeName::format_org(tenant_name);
  auto number = [&](const char* name, auto apply) {
    auto stored = core_.store().get(scope, "org_setting", name);
    if (!stored.ok() || !stored->has_value()) return;
    d::OrgSetting setting;
    if (!setting.ParseFromString((*stored)->body)) return;
    try {
      apply(setting.value());
    } catch (const std::exception&) {
      log("org setting " + std::string(name) + " of " + tenant_name + " is not a number");
    }
  };
  number(kSettingSilentAfterMs, [&](const std::string& v) { s.silent_after = std::stoll(v); });
  number(kSettingKeepaliveAfterMs,
         [&](const std::string& v) { s.keepalive_after = std::stoll(v); });
  number(kSettingLogoutAfterKeepaliveMs,
         [&](const std::string& v) { s.logout_after_keepalive = std::stoll(v); });
  number(kSettingCoalesceMs, [&](const std::string& v) { s.coalesce = std::stoll(v); });
  number(kSettingMaxWakesPerHour, [&](const std::string& v) {
    s.max_wakes_per_window = std::stoi(v);
    s.rate_window = 60 * kMinute;
  });
  number(kSettingShowCaller,
         [&](const std::string& v) { s.show_caller_in_notifications = v == "true" || v == "1"; });
  return s;
}

PushService::Tenant& PushService::tenant(const std::string& name) {
  auto it = tenants_.find(name);
  if (it != tenants_.end()) return *it->second;
  return *tenants_.emplace(name, std::make_unique<Tenant>(read_settings(name))).first->second;
}

Result<int> PushService::unread_voicemails(const std::string& scope, uint64_t before_version) {
  int unread = 0;
  std::string after_key;
  for (int pages = 0; pages < 10; ++pages) {
    OUTPOST_ASSIGN_OR_RETURN(auto keys,
                             core_.store().read_manifest(scope, "voicemail", after_key, 200));
    if (keys.empty()) break;
    for (const KeyVersion& key : keys) {
      if (key.collection != "voicemail") return unread;
      OUTPOST_ASSIGN_OR_RETURN(auto stored, core_.store().get(scope, "voicemail", key.key));
      d::Voicemail voicemail;
      // The push thread reads the store after the fact: a voicemail written after the login
      // (a later seq of the same scope) has its own notification, so it is not counted here.
      if (stored && stored->version < before_version && voicemail.ParseFromString(stored->body) &&
          !voicemail.read()) {
        ++unread;
      }
      after_key = key.key;
    }
  }
  return unread;
}

// Reads the user's push_target records and feeds what changed to the policy. A new or
// re-registered target is a login: it gets the unread-voicemail notification (2.1.5.2.13).
Status PushService::refresh_targets(const std::string& tenant_name, const std::string& user,
                                    int64_t now, bool at_start) {
  const std::string scope = ScopeName::format_user(tenant_name, user);
  const std::string ukey = user_key(tenant_name, user);
  auto& known = targets_[ukey];
  std::map<std::string, uint64_t> seen;
  OUTPOST_ASSIGN_OR_RETURN(auto keys, core_.store().read_manifest(scope, "push_target", "",
                                                                  limits::kMaxPushTargetsScanned));
  std::vector<std::pair<uint64_t, std::string>> newest_first;
  for (const KeyVersion& key : keys) {
    if (key.collection != "push_target") break;
    newest_first.emplace_back(key.version, key.key);
  }
  std::sort(newest_first.begin(), newest_first.end(), std::greater<>());
  // More devices than a user may be woken on: the most recently registered are kept; the
  // others are counted and logged when their number changes.
  const size_t over = newest_first.size() > limits::kMaxPushTargetsPerUser
                          ? newest_first.size() - limits::kMaxPushTargetsPerUser
                          : 0;
  if (over != (over_limit_.count(ukey) ? over_limit_[ukey] : 0)) {
    if (over > 0) {
      log(ukey + " has " + std::to_string(newest_first.size()) + " push targets; the " +
          std::to_string(over) + " registered longest ago are not woken");
      over_limit_[ukey] = over;
    } else {
      over_limit_.erase(ukey);
    }
  }
  if (over > 0) newest_first.resize(limits::kMaxPushTargetsPerUser);
  for (const auto& [version, key] : newest_first) seen[key] = version;
  PushPolicy& policy = tenant(tenant_name).policy;
  for (auto it = known.begin(); it != known.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    policy.on_event(TargetRemoved{device_key(ukey, it->first)}, now);
    it = known.erase(it);
  }
  for (const auto& [device, version] : seen) {
    auto old = known.find(device);
    if (old != known.end() && old->second.first == version) continue;
    OUTPOST_ASSIGN_OR_RETURN(auto stored, core_.store().get(scope, "push_target", device));
    d::PushTarget record;
    if (!stored || !record.ParseFromString(stored->body)) continue;
    const Target target = target_of(record);
    const bool login = old == known.end() || old->second.second.token != target.token;
    known[device] = {version, target};
    policy.on_event(TargetRegistered{ukey, device_key(ukey, device), target}, now);
    if (login && !at_start) {
      OUTPOST_ASSIGN_OR_RETURN(int unread, unread_voicemails(scope, version));
      if (unread > 0) policy.on_event(LoginWithUnread{ukey, device_key(ukey, device), unread}, now);
    }
  }
  if (known.empty()) targets_.erase(ukey);
  return Status::Ok();
}

// Decision 018: the policy's state is memory, so a restart re-derives it from the store.
// Every device with a target gets one wake for its user scope's head (coalesced and rate
// limited as any wake; a device whose stream reconnects within the coalescing window is
// not woken), so no wake that was due before the restart is lost; agents not offline start
// their inactivity timer from now.
Status PushService::start() {
  const int64_t at = now();
  std::set<std::pair<std::string, std::string>> users;
  std::string after_scope, after_key;
  for (;;) {
    OUTPOST_ASSIGN_OR_RETURN(
        auto page, core_.store().scan_collection("push_target", after_scope, after_key, 500));
    if (page.empty()) break;
    for (const ScopedRecord& r : page) {
      auto scope = ScopeName::parse(r.scope);
      if (scope.ok() && !scope->is_org()) users.insert({scope->tenant(), scope->user()});
    }
    after_scope = page.back().scope;
    after_key = page.back().record.key;
  }
  for (const auto& [tenant_name, user] : users) {
    OUTPOST_RETURN_IF_ERROR(refresh_targets(tenant_name, user, at, /*at_start=*/true));
    const std::string scope = ScopeName::format_user(tenant_name, user);
    const std::string ukey = user_key(tenant_name, user);
    PushPolicy& policy = tenant(tenant_name).policy;
    OUTPOST_ASSIGN_OR_RETURN(ScopeInfo info, core_.store().scope_info(scope));
    if (info.head_seq > 0 && targets_.count(ukey)) {
      policy.on_event(ScopeCommitted{ukey, scope, info.head_seq}, at);
      ++work_.restart_wakes;
    }
    OUTPOST_ASSIGN_OR_RETURN(auto state, core_.store().get(scope, "agent_state", user));
    d::AgentState agent;
    if (state && agent.ParseFromString(state->body) && agent.presence() != d::PRESENCE_OFFLINE &&
        agent.presence() != d::PRESENCE_UNSPECIFIED && targets_.count(ukey)) {
      // No stream is open yet: the agent is idle from now until one opens.
      const std::string& first = targets_[ukey].begin()->first;
      policy.on_event(StreamClosed{ukey, device_key(ukey, first)}, at);
    }
  }
  log("started with " + std::to_string(users.size()) + " users' push targets");
  std::lock_guard lock(mutex_);
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  return Status::Ok();
}

void PushService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PushService::on_commit(const std::vector<CommittedHead>& heads) {
  {
    std::lock_guard lock(mutex_);
    for (const CommittedHead& head : heads) {
      auto [it, fresh] = pending_heads_.try_emplace(head.scope, head.head_seq);
      if (!fresh) {
        it->second = std::max(it->second, head.head_seq);  // coalesced with a queued commit
        continue;
      }
      if (pending_heads_.size() + pending_.size() > options_.max_queued_events) {
        pending_heads_.erase(it);
        ++stats_.events_dropped;
        continue;
      }
      pending_.push_back(std::make_unique<Queued>(Queued{Queued::Commit{head.scope, 0}}));
    }
  }
  wake_.notify_all();
}

void PushService::on_stream(const Principal& who, bool open) {
  {
    std::lock_guard lock(mutex_);
    if (pending_heads_.size() + pending_.size() >= options_.max_queued_events) {
      ++stats_.events_dropped;
      return;
    }
    pending_.push_back(std::make_unique<Queued>(Queued{Queued::Stream{who, open}}));
  }
  wake_.notify_all();
}

void PushService::on_platform_event(const upstream::Event& event) {
  const bool wanted = event.kind_case() == upstream::Event::kVoicemailLeft ||
                      event.kind_case() == upstream::Event::kInteraction;
  if (!wanted) return;
  {
    std::lock_guard lock(mutex_);
    if (pending_heads_.size() + pending_.size() >= options_.max_queued_events) {
      ++stats_.events_dropped;
      return;
    }
    pending_.push_back(std::make_unique<Queued>(Queued{event}));
  }
  wake_.notify_all();
}

void PushService::handle_commit(const std::string& scope_text, uint64_t head, int64_t now) {
  auto scope = ScopeName::parse(scope_text);
  if (!scope.ok()) return;
  if (scope->is_org()) {
    auto it = tenants_.find(scope->tenant());
    if (it != tenants_.end()) it->second->policy.set_settings(read_settings(scope->tenant()));
    return;
  }
  Status refreshed = refresh_targets(scope->tenant(), scope->user(), now, false);
  if (!refreshed.ok()) log("reading push targets of " + scope_text + ": " + refreshed.to_string());
  const std::string ukey = user_key(scope->tenant(), scope->user());
  if (!targets_.count(ukey)) return;
  tenant(scope->tenant()).policy.on_event(ScopeCommitted{ukey, scope_text, head}, now);
}

void PushService::handle_platform_event(const upstream::Event& event, int64_t now) {
  if (event.user().empty()) return;
  const std::string ukey = user_key(event.tenant(), event.user());
  PushPolicy& policy = tenant(event.tenant()).policy;
  if (event.has_voicemail_left()) {
    const d::Voicemail& voicemail = event.voicemail_left();
    if (!voicemail.read()) {
      policy.on_event(NewVoicemail{ukey, voicemail.id(), voicemail.caller_name()}, now);
    }
    return;
  }
  if (!event.has_interaction() || event.interaction().media() != d::MEDIA_VOICE) return;
  std::set<std::string>& calls = voice_[ukey];
  const bool was = !calls.empty();
  if (voice_active(event.interaction())) {
    calls.insert(event.interaction().id());
  } else {
    calls.erase(event.interaction().id());
  }
  if (!was && !calls.empty()) policy.on_event(VoiceStarted{ukey, voice_device(ukey)}, now);
  if (was && calls.empty()) policy.on_event(VoiceEnded{ukey, voice_device(ukey)}, now);
  if (calls.empty()) voice_.erase(ukey);
}

void PushService::handle(Queued& queued, int64_t now) {
  if (auto* commit = std::get_if<Queued::Commit>(&queued.what)) {
    handle_commit(commit->scope, commit->head, now);
  } else if (auto* stream = std::get_if<Queued::Stream>(&queued.what)) {
    const std::string ukey = user_key(stream->who.tenant, stream->who.user);
    const std::string dkey = device_key(ukey, stream->who.device);
    PushPolicy& policy = tenant(stream->who.tenant).policy;
    if (stream->open) {
      policy.on_event(StreamOpened{ukey, dkey}, now);
    } else {
      policy.on_event(StreamClosed{ukey, dkey}, now);
    }
  } else {
    handle_platform_event(std::get<upstream::Event>(queued.what), now);
  }
}

// Presence offline on the platform, then mirrored into the agent's state (the devices see
// it at their next pull; the commit also wakes them).
void PushService::logout(const std::string& ukey, int64_t now) {
  auto parts = split_key(ukey);
  if (parts.size() != 2) return;
  const AgentRef agent{parts[0], parts[1]};
  if (platform_ != nullptr) {
    auto answer = platform_->set_presence(agent, d::PRESENCE_OFFLINE, "", now);
    if (!answer.ok()) {
      log("logout of " + ukey + ": " + answer.status().to_string());
      return;
    }
    if (!answer->accepted) log("logout of " + ukey + " refused: " + answer->reason);
  }
  ++work_.logouts;
  log("logged " + ukey + " out after inactivity");
  if (domain_ == nullptr) return;
  upstream::Event event;
  event.set_tenant(agent.tenant);
  event.set_user(agent.user);
  event.mutable_presence()->set_presence(d::PRESENCE_OFFLINE);
  event.mutable_presence()->set_cause(upstream::CAUSE_PLATFORM);
  event.mutable_presence()->set_routing_status("OFF_QUEUE");
  if (Status mirrored = domain_->apply(event, now); !mirrored.ok()) {
    log("mirroring the logout of " + ukey + ": " + mirrored.to_string());
  }
}

void PushService::finished(const Finished& done, int64_t now) {
  if (done.result.outcome == Outcome::kDelivered) {
    ++work_.delivered;
    return;
  }
  if (done.result.outcome != Outcome::kRemoveTarget) {
    ++work_.failed;
    log("push " + done.message.id + " failed: " + std::to_string(done.result.http_status) + " " +
        done.result.reason);
    return;
  }
  auto parts = split_key(done.message.push.device);
  if (parts.size() != 3) return;
  tenant(parts[0]).policy.on_event(
      TargetDead{done.message.push.device, done.message.push.target.token}, now);
  // Delete the stored target, only while it still has the dead token.
  mutations::RemovePushTarget args;
  args.set_device_id(parts[2]);
  args.set_token(done.message.push.target.token);
  Status removed =
      core_.write_as(Principal{parts[0], parts[1], "push"}, now,
                     [&](MutationContext& ctx) { return remove_push_target(ctx, args); });
  if (!removed.ok()) {
    log("removing the dead target of " + done.message.push.device + ": " + removed.to_string());
    return;
  }
  ++work_.targets_removed;
  log("removed the dead push target of " + done.message.push.device + " (" + done.result.reason +
      ")");
}

void PushService::act(int64_t now) {
  for (auto& [name, t] : tenants_) {
    for (Action& action : t->policy.poll(now)) {
      if (auto* offline = std::get_if<SetPresenceOffline>(&action)) {
        logout(offline->user, now);
        continue;
      }
      Push& push = std::get<Push>(action);
      const std::size_t index = push.target.platform == Platform::kApns ? kApnsIndex : kFcmIndex;
      if (!deliveries_[index]) {
        ++work_.no_sender;
        continue;
      }
      PushMessage message{"push-" + std::to_string(++next_message_), std::move(push)};
      if (!deliveries_[index]->submit(std::move(message), now).ok()) ++work_.submit_dropped;
    }
  }
  for (auto& delivery : deliveries_) {
    if (!delivery) continue;
    for (const Finished& done : delivery->run(now)) finished(done, now);
  }
}

std::optional<int64_t> PushService::next_deadline() const {
  std::optional<int64_t> next;
  auto take = [&](std::optional<int64_t> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& [name, t] : tenants_) take(t->policy.next_deadline());
  for (const auto& delivery : deliveries_) {
    if (delivery) take(delivery->next_deadline());
  }
  return next;
}

void PushService::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto deadline = next_deadline();
    const int64_t at = now();
    if (pending_.empty() && (!deadline || *deadline > at)) {
      // The wall clock may jump; never sleep longer than a second at a time.
      const int64_t wait = deadline ? std::min<int64_t>(*deadline - at, 1000) : 1000;
      wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait, 1)));
      continue;
    }
    std::deque<std::unique_ptr<Queued>> batch;
    batch.swap(pending_);
    std::map<std::string, uint64_t> heads;
    heads.swap(pending_heads_);
    lock.unlock();
    const int64_t t = now();
    for (auto& queued : batch) {
      if (auto* commit = std::get_if<Queued::Commit>(&queued->what))
        commit->head = heads[commit->scope];
      handle(*queued, t);
    }
    act(t);
    PolicyCounters sum;
    size_t known = 0;
    for (const auto& [name, tn] : tenants_) {
      const PolicyCounters& c = tn->policy.counters();
      sum.wakes += c.wakes;
      sum.coalesced += c.coalesced;
      sum.rate_limited += c.rate_limited;
      sum.dropped += c.dropped;
      sum.inactivity_checks += c.inactivity_checks;
      sum.keepalives += c.keepalives;
      sum.logouts += c.logouts;
      sum.notifications += c.notifications;
    }
    for (const auto& [user, devices] : targets_) known += devices.size();
    work_.targets_over_limit = 0;
    for (const auto& [user, over] : over_limit_) work_.targets_over_limit += over;
    work_.policy = sum;
    work_.targets = known;
    for (std::size_t i = 0; i < 2; ++i) {
      if (senders_[i]) work_.senders[i] = senders_[i]->counters();
      if (deliveries_[i]) work_.deliveries[i] = deliveries_[i]->counters();
    }
    lock.lock();
    const uint64_t dropped = stats_.events_dropped;
    stats_ = work_;
    stats_.events_dropped = dropped;
  }
}

PushServiceStats PushService::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace outpost::push
