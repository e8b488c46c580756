// The REST half of the Genesys adapter: the initial mirror and every reconciliation, page
// by page (nextUri, the contact scan's cursors, the analytics query's pageNumber). Each
// entity is decoded on its own: a bad one is counted and logged with the answer's
// correlation id, and nothing is emitted for it.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

constexpr size_t kMaxPages = 10'000;  // 1M contacts at 100 a page
constexpr int kListPageSize = 100;

std::string with_paging(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "pageSize=" + std::to_string(kListPageSize) + "&pageNumber=1";
}

}  // namespace

Status GenesysUpstream::each_page(
    const std::string& first, const std::string& member,
    const std::function<void(const std::string&, const std::string&)>& fn, size_t limit,
    const std::string& as_user) {
  std::string next = first;
  size_t seen = 0;
  int64_t total = -1;
  bool short_page = false;
  for (size_t pages = 0; !next.empty(); ++pages) {
    if (pages >= kMaxPages) return error(ErrorCode::kTooLarge, "listing over the page bound");
    OUTPOST_ASSIGN_OR_RETURN(RestResponse answer, as_user.empty()
                                                      ? rest_.call("GET", next)
                                                      : rest_.call_as(as_user, "GET", next));
    if (answer.status != 200) {
      return error(ErrorCode::kUnavailable, "GET " + next + ": HTTP " +
                                                std::to_string(answer.status) + " [" +
                                                answer.correlation_id + "]");
    }
    auto page = decode_page(answer.body, member);
    if (!page.ok()) {
      decode_failed("page of " + first, page.status(), answer.correlation_id);
      return page.status();
    }
    for (const std::string& entity : page->entities) fn(entity, answer.correlation_id);
    seen += page->entities.size();
    if (page->total >= 0) total = page->total;
    // A page shorter than its size that still links onwards lost entities on the way.
    const int64_t size = page->page_size > 0 ? page->page_size : static_cast<int64_t>(limit);
    if (!page->next_uri.empty() && size > 0 && static_cast<int64_t>(page->entities.size()) < size) {
      short_page = true;
    }
    next = page->next_uri;
  }
  if (short_page || (total >= 0 && seen < static_cast<size_t>(total))) {
    std::lock_guard lock(mutex_);
    ++counters_.incomplete_listings;
    return error(ErrorCode::kUnavailable, first + ": " + std::to_string(seen) + " of " +
                                              std::to_string(total) +
                                              " entities or a short page (partial pages)");
  }
  return Status::Ok();
}

Status GenesysUpstream::load_presence_definitions(std::vector<upstream::Event>* out) {
  OUTPOST_ASSIGN_OR_RETURN(RestResponse answer,
                           rest_.call("GET", "/api/v2/presence/definitions?deactivated=true"));
  if (answer.status != 200) {
    return error(ErrorCode::kUnavailable,
                 "presence definitions: HTTP " + std::to_string(answer.status));
  }
  auto definitions = decode_presence_definitions(answer.body);
  if (!definitions.ok()) {
    decode_failed("presence definitions", definitions.status(), answer.correlation_id);
    return definitions.status();
  }
  {
    std::lock_guard lock(mutex_);
    presence_map_ = definitions->map;
    presence_loaded_ = true;
  }
  // The core's presence writes name the same definitions (outside our lock: decision 043).
  core_.with_core([&](GenesysCore& core) { core.set_presence_map(definitions->map); });
  for (auto& reason : definitions->aux_reasons) {
    upstream::Event event;
    event.set_tenant(options_.tenant);
    *event.mutable_aux_reason() = std::move(reason);
    out->push_back(std::move(event));
  }
  return Status::Ok();
}

Status GenesysUpstream::mirror_org() {
  std::vector<upstream::Event> reasons;
  OUTPOST_RETURN_IF_ERROR(load_presence_definitions(&reasons));
  for (auto& event : reasons) emit(std::move(event), "aux_reason/" + event.aux_reason().id());
  Status codes = each_page(with_paging("/api/v2/routing/wrapupcodes"), "entities",
                           [&](const std::string& entity, const std::string& corr) {
                             auto code = decode_wrapup_code(entity);
                             if (!code.ok())
                               return decode_failed("wrap-up code", code.status(), corr);
                             upstream::Event event;
                             event.set_tenant(options_.tenant);
                             *event.mutable_wrapup_code() = std::move(code).value();
                             emit(std::move(event), "wrapup_code/" + event.wrapup_code().id());
                           });
  OUTPOST_RETURN_IF_ERROR(codes);
  OUTPOST_RETURN_IF_ERROR(mirror_responses());
  if (options_.mirror_contacts) OUTPOST_RETURN_IF_ERROR(mirror_contacts());
  std::lock_guard lock(mutex_);
  ++counters_.org_reconciles;
  return Status::Ok();
}

Status GenesysUpstream::mirror_contacts() {
  // The listing stops at pageNumber*pageSize 1000; the scan pages the whole org by cursor.
  const std::string first =
      "/api/v2/externalcontacts/scan/contacts?limit=" + std::to_string(options_.contact_scan_limit);
  return each_page(
      first, "entities",
      [&](const std::string& entity, const std::string& corr) {
        auto contact = decode_contact(entity);
        if (!contact.ok()) return decode_failed("external contact", contact.status(), corr);
        upstream::Event event;
        event.set_tenant(options_.tenant);
        *event.mutable_contact() = std::move(contact).value();
        emit(std::move(event), "contact/" + event.contact().id());
      },
      options_.contact_scan_limit);
}

Status GenesysUpstream::mirror_responses() {
  std::vector<std::string> libraries;
  OUTPOST_RETURN_IF_ERROR(each_page(
      with_paging("/api/v2/responsemanagement/libraries"), "entities",
      [&](const std::string& entity, const std::string& corr) {
        boost::system::error_code ec;
        auto value = boost::json::parse(entity, ec);
        const auto* id = !ec && value.is_object() ? value.as_object().if_contains("id") : nullptr;
        if (!id || !id->is_string()) {
          return decode_failed("library", error(ErrorCode::kInvalidArgument, "no id"), corr);
        }
        libraries.emplace_back(id->as_string());
      }));
  for (const std::string& library : libraries) {
    OUTPOST_RETURN_IF_ERROR(
        each_page(with_paging("/api/v2/responsemanagement/responses?libraryId=" + library),
                  "entities", [&](const std::string& entity, const std::string& corr) {
                    auto response = decode_response(entity);
                    if (!response.ok()) return decode_failed("response", response.status(), corr);
                    upstream::Event event;
                    event.set_tenant(options_.tenant);
                    *event.mutable_canned_response() = std::move(response).value();
                    emit(std::move(event), "canned_response/" + event.canned_response().id());
                  }));
  }
  return Status::Ok();
}

Status GenesysUpstream::read_presence(const std::string& user, bool force) {
  const std::string base = "/api/v2/users/" + user;
  OUTPOST_ASSIGN_OR_RETURN(RestResponse presence, rest_.call("GET", base + "/presences/purecloud"));
  OUTPOST_ASSIGN_OR_RETURN(RestResponse routing, rest_.call("GET", base + "/routingstatus"));
  if (presence.status != 200 || routing.status != 200) {
    return error(ErrorCode::kUnavailable, "presence of " + user + ": HTTP " +
                                              std::to_string(presence.status) + "/" +
                                              std::to_string(routing.status));
  }
  auto change = decode_presence(presence.body, presence_map());
  auto status = decode_routing_status(routing.body);
  if (!change.ok()) {
    decode_failed("presence", change.status(), presence.correlation_id);
  } else if (!status.ok()) {
    decode_failed("routing status", status.status(), routing.correlation_id);
  } else {
    change->set_routing_status(*status);
    if (force) {
      std::lock_guard lock(mutex_);
      last_sent_.erase("presence/" + user);
    }
    emit_presence(user, std::move(change).value());
  }
  return Status::Ok();
}

Status GenesysUpstream::mirror_agent(const std::string& user) {
  const std::string base = "/api/v2/users/" + user;
  OUTPOST_RETURN_IF_ERROR(read_presence(user, false));
  for (const char* joined : {"true", "false"}) {
    OUTPOST_RETURN_IF_ERROR(each_page(with_paging(base + "/queues?joined=" + joined), "entities",
                                      [&](const std::string& entity, const std::string& corr) {
                                        auto queue = decode_user_queue(entity);
                                        if (!queue.ok())
                                          return decode_failed("queue", queue.status(), corr);
                                        upstream::Event event;
                                        event.set_tenant(options_.tenant);
                                        event.set_user(user);
                                        *event.mutable_queue() = std::move(queue).value();
                                        emit(std::move(event),
                                             "queue/" + user + "/" + event.queue().id());
                                      }));
  }
  OUTPOST_RETURN_IF_ERROR(mirror_conversations(user));
  // With the agent's own login, the endpoint for the logged-in user; else the admin variant.
  const bool own = rest_.has_user_token(user);
  const std::string voicemail =
      own ? "/api/v2/voicemail/me/messages" : "/api/v2/voicemail/users/" + user + "/messages";
  OUTPOST_RETURN_IF_ERROR(each_page(
      with_paging(voicemail), "entities",
      [&](const std::string& entity, const std::string& corr) {
        auto vm = decode_voicemail(entity);
        if (!vm.ok()) return decode_failed("voicemail", vm.status(), corr);
        attach_audio(user, *vm);
        upstream::Event event;
        event.set_tenant(options_.tenant);
        event.set_user(user);
        *event.mutable_voicemail_left() = std::move(vm).value();
        emit(std::move(event), "voicemail/" + user + "/" + event.voicemail_left().id());
      },
      0, own ? user : std::string()));
  std::lock_guard lock(mutex_);
  ++counters_.agent_reconciles;
  return Status::Ok();
}

Status GenesysUpstream::mirror_conversations(const std::string& user) {
  // Today's journal: the analytics details query for the agent's segments, the last day
  // (the domain keeps what falls in its journal window).
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string interval =
      format_iso_ms(now_ms - 36 * 3'600'000LL) + "/" + format_iso_ms(now_ms + 3'600'000LL);
  constexpr int kPage = 100;
  for (int number = 1; number <= 100; ++number) {
    boost::json::object query{
        {"interval", interval},
        {"order", "asc"},
        {"orderBy", "conversationStart"},
        {"segmentFilters",
         boost::json::array{boost::json::object{
             {"type", "and"},
             {"predicates", boost::json::array{boost::json::object{{"type", "dimension"},
                                                                   {"dimension", "userId"},
                                                                   {"value", user}},
                                               boost::json::object{{"type", "dimension"},
                                                                   {"dimension", "purpose"},
                                                                   {"value", "agent"}}}}}}},
        {"paging", boost::json::object{{"pageSize", kPage}, {"pageNumber", number}}}};
    OUTPOST_ASSIGN_OR_RETURN(RestResponse answer,
                             rest_.call("POST", "/api/v2/analytics/conversations/details/query",
                                        boost::json::serialize(query)));
    if (answer.status != 200) {
      return error(ErrorCode::kUnavailable,
                   "conversation query: HTTP " + std::to_string(answer.status));
    }
    auto page = decode_page(answer.body, "conversations");
    if (!page.ok()) {
      decode_failed("conversation query", page.status(), answer.correlation_id);
      return page.status();
    }
    for (const std::string& entity : page->entities) {
      auto interaction = decode_analytics_conversation(entity, user);
      if (!interaction.ok()) {
        decode_failed("conversation", interaction.status(), answer.correlation_id);
        continue;
      }
      // Analytics lags the conversation API: a conversation the notifications already
      // showed is read from the conversation API while it is unfinished, else left alone.
      const std::string key = "interaction/" + user + "/" + interaction->id();
      auto known = known_interaction_state(key);
      if (known == domain::INTERACTION_QUALIFIED) continue;
      if (known != domain::INTERACTION_STATE_UNSPECIFIED) {
        OUTPOST_RETURN_IF_ERROR(refresh_conversation(user, interaction->id()));
        continue;
      }
      upstream::Event event;
      event.set_tenant(options_.tenant);
      event.set_user(user);
      *event.mutable_interaction() = std::move(interaction).value();
      emit(std::move(event), "interaction/" + user + "/" + event.interaction().id());
    }
    if (page->entities.size() < static_cast<size_t>(kPage)) break;
  }
  return Status::Ok();
}

Status GenesysUpstream::refresh_conversation(const std::string& user, const std::string& id) {
  OUTPOST_ASSIGN_OR_RETURN(RestResponse answer, rest_.call("GET", "/api/v2/conversations/" + id));
  if (answer.status == 404) return Status::Ok();
  if (answer.status != 200) {
    return error(ErrorCode::kUnavailable,
                 "conversation " + id + ": HTTP " + std::to_string(answer.status));
  }
  // An unfinished email conversation: a web-interface edit missed in a gap comes now.
  if (emit_conversation(user, answer.body, answer.correlation_id) == "emails") {
    check_web_draft(user, id);
  }
  return Status::Ok();
}

}  // namespace outpost::genesys
