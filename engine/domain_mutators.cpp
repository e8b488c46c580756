#include "engine/domain_mutators.h"

#include <algorithm>
#include <cstdio>

#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;

constexpr size_t kSearchHistoryLength = 5;
constexpr size_t kMaxTextBytes = 1 << 20;  // a draft body or note of 1 MiB is already absurd

Status rejected(std::string reason) {
  return error(ErrorCode::kRejected, std::move(reason));
}

Status set_agent_state(MutationContext& ctx, const m::SetAgentState& args) {
  if (args.presence() == d::PRESENCE_UNSPECIFIED) {
    return error(ErrorCode::kInvalidArgument, "presence is required");
  }
  if (args.presence() == d::PRESENCE_NOT_READY && args.aux_reason_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "not ready needs an AUX reason");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::AgentState>(ctx.user));
  d::AgentState state = current.value_or(d::AgentState());
  state.set_user_id(ctx.user);
  std::string aux_name;
  if (args.presence() == d::PRESENCE_NOT_READY) {
    OUTPOST_ASSIGN_OR_RETURN(auto reason, ctx.get<d::AuxReason>(args.aux_reason_id()));
    if (!reason || reason->deactivated()) {
      return rejected("unknown or deactivated AUX reason '" + args.aux_reason_id() + "'");
    }
    aux_name = reason->name();
  }
  bool changed =
      state.presence() != args.presence() ||
      state.aux_reason_id() !=
          (args.presence() == d::PRESENCE_NOT_READY ? args.aux_reason_id() : std::string());
  state.set_presence(args.presence());
  state.set_aux_reason_id(args.presence() == d::PRESENCE_NOT_READY ? args.aux_reason_id() : "");
  state.set_aux_reason_name(aux_name);
  state.set_chosen_presence(state.presence());
  state.set_chosen_aux_reason_id(state.aux_reason_id());
  state.set_auto_ready_at_ms(0);  // any manual state change cancels the auto-ready
  state.set_last_refusal("");
  // The counter restarts only when the state really changes; the server's clock decides.
  if (changed) state.set_since_ms(ctx.now_ms);
  state.set_modified_ms(ctx.now_ms);
  return ctx.put(state);
}

Status set_auto_ready(MutationContext& ctx, const m::SetAutoReady& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::AgentState>(ctx.user));
  if (!current) return rejected("no agent state yet");
  if (args.at_ms() != 0 && args.at_ms() <= ctx.created_ms) {
    return rejected("auto-ready time must be in the future");
  }
  current->set_auto_ready_at_ms(args.at_ms());
  current->set_modified_ms(ctx.now_ms);
  return ctx.put(*current);
}

Status save_draft(MutationContext& ctx, const m::SaveDraft& args) {
  const d::Draft& incoming = args.draft();
  if (incoming.id().empty()) return error(ErrorCode::kInvalidArgument, "draft id is required");
  if (incoming.body().size() > kMaxTextBytes || incoming.subject().size() > kMaxTextBytes) {
    return error(ErrorCode::kTooLarge, "draft text over 1 MiB");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(incoming.id()));
  if (current && current->status() == d::DRAFT_SENT) return rejected("draft was already sent");
  d::Draft draft = incoming;
  draft.set_revision(current ? current->revision() : 0);
  draft.set_status(d::DRAFT_EDITING);
  draft.set_refusal("");
  draft.set_updated_ms(ctx.now_ms);
  if (current && current->conflicted() && !incoming.conflicted()) {
    draft.clear_conflict_body();  // the user resolved the conflict by saving
    draft.clear_conflict_subject();
  }
  return ctx.put(draft);
}

Status delete_draft(MutationContext& ctx, const m::DeleteDraft& args) {
  return ctx.remove<d::Draft>(args.id());
}

Status send_draft(MutationContext& ctx, const m::SendDraft& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto draft, ctx.get<d::Draft>(args.id()));
  if (!draft) return rejected("no draft '" + args.id() + "'");
  if (draft->conflicted()) return rejected("resolve the conflicting edits before sending");
  if (draft->status() == d::DRAFT_SENT) return Status::Ok();
  draft->set_status(ctx.on_server ? d::DRAFT_SENT : d::DRAFT_SENDING);
  draft->set_updated_ms(ctx.now_ms);
  return ctx.put(*draft);
}

Status save_note(MutationContext& ctx, const m::SaveNote& args) {
  if (args.interaction_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "interaction_id is required");
  }
  if (args.text().size() > kMaxTextBytes) return error(ErrorCode::kTooLarge, "note over 1 MiB");
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Note>(args.interaction_id()));
  d::Note note = current.value_or(d::Note());
  note.set_interaction_id(args.interaction_id());
  note.set_text(args.text());
  note.set_base_revision(args.base_revision());
  note.set_updated_ms(ctx.now_ms);
  return ctx.put(note);
}

Status mark_voicemail_read(MutationContext& ctx, const m::MarkVoicemailRead& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto voicemail, ctx.get<d::Voicemail>(args.id()));
  if (!voicemail) return Status::Ok();  // deleted meanwhile: delete wins
  if (voicemail->read()) return Status::Ok();
  voicemail->set_read(true);
  return ctx.put(*voicemail);
}

Status delete_voicemail(MutationContext& ctx, const m::DeleteVoicemail& args) {
  return ctx.remove<d::Voicemail>(args.id());
}

Status wrap_up(MutationContext& ctx, const m::WrapUp& args) {
  if (args.interaction_ids().empty()) {
    return error(ErrorCode::kInvalidArgument, "at least one interaction is required");
  }
  if (!args.skip() && args.code_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "a wrap-up code is required unless skipping");
  }
  std::string code_name;
  if (!args.skip()) {
    OUTPOST_ASSIGN_OR_RETURN(auto code, ctx.get<d::WrapupCode>(args.code_id()));
    if (!code) return rejected("unknown wrap-up code '" + args.code_id() + "'");
    code_name = code->name();
  }
  for (const std::string& id : args.interaction_ids()) {
    OUTPOST_ASSIGN_OR_RETURN(auto interaction, ctx.get<d::Interaction>(id));
    if (!interaction) return rejected("no interaction '" + id + "'");
    interaction->set_wrapup_code_id(args.skip() ? "" : args.code_id());
    interaction->set_wrapup_code_name(code_name);
    interaction->set_wrapup_notes(args.notes());
    interaction->set_wrapup_skipped(args.skip());
    interaction->set_wrapup_refusal("");
    interaction->set_state(d::INTERACTION_QUALIFIED);
    OUTPOST_RETURN_IF_ERROR(ctx.put(*interaction));
  }
  return Status::Ok();
}

Status set_queue_joined(MutationContext& ctx, const m::SetQueueJoined& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto queue, ctx.get<d::Queue>(args.queue_id()));
  if (!queue) return rejected("not a member of queue '" + args.queue_id() + "'");
  queue->set_joined(args.joined());
  return ctx.put(*queue);
}

Status set_favourite(MutationContext& ctx, const m::SetFavourite& args) {
  if (args.kind() == d::FAVOURITE_UNSPECIFIED || args.target_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "kind and target_id are required");
  }
  std::string id = std::to_string(static_cast<int>(args.kind())) + ":" + args.target_id();
  if (!args.favourite()) return ctx.remove<d::Favourite>(id);
  d::Favourite favourite;
  favourite.set_id(id);
  favourite.set_kind(args.kind());
  favourite.set_target_id(args.target_id());
  favourite.set_added_ms(ctx.now_ms);
  return ctx.put(favourite);
}

Status set_user_setting(MutationContext& ctx, const m::SetUserSetting& args) {
  if (args.name().empty()) return error(ErrorCode::kInvalidArgument, "setting name is required");
  d::UserSetting setting;
  setting.set_name(args.name());
  setting.set_value(args.value());
  setting.set_updated_ms(ctx.now_ms);
  return ctx.put(setting);
}

Status remember_search(MutationContext& ctx, const m::RememberSearch& args) {
  if (args.list().empty() || args.phrase().size() < 3) {
    return error(ErrorCode::kInvalidArgument, "a list name and a phrase of 3+ characters");
  }
  std::string name = "search_history." + args.list();
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::UserSetting>(name));
  d::UserSetting setting = current.value_or(d::UserSetting());
  setting.set_name(name);
  std::vector<std::string> phrases{args.phrase()};
  for (const std::string& phrase : setting.values()) {
    if (phrase != args.phrase() && phrases.size() < kSearchHistoryLength) phrases.push_back(phrase);
  }
  setting.clear_values();
  for (const std::string& phrase : phrases) setting.add_values(phrase);
  setting.set_updated_ms(ctx.now_ms);
  return ctx.put(setting);
}

}  // namespace

Status register_domain_mutators(MutatorRegistry& registry) {
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetAgentState>("set_agent_state", set_agent_state));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetAutoReady>("set_auto_ready", set_auto_ready));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SaveDraft>("save_draft", save_draft));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::DeleteDraft>("delete_draft", delete_draft));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SendDraft>("send_draft", send_draft));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SaveNote>("save_note", save_note));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::MarkVoicemailRead>("mark_voicemail_read", mark_voicemail_read));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::DeleteVoicemail>("delete_voicemail", delete_voicemail));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::WrapUp>("wrap_up", wrap_up));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetQueueJoined>("set_queue_joined", set_queue_joined));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetFavourite>("set_favourite", set_favourite));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetUserSetting>("set_user_setting", set_user_setting));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::RememberSearch>("remember_search", remember_search));
  return Status::Ok();
}

const MutatorRegistry& domain_mutators() {
  static const MutatorRegistry* registry = [] {
    auto* built = new MutatorRegistry();
    Status status = register_domain_mutators(*built);
    if (!status.ok()) {
      fprintf(stderr, "outpost: domain mutators: %s\n", status.to_string().c_str());
      abort();
    }
    return built;
  }();
  return *registry;
}

}  // namespace outpost
