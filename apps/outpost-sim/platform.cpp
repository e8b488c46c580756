#include "apps/outpost-sim/platform.h"

#include <set>
#include <string>
#include <vector>

#include "engine/domain_server.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"
#include "outpost/upstream.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;
namespace u = outpost::upstream;

constexpr int kEventAttempts = 20;
constexpr int64_t kClockStepMs = 200;  // --platform-kind sim: the platform's step

SimPlatformOptions options_for(const World& world, uint64_t seed, bool clock_driven) {
  SimPlatformOptions options;
  options.seed = seed;
  options.agents.clear();
  for (const SimUser& user : world.users) options.agents.push_back({user.tenant, user.user});
  options.send_refuse_chance = 0.05;
  options.unavailable_chance = 0.02;
  if (clock_driven) {
    options.step_ms = kClockStepMs;
    options.web_edit_delay_ms = 300;
    options.note_edit_chance = 0.05;
  } else {
    options.web_types_unique_words = true;
  }
  return options;
}

// The record an event's text edit is about, its words before and after.
struct TextChange {
  std::string record;
  std::vector<std::string> before, after;
};

std::optional<TextChange> text_change(const u::Event& event) {
  const std::string scope = ScopeName::format_user(event.tenant(), event.user());
  if (event.has_draft_edited()) {
    const auto& edit = event.draft_edited();
    return TextChange{text_record("draft", scope, edit.edited().id()),
                      split_words(edit.base().body()), split_words(edit.edited().body())};
  }
  if (event.has_note_edited()) {
    const auto& edit = event.note_edited();
    return TextChange{text_record("note", scope, edit.interaction_id()),
                      split_words(edit.base().text()), split_words(edit.text())};
  }
  return std::nullopt;
}

}  // namespace

SimContactCenter::SimContactCenter(const World& world, Ledger& ledger, Trace& trace,
                                   ServerStore& store, uint64_t seed, bool clock_driven)
    : ledger_(ledger),
      trace_(trace),
      clock_driven_(clock_driven),
      platform_(options_for(world, seed, clock_driven), store),
      bound_(&store) {}

Status SimContactCenter::step(ServerCore& core, const SimUser& user, int64_t now_ms) {
  if (bound_ != &core.store()) {
    platform_.rebind(core.store());  // a restarted server: the web loads from its store
    bound_ = &core.store();
  }
  OUTPOST_ASSIGN_OR_RETURN(auto events, clock_driven_
                                            ? platform_.poll(now_ms)
                                            : platform_.act({user.tenant, user.user}, now_ms));
  for (const u::Event& event : events) {
    std::optional<TextChange> change = text_change(event);
    bool moot = false;
    if (change && event.has_draft_edited()) {
      // Sent from the app meanwhile: the web's late save is moot (the user sees it sent).
      OUTPOST_ASSIGN_OR_RETURN(
          auto current, core.store().get(ScopeName::format_user(event.tenant(), event.user()),
                                         "draft", event.draft_edited().edited().id()));
      d::Draft draft;
      moot = current && draft.ParseFromString(current->body) && draft.status() == d::DRAFT_SENT;
    }
    OUTPOST_RETURN_IF_ERROR(apply(core, event, now_ms));
    if (observer_) observer_(event, now_ms);
    trace_.add("platform: " +
               std::string(event.GetDescriptor()->FindFieldByNumber(event.kind_case())->name()) +
               " for " + (event.user().empty() ? event.tenant() : event.user()) +
               (moot ? " (moot: already sent)" : ""));
    if (!change || moot) continue;
    std::set<std::string> before(change->before.begin(), change->before.end());
    std::vector<std::string> typed;
    for (const std::string& word : change->after) {
      if (before.count(word) == 0) typed.push_back(word);
    }
    ledger_.count_typed(typed.size());
    ledger_.add_platform_edit(
        TextEdit{.record = change->record, .typed = typed, .words = change->after});
  }
  return Status::Ok();
}

Status SimContactCenter::apply(ServerCore& core, const u::Event& event, int64_t now_ms) {
  // The server's upstream loop retries an event the platform could not serve (an
  // authoritative rule asking it, e.g. restoring the chosen state, got kUnavailable).
  DomainServer server(core);
  Status status;
  for (int attempt = 0; attempt < kEventAttempts; ++attempt) {
    status = server.apply(event, now_ms);
    if (status.code() != ErrorCode::kUnavailable) return status;
  }
  return status;
}

Status SimContactCenter::delete_something(ServerCore& core, const SimUser& user, int64_t now_ms) {
  OUTPOST_ASSIGN_OR_RETURN(auto entries,
                           core.store().read_manifest(user.user_scope(), "voicemail", "", 1));
  if (entries.empty() || entries[0].collection != "voicemail") return Status::Ok();
  const std::string id = entries[0].key;
  trace_.add("platform: " + id + " of " + user.user + " deleted on the web");
  return core.write([&](ServerWriteTx& tx) -> Status {
    auto removed = tx.remove(user.user_scope(), "voicemail", id,
                             core.schema().find(d::Voicemail::descriptor())->priority);
    return removed.ok() ? Status::Ok() : removed.status();
  });
}

}  // namespace outpost::sim
