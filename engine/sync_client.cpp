#include "engine/sync_client.h"

#include <algorithm>

#include "engine/cursor_token.h"
#include "engine/mutation_print.h"
#include "engine/scope.h"

namespace outpost {
const char* sync_phase_name(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kIdle:
      return "idle";
    case SyncPhase::kPushing:
      return "pushing";
    case SyncPhase::kInitial:
      return "initial";
    case SyncPhase::kCatchingUp:
      return "catching_up";
    case SyncPhase::kResetting:
      return "resetting";
  }
  return "idle";
}

SyncClient::SyncClient(ReplicaSync replica, SyncClientOptions options)
    : replica_(replica), options_(options) {
  // The user scope first: it holds the urgent records.
  scopes_ = {ScopeName::format_user(replica.tenant(), replica.user()),
             ScopeName::format_org(replica.tenant())};
  for (const std::string& scope : scopes_) progress_.scopes.push_back(ScopeProgress{scope});
}

void SyncClient::forget_lost_fetch() {
  // Keys of a fetch that never got its answer must be asked for again.
  if (in_flight_is_fetch_) {
    for (const auto& ref : last_fetch_) fetched_.erase({ref.collection(), ref.key()});
  }
  last_fetch_.clear();
  in_flight_is_fetch_ = false;
}

void SyncClient::sent_pull(PullBasis basis) {
  pull_bases_.push_back(std::move(basis));
}

void SyncClient::on_connected() {
  forget_lost_fetch();
  pull_bases_.clear();
  in_flight_ = 0;
  pipelined_ = false;
  pushed_through_ = 0;
  behind_ = true;
}

void SyncClient::on_request_failed() {
  forget_lost_fetch();
  pull_bases_.clear();
  in_flight_ = 0;
  pipelined_ = false;
  if (pushing_) pushed_through_ = 0;
  pushing_ = false;
  behind_ = true;
}

Result<bool> SyncClient::on_request_refused(const Status& refusal) {
  on_request_failed();
  if (refusal.code() != ErrorCode::kFailedPrecondition &&
      refusal.code() != ErrorCode::kInvalidArgument) {
    return false;
  }
  if (auto reused = find_mutation_ids_reused(refusal.message());
      reused && refusal.code() == ErrorCode::kFailedPrecondition) {
    OUTPOST_ASSIGN_OR_RETURN(auto report, replica_.renumber_pending(*reused));
    (void)report;
    return true;
  }
  bool restarted = false;
  for (const std::string& scope : scopes_) {
    if (!names_cursor_not_issued(refusal.message(), scope)) continue;
    OUTPOST_ASSIGN_OR_RETURN(auto report, replica_.restart_scope(scope));
    (void)report;
    for (auto& progress : progress_.scopes) {
      if (progress.scope == scope) progress = ScopeProgress{scope, SyncPhase::kInitial};
    }
    restarted = true;
  }
  if (restarted) {
    fetched_.clear();  // a reset of that scope, if any, was dropped
    fetched_target_.clear();
  }
  return restarted;
}

void SyncClient::on_poke(const protocol::Poke& poke) {
  for (const auto& head : poke.heads()) {
    for (auto& scope : progress_.scopes) {
      if (scope.scope == head.scope() && head.seq() > scope.cursor) {
        scope.head = std::max(scope.head, head.seq());
        behind_ = true;
      }
    }
  }
  if (poke.heads_size() == 0) behind_ = true;
}

bool SyncClient::carried_applies(const protocol::Carried& carried) const {
  const protocol::ScopeChanges& changes = carried.changes();
  if (in_flight_ > 0 || !fetched_target_.empty() || carried.base() == 0) return false;
  if (changes.reset() || changes.has_more() || !changes.cursor_token().empty() ||
      changes.manifest_size() > 0 || changes.has_columns() || changes.cursor() <= carried.base() ||
      changes.cursor() > changes.head_seq()) {
    return false;
  }
  for (const auto& scope : progress_.scopes) {
    if (scope.scope == changes.scope()) {
      return scope.phase == SyncPhase::kIdle && scope.cursor == carried.base();
    }
  }
  return false;  // not a scope this device follows
}

Result<bool> SyncClient::on_carried(const protocol::Carried& carried) {
  const protocol::ScopeChanges& changes = carried.changes();
  if (!carried_applies(carried)) {
    behind_ = true;  // as a poke: the next request is a pull
    return false;
  }
  // The file's cursor must still be `base` (another process may have moved it): else stale.
  OUTPOST_ASSIGN_OR_RETURN(auto report, replica_.apply_carried(changes, carried.base()));
  if (report.stale) {
    behind_ = true;
    return false;
  }
  for (auto& scope : progress_.scopes) {
    if (scope.scope != changes.scope()) continue;
    scope.cursor = changes.cursor();
    scope.head = std::max(scope.head, changes.head_seq());
    scope.records_done += changes.changes_size();
    for (const auto& change : changes.changes()) scope.bytes_done += change.body().size();
  }
  if (!behind_ && now_ms_ > 0) last_sync_ms_ = now_ms_;
  return true;
}

bool SyncClient::up_to_date() const {
  return !behind_ && !in_flight_ && progress_.pending_mutations == 0;
}

Result<std::optional<protocol::ClientFrame>> SyncClient::next_request() {
  if (in_flight_ > 0) return std::optional<protocol::ClientFrame>();
  // Nothing to pull, and the outbox was empty with nothing added since (the pump after a
  // carried change, decision 051): no read.
  const uint64_t outbox_generation = replica_.outbox_generation();
  if (!behind_ && outbox_empty_at_ == outbox_generation) {
    progress_.phase = SyncPhase::kIdle;
    return std::optional<protocol::ClientFrame>();
  }
  outbox_empty_at_.reset();
  OUTPOST_ASSIGN_OR_RETURN(auto pending, replica_.pending(0));
  progress_.pending_mutations = pending.size();
  if (pending.empty() && options_.skip_unchanged_outbox) outbox_empty_at_ = outbox_generation;
  std::vector<const PendingMutation*> unsent;
  for (const auto& mutation : pending) {
    if (mutation.id > pushed_through_) unsent.push_back(&mutation);
  }
  if (!unsent.empty()) {
    protocol::ClientFrame frame;
    auto* push = frame.mutable_push();
    push->set_client_id(replica_.client_id());
    push->set_schema_version(replica_.schema().version());
    push->set_protocol_version(protocol::VERSION_CURRENT);
    OUTPOST_ASSIGN_OR_RETURN(uint64_t processed, replica_.processed_through());
    push->set_processed_through(processed);
    for (const PendingMutation* mutation : unsent) {
      if (static_cast<uint32_t>(push->mutations_size()) >= options_.max_mutations_per_push) break;
      auto* out = push->add_mutations();
      out->set_id(mutation->id);
      out->set_name(mutation->name);
      out->set_args(mutation->args);
      out->set_created_ms(mutation->created_ms);
    }
    if (options_.send_reports) fill_report(push->mutable_report(), pending.size());
    pushed_through_ = push->mutations(push->mutations_size() - 1).id();
    in_flight_ = 1;
    pushing_ = true;
    progress_.phase = SyncPhase::kPushing;
    return std::optional<protocol::ClientFrame>(std::move(frame));
  }
  // Pushed mutations wait for a pull that confirms them.
  if (!behind_ && pending.empty()) {
    progress_.phase = SyncPhase::kIdle;
    return std::optional<protocol::ClientFrame>();
  }
  return next_pull(pending.empty() ? 0 : pending.back().id);
}

protocol::PullRequest* SyncClient::new_pull(protocol::ClientFrame& frame) const {
  auto* pull = frame.mutable_pull();
  pull->set_client_id(replica_.client_id());
  pull->set_schema_version(replica_.schema().version());
  pull->set_protocol_version(protocol::VERSION_CURRENT);
  pull->set_max_changes(options_.max_changes_per_pull);
  pull->set_max_bytes(options_.max_bytes_per_pull);
  pull->set_accepts_carried(options_.accept_carried);
  pull->set_accepts_column_pages(options_.accept_column_pages);
  // Decision 053: the format the transport's expand_column_pages reads
  // (transport/column_page.h kColumnPageVersion; a test holds the two equal).
  if (options_.accept_column_pages) pull->set_column_page_version(2);
  if (options_.send_reports) fill_report(pull->mutable_report(), progress_.pending_mutations);
  return pull;
}

void SyncClient::fill_report(protocol::DeviceReport* report, uint64_t outbox_depth) const {
  report->set_app_version(options_.app_version.substr(0, limits::kMaxAppVersionBytes));
  report->set_outbox_depth(outbox_depth);
  report->set_last_sync_ms(last_sync_ms_);
}

Result<std::optional<protocol::ClientFrame>> SyncClient::next_pull(uint64_t newest_pending) {
  protocol::ClientFrame frame;
  protocol::PullRequest* pull = new_pull(frame);
  // The oldest pending mutations, with their prints: the server confirms none of them by
  // an id it processed for another mutation (engine/mutation_print.h).
  OUTPOST_ASSIGN_OR_RETURN(auto pending, replica_.pending(kMutationPrintWindow));
  if (!pending.empty()) pull->set_pending_from(pending[0].id);
  for (const PendingMutation& mutation : pending) {
    auto* print = pull->add_pending_prints();
    print->set_id(mutation.id);
    print->set_print(mutation_print(mutation.name, mutation.args, mutation.created_ms));
  }
  OUTPOST_ASSIGN_OR_RETURN(uint64_t processed, replica_.processed_through());
  pull->set_processed_through(processed);
  OUTPOST_ASSIGN_OR_RETURN(auto cursors, replica_.cursors());
  PullBasis basis{.newest_pending = newest_pending};
  for (const std::string& scope : scopes_) {
    auto* cursor = pull->add_cursors();
    cursor->set_scope(scope);
    basis.cursors.push_back(ScopeCursor{scope, 0, ""});
    for (const auto& stored : cursors) {
      if (stored.scope == scope) {
        cursor->set_seq(stored.seq);
        cursor->set_token(stored.token);
        basis.cursors.back() = stored;
      }
    }
  }
  // A scope whose reset manifest is complete fetches what differs before anything else.
  bool resetting = false;
  for (const std::string& scope : scopes_) {
    OUTPOST_ASSIGN_OR_RETURN(auto target, replica_.reset_target(scope));
    if (!target) continue;
    resetting = true;
    auto round = fetched_target_.find(scope);
    if (round == fetched_target_.end() || round->second != *target) {
      fetched_.clear();  // asked for in another reset
      fetched_target_[scope] = *target;
    }
    OUTPOST_ASSIGN_OR_RETURN(auto wanted, replica_.reset_fetch_list(scope, 0));
    std::vector<protocol::KeyRef> fetch;
    for (auto& ref : wanted) {
      if (fetched_.count({ref.collection(), ref.key()}) != 0) continue;
      fetch.push_back(std::move(ref));
      if (fetch.size() >= options_.max_fetch_keys) break;
    }
    if (fetch.empty()) {
      auto report = replica_.finish_reset(scope);
      // kFailedPrecondition: another process finished this reset first.
      if (!report.ok() && report.status().code() != ErrorCode::kFailedPrecondition) {
        return report.status();
      }
      if (report.ok()) progress_.mutations_confirmed += report->mutations_confirmed;
      fetched_.clear();
      return next_pull(newest_pending);  // the cursor moved: build the request again
    }
    pull->clear_cursors();
    auto* cursor = pull->add_cursors();
    cursor->set_scope(scope);
    for (const auto& stored : cursors) {
      if (stored.scope == scope) cursor->set_seq(stored.seq);
    }
    pull->set_fetch_scope(scope);
    last_fetch_.clear();
    for (auto& ref : fetch) {
      fetched_.insert({ref.collection(), ref.key()});
      last_fetch_.push_back(ref);
      *pull->add_fetch() = std::move(ref);
    }
    for (auto& progress : progress_.scopes) {
      if (progress.scope == scope) progress.phase = SyncPhase::kResetting;
    }
    progress_.phase = SyncPhase::kResetting;
    in_flight_ = 1;
    in_flight_is_fetch_ = true;
    std::erase_if(basis.cursors, [&](const ScopeCursor& stored) { return stored.scope != scope; });
    sent_pull(std::move(basis));
    return std::optional<protocol::ClientFrame>(std::move(frame));
  }
  // Keys asked for in a reset that another process finished (or that ended) are no
  // longer "asked for" in the next one.
  if (!resetting) {
    fetched_.clear();
    fetched_target_.clear();
  }
  if (urgent_first_) {
    pull->set_urgent_first(true);
    urgent_first_ = false;
  }
  in_flight_ = 1;
  in_flight_is_fetch_ = false;
  sent_pull(std::move(basis));
  return std::optional<protocol::ClientFrame>(std::move(frame));
}

std::optional<protocol::ClientFrame> SyncClient::pipelined_pull(
    const protocol::PullResponse& response) {
  // Only plain log or snapshot pages: resets and fetches take the careful path.
  if (in_flight_ != 1 || pushing_ || in_flight_is_fetch_ || pipelined_) return std::nullopt;
  bool more = false;
  for (const auto& scope : response.scopes()) {
    if (scope.reset() || scope.cursor() > scope.head_seq()) return std::nullopt;
    more |= scope.has_more();
  }
  if (!more || response.scopes_size() != static_cast<int>(scopes_.size())) return std::nullopt;
  protocol::ClientFrame frame;
  protocol::PullRequest* pull = new_pull(frame);
  for (const auto& scope : response.scopes()) {
    auto* cursor = pull->add_cursors();
    cursor->set_scope(scope.scope());
    cursor->set_seq(scope.cursor());
    cursor->set_token(scope.cursor_token());
  }
  in_flight_ = 2;
  pipelined_ = true;
  // Built from the answer's cursors; it knows the outbox the first pull knew.
  PullBasis basis{.newest_pending = pull_bases_.empty() ? 0 : pull_bases_.back().newest_pending};
  for (const auto& cursor : pull->cursors()) {
    basis.cursors.push_back(ScopeCursor{cursor.scope(), cursor.seq(), cursor.token()});
  }
  sent_pull(std::move(basis));
  return frame;
}

Status SyncClient::on_push_response(const protocol::PushResponse& response) {
  in_flight_ = std::max(0, in_flight_ - 1);
  pushing_ = false;
  // The server may stop a push early (kUnavailable: a mutation must wait): what it did
  // not answer goes again, before anything newer, or the server would skip it for good.
  uint64_t answered = response.last_mutation_id();
  for (const auto& result : response.results()) answered = std::max(answered, result.id());
  pushed_through_ = std::min(pushed_through_, answered);
  OUTPOST_ASSIGN_OR_RETURN(auto report, replica_.apply_push_results(response));
  progress_.mutations_rejected += report.mutations_rejected.size();
  behind_ = true;  // a pull confirms what was applied
  return Status::Ok();
}

Status SyncClient::on_pull_response(const protocol::PullResponse& response) {
  in_flight_ = std::max(0, in_flight_ - 1);
  const bool another_in_flight = in_flight_ > 0;
  if (!another_in_flight) pipelined_ = false;
  const bool was_fetch = in_flight_is_fetch_;
  std::optional<PullBasis> basis;
  if (!pull_bases_.empty()) {
    basis = std::move(pull_bases_.front());
    pull_bases_.pop_front();
  }
  // A cursor past the head the same answer reports was never issued for what this
  // device saw: storing it would skip the changes in between. Nothing of it is applied.
  for (const auto& scope : response.scopes()) {
    if (scope.cursor() > scope.head_seq()) {
      return error(ErrorCode::kInvalidArgument, "pull response: cursor " +
                                                    std::to_string(scope.cursor()) + " of '" +
                                                    scope.scope() + "' is ahead of its head " +
                                                    std::to_string(scope.head_seq()));
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(auto report, replica_.apply(response, basis ? &*basis : nullptr));
  if (report.stale) {
    // Another process applied a page since this request was built: pull again from the
    // stored cursors (a fetch's keys are asked for again).
    forget_lost_fetch();
    behind_ = true;
    return Status::Ok();
  }
  in_flight_is_fetch_ = false;
  last_fetch_.clear();
  progress_.mutations_confirmed += report.mutations_confirmed;
  progress_.mutations_rejected += report.mutations_rejected.size();
  bool more = was_fetch;
  SyncPhase overall = SyncPhase::kIdle;
  for (const auto& scope : response.scopes()) {
    for (auto& progress : progress_.scopes) {
      if (progress.scope != scope.scope()) continue;
      const bool initial = progress.cursor == 0 && !scope.reset() && !was_fetch;
      if (scope.reset() || was_fetch) {
        progress.phase = SyncPhase::kResetting;
      } else if (initial && scope.has_more()) {
        progress.phase = SyncPhase::kInitial;
        progress.records_total = scope.total_records();
        progress.bytes_total = scope.total_bytes();
      } else if (scope.has_more()) {
        progress.phase = SyncPhase::kCatchingUp;
        progress.records_total = scope.head_seq() - std::min(scope.head_seq(), scope.cursor()) +
                                 progress.records_done + scope.changes_size();
      } else {
        progress.phase = SyncPhase::kIdle;
      }
      progress.records_done += scope.changes_size();
      for (const auto& change : scope.changes()) progress.bytes_done += change.body().size();
      if (!scope.reset() && !was_fetch && !scope.cursor_token().empty()) {
        // mid-snapshot: the cursor stays 0 until the snapshot completes
      } else if (!scope.reset() && !was_fetch) {
        progress.cursor = scope.cursor();
      }
      progress.head = std::max(progress.head, scope.head_seq());
      if (progress.phase != SyncPhase::kIdle) overall = progress.phase;
    }
    more |= scope.has_more() || scope.reset();
  }
  behind_ = more || another_in_flight;
  OUTPOST_ASSIGN_OR_RETURN(auto pending, replica_.pending(0));
  progress_.pending_mutations = pending.size();
  if (!behind_ && now_ms_ > 0) last_sync_ms_ = now_ms_;
  if (!pending.empty() && pushed_through_ >= pending.back().id && !more) {
    // Everything was pushed and the pull was complete, yet some are unconfirmed: the
    // server has not applied them (e.g. a push lost): push again.
    pushed_through_ = 0;
  }
  progress_.phase = overall;
  return Status::Ok();
}

uint64_t Backoff::next_delay_ms(std::mt19937_64& random) {
  uint64_t ceiling = base_ms_;
  for (uint32_t i = 0; i < attempts_ && ceiling < max_ms_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max_ms_);
  ++attempts_;
  return ceiling == 0 ? 0 : random() % (ceiling + 1);
}

}  // namespace outpost
