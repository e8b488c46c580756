// The Genesys adapter's worker: what the sans-I/O core does not mirror yet, following what
// the core reports (decision 049). After each org reconcile, the response libraries and
// external contacts; after each reconciled agent, its queues; each voicemail event's
// recording (decision 034; a failed one is forgotten by the core, so its next reconcile sends
// the voicemail again). (Drafts both ways run on the core: decision 057.) Listings are read page by
// page (nextUri, the contact scan's cursors); each entity is decoded on its own: a bad one is
// counted and logged with the answer's correlation id, and nothing is emitted for it. A failed step
// is tried again after retry_after_failure; the adapter is mirrored once the core's first full
// mirror and everything following it are done.
#include <algorithm>
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPages = 10'000;           // 1M contacts at 100 a page
constexpr size_t kMaxPendingEvents = 500'000;  // as genesys_upstream.cpp
constexpr int kListPageSize = 100;

std::string with_paging(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "pageSize=" + std::to_string(kListPageSize) + "&pageNumber=1";
}

std::string voicemail_key(const upstream::Event& event) {
  const std::string& id =
      event.has_voicemail_left() ? event.voicemail_left().id() : event.voicemail_updated().id();
  return "voicemail/" + event.user() + "/" + id;
}

}  // namespace

void GenesysUpstream::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<upstream::Event> voicemails;
    voicemails.swap(voicemails_);
    std::vector<std::string> forget;
    forget.swap(to_forget_);
    const bool retry_due = Clock::now() >= retry_at_;
    const bool org = follow_org_ && retry_due;
    std::vector<std::string> users;
    if (retry_due) users.assign(follow_users_.begin(), follow_users_.end());
    if (org) follow_org_ = false;
    for (const std::string& user : users) follow_users_.erase(user);
    const bool all = all_reconciled_;
    lock.unlock();

    if (!forget.empty()) {
      core_.with_core([&](GenesysCore& core) {
        for (const std::string& key : forget) core.forget(key);
      });
    }
    const bool done = follow(std::move(voicemails), org, users);

    lock.lock();
    if (!done) retry_at_ = Clock::now() + options_.retry_after_failure;
    if (all && !mirrored_ && !follow_org_ && follow_users_.empty() && voicemails_.empty()) {
      mirrored_ = true;
      wake_.notify_all();
    }
    // Woken by the core's sinks; a failed step waits for retry_at_.
    const bool retrying = follow_org_ || !follow_users_.empty();
    auto ready = [&] {
      return stopping_ || !voicemails_.empty() || !to_forget_.empty() ||
             (retrying && Clock::now() >= retry_at_);
    };
    auto until = Clock::now() + std::chrono::seconds(1);
    if (retrying) until = std::min(until, std::max(retry_at_, Clock::now()));
    wake_.wait_until(lock, until, ready);
  }
}

bool GenesysUpstream::follow(std::vector<upstream::Event> voicemails, bool org,
                             std::vector<std::string> users) {
  std::vector<std::string> forget;
  for (upstream::Event& event : voicemails) {
    domain::Voicemail& vm = event.has_voicemail_left() ? *event.mutable_voicemail_left()
                                                       : *event.mutable_voicemail_updated();
    // Without its recording for now: the core sends it again on its next reconcile.
    bool kept = attach_audio(event.user(), vm);
    const std::string key = voicemail_key(event);
    {
      std::lock_guard lock(mutex_);
      kept = kept && pending_.size() < kMaxPendingEvents;  // nobody polls: sent again later
      if (pending_.size() < kMaxPendingEvents) pending_.push_back(std::move(event));
    }
    if (!kept) forget.push_back(key);
  }
  if (!forget.empty()) {
    core_.with_core([&](GenesysCore& core) {
      for (const std::string& key : forget) core.forget(key);
    });
  }
  auto log = [this](const std::string& line) {
    if (options_.log) options_.log("genesys: " + line);
  };
  bool done = true;
  if (org) {
    Status s = mirror_responses();
    if (s.ok() && options_.mirror_contacts) s = mirror_contacts();
    if (!s.ok()) {
      log("org mirror: " + s.to_string());
      std::lock_guard lock(mutex_);
      follow_org_ = true;
      done = false;
    }
  }
  for (size_t i = 0; i < users.size(); ++i) {
    Status s = mirror_queues(users[i]);
    if (s.ok()) continue;
    log("agent mirror: " + s.to_string());
    std::lock_guard lock(mutex_);
    follow_users_.insert(users.begin() + static_cast<std::ptrdiff_t>(i), users.end());
    done = false;
    break;
  }
  return done;
}

Status GenesysUpstream::each_page(
    const std::string& first, const std::string& member,
    const std::function<void(const std::string&, const std::string&)>& fn, size_t limit) {
  std::string next = first;
  size_t seen = 0;
  int64_t total = -1;
  bool short_page = false;
  for (size_t pages = 0; !next.empty(); ++pages) {
    if (pages >= kMaxPages) return error(ErrorCode::kTooLarge, "listing over the page bound");
    OUTPOST_ASSIGN_OR_RETURN(RestResponse answer, rest_.call("GET", next));
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

Status GenesysUpstream::mirror_queues(const std::string& user) {
  const std::string base = "/api/v2/users/" + user;
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
  return Status::Ok();
}

}  // namespace outpost::genesys
