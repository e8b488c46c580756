// outpost-sim's genesys mode, email reply drafts both ways (decision 057): the server's saves
// reach the core (Platform::draft_saved), the model's web interface edits the drafts the core
// PUT (a unique word each, "gweb<n>") or closes the website, the words the web typed go to
// the ledger when the server applies the core's DraftEdited (so invariant 3 requires them on
// every holder, as for --platform-kind sim's web edits), and at quiescence the platform's
// draft must equal the server's for every draft not sent.
#include <set>

#include "apps/outpost-sim/genesys_sim.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;

std::optional<d::Draft> stored_draft(ServerStore& store, const std::string& scope,
                                     const std::string& id) {
  auto stored = store.get(scope, "draft", id);
  d::Draft draft;
  if (!stored.ok() || !*stored || !draft.ParseFromString((*stored)->body)) return std::nullopt;
  return draft;
}

}  // namespace

void SimGenesys::draft_saved(const AgentRef& agent, const d::Draft& draft, int64_t now_ms) {
  if (!mine(agent)) return others_->draft_saved(agent, draft, now_ms);
  core_->draft_saved(agent, draft, now_ms);
}

void SimGenesys::web_act(const SimUser& user) {
  const std::string word = "gweb" + std::to_string(web_words_ + 1);
  const std::string id = model_.web_edit_draft(user.user, random_.below(1'000), word, now_ms_);
  if (!id.empty()) {
    ++web_words_;
    web_typed_[id].insert(word);
    ++stats_.web_edits;
    trace_.add("genesys platform: " + user.user + " types " + word + " into " + id +
               "'s draft on the web");
    return;
  }
  ++stats_.web_logoffs;
  model_.web_logoff(user.user, now_ms_);
  trace_.add("genesys platform: " + user.user + " closes the website (Offline)");
}

Status SimGenesys::seed_drafts(ServerCore& core) {
  drafts_seeded_ = true;
  for (const auto& [key, conversation] : draft_conversations_) {
    const size_t bar = key.find('|');
    const std::string scope = key.substr(0, bar);
    auto draft = stored_draft(core.store(), scope, key.substr(bar + 1));
    if (!draft) continue;
    auto name = ScopeName::parse(scope);
    if (!name.ok()) return name.status();
    core_->draft_known(AgentRef{name->tenant(), name->user()}, *draft);
  }
  return Status::Ok();
}

bool SimGenesys::moot_edit(ServerCore& core, const upstream::Event& event) const {
  auto current = stored_draft(core.store(), ScopeName::format_user(event.tenant(), event.user()),
                              event.draft_edited().edited().id());
  return current && current->status() == d::DRAFT_SENT;
}

void SimGenesys::note_web_edit(const upstream::Event& event, bool moot) {
  // The words the model's web typed that this edit carries: independent of the adapter's
  // base, so an edit that drops one leaves it pending (check_drafts reports it).
  const upstream::DraftEdited& edit = event.draft_edited();
  const std::vector<std::string> after = split_words(edit.edited().body());
  std::set<std::string>& pending = web_typed_[edit.edited().interaction_id()];
  std::vector<std::string> typed;
  for (const std::string& word : after) {
    if (pending.erase(word) != 0) typed.push_back(word);
  }
  if (moot || ledger_ == nullptr) return;
  ledger_->count_typed(typed.size());
  ledger_->add_platform_edit(
      TextEdit{.record = text_record("draft", ScopeName::format_user(event.tenant(), event.user()),
                                     edit.edited().id()),
               .typed = typed,
               .words = after});
}

std::vector<std::string> SimGenesys::check_drafts(ServerStore& store) const {
  std::vector<std::string> out;
  for (const auto& [key, conversation] : draft_conversations_) {
    const size_t bar = key.find('|');
    const std::string scope = key.substr(0, bar);
    const std::string id = key.substr(bar + 1);
    auto draft = stored_draft(store, scope, id);
    // Never typed, deleted, sent, made another kind than an email reply (the core follows
    // those only), or a reply sent in its conversation: nothing to compare.
    if (!draft || draft->status() == d::DRAFT_SENT || draft->interaction_id() != conversation ||
        draft->kind() != d::DRAFT_EMAIL_REPLY || model_.replied(conversation)) {
      continue;
    }
    auto pending = web_typed_.find(conversation);
    if (pending != web_typed_.end()) {
      for (const std::string& word : pending->second) {
        if (ledger_ == nullptr || ledger_->was_deleted(word) || model_.overwritten_unseen(word)) {
          continue;  // erased on a device, or written over before the adapter could read it
        }
        out.push_back(scope + ": " + word + ", typed into draft " + id +
                      " on the web, never reached the server (" + conversation + ")");
      }
    }
    const std::optional<std::string> platform = model_.draft_text(conversation);
    if (!platform) {
      out.push_back(scope + ": draft " + id + " is not on the platform (" + conversation + ")");
    } else if (*platform != draft->body()) {
      out.push_back(scope + ": draft " + id + " is '" + draft->body() + "' on the server, '" +
                    *platform + "' on the platform (" + conversation + ")");
    }
  }
  return out;
}

}  // namespace outpost::sim
