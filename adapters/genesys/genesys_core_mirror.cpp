// The sans-I/O core's reconcile, as chains of requests: the org (presence definitions,
// wrap-up codes), then each agent (presence and routing status, the journal from the
// analytics query with the unfinished conversations read again, voicemail, queues), page by
// page; a finished org reconcile starts the org's listings (genesys_core_listings.cpp).
// A failed step fails the reconcile, which is tried again after retry_after_failure.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_core.h"

namespace outpost::genesys {
namespace {

constexpr size_t kMaxPages = 10'000;
constexpr int kListPageSize = 100;
constexpr int kQueryPageSize = 100;
constexpr int kMaxQueryPages = 100;

std::string with_paging(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "pageSize=" + std::to_string(kListPageSize) + "&pageNumber=1";
}

Status http_error(const std::string& what, long status) {
  return error(ErrorCode::kUnavailable, what + ": HTTP " + std::to_string(status));
}

}  // namespace

struct GenesysCore::Listing {
  std::string first;
  std::string user;  // whose login carries the pages (empty: the client's)
  std::string member;
  EntityFn fn;
  size_t pages = 0;
  size_t seen = 0;
  int64_t total = -1;
  bool short_page = false;
  size_t limit = 0;  // the page size asked for, when the answer does not say it
};

void GenesysCore::maybe_reconcile() {
  maybe_list_org();
  // Subscribed first (decision 024): no reconcile until every channel is open.
  if (reconciling_ || !all_open()) return;
  if (now_ms_ - last_org_ms_ > options_.org_reconcile_every_ms) need_org_ = true;
  if (mirrored_ && now_ms_ - last_agents_ms_ > options_.agent_reconcile_every_ms) {
    need_all_ = true;
  }
  // The agents: every one, or those of the channels that had a gap.
  std::vector<size_t> gapped;
  for (size_t i = 0; i < channels_.size(); ++i)
    if (channels_[i].need_reconcile) gapped.push_back(i);
  if ((!need_org_ && !need_all_ && gapped.empty()) || now_ms_ < reconcile_retry_at_) return;
  const bool org = need_org_;
  const bool all = need_all_;
  auto users = std::make_shared<std::vector<std::string>>();
  if (all) {
    *users = options_.users;
  } else {
    for (size_t i : gapped)
      users->insert(users->end(), channels_[i].users.begin(), channels_[i].users.end());
  }
  need_org_ = need_all_ = false;
  for (size_t i : gapped) channels_[i].need_reconcile = false;
  reconciling_ = true;
  auto finish = [this, org, all, gapped, users](Status status) {
    reconciling_ = false;
    if (!status.ok()) {
      if (options_.log) options_.log("genesys: reconcile: " + status.to_string());
      need_org_ = need_org_ || org;
      need_all_ = need_all_ || all;
      for (size_t i : gapped) channels_[i].need_reconcile = true;
      reconcile_retry_at_ = now_ms_ + options_.retry_after_failure_ms;
      return;
    }
    if (org) {
      last_org_ms_ = now_ms_;
      ++counters_.org_reconciles;
      reconciled_.org = true;
      need_org_listings_ = true;  // beside the gap reconciles that may follow
    }
    if (all) {
      last_agents_ms_ = now_ms_;
      agents_mirrored_ = true;
      if (mirrored_) reconciled_.all = true;
    }
    reconciled_.users.insert(reconciled_.users.end(), users->begin(), users->end());
    mark_mirrored();
    maybe_list_org();
  };
  auto run_agents = [this, users, finish](Status status) {
    if (!status.ok() || users->empty()) return finish(status);
    reconcile_agents(users, 0, finish);
  };
  if (org) return reconcile_org(run_agents);
  run_agents(Status::Ok());
}

void GenesysCore::reconcile_org(Next next) {
  call("GET", "/api/v2/presence/definitions?deactivated=true", "",
       [this, next](Result<CoreAnswer> answer) {
         if (!answer.ok()) return next(answer.status());
         if (answer->status != 200) return next(http_error("presence definitions", answer->status));
         auto definitions = decode_presence_definitions(answer->body);
         if (!definitions.ok()) {
           decode_failed("presence definitions", definitions.status(), answer->correlation_id);
           return next(definitions.status());
         }
         presence_map_ = definitions->map;
         presence_loaded_ = true;
         for (auto& reason : definitions->aux_reasons) {
           upstream::Event event;
           event.set_tenant(options_.tenant);
           const std::string key = "aux_reason/" + reason.id();
           *event.mutable_aux_reason() = std::move(reason);
           emit(std::move(event), key);
         }
         list(
             with_paging("/api/v2/routing/wrapupcodes"), "entities",
             [this](const std::string& entity, const std::string& corr) {
               auto code = decode_wrapup_code(entity);
               if (!code.ok()) return decode_failed("wrap-up code", code.status(), corr);
               upstream::Event event;
               event.set_tenant(options_.tenant);
               *event.mutable_wrapup_code() = std::move(code).value();
               emit(std::move(event), "wrapup_code/" + event.wrapup_code().id());
             },
             next);
       });
}

void GenesysCore::reconcile_agents(std::shared_ptr<std::vector<std::string>> users, size_t at,
                                   Next next) {
  if (at >= users->size()) return next(Status::Ok());
  reconcile_agent((*users)[at], [this, users, at, next](Status status) {
    if (!status.ok()) return next(status);
    reconcile_agents(users, at + 1, next);
  });
}

void GenesysCore::read_presence(const std::string& user, bool force, Next next) {
  const std::string base = "/api/v2/users/" + user;
  call("GET", base + "/presences/purecloud", "",
       [this, user, base, force, next](Result<CoreAnswer> p) {
         if (!p.ok()) return next(p.status());
         if (p->status != 200) return next(http_error("presence of " + user, p->status));
         const CoreAnswer presence = *p;
         call("GET", base + "/routingstatus", "",
              [this, user, presence, force, next](Result<CoreAnswer> r) {
                if (!r.ok()) return next(r.status());
                if (r->status != 200)
                  return next(http_error("routing status of " + user, r->status));
                int64_t modified_ms = 0;
                auto change = decode_presence(presence.body, presence_map_, &modified_ms);
                auto status = decode_routing_status(r->body);
                if (!change.ok()) {
                  decode_failed("presence", change.status(), presence.correlation_id);
                } else if (!status.ok()) {
                  decode_failed("routing status", status.status(), r->correlation_id);
                } else {
                  change->set_routing_status(*status);
                  // A read-back after a write: the server may hold what the write's late
                  // answer said, not what the platform has now; sent even if unchanged.
                  if (force) last_sent_.erase("presence/" + user);
                  emit_presence(user, std::move(change).value(), modified_ms);
                }
                next(Status::Ok());
              });
       });
}

void GenesysCore::reconcile_agent(const std::string& user, Next next) {
  read_presence(user, false, [this, user, next](Status presence) {
    if (!presence.ok()) return next(presence);
    reconcile_conversations(user, 1, [this, user, next](Status conversations) {
      if (!conversations.ok()) return next(conversations);
      list_voicemail(user, [this, user, next](Status voicemail) {
        if (!voicemail.ok()) return next(voicemail);
        list_queues(user, [this, next](Status queues) {
          if (queues.ok()) ++counters_.agent_reconciles;
          next(queues);
        });
      });
    });
  });
}

void GenesysCore::reconcile_conversations(const std::string& user, int page, Next next) {
  const std::string interval =
      format_iso_ms(now_ms_ - 36 * 3'600'000LL) + "/" + format_iso_ms(now_ms_ + 3'600'000LL);
  boost::json::object query{
      {"interval", interval},
      {"order", "asc"},
      {"orderBy", "conversationStart"},
      {"segmentFilters",
       boost::json::array{boost::json::object{
           {"type", "and"},
           {"predicates",
            boost::json::array{boost::json::object{
                                   {"type", "dimension"}, {"dimension", "userId"}, {"value", user}},
                               boost::json::object{{"type", "dimension"},
                                                   {"dimension", "purpose"},
                                                   {"value", "agent"}}}}}}},
      {"paging", boost::json::object{{"pageSize", kQueryPageSize}, {"pageNumber", page}}}};
  call("POST", "/api/v2/analytics/conversations/details/query", boost::json::serialize(query),
       [this, user, page, next](Result<CoreAnswer> answer) {
         if (!answer.ok()) return next(answer.status());
         if (answer->status != 200) return next(http_error("conversation query", answer->status));
         auto listing = decode_page(answer->body, "conversations");
         if (!listing.ok()) {
           decode_failed("conversation query", listing.status(), answer->correlation_id);
           return next(listing.status());
         }
         auto refresh = std::make_shared<std::vector<std::string>>();
         for (const std::string& entity : listing->entities) {
           auto interaction = decode_analytics_conversation(entity, user);
           if (!interaction.ok()) {
             decode_failed("conversation", interaction.status(), answer->correlation_id);
             continue;
           }
           // Analytics lags the conversation API: one the notifications showed is read
           // again from the conversation API while unfinished, else left alone.
           const std::string key = "interaction/" + user + "/" + interaction->id();
           auto known = interaction_state_.find(key);
           if (known != interaction_state_.end()) {
             if (known->second != domain::INTERACTION_QUALIFIED) {
               refresh->push_back(interaction->id());
             }
             continue;
           }
           upstream::Event event;
           event.set_tenant(options_.tenant);
           event.set_user(user);
           *event.mutable_interaction() = std::move(interaction).value();
           emit(std::move(event), key);
         }
         const bool more = listing->entities.size() >= static_cast<size_t>(kQueryPageSize) &&
                           page < kMaxQueryPages;
         refresh_conversations(user, refresh, 0, [this, user, page, more, next](Status status) {
           if (!status.ok() || !more) return next(status);
           reconcile_conversations(user, page + 1, next);
         });
       });
}

void GenesysCore::refresh_conversations(const std::string& user,
                                        std::shared_ptr<std::vector<std::string>> ids, size_t at,
                                        Next next) {
  if (at >= ids->size()) return next(Status::Ok());
  const std::string id = (*ids)[at];
  call("GET", "/api/v2/conversations/" + id, "",
       [this, user, ids, at, id, next](Result<CoreAnswer> answer) {
         if (!answer.ok()) return next(answer.status());
         if (answer->status == 200) {
           emit_conversation(user, answer->body, answer->correlation_id);
         } else if (answer->status != 404) {
           return next(http_error("conversation " + id, answer->status));
         }
         refresh_conversations(user, ids, at + 1, next);
       });
}

void GenesysCore::list(const std::string& first, const std::string& member, EntityFn fn, Next next,
                       const std::string& user, size_t limit) {
  auto listing = std::make_shared<Listing>();
  listing->limit = limit;
  listing->first = first;
  listing->user = user;
  listing->member = member;
  listing->fn = std::move(fn);
  each_page(listing, first, std::move(next));
}

void GenesysCore::each_page(const std::shared_ptr<Listing>& listing, const std::string& target,
                            Next next) {
  if (listing->pages++ >= kMaxPages) {
    return next(error(ErrorCode::kTooLarge, "listing over the page bound"));
  }
  call(
      "GET", target, "",
      [this, listing, target, next](Result<CoreAnswer> answer) {
        if (!answer.ok()) return next(answer.status());
        if (answer->status != 200) return next(http_error("GET " + target, answer->status));
        auto page = decode_page(answer->body, listing->member);
        if (!page.ok()) {
          decode_failed("page of " + listing->first, page.status(), answer->correlation_id);
          return next(page.status());
        }
        for (const std::string& entity : page->entities)
          listing->fn(entity, answer->correlation_id);
        listing->seen += page->entities.size();
        if (page->total >= 0) listing->total = page->total;
        // A page shorter than its size that still links onwards lost entities on the way.
        const int64_t size =
            page->page_size > 0 ? page->page_size : static_cast<int64_t>(listing->limit);
        if (!page->next_uri.empty() && size > 0 &&
            static_cast<int64_t>(page->entities.size()) < size) {
          listing->short_page = true;
        }
        if (!page->next_uri.empty()) return each_page(listing, page->next_uri, next);
        if (listing->short_page ||
            (listing->total >= 0 && listing->seen < static_cast<size_t>(listing->total))) {
          ++counters_.incomplete_listings;
          return next(error(ErrorCode::kUnavailable, listing->first + ": a partial listing"));
        }
        next(Status::Ok());
      },
      listing->user);
}

}  // namespace outpost::genesys
