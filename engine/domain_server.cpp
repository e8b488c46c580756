#include "engine/domain_server.h"

#include <cstdlib>

#include "engine/domain_merge.h"
#include "engine/domain_time.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

constexpr uint32_t kManifestPage = 1000;

int64_t parse_journal_days(const std::string& value) {
  int64_t days = std::atoll(value.c_str());
  return days >= 1 && days <= 31 ? days : 1;
}

Result<int64_t> journal_days(MutationContext& ctx) {
  OUTPOST_ASSIGN_OR_RETURN(auto setting, ctx.get<d::OrgSetting>(kJournalDaysSetting));
  return setting ? parse_journal_days(setting->value()) : 1;
}

// An org setting's value read outside a transaction ("" when unset).
Result<std::string> org_setting(ServerStore& store, const std::string& tenant,
                                const std::string& name) {
  OUTPOST_ASSIGN_OR_RETURN(auto stored,
                           store.get(ScopeName::format_org(tenant), "org_setting", name));
  d::OrgSetting setting;
  if (!stored || !setting.ParseFromString(stored->body)) return std::string();
  return setting.value();
}

// The agent's state read outside a transaction.
Result<std::optional<d::AgentState>> agent_state(ServerStore& store, const AgentRef& agent) {
  OUTPOST_ASSIGN_OR_RETURN(auto stored, store.get(ScopeName::format_user(agent.tenant, agent.user),
                                                  "agent_state", agent.user));
  d::AgentState state;
  if (!stored || !state.ParseFromString(stored->body)) return std::optional<d::AgentState>();
  return std::optional<d::AgentState>(std::move(state));
}

// The first local day the journal keeps.
Result<std::string> journal_start(MutationContext& ctx, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int32_t offset, org_utc_offset(ctx));
  OUTPOST_ASSIGN_OR_RETURN(int64_t days, journal_days(ctx));
  return day_string(local_day(now_ms, offset) - days + 1);
}

Status put_interaction(MutationContext& ctx, d::Interaction interaction, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int32_t offset, org_utc_offset(ctx));
  interaction.set_day(day_string(local_day(interaction.started_ms(), offset)));
  OUTPOST_ASSIGN_OR_RETURN(std::string start, journal_start(ctx, now_ms));
  if (interaction.day() < start) return Status::Ok();  // outside the journal: not carried
  return ctx.put(interaction);
}

Status put_voicemail(MutationContext& ctx, d::Voicemail voicemail, bool left) {
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Voicemail>(voicemail.id()));
  if (!current && !left) return Status::Ok();                // the user deleted it: delete wins
  if (current && current->read()) voicemail.set_read(true);  // read stays read
  // The recording never changes: an update that does not name it keeps the one known.
  if (current && voicemail.audio_sha256().empty() && !current->audio_sha256().empty()) {
    voicemail.set_audio_uri(current->audio_uri());
    voicemail.set_audio_sha256(current->audio_sha256());
    voicemail.set_audio_size(current->audio_size());
  }
  return ctx.put(voicemail);
}

}  // namespace

Status DomainServer::apply(const upstream::Event& event, int64_t now_ms) {
  if (event.tenant().empty()) return error(ErrorCode::kInvalidArgument, "event without tenant");
  const bool user_record = event.kind_case() == upstream::Event::kInteraction ||
                           event.kind_case() == upstream::Event::kVoicemailLeft ||
                           event.kind_case() == upstream::Event::kVoicemailUpdated ||
                           event.kind_case() == upstream::Event::kVoicemailDeleted ||
                           event.kind_case() == upstream::Event::kDraftEdited ||
                           event.kind_case() == upstream::Event::kNoteEdited ||
                           event.kind_case() == upstream::Event::kPresence ||
                           event.kind_case() == upstream::Event::kQueue;
  if (user_record && event.user().empty()) {
    return error(ErrorCode::kInvalidArgument, "a user record event needs a user");
  }
  Principal who{event.tenant(), event.user().empty() ? "platform" : event.user(), "platform"};
  // The names choose the scope written: an event's are checked here, once.
  if (auto scope = ScopeName::user(who.tenant, who.user); !scope.ok()) {
    return scope.status().with_context("event");
  }
  return core_.write_as(who, now_ms, [&](MutationContext& ctx) -> Status {
    switch (event.kind_case()) {
      case upstream::Event::kInteraction:
        return put_interaction(ctx, event.interaction(), now_ms);
      case upstream::Event::kVoicemailLeft:
        return put_voicemail(ctx, event.voicemail_left(), true);
      case upstream::Event::kVoicemailUpdated:
        return put_voicemail(ctx, event.voicemail_updated(), false);
      case upstream::Event::kDraftEdited: {
        const upstream::DraftEdited& edit = event.draft_edited();
        if (edit.edited().id().empty()) {
          return error(ErrorCode::kInvalidArgument, "draft edit without id");
        }
        OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(edit.edited().id()));
        std::optional<d::Draft> base;
        if (edit.has_base()) base = edit.base();
        auto merged = merge_draft_edit(current, base, edit.edited(), false, now_ms);
        if (!merged.ok() && merged.status().code() == ErrorCode::kRejected) {
          return Status::Ok();  // already sent from the app: the web's late save is moot
        }
        if (!merged.ok()) return merged.status();
        OUTPOST_RETURN_IF_ERROR(ctx.put(*merged));
        // The merge may hold the app's edits the web did not see: the platform gets it back
        // (it only queues; an unchanged text is not sent again), so both end equal.
        if (ctx.platform != nullptr) {
          ctx.platform->draft_saved(AgentRef{ctx.tenant, ctx.user}, *merged, now_ms);
        }
        return Status::Ok();
      }
      case upstream::Event::kNoteEdited: {
        const upstream::NoteEdited& edit = event.note_edited();
        if (edit.interaction_id().empty()) {
          return error(ErrorCode::kInvalidArgument, "note edit without interaction");
        }
        OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Note>(edit.interaction_id()));
        std::optional<d::Note> base;
        if (edit.has_base()) base = edit.base();
        OUTPOST_ASSIGN_OR_RETURN(d::Note note, merge_note_edit(current, base, edit.interaction_id(),
                                                               edit.text(), false, now_ms));
        return ctx.put(note);
      }
      case upstream::Event::kPresence:
        return apply_presence(ctx, event.presence());
      case upstream::Event::kContact:
        return ctx.put(event.contact());
      case upstream::Event::kCannedResponse:
        return ctx.put(event.canned_response());
      case upstream::Event::kVoicemailDeleted:
        if (event.voicemail_deleted().empty()) {
          return error(ErrorCode::kInvalidArgument, "a voicemail deletion without id");
        }
        return ctx.remove<d::Voicemail>(event.voicemail_deleted());
      case upstream::Event::kContactDeleted:
        if (event.contact_deleted().empty()) {
          return error(ErrorCode::kInvalidArgument, "a contact deletion without id");
        }
        return ctx.remove<d::Contact>(event.contact_deleted());
      case upstream::Event::kCannedResponseDeleted:
        if (event.canned_response_deleted().empty()) {
          return error(ErrorCode::kInvalidArgument, "a canned response deletion without id");
        }
        return ctx.remove<d::CannedResponse>(event.canned_response_deleted());
      case upstream::Event::kColleague:
        return ctx.put(event.colleague());
      case upstream::Event::kQueue:
        return ctx.put(event.queue());
      case upstream::Event::kWrapupCode:
        return ctx.put(event.wrapup_code());
      case upstream::Event::kAuxReason:
        return ctx.put(event.aux_reason());
      case upstream::Event::kOrgSetting:
        if (event.org_setting().name().empty()) {
          return error(ErrorCode::kInvalidArgument, "org setting without name");
        }
        return ctx.put(event.org_setting());
      case upstream::Event::KIND_NOT_SET:
        break;
    }
    return error(ErrorCode::kInvalidArgument, "empty platform event");
  });
}

Status DomainServer::apply_presence(MutationContext& ctx, const upstream::PresenceChanged& change) {
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::AgentState>(ctx.user));
  d::AgentState state = current.value_or(d::AgentState());
  state.set_user_id(ctx.user);
  if (!change.routing_status().empty()) state.set_routing_status(change.routing_status());
  const bool chosen_online = state.chosen_presence() == d::PRESENCE_READY ||
                             state.chosen_presence() == d::PRESENCE_NOT_READY;
  if (change.cause() == upstream::CAUSE_WEBSITE_CLOSED &&
      change.presence() == d::PRESENCE_OFFLINE && chosen_online) {
    // The guide: Mobile Office ignores a logout it did not make and restores the agent's
    // last chosen state.
    OUTPOST_ASSIGN_OR_RETURN(
        PlatformAnswer answer, ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
          return platform.set_presence(agent, state.chosen_presence(), state.chosen_aux_reason_id(),
                                       ctx.now_ms);
        }));
    if (answer.accepted) {
      state.set_message("restored after the website logged you off");
      state.set_modified_ms(ctx.now_ms);
      return ctx.put(state);
    }
    state.set_last_refusal(answer.reason);
  }
  bool changed =
      state.presence() != change.presence() || state.aux_reason_id() != change.aux_reason_id();
  state.set_presence(change.presence());
  state.set_aux_reason_id(change.presence() == d::PRESENCE_NOT_READY ? change.aux_reason_id() : "");
  std::string aux_name;
  if (!state.aux_reason_id().empty()) {
    OUTPOST_ASSIGN_OR_RETURN(auto reason, ctx.get<d::AuxReason>(state.aux_reason_id()));
    if (reason) aux_name = reason->name();
  }
  state.set_aux_reason_name(aux_name);
  if (changed) state.set_since_ms(ctx.now_ms);
  state.set_message("");
  state.set_modified_ms(ctx.now_ms);
  return ctx.put(state);
}

Result<DomainTickReport> DomainServer::tick(const std::vector<AgentRef>& agents, int64_t now_ms) {
  DomainTickReport report;
  for (const AgentRef& agent : agents) {
    Principal who{agent.tenant, agent.user, "platform"};
    bool fired = false;
    OUTPOST_ASSIGN_OR_RETURN(auto seen, agent_state(core_.store(), agent));
    const bool due = seen && seen->auto_ready_at_ms() != 0 && seen->auto_ready_at_ms() <= now_ms;
    if (due)
      OUTPOST_RETURN_IF_ERROR(core_.write_as(who, now_ms, [&](MutationContext& ctx) -> Status {
        OUTPOST_ASSIGN_OR_RETURN(auto state, ctx.get<d::AgentState>(agent.user));
        if (!state || state->auto_ready_at_ms() == 0 || state->auto_ready_at_ms() > now_ms) {
          return Status::Ok();
        }
        OUTPOST_ASSIGN_OR_RETURN(PlatformAnswer answer,
                                 ctx.ask_platform([&](Platform& platform, const AgentRef& ref) {
                                   return platform.set_presence(ref, d::PRESENCE_READY, "", now_ms);
                                 }));
        state->set_auto_ready_at_ms(0);
        if (answer.accepted) {
          if (state->presence() != d::PRESENCE_READY) state->set_since_ms(now_ms);
          state->set_presence(d::PRESENCE_READY);
          state->set_aux_reason_id("");
          state->set_aux_reason_name("");
          state->set_chosen_presence(d::PRESENCE_READY);
          state->set_chosen_aux_reason_id("");
          state->set_last_refusal("");
        } else {
          state->set_last_refusal(answer.reason);
        }
        state->set_modified_ms(now_ms);
        fired = true;
        return ctx.put(*state);
      }));
    if (fired) ++report.auto_ready_fired;
    OUTPOST_ASSIGN_OR_RETURN(int expired, expire_journal(agent, now_ms));
    report.interactions_expired += expired;
  }
  return report;
}

Result<int> DomainServer::expire_journal(const AgentRef& agent, int64_t now_ms) {
  Principal who{agent.tenant, agent.user, "platform"};
  const std::string agent_key = agent.tenant + "/" + agent.user;
  // The window moves once a local day: look only when the day changed since the last look.
  ServerStore& store = core_.store();
  OUTPOST_ASSIGN_OR_RETURN(std::string offset_value,
                           org_setting(store, agent.tenant, kUtcOffsetSetting));
  OUTPOST_ASSIGN_OR_RETURN(std::string days_value,
                           org_setting(store, agent.tenant, kJournalDaysSetting));
  const int32_t offset = parse_utc_offset(offset_value);
  const int64_t today = local_day(now_ms, offset);
  const std::string start = day_string(today - parse_journal_days(days_value) + 1);
  {
    std::lock_guard lock(mutex_);
    auto it = journal_checked_day_.find(agent_key);
    if (it != journal_checked_day_.end() && it->second == today) return 0;
  }
  // Collect the keys first (reads), then remove them in one transaction.
  std::vector<std::string> old_keys;
  std::string after_key;
  const std::string scope = who.user_scope();
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(auto page,
                             store.read_manifest(scope, "interaction", after_key, kManifestPage));
    bool more = false;
    for (const KeyVersion& entry : page) {
      if (entry.collection != "interaction") break;
      after_key = entry.key;
      more = true;
      OUTPOST_ASSIGN_OR_RETURN(auto stored, store.get(scope, "interaction", entry.key));
      if (!stored) continue;
      d::Interaction interaction;
      if (interaction.ParseFromString(stored->body) && interaction.day() < start) {
        old_keys.push_back(entry.key);
      }
    }
    if (!more || page.size() < kManifestPage) break;
  }
  if (!old_keys.empty()) {
    OUTPOST_RETURN_IF_ERROR(core_.write_as(who, now_ms, [&](MutationContext& ctx) -> Status {
      for (const std::string& key : old_keys) {
        OUTPOST_RETURN_IF_ERROR(ctx.remove<d::Interaction>(key));
      }
      return Status::Ok();
    }));
  }
  std::lock_guard lock(mutex_);
  journal_checked_day_[agent_key] = today;
  return static_cast<int>(old_keys.size());
}

}  // namespace outpost
