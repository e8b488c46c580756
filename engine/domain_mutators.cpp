#include "engine/domain_mutators.h"

#include <algorithm>
#include <stdexcept>

#include "engine/domain_merge.h"
#include "engine/domain_time.h"
#include "engine/limits.h"

#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;

constexpr size_t kSearchHistoryLength = 5;
constexpr int kMaxWrapUpInteractions = 100;  // one qualification on reaching the destination

Status rejected(std::string reason) {
  return error(ErrorCode::kRejected, std::move(reason));
}

std::string favourite_id(d::FavouriteKind kind, const std::string& target_id) {
  return std::to_string(static_cast<int>(kind)) + ":" + target_id;
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
  OUTPOST_ASSIGN_OR_RETURN(
      PlatformAnswer answer, ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
        return platform.set_presence(agent, args.presence(), args.aux_reason_id(), ctx.now_ms);
      }));
  if (!answer.accepted) {
    // The platform keeps its state: the device shows it and learns why.
    state.set_last_refusal(answer.reason);
    state.set_modified_ms(ctx.now_ms);
    return ctx.put(state);
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
  if (args.at_ms() != 0) {
    OUTPOST_ASSIGN_OR_RETURN(int32_t offset, org_utc_offset(ctx));
    if (local_day(args.at_ms(), offset) != local_day(ctx.created_ms, offset)) {
      return rejected("auto-ready cannot span over midnight");
    }
  }
  current->set_auto_ready_at_ms(args.at_ms());
  current->set_modified_ms(ctx.now_ms);
  return ctx.put(*current);
}

// The device fills in the base an edit starts from: the draft as the UI showed it.
Status prepare_save_draft(MutationContext& ctx, m::SaveDraft& args) {
  if (args.has_base() || args.draft().id().empty()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(args.draft().id()));
  if (current) *args.mutable_base() = *current;
  return Status::Ok();
}

Status save_draft(MutationContext& ctx, const m::SaveDraft& args) {
  if (args.draft().id().empty()) return error(ErrorCode::kInvalidArgument, "draft id is required");
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(args.draft().id()));
  std::optional<d::Draft> base;
  if (args.has_base()) base = args.base();
  OUTPOST_ASSIGN_OR_RETURN(d::Draft merged, merge_draft_edit(current, base, args.draft(),
                                                             args.resolve_conflict(), ctx.now_ms));
  OUTPOST_RETURN_IF_ERROR(ctx.put(merged));
  // The platform keeps its copy of the draft (its web interface shows it); it only queues.
  if (ctx.on_server && ctx.platform != nullptr) {
    ctx.platform->draft_saved(AgentRef{ctx.tenant, ctx.user}, merged, ctx.now_ms);
  }
  return Status::Ok();
}

Status prepare_delete_draft(MutationContext& ctx, m::DeleteDraft& args) {
  if (args.has_base()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(args.id()));
  if (current) *args.mutable_base() = *current;
  return Status::Ok();
}

Status delete_draft(MutationContext& ctx, const m::DeleteDraft& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Draft>(args.id()));
  if (!current) return Status::Ok();
  if (current->status() != d::DRAFT_SENT && !same_draft_text(args.base(), *current)) {
    return rejected("the draft was edited elsewhere after you deleted it; it is kept");
  }
  return ctx.remove<d::Draft>(args.id());
}

Status send_draft(MutationContext& ctx, const m::SendDraft& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto draft, ctx.get<d::Draft>(args.id()));
  if (!draft) return rejected("no draft '" + args.id() + "'");
  if (draft->conflicted()) return rejected("resolve the conflicting edits before sending");
  if (draft->status() == d::DRAFT_SENT) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(PlatformAnswer answer,
                           ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
                             return platform.send(agent, *draft, ctx.now_ms);
                           }));
  if (!answer.accepted) {
    // A refused send becomes an editable draft again, with the platform's reason.
    draft->set_status(d::DRAFT_REFUSED);
    draft->set_refusal(answer.reason);
  } else {
    draft->set_status(ctx.on_server ? d::DRAFT_SENT : d::DRAFT_SENDING);
    draft->set_refusal("");
  }
  draft->set_updated_ms(ctx.now_ms);
  return ctx.put(*draft);
}

Status prepare_save_note(MutationContext& ctx, m::SaveNote& args) {
  if (args.has_base() || args.interaction_id().empty()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Note>(args.interaction_id()));
  if (current) {
    *args.mutable_base() = *current;
    args.set_base_revision(current->revision());
  }
  return Status::Ok();
}

Status save_note(MutationContext& ctx, const m::SaveNote& args) {
  if (args.interaction_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "interaction_id is required");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Note>(args.interaction_id()));
  std::optional<d::Note> base;
  if (args.has_base()) base = args.base();
  OUTPOST_ASSIGN_OR_RETURN(d::Note note,
                           merge_note_edit(current, base, args.interaction_id(), args.text(),
                                           args.resolve_conflict(), ctx.now_ms));
  return ctx.put(note);
}

Status mark_voicemail_read(MutationContext& ctx, const m::MarkVoicemailRead& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto voicemail, ctx.get<d::Voicemail>(args.id()));
  if (!voicemail) return Status::Ok();  // deleted meanwhile: delete wins
  if (voicemail->read()) return Status::Ok();
  // The platform's copy follows (its web interface, its unread count); a refusal keeps
  // the voicemail unread and tells the device why.
  OUTPOST_ASSIGN_OR_RETURN(PlatformAnswer answer,
                           ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
                             return platform.mark_voicemail_read(agent, args.id(), ctx.now_ms);
                           }));
  if (!answer.accepted) return rejected(answer.reason);
  voicemail->set_read(true);
  return ctx.put(*voicemail);
}

Status delete_voicemail(MutationContext& ctx, const m::DeleteVoicemail& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto voicemail, ctx.get<d::Voicemail>(args.id()));
  if (!voicemail) return Status::Ok();
  // Deleted on the platform too, or the next reconcile would bring it back.
  OUTPOST_ASSIGN_OR_RETURN(PlatformAnswer answer,
                           ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
                             return platform.delete_voicemail(agent, args.id(), ctx.now_ms);
                           }));
  if (!answer.accepted) return rejected(answer.reason);
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
  if (args.interaction_ids_size() > kMaxWrapUpInteractions) {
    return error(ErrorCode::kTooLarge,
                 "at most " + std::to_string(kMaxWrapUpInteractions) + " interactions per wrap-up");
  }
  for (const std::string& id : args.interaction_ids()) {
    OUTPOST_ASSIGN_OR_RETURN(auto interaction, ctx.get<d::Interaction>(id));
    if (!interaction) return rejected("no interaction '" + id + "'");
    // Wrapped up on the platform already (another device, the web): a refusal leaves the
    // platform's wrap-up on the record, with the refusal's reason.
    const d::Interaction before = *interaction;
    const bool platform_wrapped = before.state() == d::INTERACTION_QUALIFIED &&
                                  !before.wrapup_code_id().empty() && !before.wrapup_skipped();
    if (platform_wrapped && args.skip()) continue;  // nothing to skip: it is wrapped up
    // The choice is kept either way: a refused wrap-up stays pending with the platform's
    // message and the user's code and notes, ready to be retried.
    interaction->set_wrapup_code_id(args.skip() ? "" : args.code_id());
    interaction->set_wrapup_code_name(code_name);
    interaction->set_wrapup_notes(args.notes());
    interaction->set_wrapup_skipped(args.skip());
    OUTPOST_ASSIGN_OR_RETURN(PlatformAnswer answer, ctx.ask_platform([&](Platform& platform,
                                                                         const AgentRef& agent) {
      return platform.wrap_up(agent, *interaction, args.skip() ? "" : args.code_id(), ctx.now_ms);
    }));
    if (answer.accepted) {
      interaction->set_wrapup_refusal("");
      interaction->set_state(d::INTERACTION_QUALIFIED);
    } else if (platform_wrapped) {
      *interaction = before;
      interaction->set_wrapup_refusal(answer.reason);
    } else {
      // Refused, and nothing wrapped up on the platform: a local skip (which the platform
      // never heard of) was replaced by this choice, so the interaction is pending again,
      // with the refused code and notes kept for a retry (decision 050).
      if (before.state() == d::INTERACTION_QUALIFIED && before.wrapup_skipped()) {
        interaction->set_state(d::INTERACTION_DISCONNECTED);
      }
      interaction->set_wrapup_refusal(answer.reason);
    }
    OUTPOST_RETURN_IF_ERROR(ctx.put(*interaction));
  }
  return Status::Ok();
}

Status set_queue_joined(MutationContext& ctx, const m::SetQueueJoined& args) {
  OUTPOST_ASSIGN_OR_RETURN(auto queue, ctx.get<d::Queue>(args.queue_id()));
  if (!queue) return rejected("not a member of queue '" + args.queue_id() + "'");
  if (queue->joined() == args.joined()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(
      PlatformAnswer answer, ctx.ask_platform([&](Platform& platform, const AgentRef& agent) {
        return platform.set_queue_joined(agent, args.queue_id(), args.joined(), ctx.now_ms);
      }));
  if (!answer.accepted) return rejected(answer.reason);
  queue->set_joined(args.joined());
  return ctx.put(*queue);
}

Status set_favourite(MutationContext& ctx, const m::SetFavourite& args) {
  if (args.kind() == d::FAVOURITE_UNSPECIFIED || args.target_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "kind and target_id are required");
  }
  std::string id = favourite_id(args.kind(), args.target_id());
  if (!args.favourite()) {
    // Add-wins: remove only the add this device saw; a concurrent add survives.
    OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Favourite>(id));
    if (!current || current->added_token() != args.seen_token()) return Status::Ok();
    return ctx.remove<d::Favourite>(id);
  }
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::Favourite>(id));
  if (current) return Status::Ok();  // already a favourite: keep the first add
  d::Favourite favourite;
  favourite.set_id(id);
  favourite.set_kind(args.kind());
  favourite.set_target_id(args.target_id());
  favourite.set_added_ms(ctx.created_ms);
  favourite.set_added_token(ctx.client_id + ":" + std::to_string(ctx.mutation_id));
  return ctx.put(favourite);
}

Status prepare_set_favourite(MutationContext& ctx, m::SetFavourite& args) {
  if (args.favourite() || !args.seen_token().empty()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto current,
                           ctx.get<d::Favourite>(favourite_id(args.kind(), args.target_id())));
  if (current) args.set_seen_token(current->added_token());
  return Status::Ok();
}

Status remember_queue(MutationContext& ctx, const m::RememberQueue& args) {
  if (args.media() == d::MEDIA_UNSPECIFIED || args.queue_id().empty()) {
    return error(ErrorCode::kInvalidArgument, "media and queue_id are required");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto queue, ctx.get<d::Queue>(args.queue_id()));
  if (!queue) return rejected("not a member of queue '" + args.queue_id() + "'");
  d::UserSetting setting;
  setting.set_name(last_queue_setting(args.media()));
  setting.set_value(args.queue_id());
  setting.set_updated_ms(ctx.now_ms);
  return ctx.put(setting);
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

bool is_device_name(const std::string& name) {
  if (name.empty() || name.size() > limits::kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_token_text(const std::string& token) {
  if (token.empty() || token.size() > limits::kMaxPushTokenLength) return false;
  for (char c : token) {
    if (c <= ' ' || c > '~') return false;  // printable ASCII, no spaces: it goes in a URL
  }
  return true;
}

// Replaces the device's push target (login). Checked the same on both sides.
Status register_push_target(MutationContext& ctx, const m::RegisterPushTarget& args) {
  const d::PushTarget& in = args.target();
  if (!is_device_name(in.device_id())) {
    return error(ErrorCode::kInvalidArgument,
                 "push target needs a device id ([A-Za-z0-9._-]{1,64})");
  }
  if (in.platform() != d::PUSH_APNS && in.platform() != d::PUSH_FCM) {
    return error(ErrorCode::kInvalidArgument, "push target platform must be APNs or FCM");
  }
  if (!is_token_text(in.token())) {
    return error(ErrorCode::kInvalidArgument, "push token must be 1 to " +
                                                  std::to_string(limits::kMaxPushTokenLength) +
                                                  " printable characters");
  }
  if (in.app_id().empty() || in.app_id().size() > limits::kMaxPushAppIdLength) {
    return error(ErrorCode::kInvalidArgument, "push target needs an app id (APNs topic)");
  }
  d::PushTarget target = in;
  target.set_registered_ms(ctx.created_ms);
  return ctx.put(target);
}

}  // namespace

Status remove_push_target(MutationContext& ctx, const m::RemovePushTarget& args) {
  if (!is_device_name(args.device_id())) {
    return error(ErrorCode::kInvalidArgument, "push target removal needs a device id");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto current, ctx.get<d::PushTarget>(args.device_id()));
  if (!current) return Status::Ok();
  if (!args.token().empty() && current->token() != args.token()) return Status::Ok();
  return ctx.remove<d::PushTarget>(args.device_id());
}

Status register_domain_mutators(MutatorRegistry& registry) {
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetAgentState>("set_agent_state", set_agent_state));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetAutoReady>("set_auto_ready", set_auto_ready));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::SaveDraft>("save_draft", save_draft, nullptr, prepare_save_draft));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::DeleteDraft>("delete_draft", delete_draft, nullptr, prepare_delete_draft));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SendDraft>("send_draft", send_draft));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::SaveNote>("save_note", save_note, nullptr, prepare_save_note));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::MarkVoicemailRead>("mark_voicemail_read", mark_voicemail_read));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::DeleteVoicemail>("delete_voicemail", delete_voicemail));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::WrapUp>("wrap_up", wrap_up));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetQueueJoined>("set_queue_joined", set_queue_joined));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetFavourite>("set_favourite", set_favourite, nullptr,
                                                        prepare_set_favourite));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::RememberQueue>("remember_queue", remember_queue));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::SetUserSetting>("set_user_setting", set_user_setting));
  OUTPOST_RETURN_IF_ERROR(registry.add<m::RememberSearch>("remember_search", remember_search));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::RegisterPushTarget>("register_push_target", register_push_target));
  OUTPOST_RETURN_IF_ERROR(
      registry.add<m::RemovePushTarget>("remove_push_target", remove_push_target));
  return Status::Ok();
}

std::string last_queue_setting(domain::MediaType media) {
  std::string name = domain::MediaType_Name(media);  // MEDIA_EMAIL
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "last_queue." + name.substr(name.find('_') + 1);
}

Result<const MutatorRegistry*> load_domain_mutators() {
  struct Built {
    MutatorRegistry registry;
    Status status;
  };
  static const Built* built = [] {
    auto* made = new Built();
    made->status = register_domain_mutators(made->registry);
    return made;
  }();
  if (!built->status.ok()) return built->status.with_context("the built-in domain mutators");
  return &built->registry;
}

Status check_built_in_domain() {
  OUTPOST_RETURN_IF_ERROR(Schema::load_domain().status());
  return load_domain_mutators().status();
}

const MutatorRegistry& domain_mutators() {
  Result<const MutatorRegistry*> loaded = load_domain_mutators();
  // The mutators are compiled in: failing here is a defect of the build.
  if (!loaded.ok()) throw std::logic_error(loaded.status().to_string());
  return **loaded;
}

}  // namespace outpost
