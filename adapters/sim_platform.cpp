#include "adapters/sim_platform.h"

#include <algorithm>

namespace outpost {
namespace {

namespace d = outpost::domain;

const char* kPeers[] = {"Ann Peeters", "Bert Maes",    "Chloe Jacobs",  "Dirk Claes",
                        "Els Wouters", "Frank Dupont", "Greet Lambert", "Hans Martens"};
const d::MediaType kMedia[] = {d::MEDIA_VOICE, d::MEDIA_EMAIL,    d::MEDIA_CHAT,
                               d::MEDIA_SMS,   d::MEDIA_WORKITEM, d::MEDIA_CALLBACK};
// What the web interface adds to a draft: words the app's user did not type.
const char* kWebOpenings[] = {"Thank you for your patience.", "Following up on your call,",
                              "As promised on the phone,"};
const char* kWebClosings[] = {"Kind regards, the support team", "Best regards from Support",
                              "With kind regards, Customer Care"};
const char* kWebNotes[] = {"customer called back", "supervisor informed", "refund approved",
                           "sent the manual"};

std::string agent_key(const AgentRef& agent) {
  return agent.tenant + "/" + agent.user;
}
std::string user_scope(const AgentRef& agent) {
  return "user/" + agent.tenant + "/" + agent.user;
}

}  // namespace

SimPlatform::SimPlatform(SimPlatformOptions options, ServerStore& store)
    : options_(std::move(options)), store_(store), random_(options_.seed * 0x9E3779B97F4A7C15ULL) {
  for (const AgentRef& agent : options_.agents) agents_[agent_key(agent)];
}

bool SimPlatform::chance(double p) {
  return std::uniform_real_distribution<double>(0, 1)(random_) < p;
}

SimPlatform::Counters SimPlatform::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

Result<std::vector<upstream::Event>> SimPlatform::poll(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  std::vector<upstream::Event> out;
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

Status SimPlatform::step(int64_t now_ms, std::vector<upstream::Event>& out) {
  ++counters_.steps;
  for (const AgentRef& agent : options_.agents) {
    OUTPOST_RETURN_IF_ERROR(step_agent(agent, agents_[agent_key(agent)], now_ms, out));
  }
  return Status::Ok();
}

Status SimPlatform::step_agent(const AgentRef& agent, AgentSim& sim, int64_t now_ms,
                               std::vector<upstream::Event>& out) {
  auto event = [&]() -> upstream::Event& {
    out.emplace_back();
    out.back().set_tenant(agent.tenant);
    out.back().set_user(agent.user);
    return out.back();
  };
  // Live interactions: alerting ones connect, connected ones may end.
  for (auto it = sim.live.begin(); it != sim.live.end();) {
    d::Interaction& interaction = it->second;
    if (interaction.state() == d::INTERACTION_ALERTING) {
      interaction.set_state(d::INTERACTION_CONNECTED);
      *event().mutable_interaction() = interaction;
      ++it;
    } else if (chance(options_.end_chance)) {
      interaction.set_state(d::INTERACTION_DISCONNECTED);
      interaction.set_ended_ms(now_ms);
      interaction.set_duration_s(static_cast<int32_t>((now_ms - interaction.started_ms()) / 1000));
      *event().mutable_interaction() = interaction;
      ++counters_.ended;
      it = sim.live.erase(it);
    } else {
      ++it;
    }
  }
  if (chance(options_.route_chance)) {
    d::Interaction interaction;
    interaction.set_id("sim-" + agent.user + "-" + std::to_string(sim.next_interaction++));
    interaction.set_media(kMedia[random_() % std::size(kMedia)]);
    interaction.set_direction(d::DIRECTION_INBOUND);
    interaction.set_state(d::INTERACTION_ALERTING);
    interaction.set_peer_name(kPeers[random_() % std::size(kPeers)]);
    interaction.set_peer_address(interaction.media() == d::MEDIA_EMAIL ? "customer@example.com"
                                                                       : "+32 475 123456");
    interaction.set_contact_id("contact-" + std::to_string(random_() % 200));
    interaction.set_started_ms(now_ms);
    interaction.set_agent_user_id(agent.user);
    interaction.set_queue_id(random_() % 2 == 0 ? "queue-1" : "queue-2");
    interaction.set_wrapup_required(true);
    sim.live[interaction.id()] = interaction;
    *event().mutable_interaction() = interaction;
    ++counters_.routed;
  }
  if (chance(options_.voicemail_chance)) {
    d::Voicemail voicemail;
    voicemail.set_id("sim-vm-" + agent.user + "-" + std::to_string(sim.next_voicemail++));
    voicemail.set_caller_name(kPeers[random_() % std::size(kPeers)]);
    voicemail.set_caller_address("+32 475 654321");
    voicemail.set_received_ms(now_ms);
    voicemail.set_duration_s(static_cast<int32_t>(5 + random_() % 120));
    *event().mutable_voicemail_left() = voicemail;
    ++counters_.voicemails;
  }
  if (chance(options_.website_close_chance)) {
    auto& presence = *event().mutable_presence();
    presence.set_presence(d::PRESENCE_OFFLINE);
    presence.set_cause(upstream::CAUSE_WEBSITE_CLOSED);
    ++counters_.presence_changes;
  } else if (chance(options_.supervisor_chance)) {
    auto& presence = *event().mutable_presence();
    presence.set_presence(d::PRESENCE_NOT_READY);
    presence.set_aux_reason_id("aux-meeting");
    presence.set_cause(upstream::CAUSE_SUPERVISOR);
    ++counters_.presence_changes;
  }
  OUTPOST_RETURN_IF_ERROR(edit_drafts(agent, sim, now_ms, out));
  return edit_notes(agent, now_ms, out);
}

Status SimPlatform::edit_drafts(const AgentRef& agent, AgentSim& sim, int64_t now_ms,
                                std::vector<upstream::Event>& out) {
  const std::string scope = user_scope(agent);
  OUTPOST_ASSIGN_OR_RETURN(auto keys, store_.read_manifest(scope, "draft", "", 1000));
  for (const KeyVersion& entry : keys) {
    if (entry.collection != "draft") break;
    if (sim.drafts_edited.count(entry.key)) continue;
    auto [seen, inserted] = sim.drafts_seen_ms.emplace(entry.key, now_ms);
    if (now_ms - seen->second < options_.web_edit_delay_ms) continue;
    OUTPOST_ASSIGN_OR_RETURN(auto stored, store_.get(scope, "draft", entry.key));
    d::Draft base;
    if (!stored || !base.ParseFromString(stored->body)) continue;
    if (base.status() != d::DRAFT_EDITING && base.status() != d::DRAFT_REFUSED) continue;
    d::Draft edited = base;
    // The web agent opens the draft, adds an opening or a closing, and saves.
    if (random_() % 2 == 0 || base.body().empty()) {
      edited.set_body(std::string(kWebOpenings[random_() % std::size(kWebOpenings)]) + " " +
                      base.body());
    } else {
      edited.set_body(base.body() + "\n\n" + kWebClosings[random_() % std::size(kWebClosings)]);
    }
    out.emplace_back();
    upstream::Event& event = out.back();
    event.set_tenant(agent.tenant);
    event.set_user(agent.user);
    *event.mutable_draft_edited()->mutable_base() = base;
    *event.mutable_draft_edited()->mutable_edited() = edited;
    sim.drafts_edited.insert(entry.key);
    ++counters_.web_draft_edits;
  }
  return Status::Ok();
}

Status SimPlatform::edit_notes(const AgentRef& agent, int64_t now_ms,
                               std::vector<upstream::Event>& out) {
  if (options_.note_edit_chance <= 0) return Status::Ok();
  const std::string scope = user_scope(agent);
  OUTPOST_ASSIGN_OR_RETURN(auto keys, store_.read_manifest(scope, "note", "", 1000));
  for (const KeyVersion& entry : keys) {
    if (entry.collection != "note") break;
    if (!chance(options_.note_edit_chance)) continue;
    OUTPOST_ASSIGN_OR_RETURN(auto stored, store_.get(scope, "note", entry.key));
    d::Note base;
    if (!stored || !base.ParseFromString(stored->body)) continue;
    out.emplace_back();
    upstream::Event& event = out.back();
    event.set_tenant(agent.tenant);
    event.set_user(agent.user);
    auto& edit = *event.mutable_note_edited();
    edit.set_interaction_id(base.interaction_id());
    *edit.mutable_base() = base;
    edit.set_text(base.text() + (base.text().empty() ? "" : "\n") +
                  "web: " + kWebNotes[random_() % std::size(kWebNotes)]);
    ++counters_.web_note_edits;
  }
  return Status::Ok();
}

Result<PlatformAnswer> SimPlatform::set_presence(const AgentRef& agent, d::Presence presence,
                                                 const std::string& aux_reason_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (presence == d::PRESENCE_NOT_READY && options_.refused_aux_reasons.count(aux_reason_id)) {
    ++counters_.refusals;
    return PlatformAnswer::refuse("'" + aux_reason_id +
                                  "' is planned by your supervisor and cannot be chosen now");
  }
  if (presence == d::PRESENCE_OFFLINE) {
    auto it = agents_.find(agent_key(agent));
    if (it != agents_.end()) {
      for (const auto& [id, interaction] : it->second.live) {
        if (interaction.state() == d::INTERACTION_CONNECTED) {
          ++counters_.refusals;
          return PlatformAnswer::refuse("you cannot log off during an active interaction");
        }
      }
    }
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::wrap_up(const AgentRef& agent,
                                            const d::Interaction& interaction,
                                            const std::string& code_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = agents_.find(agent_key(agent));
  if (it != agents_.end() && it->second.live.count(interaction.id())) {
    ++counters_.refusals;
    return PlatformAnswer::refuse("the interaction is still active on the platform");
  }
  if (chance(options_.wrapup_refuse_chance)) {
    ++counters_.refusals;
    return PlatformAnswer::refuse("wrap-up code '" + code_id +
                                  "' is not offered on this interaction's queue");
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::send(const AgentRef& agent, const d::Draft& draft,
                                         int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto refuse = [&](std::string why) {
    ++counters_.refusals;
    return PlatformAnswer::refuse(std::move(why));
  };
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
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimPlatform::set_queue_joined(const AgentRef& agent,
                                                     const std::string& queue_id, bool joined,
                                                     int64_t now_ms) {
  return PlatformAnswer::accept();
}

}  // namespace outpost
