#include "adapters/sim_platform.h"

#include "adapters/sim_media.h"

#include <algorithm>
#include <sstream>

#include "engine/scope.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

const char* kPeers[] = {"Ann Peeters", "Bert Maes",    "Chloe Jacobs",  "Dirk Claes",
                        "Els Wouters", "Frank Dupont", "Greet Lambert", "Hans Martens"};
const d::MediaType kMedia[] = {d::MEDIA_VOICE, d::MEDIA_EMAIL,    d::MEDIA_CHAT,
                               d::MEDIA_SMS,   d::MEDIA_WORKITEM, d::MEDIA_CALLBACK};
const char* kRoutingStatuses[] = {"IDLE", "INTERACTING", "OFF_QUEUE", "NOT_RESPONDING"};
// What the web interface adds to a draft: words the app's user did not type.
const char* kWebOpenings[] = {"Thank you for your patience.", "Following up on your call,",
                              "As promised on the phone,"};
const char* kWebClosings[] = {"Kind regards, the support team", "Best regards from Support",
                              "With kind regards, Customer Care"};
const char* kWebNotes[] = {"customer called back", "supervisor informed", "refund approved",
                           "sent the manual"};

// act(): how often each action is drawn.
enum Action { kWebDraft, kWebNote, kRoute, kEnd, kVoicemail, kPresence, kContact };
const std::vector<uint32_t> kActionWeights = {30, 15, 12, 12, 8, 10, 5};
constexpr uint32_t kWebShowsAtMost = 50;  // drafts or interactions an act() chooses from
constexpr uint32_t kContactsEdited = 6;   // act() edits the first few contacts of the org
constexpr uint32_t kManifestPage = 1000;  // poll(): drafts and notepads looked at per step

template <typename T, size_t N>
const T& pick(SimRandom& random, const T (&items)[N]) {
  return items[random.below(N)];
}

std::string agent_key(const AgentRef& agent) {
  return agent.tenant + "/" + agent.user;
}
std::string user_scope(const AgentRef& agent) {
  return ScopeName::format_user(agent.tenant, agent.user);
}
std::string org_scope(const AgentRef& agent) {
  return ScopeName::format_org(agent.tenant);
}

upstream::Event& event_for(const AgentRef& agent, std::vector<upstream::Event>& out) {
  out.emplace_back();
  out.back().set_tenant(agent.tenant);
  out.back().set_user(agent.user);
  return out.back();
}

bool editable(const d::Draft& draft) {
  return draft.status() == d::DRAFT_EDITING || draft.status() == d::DRAFT_REFUSED;
}

}  // namespace

SimPlatform::SimPlatform(SimPlatformOptions options, ServerStore& store)
    : options_(std::move(options)), store_(&store), random_(options_.seed * 0x9E3779B97F4A7C15ULL) {
  for (const AgentRef& agent : options_.agents) agents_[agent_key(agent)];
}

void SimPlatform::rebind(ServerStore& store) {
  std::lock_guard lock(mutex_);
  store_ = &store;
}

void SimPlatform::calm() {
  std::lock_guard lock(mutex_);
  options_.unavailable_chance = 0;
}

SimPlatform::Counters SimPlatform::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

SimPlatform::AgentSim& SimPlatform::sim_of(const AgentRef& agent) {
  return agents_[agent_key(agent)];
}

Result<std::vector<upstream::Event>> SimPlatform::poll(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Events out;
  if (last_step_ms_ < 0) last_step_ms_ = now_ms - options_.step_ms;
  uint32_t steps = 0;
  while (last_step_ms_ + options_.step_ms <= now_ms) {
    last_step_ms_ += options_.step_ms;
    if (++steps > options_.max_catch_up_steps) {
      last_step_ms_ = now_ms;  // a long pause: skip ahead rather than replay it all
      break;
    }
    OUTPOST_RETURN_IF_ERROR(step(last_step_ms_, out));
  }
  return out;
}

Status SimPlatform::step(int64_t now_ms, Events& out) {
  ++counters_.steps;
  for (const AgentRef& agent : options_.agents) {
    OUTPOST_RETURN_IF_ERROR(step_agent(agent, sim_of(agent), now_ms, out));
  }
  return Status::Ok();
}

Status SimPlatform::step_agent(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out) {
  // Live interactions: connected ones may end, alerting ones connect.
  std::vector<std::string> ending;
  for (const auto& [id, interaction] : sim.live) {
    if (interaction.state() == d::INTERACTION_CONNECTED && random_.chance(options_.end_chance)) {
      ending.push_back(id);
    }
  }
  connect_alerting(agent, sim, out);
  for (const std::string& id : ending) end(agent, sim, id, now_ms, out);
  if (random_.chance(options_.route_chance)) route(agent, sim, now_ms, out);
  if (random_.chance(options_.voicemail_chance)) leave_voicemail(agent, sim, now_ms, out);
  if (random_.chance(options_.website_close_chance)) {
    change_presence(agent, upstream::CAUSE_WEBSITE_CLOSED, out);
  } else if (random_.chance(options_.supervisor_chance)) {
    change_presence(agent, upstream::CAUSE_SUPERVISOR, out);
  }
  OUTPOST_RETURN_IF_ERROR(edit_drafts(agent, sim, now_ms, out));
  return edit_notes(agent, sim, now_ms, out);
}

Result<std::vector<upstream::Event>> SimPlatform::act(const AgentRef& agent, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  AgentSim& sim = sim_of(agent);
  Events out;
  connect_alerting(agent, sim, out);
  const size_t action = random_.weighted(kActionWeights);
  switch (action) {
    case kWebDraft:
    case kWebNote: {
      // The web shows the agent's drafts, or its interactions with their notepads.
      const bool draft = action == kWebDraft;
      OUTPOST_ASSIGN_OR_RETURN(
          auto ids, keys(user_scope(agent), draft ? "draft" : "interaction", kWebShowsAtMost));
      if (ids.empty()) break;
      const std::string& id = random_.pick(ids);
      if (!(draft ? sim.draft_editors : sim.note_editors).count(id)) {
        OUTPOST_RETURN_IF_ERROR(draft ? open_draft(agent, sim, id, now_ms)
                                      : open_note(agent, sim, id, now_ms));
      } else if (draft) {
        save_draft(agent, sim, id, out);
      } else {
        save_note(agent, sim, id, out);
      }
      break;
    }
    case kRoute:
      route(agent, sim, now_ms, out);
      break;
    case kEnd: {
      auto connected = std::find_if(sim.live.begin(), sim.live.end(), [](const auto& entry) {
        return entry.second.state() == d::INTERACTION_CONNECTED;
      });
      if (connected == sim.live.end()) {
        route(agent, sim, now_ms, out);
      } else {
        end(agent, sim, connected->first, now_ms, out);
      }
      break;
    }
    case kVoicemail:
      leave_voicemail(agent, sim, now_ms, out);
      break;
    case kPresence: {
      const char* routing = pick(random_, kRoutingStatuses);
      upstream::PresenceCause cause = upstream::CAUSE_PLATFORM;
      if (random_.chance(0.2)) {
        cause = upstream::CAUSE_WEBSITE_CLOSED;
      } else if (random_.chance(0.2)) {
        cause = upstream::CAUSE_SUPERVISOR;
      }
      change_presence(agent, cause, out);
      out.back().mutable_presence()->set_routing_status(routing);
      break;
    }
    default:
      OUTPOST_RETURN_IF_ERROR(edit_contact(agent, now_ms, out));
  }
  return out;
}

void SimPlatform::connect_alerting(const AgentRef& agent, AgentSim& sim, Events& out) {
  for (auto& [id, interaction] : sim.live) {
    if (interaction.state() != d::INTERACTION_ALERTING) continue;
    interaction.set_state(d::INTERACTION_CONNECTED);
    *event_for(agent, out).mutable_interaction() = interaction;
  }
}

void SimPlatform::route(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out) {
  d::Interaction interaction;
  interaction.set_id("sim-" + agent.user + "-" + std::to_string(sim.next_interaction++));
  interaction.set_media(pick(random_, kMedia));
  interaction.set_direction(d::DIRECTION_INBOUND);
  interaction.set_state(d::INTERACTION_ALERTING);
  interaction.set_peer_name(pick(random_, kPeers));
  interaction.set_peer_address(interaction.media() == d::MEDIA_EMAIL ? "customer@example.com"
                                                                     : "+32 475 123456");
  interaction.set_contact_id("contact-" + std::to_string(random_.below(200)));
  interaction.set_started_ms(now_ms);
  interaction.set_agent_user_id(agent.user);
  interaction.set_queue_id(random_.below(2) == 0 ? "queue-1" : "queue-2");
  interaction.set_wrapup_required(true);
  sim.live[interaction.id()] = interaction;
  *event_for(agent, out).mutable_interaction() = interaction;
  ++counters_.routed;
}

void SimPlatform::end(const AgentRef& agent, AgentSim& sim, const std::string& id, int64_t now_ms,
                      Events& out) {
  auto it = sim.live.find(id);
  if (it == sim.live.end()) return;
  d::Interaction& interaction = it->second;
  interaction.set_state(d::INTERACTION_DISCONNECTED);
  interaction.set_ended_ms(now_ms);
  interaction.set_duration_s(static_cast<int32_t>((now_ms - interaction.started_ms()) / 1000));
  *event_for(agent, out).mutable_interaction() = interaction;
  ++counters_.ended;
  sim.live.erase(it);
}

void SimPlatform::leave_voicemail(const AgentRef& agent, AgentSim& sim, int64_t now_ms,
                                  Events& out) {
  d::Voicemail voicemail;
  voicemail.set_id("sim-vm-" + agent.user + "-" + std::to_string(sim.next_voicemail++));
  voicemail.set_caller_name(pick(random_, kPeers));
  voicemail.set_caller_address("+32 475 654321");
  voicemail.set_received_ms(now_ms);
  voicemail.set_duration_s(static_cast<int32_t>(5 + random_.below(120)));
  attach_sim_audio(voicemail);
  *event_for(agent, out).mutable_voicemail_left() = voicemail;
  ++counters_.voicemails;
}

void SimPlatform::change_presence(const AgentRef& agent, upstream::PresenceCause cause,
                                  Events& out) {
  auto& presence = *event_for(agent, out).mutable_presence();
  presence.set_cause(cause);
  if (cause == upstream::CAUSE_WEBSITE_CLOSED) {
    presence.set_presence(d::PRESENCE_OFFLINE);
  } else if (cause == upstream::CAUSE_SUPERVISOR) {
    presence.set_presence(d::PRESENCE_NOT_READY);
    presence.set_aux_reason_id("aux-meeting");
  }
  ++counters_.presence_changes;
}

Status SimPlatform::edit_contact(const AgentRef& agent, int64_t now_ms, Events& out) {
  OUTPOST_ASSIGN_OR_RETURN(auto ids, keys(org_scope(agent), "contact", kContactsEdited));
  if (ids.empty()) return Status::Ok();
  const std::string id = random_.pick(ids);
  OUTPOST_ASSIGN_OR_RETURN(auto contact, load<d::Contact>(org_scope(agent), "contact", id));
  if (!contact) return Status::Ok();
  contact->set_title("edited " + std::to_string(now_ms));
  contact->set_modified_ms(now_ms);
  out.emplace_back();
  out.back().set_tenant(agent.tenant);  // an org record: no user
  *out.back().mutable_contact() = *contact;
  ++counters_.contact_edits;
  return Status::Ok();
}

std::optional<SimPlatform::WebEditor> SimPlatform::close(std::map<std::string, WebEditor>& editors,
                                                         const std::string& id) {
  auto it = editors.find(id);
  if (it == editors.end()) return std::nullopt;
  WebEditor editor = std::move(it->second);
  editors.erase(it);
  return editor;
}

Status SimPlatform::open_draft(const AgentRef& agent, AgentSim& sim, const std::string& id,
                               int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(auto loaded, load<d::Draft>(user_scope(agent), "draft", id));
  if (!loaded || !editable(*loaded)) return Status::Ok();
  sim.draft_editors[id] = WebEditor{.draft = std::move(loaded), .opened_ms = now_ms};
  return Status::Ok();
}

void SimPlatform::save_draft(const AgentRef& agent, AgentSim& sim, const std::string& id,
                             Events& out) {
  std::optional<WebEditor> editor = close(sim.draft_editors, id);
  if (!editor) return;
  const d::Draft& base = *editor->draft;
  d::Draft edited = base;
  edited.set_body(web_draft_text(base.body()));
  auto& edit = *event_for(agent, out).mutable_draft_edited();
  *edit.mutable_base() = base;
  *edit.mutable_edited() = edited;
  ++counters_.web_draft_edits;
}

Status SimPlatform::open_note(const AgentRef& agent, AgentSim& sim, const std::string& id,
                              int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(auto loaded, load<d::Note>(user_scope(agent), "note", id));
  sim.note_editors[id] = WebEditor{.note = std::move(loaded), .opened_ms = now_ms};
  return Status::Ok();
}

void SimPlatform::save_note(const AgentRef& agent, AgentSim& sim, const std::string& id,
                            Events& out) {
  std::optional<WebEditor> editor = close(sim.note_editors, id);
  if (!editor) return;
  const std::optional<d::Note>& base = editor->note;
  auto& edit = *event_for(agent, out).mutable_note_edited();
  edit.set_interaction_id(id);
  if (base) *edit.mutable_base() = *base;
  edit.set_text(web_note_text(base ? base->text() : std::string()));
  ++counters_.web_note_edits;
}

Status SimPlatform::edit_drafts(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out) {
  OUTPOST_ASSIGN_OR_RETURN(auto ids, keys(user_scope(agent), "draft", kManifestPage));
  for (const std::string& id : ids) {
    if (sim.drafts_seen.count(id) || sim.draft_editors.count(id)) continue;
    OUTPOST_RETURN_IF_ERROR(open_draft(agent, sim, id, now_ms));
    if (sim.draft_editors.count(id)) sim.drafts_seen.insert(id);
  }
  std::vector<std::string> due;
  for (const auto& [id, editor] : sim.draft_editors) {
    if (now_ms - editor.opened_ms >= options_.web_edit_delay_ms) due.push_back(id);
  }
  for (const std::string& id : due) save_draft(agent, sim, id, out);
  return Status::Ok();
}

Status SimPlatform::edit_notes(const AgentRef& agent, AgentSim& sim, int64_t now_ms, Events& out) {
  if (options_.note_edit_chance <= 0) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto ids, keys(user_scope(agent), "note", kManifestPage));
  for (const std::string& id : ids) {
    if (!random_.chance(options_.note_edit_chance)) continue;
    OUTPOST_RETURN_IF_ERROR(open_note(agent, sim, id, now_ms));
    save_note(agent, sim, id, out);  // the web agent types a line and saves at once
  }
  return Status::Ok();
}

std::string SimPlatform::web_draft_text(const std::string& body) {
  if (options_.web_types_unique_words) return type_unique_word(body);
  if (random_.below(2) == 0 || body.empty()) {
    return std::string(pick(random_, kWebOpenings)) + " " + body;
  }
  return body + "\n\n" + pick(random_, kWebClosings);
}

std::string SimPlatform::web_note_text(const std::string& text) {
  if (options_.web_types_unique_words) return type_unique_word(text);
  return text + (text.empty() ? "" : "\n") + "web: " + pick(random_, kWebNotes);
}

std::string SimPlatform::type_unique_word(const std::string& text) {
  // One unique word at a random place; the words keep single spaces between them.
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  const auto at = static_cast<std::ptrdiff_t>(random_.below(words.size() + 1));
  words.insert(words.begin() + at, "web" + std::to_string(++words_));
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

Result<std::vector<std::string>> SimPlatform::keys(const std::string& scope,
                                                   const std::string& collection, uint32_t max) {
  OUTPOST_ASSIGN_OR_RETURN(auto entries, store_->read_manifest(scope, collection, "", max));
  std::vector<std::string> out;
  for (const KeyVersion& entry : entries) {
    if (entry.collection != collection) break;
    out.push_back(entry.key);
  }
  return out;
}

template <typename T>
Result<std::optional<T>> SimPlatform::load(const std::string& scope, const std::string& collection,
                                           const std::string& key) {
  OUTPOST_ASSIGN_OR_RETURN(auto stored, store_->get(scope, collection, key));
  T record;
  if (!stored || !record.ParseFromString(stored->body)) return std::optional<T>();
  return std::optional<T>(std::move(record));
}

Result<PlatformAnswer> SimPlatform::refuse(std::string why) {
  ++counters_.refusals;
  return PlatformAnswer::refuse(std::move(why));
}

Status SimPlatform::maybe_unavailable(const std::string& what) {
  if (options_.unavailable_chance <= 0 || !random_.chance(options_.unavailable_chance)) {
    return Status::Ok();
  }
  ++counters_.unavailable;
  return error(ErrorCode::kUnavailable, "the platform did not answer " + what);
}

Result<PlatformAnswer> SimPlatform::set_presence(const AgentRef& agent, d::Presence presence,
                                                 const std::string& aux_reason_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a presence change"));
  if (presence == d::PRESENCE_NOT_READY && options_.refused_aux_reasons.count(aux_reason_id)) {
    return refuse("'" + aux_reason_id + "' is planned by your supervisor and cannot be chosen now");
  }
  if (presence == d::PRESENCE_OFFLINE) {
    for (const auto& [id, interaction] : sim_of(agent).live) {
      if (interaction.state() == d::INTERACTION_CONNECTED) {
        return refuse("you cannot log off during an active interaction");
      }
    }
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::wrap_up(const AgentRef& agent,
                                            const d::Interaction& interaction,
                                            const std::string& code_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a wrap-up"));
  if (sim_of(agent).live.count(interaction.id())) {
    return refuse("the interaction is still active on the platform");
  }
  if (random_.chance(options_.wrapup_refuse_chance)) {
    return refuse("wrap-up code '" + code_id + "' is not offered on this interaction's queue");
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::send(const AgentRef& agent, const d::Draft& draft,
                                         int64_t now_ms) {
  std::lock_guard lock(mutex_);
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a send"));
  switch (draft.kind()) {
    case d::DRAFT_EMAIL_REPLY:
    case d::DRAFT_OUTBOUND_EMAIL:
    case d::DRAFT_SMS:
      if (draft.to().empty()) return refuse("no recipient");
      if (draft.kind() == d::DRAFT_SMS && draft.body().size() > 1600) {
        return refuse("an SMS holds at most 1600 characters");
      }
      break;
    case d::DRAFT_CALLBACK_REQUEST:
      if (draft.callback_number().empty()) return refuse("a callback needs a number");
      break;
    default:
      break;
  }
  if (random_.chance(options_.send_refuse_chance)) return refuse("mailbox unavailable");
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::set_queue_joined(const AgentRef& agent,
                                                     const std::string& queue_id, bool joined,
                                                     int64_t now_ms) {
  std::lock_guard lock(mutex_);
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a queue change"));
  return PlatformAnswer::accept();
}

}  // namespace outpost
