#include "apps/outpost-sim/platform.h"

#include <map>
#include <vector>

#include "outpost/domain.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;

// Reads, changes and writes back one record in one transaction.
template <typename T>
Status edit_record(ServerCore& core, const std::string& scope, const std::string& key,
                   const std::function<bool(std::optional<T>&)>& change) {
  const Collection* collection = core.schema().find(T::descriptor());
  if (collection == nullptr) return error(ErrorCode::kNotFound, "not a collection");
  return core.write([&](ServerWriteTx& tx) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto stored, tx.get(scope, collection->name, key));
    std::optional<T> record;
    if (stored) {
      record.emplace();
      if (!record->ParseFromString(stored->body)) {
        return error(ErrorCode::kCorrupt, "stored " + collection->name + " does not parse");
      }
    }
    if (!change(record)) return Status::Ok();  // nothing to do
    if (!record) {
      auto removed = tx.remove(scope, collection->name, key, collection->priority);
      return removed.ok() ? Status::Ok() : removed.status();
    }
    auto version =
        tx.put(scope, collection->name, key, collection->priority, record->SerializeAsString());
    return version.ok() ? Status::Ok() : version.status();
  });
}

class ServerWritePlatform final : public PlatformEvents {
 public:
  ServerWritePlatform(const World& world, Ledger& ledger, Trace& trace, SimRandom& random)
      : world_(world), ledger_(ledger), trace_(trace), random_(random) {
    for (const SimUser& user : world.users) {
      auto& state = users_[user.user_scope()];
      // What adapters/demo_data.h seeded (interactions=6, voicemails=3).
      for (int i = 1; i <= 6; ++i)
        state.interactions.push_back("conversation-" + std::to_string(i));
      for (int i = 1; i <= 3; ++i) state.voicemails.push_back("voicemail-" + std::to_string(i));
    }
  }

  Status step(ServerCore& core, const SimUser& user, int64_t now_ms) override {
    enum { kDraft, kNote, kRoute, kEnd, kVoicemail, kPresence, kContact, kCount };
    size_t kind = random_.weighted({30, 15, 12, 12, 8, 10, 5});
    switch (kind) {
      case kDraft:
        return type_draft(core, user, now_ms);
      case kNote:
        return type_note(core, user, now_ms);
      case kRoute:
        return route(core, user, now_ms);
      case kEnd:
        return end(core, user, now_ms);
      case kVoicemail:
        return leave_voicemail(core, user, now_ms);
      case kPresence:
        return presence(core, user, now_ms);
      default:
        return edit_contact(core, user, now_ms);
    }
  }

  Status delete_something(ServerCore& core, const SimUser& user, int64_t now_ms) override {
    auto& state = users_[user.user_scope()];
    if (state.voicemails.empty()) return leave_voicemail(core, user, now_ms);
    size_t at = random_.below(state.voicemails.size());
    std::string id = state.voicemails[at];
    state.voicemails.erase(state.voicemails.begin() + static_cast<long>(at));
    trace_.add("platform: " + id + " of " + user.user + " deleted on the web");
    return edit_record<d::Voicemail>(core, user.user_scope(), id, [](auto& record) {
      if (!record) return false;
      record.reset();
      return true;
    });
  }

 private:
  struct UserState {
    std::vector<std::string> interactions;
    std::vector<std::string> connected;  // routed by the platform, not yet ended
    std::vector<std::string> voicemails;
  };

  std::string word() { return "web" + std::to_string(++words_); }

  Status type_draft(ServerCore& core, const SimUser& user, int64_t now_ms) {
    const std::string id = random_.pick(world_.draft_ids);
    const std::string typed = word();
    std::vector<std::string> words;
    Status status = edit_record<d::Draft>(core, user.user_scope(), id, [&](auto& draft) {
      if (!draft || draft->status() == d::DRAFT_SENT) return false;
      words = split_words(draft->body());
      words.push_back(typed);
      draft->set_body(join_words(words));
      draft->set_updated_ms(now_ms);
      return true;
    });
    if (!status.ok() || words.empty()) return status;
    trace_.add("platform: web types " + typed + " into " + id + " of " + user.user);
    ledger_.count_typed(1);
    ledger_.add_platform_edit(TextEdit{
        .record = text_record("draft", user.user_scope(), id), .typed = {typed}, .words = words});
    return Status::Ok();
  }

  Status type_note(ServerCore& core, const SimUser& user, int64_t now_ms) {
    const std::string id = random_.pick(users_[user.user_scope()].interactions);
    const std::string typed = word();
    std::vector<std::string> words;
    Status status = edit_record<d::Note>(core, user.user_scope(), id, [&](auto& note) {
      if (!note) {
        note.emplace();
        note->set_interaction_id(id);
      }
      words = split_words(note->text());
      words.push_back(typed);
      note->set_text(join_words(words));
      note->set_updated_ms(now_ms);
      return true;
    });
    if (!status.ok()) return status;
    trace_.add("platform: web types " + typed + " into the note of " + id + " of " + user.user);
    ledger_.count_typed(1);
    ledger_.add_platform_edit(TextEdit{
        .record = text_record("note", user.user_scope(), id), .typed = {typed}, .words = words});
    return Status::Ok();
  }

  Status route(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& state = users_[user.user_scope()];
    std::string id = "conv-p" + std::to_string(++routed_);
    state.interactions.push_back(id);
    state.connected.push_back(id);
    trace_.add("platform: routes " + id + " to " + user.user);
    return edit_record<d::Interaction>(core, user.user_scope(), id, [&](auto& interaction) {
      interaction.emplace();
      interaction->set_id(id);
      interaction->set_media(d::MEDIA_VOICE);
      interaction->set_direction(d::DIRECTION_INBOUND);
      interaction->set_state(d::INTERACTION_CONNECTED);
      interaction->set_started_ms(now_ms);
      interaction->set_agent_user_id(user.user);
      interaction->set_day("2026-12-01");
      return true;
    });
  }

  Status end(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& state = users_[user.user_scope()];
    if (state.connected.empty()) return route(core, user, now_ms);
    std::string id = state.connected.front();
    state.connected.erase(state.connected.begin());
    trace_.add("platform: " + id + " of " + user.user + " ends");
    return edit_record<d::Interaction>(core, user.user_scope(), id, [&](auto& interaction) {
      if (!interaction) return false;
      interaction->set_state(d::INTERACTION_DISCONNECTED);
      interaction->set_ended_ms(now_ms);
      interaction->set_wrapup_required(true);
      return true;
    });
  }

  Status leave_voicemail(ServerCore& core, const SimUser& user, int64_t now_ms) {
    std::string id = "vm-p" + std::to_string(++voicemails_);
    users_[user.user_scope()].voicemails.push_back(id);
    trace_.add("platform: voicemail " + id + " for " + user.user);
    return edit_record<d::Voicemail>(core, user.user_scope(), id, [&](auto& voicemail) {
      voicemail.emplace();
      voicemail->set_id(id);
      voicemail->set_caller_name("Caller " + id);
      voicemail->set_received_ms(now_ms);
      voicemail->set_duration_s(static_cast<int32_t>(5 + random_.below(60)));
      return true;
    });
  }

  Status presence(ServerCore& core, const SimUser& user, int64_t now_ms) {
    static const char* kRouting[] = {"IDLE", "INTERACTING", "OFF_QUEUE", "NOT_RESPONDING"};
    std::string routing = kRouting[random_.below(4)];
    const bool logged_off = random_.chance(0.2);
    trace_.add("platform: presence of " + user.user + " -> " + (logged_off ? "OFFLINE " : "") +
               routing);
    return edit_record<d::AgentState>(core, user.user_scope(), user.user, [&](auto& state) {
      if (!state) {
        state.emplace();
        state->set_user_id(user.user);
        state->set_presence(d::PRESENCE_READY);
      }
      if (logged_off) state->set_presence(d::PRESENCE_OFFLINE);
      state->set_routing_status(routing);
      state->set_since_ms(now_ms);
      state->set_modified_ms(now_ms);
      return true;
    });
  }

  Status edit_contact(ServerCore& core, const SimUser& user, int64_t now_ms) {
    std::string id = "contact-" + std::to_string(random_.below(6));
    trace_.add("platform: " + id + " of " + user.tenant + " edited");
    return edit_record<d::Contact>(core, user.org_scope(), id, [&](auto& contact) {
      if (!contact) return false;
      contact->set_title("edited " + std::to_string(now_ms));
      contact->set_modified_ms(now_ms);
      return true;
    });
  }

  const World& world_;
  Ledger& ledger_;
  Trace& trace_;
  SimRandom& random_;
  std::map<std::string, UserState> users_;
  uint64_t words_ = 0;
  uint64_t routed_ = 0;
  uint64_t voicemails_ = 0;
};

}  // namespace

std::unique_ptr<PlatformEvents> make_server_write_platform(const World& world, Ledger& ledger,
                                                           Trace& trace, SimRandom& random) {
  return std::make_unique<ServerWritePlatform>(world, ledger, trace, random);
}

}  // namespace outpost::sim
