#include "apps/outpost-sim/genesys_sim.h"

#include <algorithm>
#include <set>

#include "engine/domain_server.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;
namespace g = outpost::genesys;

constexpr char kTenant[] = "acme";      // the one org mirrored from the model
constexpr int kMaxEventAttempts = 400;  // pumps an event waits for the platform's answer
constexpr int64_t kHeartbeatMs = 1'000;
constexpr int64_t kChannelTtlMs = 20'000;
constexpr uint64_t kSeedSalt = 0x6e5e5135ULL;

std::string event_name(const upstream::Event& event) {
  std::string name(event.GetDescriptor()->FindFieldByNumber(event.kind_case())->name());
  if (event.has_presence()) {  // which presence: a stale one shows in the trace
    name += " " + domain::Presence_Name(event.presence().presence()) + " " +
            event.presence().aux_reason_id();
  }
  return name;
}

}  // namespace

SimGenesys::SimGenesys(const World& world, Trace& trace, uint64_t seed, int64_t now_ms,
                       GenesysFaults faults, bool break_gap_reconcile, bool break_contacts)
    : trace_(trace),
      random_(seed ^ kSeedSalt),
      faults_(faults),
      break_gap_reconcile_(break_gap_reconcile),
      break_contacts_(break_contacts),
      tenant_(kTenant),
      users_([&] {
        std::vector<std::string> users;
        for (const SimUser& user : world.users) {
          if (user.tenant == kTenant) users.push_back(user.user);
        }
        return users;
      }()),
      model_(users_, now_ms),
      now_ms_(now_ms) {
  model_.set_heartbeat_ms(kHeartbeatMs);
  model_.set_channel_ttl_ms(kChannelTtlMs);
  // A read's answer back and the PUT it prompts out: two hops (the step's lag fits in them).
  model_.set_round_trip_ms(2 * faults_.max_delay_ms);
  // An email conversation per agent and draft id for the devices' reply drafts.
  for (const std::string& user : users_) {
    for (const std::string& draft : world.draft_ids) {
      draft_conversations_[ScopeName::format_user(tenant_, user) + "|" + draft] =
          model_.route(user, "email", now_ms);
    }
  }
  core_ = std::make_unique<g::GenesysCore>(core_options());
}

g::CoreOptions SimGenesys::core_options() const {
  g::CoreOptions options;
  options.tenant = tenant_;
  options.users = users_;
  // The production timings, shrunk to the simulation's seconds.
  options.request_timeout_ms = 2'000;
  options.backoff_ms = {200, 600, 1'800};
  options.default_retry_after_ms = 500;
  options.max_retry_after_ms = 10'000;
  options.heartbeat_timeout_ms = 3 * kHeartbeatMs;
  options.retry_after_failure_ms = 500;
  options.channel_renew_margin_ms = 1'000;
  options.agent_reconcile_every_ms = 3'600'000;  // never within a run: gaps must do it
  // The org's listings change on the web (decision 056): read again every 10 s.
  options.org_reconcile_every_ms = 10'000;
  options.contact_scan_limit = 10;  // the scan's smallest page: several cursors
  options.mirror_contacts = !break_contacts_;
  options.skip_listing_deletes = faults_.skip_listing_deletes;
  options.skip_voicemail_listing_deletes = faults_.skip_voicemail_listing_deletes;
  options.skip_gap_reconcile = break_gap_reconcile_;
  // --genesys-channel-agents 1: a channel per agent, a gap reconciling its agent only.
  options.agents_per_channel = faults_.channel_agents;
  options.blind_draft_retries = faults_.blind_draft_retries;
  // The journal outlives the core, as the file journal outlives the server's process.
  options.send_marks = faults_.forget_sends ? static_cast<g::SendMarks*>(&forgetful_marks_)
                                            : static_cast<g::SendMarks*>(&send_marks_);
  options.break_recordings = faults_.break_recordings;
  return options;
}

int64_t SimGenesys::delay() {
  return random_.between(faults_.min_delay_ms, faults_.max_delay_ms);
}

void SimGenesys::enqueue(int64_t due_ms, Message message) {
  queue_.emplace(std::make_pair(due_ms, seq_++), std::move(message));
}

void SimGenesys::flush(int64_t now_ms) {
  for (g::CoreRequest& request : core_->take_requests()) {
    ++stats_.requests;
    Message message{Message::Kind::kRequest, epoch_, 0, std::move(request), {}, ""};
    message.sent_ms = now_ms;
    if (random_.chance(faults_.drop)) {
      ++stats_.dropped;
      continue;  // never arrives; the core's timeout notices
    }
    if (message.request.kind == g::CoreRequest::Kind::kDownload) {
      flush_download(std::move(message), now_ms);
      continue;
    }
    if (random_.chance(faults_.throttle)) {
      ++stats_.throttled;
      message.kind = Message::Kind::kAnswer;
      message.answer.status = 429;
      message.answer.retry_after_ms = random_.chance(0.2) ? -1 : random_.between(0, 2'000);
      message.answer.body = R"({"status":429,"code":"too.many.requests","message":"Rate limit"})";
    } else if (random_.chance(faults_.unavailable)) {
      ++stats_.unavailable;
      message.kind = Message::Kind::kAnswer;
      message.answer.status = 503;
    }
    enqueue(now_ms + delay(), std::move(message));
  }
  for (g::CoreMedia& media : core_->take_media()) {
    ++stats_.recordings;
    if (media_sink_) media_sink_(media);
  }
  for (const g::SocketCommand& command : core_->take_socket_commands()) {
    const size_t slot = command.channel;
    switch (command.kind) {
      case g::SocketCommand::Kind::kOpen: {
        ++socket_[slot];
        model_.close_socket(slot);
        Message message{
            Message::Kind::kSocketOpen, epoch_, socket_[slot], {}, {}, command.text, slot};
        socket_last_due_[slot] = now_ms + delay();
        enqueue(socket_last_due_[slot], std::move(message));
        break;
      }
      case g::SocketCommand::Kind::kClose:
        ++socket_[slot];
        model_.close_socket(slot);
        break;
      case g::SocketCommand::Kind::kSend:
        model_.socket_send(command.text, slot);
        break;
    }
  }
  for (size_t slot = 0; slot < core_->channel_count(); ++slot) {
    bool closed = false;
    int64_t& last_due = socket_last_due_[slot];
    for (std::string& text : model_.take_socket_messages(&closed, slot)) {
      ++stats_.notifications;
      if (random_.chance(faults_.miss)) {
        ++stats_.missed;
        continue;
      }
      // In order on the socket: never before the previous message.
      last_due = std::max(last_due, now_ms + delay());
      enqueue(
          last_due,
          Message{
              Message::Kind::kSocketText, epoch_, socket_[slot], {}, {}, std::move(text), slot});
    }
    if (closed) {
      last_due = std::max(last_due, now_ms + delay());
      enqueue(last_due,
              Message{Message::Kind::kSocketClosed, epoch_, socket_[slot], {}, {}, "", slot});
    }
  }
}

void SimGenesys::deliver(const Message& message, int64_t now_ms) {
  switch (message.kind) {
    case Message::Kind::kRequest: {
      // On the wire even when its adapter has restarted since: the platform acts on it.
      ModelAnswer answer = model_.handle(message.request.method, message.request.target,
                                         message.request.body, now_ms, message.sent_ms);
      if (!message.request.send_key.empty() && answer.status >= 200 && answer.status < 300) {
        ++stats_.sends;  // the platform acted on a send (its answer may yet be lost)
        ++sends_reached_[message.request.send_key];
        trace_.add("genesys platform: " + message.request.send_key + " sent");
      }
      if (random_.chance(faults_.lost_answer)) {
        ++stats_.lost_answers;
        return;
      }
      Message back{Message::Kind::kAnswer, message.epoch, 0, message.request, {}, ""};
      back.answer.status = answer.status;
      back.answer.body = std::move(answer.body);
      back.answer.correlation_id = "sim-" + std::to_string(message.request.id);
      enqueue(now_ms + delay(), std::move(back));
      return;
    }
    case Message::Kind::kAnswer:
      if (message.epoch == epoch_) core_->on_answer(message.request.id, message.answer, now_ms);
      return;
    case Message::Kind::kSocketOpen:
      if (message.epoch != epoch_ || message.socket != socket_[message.slot]) return;
      if (model_.open_socket(message.text, now_ms, message.slot)) {
        core_->on_socket_opened(now_ms, message.slot);
      } else {
        core_->on_socket_closed(now_ms, message.slot);
      }
      return;
    case Message::Kind::kSocketText:
      if (message.epoch == epoch_ && message.socket == socket_[message.slot]) {
        core_->on_socket_message(message.text, now_ms, message.slot);
      }
      return;
    case Message::Kind::kSocketClosed:
      if (message.epoch == epoch_ && message.socket == socket_[message.slot]) {
        core_->on_socket_closed(now_ms, message.slot);
      }
      return;
  }
}

Status SimGenesys::pump(ServerCore& core, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  model_.tick(now_ms_);
  core_->tick(now_ms_);
  flush(now_ms_);
  while (!queue_.empty() && queue_.begin()->first.first <= now_ms_) {
    Message message = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    deliver(message, now_ms_);
    flush(now_ms_);
  }
  if (!drafts_seeded_) OUTPOST_RETURN_IF_ERROR(seed_drafts(core));
  if (!org_records_seeded_) OUTPOST_RETURN_IF_ERROR(seed_org_records(core));
  core_->tick(now_ms_);
  flush(now_ms_);
  return apply_events(core, now_ms_);
}

Status SimGenesys::apply_events(ServerCore& core, int64_t now_ms) {
  for (upstream::Event& event : core_->take_events()) pending_.push_back(std::move(event));
  DomainServer server(core);
  while (!pending_.empty()) {
    const upstream::Event& event = pending_.front();
    const bool moot = event.has_draft_edited() && moot_edit(core, event);
    Status status = server.apply(event, now_ms);
    if (status.code() == ErrorCode::kUnavailable && ++head_attempts_ < kMaxEventAttempts) {
      ++stats_.event_retries;
      break;  // the platform has not answered the rule's intent yet: again next pump
    }
    head_attempts_ = 0;
    if (!status.ok() && status.code() != ErrorCode::kUnavailable) {
      return status.with_context("genesys event " + event_name(event));
    }
    ++stats_.events;
    trace_.add("genesys: " + event_name(event) + " for " +
               (event.user().empty() ? event.tenant() : event.user()) +
               (status.ok() ? "" : " (dropped: the platform never answered)"));
    if (status.ok() && observer_) observer_(event, now_ms);
    if (status.ok() && event.has_draft_edited()) note_web_edit(event, moot);
    pending_.pop_front();
  }
  return Status::Ok();
}

void SimGenesys::act(const SimUser& user, int64_t now_ms) {
  if (user.tenant != tenant_) return;
  now_ms_ = std::max(now_ms_, now_ms);
  ++stats_.platform_actions;
  switch (random_.weighted({3, 4, 2, 2, 2, 1, 2})) {
    case 0: {
      static const char* const kMedia[] = {"voice", "email", "message", "callback"};
      const std::string id = model_.route(user.user, kMedia[random_.below(4)], now_ms_);
      trace_.add("genesys platform: " + id + " routed to " + user.user);
      break;
    }
    case 1:
      if (model_.disconnect_one(user.user, random_.below(100), now_ms_)) {
        trace_.add("genesys platform: a customer of " + user.user + " hangs up");
      }
      break;
    case 2: {
      // A third of the time the agent deletes one on the web (decision 063: its notification
      // may be missed; the next gap's listing must delete it).
      if (random_.below(3) == 0) {
        const std::string gone =
            model_.web_delete_voicemail(user.user, random_.below(100), now_ms_);
        if (!gone.empty()) {
          trace_.add("genesys web: " + user.user + " deletes voicemail " + gone);
          break;
        }
      }
      const std::string id = model_.leave_voicemail(user.user, now_ms_);
      trace_.add("genesys platform: " + id + " left for " + user.user);
      break;
    }
    case 3:
      model_.supervisor_presence(user.user, random_.below(100), now_ms_);
      trace_.add("genesys platform: a supervisor sets " + user.user + " to " +
                 model_.presence_definition(user.user));
      break;
    case 4:
      // A listing read before this change may have passed it: the one after must run.
      org_listings_due_ = core_->counters().org_listings + 2;
      trace_.add("genesys web: " + model_.web_edit_org_listing(random_.below(1000), now_ms_));
      break;
    case 5:
      trace_.add("genesys web: " + model_.web_change_queue(user.user, random_.below(100), now_ms_));
      break;
    default:
      web_act(user);
      break;
  }
  flush(now_ms_);
}

void SimGenesys::step_faults(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (random_.chance(faults_.socket_drop)) {
    std::vector<size_t> open;
    for (size_t slot = 0; slot < core_->channel_count(); ++slot)
      if (model_.socket_open(slot)) open.push_back(slot);
    if (!open.empty()) {
      ++stats_.socket_drops;
      // One channel: no draw for it (the runs of one channel replay as before).
      const size_t slot = open.size() == 1 ? open[0] : open[random_.below(open.size())];
      drop_socket(slot, random_.chance(0.5));
    }
  }
  if (random_.chance(faults_.expire)) {
    ++stats_.expiries;
    trace_.add("genesys: the notification channel expires");
    model_.expire_channels(now_ms_);
  }
}

void SimGenesys::drop_socket(size_t slot, bool noticed) {
  model_.close_socket(slot);
  const std::string which = "channel " + std::to_string(slot) + "'s notification socket";
  if (noticed) {
    trace_.add("genesys: " + which + " drops");
    enqueue(now_ms_ + delay(),
            Message{Message::Kind::kSocketClosed, epoch_, socket_[slot], {}, {}, "", slot});
  } else {
    trace_.add("genesys: " + which + " dies silently");
  }
}

std::optional<int64_t> SimGenesys::next_due() const {
  std::optional<int64_t> next = core_->next_deadline();
  if (!queue_.empty()) {
    const int64_t due = queue_.begin()->first.first;
    if (!next || due < *next) next = due;
  }
  bool open = false;
  for (size_t slot = 0; slot < core_->channel_count(); ++slot)
    open = open || model_.socket_open(slot);
  if (open) {
    // The next heartbeat.
    const int64_t beat = now_ms_ + kHeartbeatMs;
    if (!next || beat < *next) next = beat;
  }
  return next;
}

void SimGenesys::restart(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  const auto& counters = core_->counters();
  stats_.gaps += counters.gaps;
  stats_.sends_found += counters.sends_found;
  stats_.reconciles += counters.agent_reconciles;
  ++stats_.restarts;
  ++epoch_;
  for (size_t slot = 0; slot < core_->channel_count(); ++slot) {
    ++socket_[slot];
    model_.close_socket(slot);
  }
  pending_.clear();  // the process's queue is gone; the fresh core mirrors again
  if (org_listings_due_ > 0) org_listings_due_ = 1;  // the fresh core lists after this
  head_attempts_ = 0;
  drafts_seeded_ = false;
  org_records_seeded_ = false;
  core_ = std::make_unique<g::GenesysCore>(core_options());
  trace_.add("genesys: the adapter restarts with the server");
}

void SimGenesys::calm(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  faults_.drop = faults_.lost_answer = faults_.throttle = faults_.unavailable = 0;
  faults_.miss = faults_.socket_drop = faults_.expire = 0;
  faults_.media_expired = faults_.media_missing = faults_.media_slow = 0;
  // The last gap, on every channel: whatever was missed must come back through the
  // adapter's own reconcile.
  trace_.add("genesys: faults off; the notification sockets drop a last time");
  for (size_t slot = 0; slot < core_->channel_count(); ++slot) drop_socket(slot, true);
}

std::vector<std::string> SimGenesys::check_sends() const {
  std::vector<std::string> out;
  for (const auto& [key, times] : sends_reached_) {
    if (times > 1) {
      out.push_back(key + " reached the platform " + std::to_string(times) + " times");
    }
  }
  for (const std::string& key : sends_accepted_) {
    if (sends_reached_.count(key) == 0) {
      out.push_back(key + " was accepted but never reached the platform");
    }
  }
  return out;
}

GenesysSimStats SimGenesys::stats() const {
  GenesysSimStats out = stats_;
  out.sends_found += core_->counters().sends_found;
  out.gaps += core_->counters().gaps;
  out.reconciles += core_->counters().agent_reconciles;
  return out;
}

bool SimGenesys::quiet() const {
  return queue_.empty() && pending_.empty() && core_->quiet() &&
         core_->counters().org_listings >= org_listings_due_;
}

Result<PlatformAnswer> SimGenesys::set_presence(const AgentRef& agent, d::Presence presence,
                                                const std::string& aux_reason_id, int64_t now_ms) {
  if (!mine(agent)) return others_->set_presence(agent, presence, aux_reason_id, now_ms);
  return core_->set_presence(agent, presence, aux_reason_id, now_ms);
}

Result<PlatformAnswer> SimGenesys::wrap_up(const AgentRef& agent, const d::Interaction& interaction,
                                           const std::string& code_id, int64_t now_ms) {
  if (!mine(agent)) return others_->wrap_up(agent, interaction, code_id, now_ms);
  return core_->wrap_up(agent, interaction.id(), code_id, now_ms);
}

Result<PlatformAnswer> SimGenesys::send(const AgentRef& agent, const d::Draft& draft,
                                        int64_t now_ms) {
  if (!mine(agent)) return others_->send(agent, draft, now_ms);
  Result<PlatformAnswer> answer = core_->send(agent, draft, now_ms);
  if (answer.ok()) {
    const std::string key =
        "send/" + agent.user + "/" + draft.id() + "/" + std::to_string(draft.revision());
    if (answer->accepted && sends_accepted_.insert(key).second) ++stats_.sends_accepted;
    if (!answer->accepted) ++stats_.sends_refused;
    trace_.add("genesys: " + key +
               (answer->accepted ? " accepted" : " refused: " + answer->reason));
  }
  return answer;
}

Result<PlatformAnswer> SimGenesys::set_queue_joined(const AgentRef& agent,
                                                    const std::string& queue_id, bool joined,
                                                    int64_t now_ms) {
  if (!mine(agent)) return others_->set_queue_joined(agent, queue_id, joined, now_ms);
  return core_->set_queue_joined(agent, queue_id, joined, now_ms);
}

Result<PlatformAnswer> SimGenesys::mark_voicemail_read(const AgentRef& agent, const std::string& id,
                                                       int64_t now_ms) {
  if (!mine(agent)) return others_->mark_voicemail_read(agent, id, now_ms);
  return core_->mark_voicemail_read(agent, id, now_ms);
}

Result<PlatformAnswer> SimGenesys::delete_voicemail(const AgentRef& agent, const std::string& id,
                                                    int64_t now_ms) {
  if (!mine(agent)) return others_->delete_voicemail(agent, id, now_ms);
  return core_->delete_voicemail(agent, id, now_ms);
}

// --------------------------------------------------------------------------- the check

std::vector<std::string> SimGenesys::check(ServerStore& store) const {
  std::vector<std::string> out;
  auto get = [&](const std::string& user, const std::string& collection,
                 const std::string& key) -> std::optional<std::string> {
    auto stored = store.get(ScopeName::format_user(tenant_, user), collection, key);
    if (!stored.ok() || !*stored) return std::nullopt;
    return (*stored)->body;
  };
  for (const std::string& user : users_) {
    const std::string definition = model_.presence_definition(user);
    const std::string system = model_.system_presence(definition);
    const d::Presence want = system == "OnQueue"   ? d::PRESENCE_READY
                             : system == "Offline" ? d::PRESENCE_OFFLINE
                                                   : d::PRESENCE_NOT_READY;
    d::AgentState state;
    auto body = get(user, "agent_state", user);
    if (!body || !state.ParseFromString(*body)) {
      out.push_back(user + ": no agent_state on the server");
    } else if (state.presence() != want ||
               (want == d::PRESENCE_NOT_READY && state.aux_reason_id() != definition)) {
      out.push_back(user + ": the server has " + d::Presence_Name(state.presence()) + " " +
                    state.aux_reason_id() + ", the platform " + definition);
    }
  }
  std::set<std::string> platform_voicemails;
  for (const ModelConversation& c : model_.conversations()) {
    d::Interaction it;
    auto body = get(c.user, "interaction", c.id);
    if (!body || !it.ParseFromString(*body)) {
      out.push_back(c.user + ": interaction " + c.id + " is not on the server");
      continue;
    }
    const bool skipped = it.wrapup_skipped() && it.state() == d::INTERACTION_QUALIFIED;
    d::InteractionState want = !c.ended                 ? d::INTERACTION_CONNECTED
                               : !c.wrapup_code.empty() ? d::INTERACTION_QUALIFIED
                                                        : d::INTERACTION_DISCONNECTED;
    if (it.state() != want && !(skipped && want == d::INTERACTION_DISCONNECTED)) {
      out.push_back(c.user + ": interaction " + c.id + " is " +
                    d::InteractionState_Name(it.state()) + " on the server, " +
                    d::InteractionState_Name(want) + " on the platform");
    } else if (!c.wrapup_code.empty() && it.wrapup_code_id() != c.wrapup_code) {
      out.push_back(c.user + ": interaction " + c.id + " wrapped up with '" + it.wrapup_code_id() +
                    "' on the server, '" + c.wrapup_code + "' on the platform");
    }
  }
  for (const ModelVoicemail& v : model_.voicemails()) {
    d::Voicemail vm;
    auto body = get(v.user, "voicemail", v.id);
    const bool present = body && vm.ParseFromString(*body);
    if (v.deleted) {
      if (present) out.push_back(v.user + ": voicemail " + v.id + " deleted, still on the server");
      continue;
    }
    if (!present) {
      out.push_back(v.user + ": voicemail " + v.id + " is not on the server");
    } else if (vm.read() != v.read) {
      out.push_back(v.user + ": voicemail " + v.id + (v.read ? " read" : " unread") +
                    " on the platform, not on the server");
    }
  }
  check_listings(store, out);
  check_recordings(store, out);
  for (std::string& line : check_drafts(store)) out.push_back(std::move(line));
  return out;
}

}  // namespace outpost::sim
