#include "apps/outpost-sim/workload.h"

#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;

// Every record of one collection on the device, typed.
template <typename T>
Result<std::vector<T>> all(Replica& replica, const std::string& collection) {
  OUTPOST_ASSIGN_OR_RETURN(auto rows, replica.query(Query{.collection = collection}));
  std::vector<T> out;
  for (const auto& row : rows) {
    T typed;
    if (!typed.ParseFromString(row->SerializeAsString())) {
      return error(ErrorCode::kCorrupt, collection + " row does not parse");
    }
    out.push_back(std::move(typed));
  }
  return out;
}

}  // namespace

std::string Workload::new_word(SimDevice& device) {
  return "d" + std::to_string(device.index()) + "n" + std::to_string(++device.next_word);
}

Result<uint64_t> Workload::mutate(SimDevice& device, const std::string& name,
                                  const google::protobuf::Message& args, int64_t now_ms,
                                  const std::string& summary) {
  auto id = device.replica().mutate(name, args, now_ms + device.clock_skew_ms);
  if (!id.ok()) {
    if (id.status().code() == ErrorCode::kIo || id.status().code() == ErrorCode::kCorrupt ||
        id.status().code() == ErrorCode::kInternal) {
      return id.status();
    }
    stats_.local_refusals++;
    trace_.add(device.name() + " " + name + " refused locally: " + id.status().to_string());
    return uint64_t{0};
  }
  stats_.mutations++;
  OUTPOST_ASSIGN_OR_RETURN(const uint64_t print, device.pending_print(*id));
  ledger_.add_mutation(MutationRecord{.device = device.index(),
                                      .client_id = device.client_id(),
                                      .id = *id,
                                      .name = name,
                                      .summary = summary,
                                      .print = print});
  trace_.add(device.name() + " m" + std::to_string(*id) + " " + name + " " + summary);
  return *id;
}

Status Workload::step(SimDevice& device, int64_t now_ms) {
  enum {
    kTypeDraft,
    kEraseWord,
    kDeleteDraft,
    kSendDraft,
    kTypeNote,
    kAgentState,
    kReadVoicemail,
    kDeleteVoicemail,
    kWrapUp,
    kFavourite,
    kQueue,
    kSearch,
  };
  size_t kind = random_.weighted({30, 6, 2, 2, 12, 10, 6, 3, 8, 6, 5, 5});
  // A Genesys tenant's users send more (decision 055: the at-most-once check needs sends);
  // the draw is made only for them, so the other runs replay as before.
  if (kind == kTypeDraft && device.who().tenant == genesys_tenant_ && random_.chance(0.3)) {
    kind = kSendDraft;
  }
  switch (kind) {
    case kTypeDraft:
      return type_draft(device, now_ms);
    case kEraseWord:
      return erase_word(device, now_ms);
    case kTypeNote:
      return type_note(device, now_ms);
    default:
      return simple(device, now_ms, kind);
  }
}

Status Workload::type_draft(SimDevice& device, int64_t now_ms) {
  const std::string id = random_.pick(world_.draft_ids);
  OUTPOST_ASSIGN_OR_RETURN(auto local, device.replica().get<d::Draft>(id));
  d::Draft draft;
  if (local) {
    draft = *local;
  } else {
    draft.set_id(id);
    auto conversation = world_.draft_interactions.find(device.who().user_scope() + "|" + id);
    draft.set_interaction_id(
        conversation == world_.draft_interactions.end() ? "conversation-1" : conversation->second);
    draft.set_kind(d::DRAFT_EMAIL_REPLY);
    draft.set_subject("Re: your order");
    draft.add_to("customer@example.invalid");
  }
  if (device.who().tenant == genesys_tenant_ && (!local || local->status() == d::DRAFT_REFUSED)) {
    OUTPOST_RETURN_IF_ERROR(aim_at_genesys(device, draft));
  }
  std::vector<std::string> words = split_words(draft.body());
  if (draft.conflicted()) {
    // The user resolves a conflict by keeping both versions.
    for (const std::string& word : split_words(draft.conflict_body())) words.push_back(word);
    draft.set_conflicted(false);
    draft.clear_conflict_body();
    draft.clear_conflict_subject();
  }
  std::string typed;
  std::vector<std::string> inserted;
  const int count = static_cast<int>(random_.between(1, 3));
  for (int i = 0; i < count; ++i) {
    inserted.push_back(new_word(device));
    typed += " " + inserted.back();
  }
  // Typing inserts the words at a random place of the text.
  words.insert(words.begin() + static_cast<long>(random_.below(words.size() + 1)), inserted.begin(),
               inserted.end());
  draft.set_body(join_words(words));
  draft.set_base_revision(draft.revision());
  m::SaveDraft args;
  *args.mutable_draft() = draft;
  OUTPOST_ASSIGN_OR_RETURN(uint64_t mutation,
                           mutate(device, "save_draft", args, now_ms, id + " +" + typed));
  if (mutation == 0) return Status::Ok();
  ledger_.count_typed(static_cast<uint64_t>(count));
  ledger_.add_device_edit(TextEdit{.record = text_record("draft", device.who().user_scope(), id),
                                   .client_id = device.client_id(),
                                   .mutation_id = mutation,
                                   .typed = inserted,
                                   .words = words});
  return Status::Ok();
}

Status Workload::erase_word(SimDevice& device, int64_t now_ms) {
  const std::string id = random_.pick(world_.draft_ids);
  OUTPOST_ASSIGN_OR_RETURN(auto local, device.replica().get<d::Draft>(id));
  if (!local) return type_draft(device, now_ms);
  std::vector<std::string> words = split_words(local->body());
  if (words.empty() || local->conflicted()) return type_draft(device, now_ms);
  size_t at = random_.below(words.size());
  const std::string erased = words[at];
  words.erase(words.begin() + static_cast<long>(at));
  d::Draft draft = *local;
  draft.set_body(join_words(words));
  draft.set_base_revision(draft.revision());
  m::SaveDraft args;
  *args.mutable_draft() = draft;
  ledger_.deliberately_deleted(erased);
  OUTPOST_ASSIGN_OR_RETURN(uint64_t mutation,
                           mutate(device, "save_draft", args, now_ms, id + " -" + erased));
  if (mutation == 0) return Status::Ok();
  ledger_.add_device_edit(TextEdit{.record = text_record("draft", device.who().user_scope(), id),
                                   .client_id = device.client_id(),
                                   .mutation_id = mutation,
                                   .words = words});
  return Status::Ok();
}

Status Workload::aim_at_genesys(SimDevice& device, d::Draft& draft) {
  OUTPOST_ASSIGN_OR_RETURN(auto interactions, all<d::Interaction>(device.replica(), "interaction"));
  std::vector<d::Interaction> open;
  for (const d::Interaction& it : interactions) {
    if (it.state() == d::INTERACTION_CONNECTED &&
        (it.media() == d::MEDIA_EMAIL || it.media() == d::MEDIA_SMS)) {
      open.push_back(it);
    }
  }
  draft.clear_to();
  draft.clear_queue_id();
  draft.clear_callback_number();
  const size_t pick = random_.below(open.size() + 1);
  if (pick == open.size()) {  // a callback as soon as possible; the body is its note
    draft.set_kind(d::DRAFT_CALLBACK_REQUEST);
    draft.clear_interaction_id();
    draft.set_queue_id("queue-1");
    draft.set_callback_number("+358 40 111 2223");
    draft.set_callback_at_ms(0);
    draft.set_subject("Ann");
  } else if (open[pick].media() == d::MEDIA_EMAIL) {
    draft.set_kind(d::DRAFT_EMAIL_REPLY);
    draft.set_interaction_id(open[pick].id());
    draft.set_subject("Re: Question");
    draft.add_to("ann@example.com");
  } else {
    draft.set_kind(d::DRAFT_SMS);
    draft.set_interaction_id(open[pick].id());
    draft.clear_subject();
  }
  return Status::Ok();
}

Status Workload::type_note(SimDevice& device, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(auto interactions, all<d::Interaction>(device.replica(), "interaction"));
  if (interactions.empty()) return type_draft(device, now_ms);
  const std::string id = random_.pick(interactions).id();
  OUTPOST_ASSIGN_OR_RETURN(auto local, device.replica().get<d::Note>(id));
  std::vector<std::string> words;
  uint64_t base = 0;
  if (local) {
    words = split_words(local->text());
    if (local->conflicted()) {
      for (const std::string& word : split_words(local->conflict_text())) words.push_back(word);
    }
    base = local->revision();
  }
  std::string typed;
  std::vector<std::string> inserted;
  const int count = static_cast<int>(random_.between(1, 3));
  for (int i = 0; i < count; ++i) {
    inserted.push_back(new_word(device));
    typed += " " + inserted.back();
  }
  words.insert(words.begin() + static_cast<long>(random_.below(words.size() + 1)), inserted.begin(),
               inserted.end());
  m::SaveNote args;
  args.set_interaction_id(id);
  args.set_text(join_words(words));
  args.set_base_revision(base);
  OUTPOST_ASSIGN_OR_RETURN(uint64_t mutation,
                           mutate(device, "save_note", args, now_ms, "note " + id + " +" + typed));
  if (mutation == 0) return Status::Ok();
  ledger_.count_typed(static_cast<uint64_t>(count));
  ledger_.add_device_edit(TextEdit{.record = text_record("note", device.who().user_scope(), id),
                                   .client_id = device.client_id(),
                                   .mutation_id = mutation,
                                   .typed = inserted,
                                   .words = words});
  return Status::Ok();
}

Status Workload::simple(SimDevice& device, int64_t now_ms, size_t kind) {
  Replica& replica = device.replica();
  switch (kind) {
    case 2: {  // delete a draft
      m::DeleteDraft args;
      args.set_id(random_.pick(world_.draft_ids));
      OUTPOST_ASSIGN_OR_RETURN(uint64_t mutation,
                               mutate(device, "delete_draft", args, now_ms, args.id()));
      if (mutation != 0) {
        ledger_.add_device_edit(
            TextEdit{.record = text_record("draft", device.who().user_scope(), args.id()),
                     .is_delete = true,
                     .client_id = device.client_id(),
                     .mutation_id = mutation});
      }
      return Status::Ok();
    }
    case 3: {  // send a draft
      m::SendDraft args;
      args.set_id(random_.pick(world_.draft_ids));
      return mutate(device, "send_draft", args, now_ms, args.id()).status();
    }
    case 5: {  // agent state
      m::SetAgentState args;
      OUTPOST_ASSIGN_OR_RETURN(auto reasons, all<d::AuxReason>(replica, "aux_reason"));
      if (reasons.empty() || random_.chance(0.4)) {
        args.set_presence(d::PRESENCE_READY);
      } else {
        args.set_presence(d::PRESENCE_NOT_READY);
        args.set_aux_reason_id(random_.pick(reasons).id());
      }
      return mutate(device, "set_agent_state", args, now_ms,
                    d::Presence_Name(args.presence()) + " " + args.aux_reason_id())
          .status();
    }
    case 6:
    case 7: {  // voicemail
      OUTPOST_ASSIGN_OR_RETURN(auto voicemails, all<d::Voicemail>(replica, "voicemail"));
      if (voicemails.empty()) return Status::Ok();
      const std::string id = random_.pick(voicemails).id();
      if (kind == 6) {
        m::MarkVoicemailRead args;
        args.set_id(id);
        return mutate(device, "mark_voicemail_read", args, now_ms, id).status();
      }
      m::DeleteVoicemail args;
      args.set_id(id);
      return mutate(device, "delete_voicemail", args, now_ms, id).status();
    }
    case 8: {  // wrap-up of one or several ended interactions
      OUTPOST_ASSIGN_OR_RETURN(auto interactions, all<d::Interaction>(replica, "interaction"));
      OUTPOST_ASSIGN_OR_RETURN(auto codes, all<d::WrapupCode>(replica, "wrapup_code"));
      m::WrapUp args;
      std::string summary;
      for (const auto& interaction : interactions) {
        if (interaction.state() == d::INTERACTION_DISCONNECTED && random_.chance(0.6)) {
          args.add_interaction_ids(interaction.id());
          summary += interaction.id() + " ";
        }
      }
      if (args.interaction_ids_size() == 0) return Status::Ok();
      if (codes.empty() || random_.chance(0.2)) {
        args.set_skip(true);
        summary += "skip";
      } else {
        args.set_code_id(random_.pick(codes).id());
        summary += args.code_id();
      }
      return mutate(device, "wrap_up", args, now_ms, summary).status();
    }
    case 9: {  // favourite contact
      OUTPOST_ASSIGN_OR_RETURN(auto contacts, all<d::Contact>(replica, "contact"));
      if (contacts.empty()) return Status::Ok();
      m::SetFavourite args;
      args.set_kind(d::FAVOURITE_CONTACT);
      args.set_target_id(random_.pick(contacts).id());
      args.set_favourite(random_.chance(0.7));
      return mutate(device, "set_favourite", args, now_ms,
                    args.target_id() + (args.favourite() ? " on" : " off"))
          .status();
    }
    case 10: {  // queue
      OUTPOST_ASSIGN_OR_RETURN(auto queues, all<d::Queue>(replica, "queue"));
      if (queues.empty()) return Status::Ok();
      m::SetQueueJoined args;
      args.set_queue_id(random_.pick(queues).id());
      args.set_joined(random_.chance(0.5));
      return mutate(device, "set_queue_joined", args, now_ms,
                    args.queue_id() + (args.joined() ? " join" : " leave"))
          .status();
    }
    default: {  // search history
      static const char* kPhrases[] = {"refund", "invoice", "delivery", "warranty", "address"};
      m::RememberSearch args;
      args.set_list(random_.chance(0.5) ? "contact" : "canned_response");
      args.set_phrase(kPhrases[random_.below(5)]);
      return mutate(device, "remember_search", args, now_ms, args.list() + " " + args.phrase())
          .status();
    }
  }
}

}  // namespace outpost::sim
