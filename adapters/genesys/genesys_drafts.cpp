// Email reply drafts both ways (guide 2.1.4.3, web-interface blending): the app's saved
// drafts are PUT to the platform by the worker (the latest per conversation, never inside a
// store transaction), and a draft edited in the Genesys web interface comes back as a
// DraftEdited whose base is the text the platform last held from us, so the server merges
// it three-way with the app's edits made since (engine/draft_merge.h), as for the
// simulator's web edits.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kDraftDeadline{10};

bool same_text(const domain::Draft& a, const domain::Draft& b) {
  return a.body() == b.body() && a.subject() == b.subject();
}

std::string draft_path(const std::string& conversation_id) {
  return "/api/v2/conversations/emails/" + conversation_id + "/messages/draft";
}

}  // namespace

void GenesysUpstream::draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t) {
  if (!mirrored(agent) || draft.kind() != domain::DRAFT_EMAIL_REPLY ||
      draft.interaction_id().empty() || draft.status() == domain::DRAFT_SENT) {
    return;
  }
  std::lock_guard lock(mutex_);
  DraftLink& link = drafts_[draft.interaction_id()];
  if (!link.user.empty() && link.user != agent.user) return;  // another agent's conversation
  link.user = agent.user;
  link.draft_id = draft.id();
  link.to_put = draft;
  link.put_pending = true;
  drafts_due_ = true;
  wake_.notify_all();  // the worker puts it
}

void GenesysUpstream::put_drafts() {
  std::vector<std::pair<std::string, DraftLink>> due;
  {
    std::lock_guard lock(mutex_);
    for (auto& [conversation, link] : drafts_) {
      if (!link.put_pending) continue;
      link.put_pending = false;
      due.emplace_back(conversation, link);
    }
  }
  for (auto& [conversation, link] : due) {
    auto answer = rest_.call_for(link.user, "PUT", draft_path(conversation),
                                 encode_email_message(link.to_put), Clock::now() + kDraftDeadline);
    std::lock_guard lock(mutex_);
    DraftLink& now = drafts_[conversation];
    if (answer.ok() && answer->status >= 200 && answer->status < 300) {
      if (!now.put_pending) {
        now.platform_copy = link.to_put;
        now.known = true;
      }
      ++counters_.drafts_put;
    } else if (answer.ok() && answer->status >= 400 && answer->status < 500 &&
               answer->status != 401 && answer->status != 408 && answer->status != 429) {
      // Refused (the conversation ended, say): the app's draft stays as it is.
      if (options_.log) {
        options_.log("genesys: draft of " + conversation + " refused: HTTP " +
                     std::to_string(answer->status) + " [correlation " + answer->correlation_id +
                     "]");
      }
    } else if (!now.put_pending) {
      now.put_pending = true;  // unavailable: again on the next round
      now.to_put = link.to_put;
    }
  }
}

void GenesysUpstream::check_web_draft(const std::string& user, const std::string& conversation) {
  auto got =
      rest_.call_for(user, "GET", draft_path(conversation), "", Clock::now() + kDraftDeadline);
  if (!got.ok() || got->status != 200) return;  // none yet; a failure: the next notification
  auto web = decode_email_draft(got->body);
  if (!web.ok()) return decode_failed("email draft", web.status(), got->correlation_id);
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(user);
  {
    std::lock_guard lock(mutex_);
    ++counters_.drafts_read;
    DraftLink& link = drafts_[conversation];
    if (!link.user.empty() && link.user != user) return;
    link.user = user;
    if (link.known && same_text(link.platform_copy, *web)) return;  // ours, or unchanged
    if (link.put_pending && same_text(link.to_put, *web)) return;   // ours, on its way
    if (link.draft_id.empty()) link.draft_id = "genesys-draft-" + conversation;
    web->set_id(link.draft_id);
    web->set_interaction_id(conversation);
    upstream::DraftEdited& edit = *event.mutable_draft_edited();
    if (link.known) {
      domain::Draft base = link.platform_copy;
      base.set_id(link.draft_id);
      base.set_interaction_id(conversation);
      *edit.mutable_base() = std::move(base);
    }
    *edit.mutable_edited() = *web;
    link.platform_copy = *web;
    link.known = true;
    ++counters_.web_draft_edits;
  }
  emit(std::move(event), "draft/" + user + "/" + conversation);
}

}  // namespace outpost::genesys
