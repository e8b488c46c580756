// The sans-I/O core's email reply drafts both ways (guide 2.1.4.3, web-interface blending;
// decision 057): the app's saved drafts are PUT to the platform, the latest per
// conversation, never inside a store transaction (the server's save only hands the draft
// over); a draft edited in the Genesys web interface comes back as a DraftEdited whose base
// is the text the platform last held from us, so the server merges it three-way with the
// app's edits made since (engine/domain_merge.h), as for the simulator's web edits. One
// request per conversation at a time: a read never races our own PUT; and each PUT reads
// the platform's draft first, so a web edit not read yet is merged, not written over. A PUT
// is made once (never retried blind); one of unknown outcome is looked for once it can no
// longer land, taken as ours, and the latest save put back over it (decision 062).
#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "adapters/genesys/genesys_core.h"

namespace outpost::genesys {
namespace {

constexpr size_t kMaxDraftLinks = 10'000;

bool same_text(const domain::Draft& a, const domain::Draft& b) {
  return a.body() == b.body() && a.subject() == b.subject();
}

std::string draft_path(const std::string& conversation) {
  return "/api/v2/conversations/emails/" + conversation + "/messages/draft";
}

bool refused(long status) {
  return status >= 400 && status < 500 && status != 401 && status != 408 && status != 429;
}

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    size_t end = at;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end;
  }
  return out;
}

// Words to insert or delete to make `b` from `a` (after their common ends; past about four
// million word pairs, the largest).
size_t word_distance(std::string_view a_text, std::string_view b_text) {
  const auto a = words_of(a_text);
  const auto b = words_of(b_text);
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  const size_t n = a.size() - head - tail, m = b.size() - head - tail;
  if (n * m > 4'000'000) return n + m;
  std::vector<size_t> row(m + 1, 0), next(m + 1, 0);  // longest common subsequence
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < m; ++j) {
      next[j + 1] = a[head + i] == b[head + j] ? row[j] + 1 : std::max(row[j + 1], next[j]);
    }
    std::swap(row, next);
  }
  return n + m - 2 * row[m];
}

size_t draft_distance(const domain::Draft& a, const domain::Draft& b) {
  return word_distance(a.body(), b.body()) + word_distance(a.subject(), b.subject());
}

// No answer that says what the platform did: it may have taken the PUT (decision 055's
// unknown outcomes of a POST).
bool unknown_outcome(const Result<CoreAnswer>& answer) {
  return !answer.ok() || answer->transport_error || answer->status == 502 ||
         answer->status == 503 || answer->status == 504;
}

}  // namespace

void GenesysCore::draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent) || draft.kind() != domain::DRAFT_EMAIL_REPLY ||
      draft.interaction_id().empty() || draft.status() == domain::DRAFT_SENT) {
    return;
  }
  const std::string& conversation = draft.interaction_id();
  auto it = drafts_.find(conversation);
  if (it == drafts_.end()) {
    if (drafts_.size() >= kMaxDraftLinks) {
      if (options_.log) options_.log("genesys: too many email drafts followed; " + conversation);
      return;
    }
    it = drafts_.emplace(conversation, DraftLink{}).first;
  }
  DraftLink& link = it->second;
  if (!link.user.empty() && link.user != agent.user) return;  // another agent's conversation
  link.user = agent.user;
  link.draft_id = draft.id();
  link.latest = draft;
  // Already what the platform holds (a web edit merged back unchanged): nothing to put.
  if (link.known && !link.busy && same_text(link.platform_copy, draft)) {
    link.put_pending = false;
    return;
  }
  link.to_put = draft;
  link.put_pending = true;
  link.retry_at = 0;  // a new text goes at once
  pump_drafts();
}

void GenesysCore::draft_known(const AgentRef& agent, const domain::Draft& draft) {
  if (!is_mirrored(agent) || draft.kind() != domain::DRAFT_EMAIL_REPLY ||
      draft.interaction_id().empty() || draft.status() == domain::DRAFT_SENT) {
    return;
  }
  auto it = drafts_.find(draft.interaction_id());
  if (it == drafts_.end()) {
    if (drafts_.size() >= kMaxDraftLinks) return;
    it = drafts_.emplace(draft.interaction_id(), DraftLink{}).first;
  }
  DraftLink& link = it->second;
  if (!link.user.empty() && link.user != agent.user) return;
  link.user = agent.user;
  if (!link.draft_id.empty()) return;  // the app saved since: that is what counts
  link.draft_id = draft.id();
  link.platform_copy = draft;
  link.stored_only = true;
  link.check_pending = true;  // read at the next tick (which brings the clock)
}

void GenesysCore::draft_seen(const std::string& user, const std::string& conversation) {
  auto it = drafts_.find(conversation);
  if (it == drafts_.end()) {
    if (drafts_.size() >= kMaxDraftLinks) return;  // the next notification reads it again
    it = drafts_.emplace(conversation, DraftLink{}).first;
  }
  DraftLink& link = it->second;
  if (!link.user.empty() && link.user != user) return;
  link.user = user;
  link.check_pending = true;
  if (link.writing) link.notified_while_writing = true;
  pump_drafts();
}

void GenesysCore::pump_drafts() {
  for (auto& [conversation, link] : drafts_) {
    if (link.busy || now_ms_ < link.ghost_until) continue;  // a ghost may still land
    if (link.put_pending && now_ms_ >= link.retry_at) {
      put_draft(conversation);
    } else if (link.check_pending && !link.put_pending) {
      read_draft(conversation);
    }
  }
}

void GenesysCore::put_draft(const std::string& conversation) {
  DraftLink& link = drafts_[conversation];
  link.busy = true;
  link.put_pending = false;
  const domain::Draft sent = link.to_put;
  const uint64_t writes = link.writes;
  // Read before writing: the platform takes no precondition on a draft, and a PUT over a
  // web edit not read yet would erase the words typed there (found by outpost-sim).
  call(
      "GET", draft_path(conversation), "",
      [this, conversation, sent, writes](Result<CoreAnswer> answer) {
        DraftLink& now = drafts_[conversation];
        if (now.writes != writes) {  // a send's PUT landed meanwhile: read again
          now.busy = false;
          if (!now.put_pending) {
            now.put_pending = true;
            now.to_put = sent;
          }
          return pump_drafts();
        }
        if (answer.ok() && answer->status == 200) {
          auto web = decode_email_draft(answer->body);
          if (web.ok() && same_text(*web, sent)) {  // already there (our earlier PUT)
            now.busy = false;
            now.platform_copy = sent;
            now.known = true;
            now.stored_only = false;
            now.ghost.reset();
            return pump_drafts();
          }
          if (web_draft_read(conversation, *answer)) {
            // A web edit, sent to the server; its merge (with this save) comes back through
            // draft_saved, so this text is not put over it.
            now.busy = false;
            return pump_drafts();
          }
        } else if (!answer.ok() || answer->status != 404) {
          now.busy = false;
          return put_failed(conversation, sent, answer);
        } else {
          now.ghost.reset();  // no draft there: no PUT of ours landed
        }
        write_draft(conversation, sent);
      },
      link.user);
}

void GenesysCore::write_draft(const std::string& conversation, const domain::Draft& sent) {
  DraftLink& link = drafts_[conversation];
  link.writing = true;
  link.notified_while_writing = false;
  const int64_t sent_ms = now_ms_;
  // One attempt: a retry would be a blind write, long after the read (decision 062).
  const auto put = options_.blind_draft_retries ? &GenesysCore::call : &GenesysCore::call_single;
  (this->*put)(
      "PUT", draft_path(conversation), encode_email_message(sent),
      [this, conversation, sent, sent_ms](Result<CoreAnswer> answer) {
        DraftLink& now = drafts_[conversation];
        now.busy = false;
        now.writing = false;
        if (now.notified_while_writing) {
          // The conversation changed while our text was on its way: a web edit typed after
          // our read may be gone (the platform takes no precondition). Its words stay only
          // in the web editor; the operator sees it here.
          now.notified_while_writing = false;
          ++counters_.drafts_maybe_overwritten;
          if (options_.log) {
            options_.log("genesys: draft of " + conversation +
                         " notified while our PUT was on its way; a web edit may have been "
                         "written over [correlation " +
                         (answer.ok() ? answer->correlation_id : std::string()) + "]");
          }
        }
        if (answer.ok() && answer->status >= 200 && answer->status < 300) {
          now.platform_copy = sent;  // what the platform holds now, whatever comes next
          now.known = true;
          now.stored_only = false;
          now.sent_put.reset();
          now.ghost.reset();
          ++now.writes;
          ++counters_.drafts_put;
          return pump_drafts();
        }
        if (unknown_outcome(answer)) {
          now.ghost = sent;  // it may have landed, or land until the bound
          now.ghost_until = landing_bound(sent_ms);
        }
        put_failed(conversation, sent, answer);
      },
      link.user);
}

int64_t GenesysCore::landing_bound(int64_t sent_ms) const {
  return sent_ms +
         (options_.send_settle_ms >= 0 ? options_.send_settle_ms : options_.request_timeout_ms);
}

void GenesysCore::put_failed(const std::string& conversation, const domain::Draft& sent,
                             const Result<CoreAnswer>& answer) {
  DraftLink& now = drafts_[conversation];
  if (answer.ok() && refused(answer->status)) {
    // Refused (the conversation ended, say): the app's draft stays as it is.
    ++counters_.drafts_refused;
    if (options_.log) {
      options_.log("genesys: draft of " + conversation + " refused: HTTP " +
                   std::to_string(answer->status) + " [correlation " + answer->correlation_id +
                   "]");
    }
  } else if (!now.put_pending) {
    now.put_pending = true;  // again later, reading first
    now.to_put = sent;
    int64_t wait = options_.retry_after_failure_ms;
    if (answer.ok() && answer->status == 429) {
      wait = answer->retry_after_ms >= 0
                 ? std::min(answer->retry_after_ms, options_.max_retry_after_ms)
                 : options_.default_retry_after_ms;
    }
    now.retry_at = now_ms_ + wait;
  }
  pump_drafts();
}

void GenesysCore::read_draft(const std::string& conversation) {
  DraftLink& link = drafts_[conversation];
  link.busy = true;
  link.check_pending = false;
  const uint64_t writes = link.writes;
  call(
      "GET", draft_path(conversation), "",
      [this, conversation, writes](Result<CoreAnswer> answer) {
        drafts_[conversation].busy = false;
        // None yet (404), or a failure: the next notification or reconcile reads it again.
        DraftLink& link = drafts_[conversation];
        if (link.writes != writes) {
          link.check_pending = true;  // a send's PUT landed meanwhile: read again
        } else if (answer.ok() && answer->status == 200) {
          (void)web_draft_read(conversation, *answer);
        } else if (answer.ok() && answer->status == 404) {
          link.ghost.reset();  // no draft there: no PUT of ours landed
          if (link.stored_only && !link.known) {
            // The store has a draft the platform lacks (our PUT lost with the old process).
            link.stored_only = false;
            link.to_put = link.platform_copy;
            link.put_pending = true;
          }
        } else if (link.ghost) {
          link.check_pending = true;  // a ghost not yet looked for: again a little later
          link.ghost_until = now_ms_ + options_.retry_after_failure_ms;
        }
        pump_drafts();
      },
      link.user);
}

bool GenesysCore::web_draft_read(const std::string& conversation, const CoreAnswer& answer) {
  DraftLink& link = drafts_[conversation];
  auto web = decode_email_draft(answer.body);
  if (!web.ok()) {
    decode_failed("email draft", web.status(), answer.correlation_id);
    return false;
  }
  ++counters_.drafts_read;
  // A PUT of ours whose outcome was unknown, read after it can no longer land (the link
  // waited for that): its text is ours, never a web edit (that would delete the words it
  // lacks through the merge); the app's latest save goes back over it. A text neither
  // the ghost's nor the one before it is a web edit over one of the two (decision 062).
  bool base_unknown = false;
  std::optional<domain::Draft> ghost_base;
  if (link.ghost) {
    const domain::Draft ghost = *link.ghost;
    link.ghost.reset();
    if (same_text(ghost, *web)) {
      ++counters_.drafts_ghosts_found;
      link.platform_copy = *web;
      link.known = true;
      link.stored_only = false;
      if (options_.log) {
        options_.log("genesys: draft of " + conversation +
                     " holds a PUT of ours answered late or not at all; the latest save goes "
                     "back [correlation " +
                     answer.correlation_id + "]");
      }
      if (!link.busy && !link.put_pending && link.latest && !same_text(*link.latest, *web)) {
        link.to_put = *link.latest;
        link.put_pending = true;
        link.retry_at = 0;
      }
      return false;
    }
    if (link.known && !same_text(link.platform_copy, ghost) &&
        !same_text(link.platform_copy, *web)) {
      // The web edited the ghost's text or the one before it: the nearer one, word by
      // word, is its base (the web changes a few words between our reads); equally near,
      // none (the merge keeps both texts).
      const size_t to_ghost = draft_distance(ghost, *web);
      const size_t to_before = draft_distance(link.platform_copy, *web);
      if (to_ghost < to_before) ghost_base = ghost;
      base_unknown = to_ghost == to_before;
    }
  }
  if (link.stored_only && !link.known && same_text(link.platform_copy, *web)) {
    link.known = true;  // the platform holds what the store does: the base
    link.stored_only = false;
    return false;
  }
  link.stored_only = false;
  if (link.sent_put && same_text(*link.sent_put, *web)) {  // a send's own PUT
    link.platform_copy = *web;
    link.known = true;
    return false;
  }
  if (link.known && same_text(link.platform_copy, *web)) return false;  // ours, or unchanged
  if (link.put_pending && same_text(link.to_put, *web)) return false;   // ours, on its way
  if (link.draft_id.empty()) link.draft_id = "genesys-draft-" + conversation;
  web->set_id(link.draft_id);
  web->set_interaction_id(conversation);
  upstream::Event event;
  event.set_tenant(options_.tenant);
  event.set_user(link.user);
  upstream::DraftEdited& edit = *event.mutable_draft_edited();
  if (link.known && !base_unknown) {
    domain::Draft base = ghost_base ? *ghost_base : link.platform_copy;
    base.set_id(link.draft_id);
    base.set_interaction_id(conversation);
    *edit.mutable_base() = std::move(base);
  }
  *edit.mutable_edited() = *web;
  link.platform_copy = *web;
  link.known = true;
  ++counters_.web_draft_edits;
  emit(std::move(event), "draft/" + link.user + "/" + conversation);
  return true;
}

void GenesysCore::read_before_send(const std::string& user, const domain::Draft& draft,
                                   std::function<void(Status)> then) {
  const std::string conversation = draft.interaction_id();
  auto known = drafts_.find(conversation);
  const uint64_t writes = known == drafts_.end() ? 0 : known->second.writes;
  call(
      "GET", draft_path(conversation), "",
      [this, user, conversation, draft, then, writes](Result<CoreAnswer> answer) {
        if (answer.ok() && answer->status == 404) return then(Status::Ok());  // none there
        if (!answer.ok() || answer->status != 200) {
          return then(error(ErrorCode::kUnavailable,
                            "reading the email draft before its send: " +
                                (answer.ok() ? "HTTP " + std::to_string(answer->status)
                                             : answer.status().message())));
        }
        auto web = decode_email_draft(answer->body);
        if (!web.ok()) {
          decode_failed("email draft", web.status(), answer->correlation_id);
          return then(error(ErrorCode::kUnavailable, "unreadable email draft before its send"));
        }
        auto it = drafts_.find(conversation);
        if (it == drafts_.end() && drafts_.size() < kMaxDraftLinks) {
          it = drafts_.emplace(conversation, DraftLink{}).first;
        }
        if (it == drafts_.end() || (!it->second.user.empty() && it->second.user != user)) {
          return then(Status::Ok());  // not followed: written as before
        }
        DraftLink& link = it->second;
        if (link.busy || link.writes != writes) {  // a PUT of it on its way, or landed since
          return then(error(ErrorCode::kUnavailable, "the email draft is being saved"));
        }
        if (link.ghost) {  // a PUT of ours may have landed: the link looks first
          if (!link.put_pending) link.check_pending = true;
          pump_drafts();
          return then(error(ErrorCode::kUnavailable, "the email draft is being saved"));
        }
        link.user = user;
        if (link.draft_id.empty()) link.draft_id = draft.id();
        if (!same_text(*web, draft) && web_draft_read(conversation, *answer)) {
          return then(error(ErrorCode::kUnavailable,
                            "the draft was edited on the web meanwhile: its words go to the "
                            "server first, then the send goes again"));
        }
        link.sent_put = draft;
        then(Status::Ok());
      },
      user);
}

void GenesysCore::send_put_done(const domain::Draft& draft) {
  auto it = drafts_.find(draft.interaction_id());
  if (it == drafts_.end()) return;
  it->second.platform_copy = draft;
  it->second.known = true;
  it->second.stored_only = false;
  ++it->second.writes;
}

void GenesysCore::send_put_unknown(const domain::Draft& draft, int64_t sent_ms) {
  auto it = drafts_.find(draft.interaction_id());
  if (it == drafts_.end()) return;
  DraftLink& link = it->second;
  link.ghost = draft;
  link.ghost_until = landing_bound(sent_ms);
  link.check_pending = true;  // looked for once it can no longer land
  pump_drafts();
}

void GenesysCore::send_not_sent(const domain::Draft& draft) {
  auto it = drafts_.find(draft.interaction_id());
  if (it == drafts_.end()) return;
  DraftLink& link = it->second;
  if (!link.latest || same_text(*link.latest, draft) || link.put_pending) return;
  link.to_put = *link.latest;
  link.put_pending = true;
  link.retry_at = 0;
  pump_drafts();
}

bool GenesysCore::drafts_quiet() const {
  for (const auto& [conversation, link] : drafts_) {
    if (link.busy || link.put_pending || link.check_pending) return false;
  }
  return true;
}

std::optional<int64_t> GenesysCore::drafts_deadline() const {
  std::optional<int64_t> next;
  for (const auto& [conversation, link] : drafts_) {
    if (link.busy) continue;
    int64_t at = 0;
    if (link.put_pending) {
      at = std::max(link.retry_at, link.ghost_until);
    } else if (link.check_pending && link.ghost_until > now_ms_) {
      at = link.ghost_until;
    } else {
      continue;
    }
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace outpost::genesys
