#include "apps/outpost-sim/platform.h"

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "adapters/sim_platform.h"
#include "engine/domain_server.h"
#include "outpost/domain.pb.h"
#include "outpost/upstream.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;
namespace u = outpost::upstream;

constexpr int kEventAttempts = 20;

// The record as the web interface loads it from the server.
template <typename T>
Result<std::optional<T>> load(ServerCore& core, const std::string& scope, const std::string& key) {
  const Collection* collection = core.schema().find(T::descriptor());
  if (collection == nullptr) return error(ErrorCode::kNotFound, "not a collection");
  OUTPOST_ASSIGN_OR_RETURN(auto stored, core.store().get(scope, collection->name, key));
  if (!stored) return std::optional<T>();
  T record;
  if (!record.ParseFromString(stored->body)) {
    return error(ErrorCode::kCorrupt, "stored " + collection->name + " does not parse");
  }
  return std::optional<T>(std::move(record));
}

std::vector<std::string> insert_word(std::vector<std::string> words, const std::string& word,
                                     SimRandom& random) {
  words.insert(words.begin() + static_cast<long>(random.below(words.size() + 1)), word);
  return words;
}

class UpstreamPlatform final : public PlatformEvents {
 public:
  UpstreamPlatform(const World& world, Ledger& ledger, Trace& trace, SimRandom& random)
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
    enum { kDraft, kNote, kRoute, kEnd, kVoicemail, kPresence, kContact };
    switch (random_.weighted({30, 15, 12, 12, 8, 10, 5})) {
      case kDraft:
        return web_draft(core, user, now_ms);
      case kNote:
        return web_note(core, user, now_ms);
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
    // No upstream event deletes a voicemail; the server's store is written directly.
    return core.write([&](ServerWriteTx& tx) -> Status {
      auto removed = tx.remove(user.user_scope(), "voicemail", id,
                               core.schema().find(d::Voicemail::descriptor())->priority);
      return removed.ok() ? Status::Ok() : removed.status();
    });
  }

 private:
  // A web editor open on one draft or notepad: what it loaded, and the word being typed.
  struct WebSession {
    std::optional<d::Draft> draft;
    std::optional<d::Note> note;
    std::string word;
  };
  struct UserState {
    std::vector<std::string> interactions;
    std::vector<std::string> connected;  // routed by the platform, not yet ended
    std::vector<std::string> voicemails;
    std::map<std::string, WebSession> drafts;  // open web editors by draft id
    std::map<std::string, WebSession> notes;   // by interaction id
  };

  // The server's upstream loop retries an event the platform could not serve (an
  // authoritative rule asking it, e.g. restoring the chosen state, got kUnavailable).
  Status apply(ServerCore& core, const u::Event& event, int64_t now_ms) {
    DomainServer server(core);
    Status status;
    for (int attempt = 0; attempt < kEventAttempts; ++attempt) {
      status = server.apply(event, now_ms);
      if (status.code() != ErrorCode::kUnavailable) return status;
    }
    return status;
  }
  u::Event event_for(const SimUser& user) const {
    u::Event event;
    event.set_tenant(user.tenant);
    event.set_user(user.user);
    return event;
  }

  Status web_draft(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& sessions = users_[user.user_scope()].drafts;
    const std::string id = random_.pick(world_.draft_ids);
    auto open = sessions.find(id);
    if (open == sessions.end()) {
      // The web agent opens the draft (if it exists) and starts typing.
      OUTPOST_ASSIGN_OR_RETURN(auto loaded, load<d::Draft>(core, user.user_scope(), id));
      if (!loaded || loaded->status() == d::DRAFT_SENT) return Status::Ok();
      sessions[id] = WebSession{.draft = loaded, .word = "web" + std::to_string(++words_)};
      trace_.add("platform: web opens " + id + " of " + user.user);
      return Status::Ok();
    }
    WebSession session = std::move(open->second);
    sessions.erase(open);
    OUTPOST_ASSIGN_OR_RETURN(auto current, load<d::Draft>(core, user.user_scope(), id));
    d::Draft edited = *session.draft;
    std::vector<std::string> words = insert_word(split_words(edited.body()), session.word, random_);
    edited.set_body(join_words(words));
    u::Event event = event_for(user);
    *event.mutable_draft_edited()->mutable_base() = *session.draft;
    *event.mutable_draft_edited()->mutable_edited() = edited;
    OUTPOST_RETURN_IF_ERROR(apply(core, event, now_ms));
    if (current && current->status() == d::DRAFT_SENT) {
      // Sent from the app meanwhile: the web's late save is moot (the user sees it sent).
      trace_.add("platform: web save of " + id + " of " + user.user + " moot: already sent");
      return Status::Ok();
    }
    trace_.add("platform: web types " + session.word + " into " + id + " of " + user.user);
    ledger_.count_typed(1);
    ledger_.add_platform_edit(TextEdit{.record = text_record("draft", user.user_scope(), id),
                                       .typed = {session.word},
                                       .words = words});
    return Status::Ok();
  }

  Status web_note(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& state = users_[user.user_scope()];
    const std::string id = random_.pick(state.interactions);
    auto open = state.notes.find(id);
    if (open == state.notes.end()) {
      OUTPOST_ASSIGN_OR_RETURN(auto loaded, load<d::Note>(core, user.user_scope(), id));
      state.notes[id] = WebSession{.note = loaded, .word = "web" + std::to_string(++words_)};
      trace_.add("platform: web opens the note of " + id + " of " + user.user);
      return Status::Ok();
    }
    WebSession session = std::move(open->second);
    state.notes.erase(open);
    std::vector<std::string> words =
        insert_word(session.note ? split_words(session.note->text()) : std::vector<std::string>(),
                    session.word, random_);
    u::Event event = event_for(user);
    auto* edit = event.mutable_note_edited();
    edit->set_interaction_id(id);
    if (session.note) *edit->mutable_base() = *session.note;
    edit->set_text(join_words(words));
    OUTPOST_RETURN_IF_ERROR(apply(core, event, now_ms));
    trace_.add("platform: web types " + session.word + " into the note of " + id + " of " +
               user.user);
    ledger_.count_typed(1);
    ledger_.add_platform_edit(TextEdit{.record = text_record("note", user.user_scope(), id),
                                       .typed = {session.word},
                                       .words = words});
    return Status::Ok();
  }

  Status route(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& state = users_[user.user_scope()];
    std::string id = "conv-p" + std::to_string(++routed_);
    state.interactions.push_back(id);
    state.connected.push_back(id);
    trace_.add("platform: routes " + id + " to " + user.user);
    u::Event event = event_for(user);
    d::Interaction* interaction = event.mutable_interaction();
    interaction->set_id(id);
    interaction->set_media(d::MEDIA_VOICE);
    interaction->set_direction(d::DIRECTION_INBOUND);
    interaction->set_state(d::INTERACTION_CONNECTED);
    interaction->set_started_ms(now_ms);
    interaction->set_agent_user_id(user.user);
    connected_[user.user_scope() + "/" + id] = *interaction;
    return apply(core, event, now_ms);
  }

  Status end(ServerCore& core, const SimUser& user, int64_t now_ms) {
    auto& state = users_[user.user_scope()];
    if (state.connected.empty()) return route(core, user, now_ms);
    std::string id = state.connected.front();
    state.connected.erase(state.connected.begin());
    trace_.add("platform: " + id + " of " + user.user + " ends");
    u::Event event = event_for(user);
    d::Interaction* interaction = event.mutable_interaction();
    *interaction = connected_[user.user_scope() + "/" + id];
    interaction->set_state(d::INTERACTION_DISCONNECTED);
    interaction->set_ended_ms(now_ms);
    interaction->set_wrapup_required(true);
    return apply(core, event, now_ms);
  }

  Status leave_voicemail(ServerCore& core, const SimUser& user, int64_t now_ms) {
    std::string id = "vm-p" + std::to_string(++voicemails_);
    users_[user.user_scope()].voicemails.push_back(id);
    trace_.add("platform: voicemail " + id + " for " + user.user);
    u::Event event = event_for(user);
    d::Voicemail* voicemail = event.mutable_voicemail_left();
    voicemail->set_id(id);
    voicemail->set_caller_name("Caller " + id);
    voicemail->set_received_ms(now_ms);
    voicemail->set_duration_s(static_cast<int32_t>(5 + random_.below(60)));
    return apply(core, event, now_ms);
  }

  Status presence(ServerCore& core, const SimUser& user, int64_t now_ms) {
    static const char* kRouting[] = {"IDLE", "INTERACTING", "OFF_QUEUE", "NOT_RESPONDING"};
    u::Event event = event_for(user);
    auto* change = event.mutable_presence();
    change->set_routing_status(kRouting[random_.below(4)]);
    if (random_.chance(0.2)) {
      change->set_presence(d::PRESENCE_OFFLINE);
      change->set_cause(u::CAUSE_WEBSITE_CLOSED);
    } else if (random_.chance(0.2)) {
      change->set_presence(d::PRESENCE_NOT_READY);
      change->set_aux_reason_id("aux-meeting");
      change->set_cause(u::CAUSE_SUPERVISOR);
    } else {
      change->set_cause(u::CAUSE_PLATFORM);
    }
    trace_.add("platform: presence of " + user.user + " -> " +
               d::Presence_Name(change->presence()) + " " + change->routing_status());
    return apply(core, event, now_ms);
  }

  Status edit_contact(ServerCore& core, const SimUser& user, int64_t now_ms) {
    std::string id = "contact-" + std::to_string(random_.below(6));
    OUTPOST_ASSIGN_OR_RETURN(auto contact, load<d::Contact>(core, user.org_scope(), id));
    if (!contact) return Status::Ok();
    trace_.add("platform: " + id + " of " + user.tenant + " edited");
    u::Event event;
    event.set_tenant(user.tenant);
    *event.mutable_contact() = *contact;
    event.mutable_contact()->set_title("edited " + std::to_string(now_ms));
    event.mutable_contact()->set_modified_ms(now_ms);
    return apply(core, event, now_ms);
  }

  const World& world_;
  Ledger& ledger_;
  Trace& trace_;
  SimRandom& random_;
  std::map<std::string, UserState> users_;
  std::map<std::string, d::Interaction> connected_;  // "scope/id" -> as routed
  uint64_t words_ = 0;
  uint64_t routed_ = 0;
  uint64_t voicemails_ = 0;
};

// adapters/sim_platform.h behind PlatformEvents.
class LeadSimPlatform final : public PlatformEvents {
 public:
  LeadSimPlatform(const World& world, Ledger& ledger, Trace& trace, SimRandom& random,
                  uint64_t seed)
      : world_(world),
        ledger_(ledger),
        trace_(trace),
        seed_(seed),
        fallback_(make_upstream_platform(world, ledger, trace, random)) {}

  Status step(ServerCore& core, const SimUser&, int64_t now_ms) override {
    if (platform_ == nullptr || store_ != &core.store()) {
      // The platform reads drafts from the server's store, which a restart replaced.
      SimPlatformOptions options;
      options.seed = seed_ + restarts_++;
      for (const SimUser& user : world_.users) options.agents.push_back({user.tenant, user.user});
      options.step_ms = 200;
      options.web_edit_delay_ms = 300;
      options.note_edit_chance = 0.05;
      platform_ = std::make_unique<SimPlatform>(options, core.store());
      store_ = &core.store();
    }
    OUTPOST_ASSIGN_OR_RETURN(auto events, platform_->poll(now_ms));
    DomainServer server(core);
    for (const u::Event& event : events) {
      std::string record;
      std::vector<std::string> base_words, edited_words;
      bool moot = false;
      if (event.has_draft_edited()) {
        const auto& edit = event.draft_edited();
        const std::string scope = "user/" + event.tenant() + "/" + event.user();
        record = text_record("draft", scope, edit.edited().id());
        base_words = split_words(edit.base().body());
        edited_words = split_words(edit.edited().body());
        OUTPOST_ASSIGN_OR_RETURN(auto current, load<d::Draft>(core, scope, edit.edited().id()));
        moot = current && current->status() == d::DRAFT_SENT;
      } else if (event.has_note_edited()) {
        const auto& edit = event.note_edited();
        record = text_record("note", "user/" + event.tenant() + "/" + event.user(),
                             edit.interaction_id());
        base_words = split_words(edit.base().text());
        edited_words = split_words(edit.text());
      }
      Status status;
      for (int attempt = 0; attempt < kEventAttempts; ++attempt) {
        status = server.apply(event, now_ms);
        if (status.code() != ErrorCode::kUnavailable) break;
      }
      OUTPOST_RETURN_IF_ERROR(status);
      trace_.add("platform (sim): " +
                 std::string(event.GetDescriptor()->FindFieldByNumber(event.kind_case())->name()) +
                 " for " + event.user());
      if (record.empty() || moot) continue;
      std::set<std::string> before(base_words.begin(), base_words.end());
      std::vector<std::string> typed;
      for (const std::string& word : edited_words) {
        if (before.count(word) == 0) typed.push_back(word);
      }
      ledger_.count_typed(typed.size());
      ledger_.add_platform_edit(TextEdit{.record = record, .typed = typed, .words = edited_words});
    }
    return Status::Ok();
  }

  Status delete_something(ServerCore& core, const SimUser& user, int64_t now_ms) override {
    return fallback_->delete_something(core, user, now_ms);
  }

 private:
  const World& world_;
  Ledger& ledger_;
  Trace& trace_;
  uint64_t seed_;
  std::unique_ptr<PlatformEvents> fallback_;
  std::unique_ptr<SimPlatform> platform_;
  const ServerStore* store_ = nullptr;
  uint64_t restarts_ = 0;
};

}  // namespace

std::unique_ptr<PlatformEvents> make_sim_platform_events(const World& world, Ledger& ledger,
                                                         Trace& trace, SimRandom& random,
                                                         uint64_t seed) {
  return std::make_unique<LeadSimPlatform>(world, ledger, trace, random, seed);
}

std::unique_ptr<PlatformEvents> make_upstream_platform(const World& world, Ledger& ledger,
                                                       Trace& trace, SimRandom& random) {
  return std::make_unique<UpstreamPlatform>(world, ledger, trace, random);
}

Status SimIntents::maybe_unavailable(const std::string& what) {
  if (!random_.chance(odds_.unavailable)) return Status::Ok();
  trace_.add("platform: unavailable for " + what);
  return error(ErrorCode::kUnavailable, "the platform did not answer " + what);
}

Result<PlatformAnswer> SimIntents::set_presence(const AgentRef& agent, domain::Presence presence,
                                                const std::string& aux_reason_id, int64_t now_ms) {
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a presence change"));
  if (presence == domain::PRESENCE_NOT_READY && aux_reason_id == "aux-training") {
    return PlatformAnswer::refuse("'aux-training' is planned by your supervisor");
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimIntents::wrap_up(const AgentRef& agent,
                                           const domain::Interaction& interaction,
                                           const std::string& code_id, int64_t now_ms) {
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a wrap-up"));
  if (random_.chance(odds_.refuse_wrap_up)) {
    return PlatformAnswer::refuse("the interaction is already qualified on the platform");
  }
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimIntents::send(const AgentRef& agent, const domain::Draft& draft,
                                        int64_t now_ms) {
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a send"));
  if (random_.chance(odds_.refuse_send)) return PlatformAnswer::refuse("mailbox unavailable");
  return PlatformAnswer::accept();
}

Result<PlatformAnswer> SimIntents::set_queue_joined(const AgentRef& agent,
                                                    const std::string& queue_id, bool joined,
                                                    int64_t now_ms) {
  OUTPOST_RETURN_IF_ERROR(maybe_unavailable("a queue change"));
  return PlatformAnswer::accept();
}

}  // namespace outpost::sim
