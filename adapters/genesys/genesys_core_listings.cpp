// The sans-I/O core's listings of the org and of each agent's queues (decision 056), moved
// from the adapter's worker: the response-management libraries, each library's responses
// (paged by nextUri), the external contacts (the scan's cursors, `contact_scan_limit` a
// page; the numbered listing stops at 1000), and an agent's queues joined and not joined.
// Each page is bounded by the decoder (kMaxBodyBytes, kMaxEntities); each entity is decoded
// on its own, a bad one counted and logged with the page's correlation id and nothing sent
// for it. The org's listings run after each org reconcile, beside the gap reconciles (a
// scan of 50,000 contacts does not hold back an agent's reconcile); a failed one is tried
// again whole after retry_after_failure. What the platform deleted goes by the listings
// (decision 063): a listing of the responses (every library's) or of the contacts that
// read every page deletes from the server each record sent before, or known from the
// store (org_record_known), that it did not show; a failed or partial one deletes nothing.
// So does an agent's voicemail listing (in its reconcile) for the voicemails known when it
// started, each read alone first (issue 16: a delete notification missed).
#include <algorithm>

#include "adapters/genesys/genesys_core.h"

namespace outpost::genesys {
namespace {

constexpr int kListPageSize = 100;
constexpr size_t kMinScanLimit = 10, kMaxScanLimit = 200;  // the scan's own bounds
// The ids a listing remembers to tell what it did not show (decision 063): 50,000 contacts
// are about 4 MB; past this bound the listing deletes nothing.
constexpr size_t kMaxListedIds = 250'000;

std::string with_paging(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "pageSize=" + std::to_string(kListPageSize) + "&pageNumber=1";
}

}  // namespace

void GenesysCore::maybe_list_org() {
  if (!need_org_listings_ || listing_org_ || now_ms_ < org_listings_retry_at_) return;
  need_org_listings_ = false;
  listing_org_ = true;
  listed_responses_ = Listed{};
  listed_contacts_ = Listed{};
  auto libraries = std::make_shared<std::vector<std::string>>();
  auto done = [this](Status status) {
    listing_org_ = false;
    if (!status.ok()) {
      if (options_.log) options_.log("genesys: org listings: " + status.to_string());
      need_org_listings_ = true;
      org_listings_retry_at_ = now_ms_ + options_.retry_after_failure_ms;
      return;
    }
    ++counters_.org_listings;
    org_listed_ = true;
    mark_mirrored();
  };
  list(
      with_paging("/api/v2/responsemanagement/libraries"), "entities",
      [this, libraries](const std::string& entity, const std::string& corr) {
        const std::string id = conversation_id(entity);  // any entity's id
        if (id.empty()) {
          return decode_failed("library", error(ErrorCode::kInvalidArgument, "no id"), corr);
        }
        libraries->push_back(id);
      },
      [this, libraries, done](Status status) {
        if (!status.ok()) return done(status);
        list_responses(libraries, 0, [this, done](Status responses) {
          if (!responses.ok()) return done(responses);
          // Every library's responses read whole: one no library shows is gone.
          delete_unlisted("canned_response", listed_responses_);
          if (!options_.mirror_contacts) return done(responses);
          list_contacts([this, done](Status contacts) {
            if (contacts.ok()) delete_unlisted("contact", listed_contacts_);
            done(contacts);
          });
        });
      });
}

void GenesysCore::list_responses(std::shared_ptr<std::vector<std::string>> libraries, size_t at,
                                 Next next) {
  if (at >= libraries->size()) return next(Status::Ok());
  list(
      with_paging("/api/v2/responsemanagement/responses?libraryId=" + (*libraries)[at]), "entities",
      [this](const std::string& entity, const std::string& corr) {
        note_listed(listed_responses_, entity);
        auto response = decode_response(entity);
        if (!response.ok()) return decode_failed("response", response.status(), corr);
        upstream::Event event;
        event.set_tenant(options_.tenant);
        const std::string key = "canned_response/" + response->id();
        *event.mutable_canned_response() = std::move(response).value();
        emit(std::move(event), key);
      },
      [this, libraries, at, next](Status status) {
        if (!status.ok()) return next(status);
        list_responses(libraries, at + 1, next);
      });
}

void GenesysCore::list_contacts(Next next) {
  const size_t limit = std::clamp(options_.contact_scan_limit, kMinScanLimit, kMaxScanLimit);
  // The nextUri carries the cursor (cursors.after) onwards.
  list(
      "/api/v2/externalcontacts/scan/contacts?limit=" + std::to_string(limit), "entities",
      [this](const std::string& entity, const std::string& corr) {
        note_listed(listed_contacts_, entity);
        auto contact = decode_contact(entity);
        if (!contact.ok()) return decode_failed("external contact", contact.status(), corr);
        upstream::Event event;
        event.set_tenant(options_.tenant);
        const std::string key = "contact/" + contact->id();
        *event.mutable_contact() = std::move(contact).value();
        emit(std::move(event), key);
      },
      std::move(next), "", limit);
}

void GenesysCore::list_queues(const std::string& user, Next next) {
  auto one = [this, user](const char* joined, Next then) {
    list(
        with_paging("/api/v2/users/" + user + "/queues?joined=" + joined), "entities",
        [this, user](const std::string& entity, const std::string& corr) {
          auto queue = decode_user_queue(entity);
          if (!queue.ok()) return decode_failed("queue", queue.status(), corr);
          upstream::Event event;
          event.set_tenant(options_.tenant);
          event.set_user(user);
          const std::string key = "queue/" + user + "/" + queue->id();
          *event.mutable_queue() = std::move(queue).value();
          emit(std::move(event), key);
        },
        std::move(then));
  };
  one("true", [one, next](Status joined) {
    if (!joined.ok()) return next(joined);
    one("false", next);
  });
}

void GenesysCore::list_voicemail(const std::string& user, Next next) {
  // With the agent's own login, the endpoint for the logged-in user; else the admin one.
  const bool own = own_logins_.count(user) > 0;
  // The candidates: the agent's voicemails sent or known from the store now. Each one the
  // pages show leaves the set, so it holds at most what the core already keys.
  auto unlisted = std::make_shared<Listed>();
  const std::string prefix = "voicemail/" + user + "/";
  if (options_.skip_voicemail_listing_deletes) unlisted->unsure = true;
  for (auto it = last_sent_.lower_bound(prefix); !unlisted->unsure && it != last_sent_.end() &&
                                                 it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    if (unlisted->ids.size() >= kMaxListedIds) {
      unlisted->unsure = true;
      unlisted->ids.clear();
      break;
    }
    unlisted->ids.insert(it->first.substr(prefix.size()));
  }
  list(
      with_paging(own ? "/api/v2/voicemail/me/messages"
                      : "/api/v2/voicemail/users/" + user + "/messages"),
      "entities",
      [this, user, unlisted](const std::string& entity, const std::string& corr) {
        if (!unlisted->unsure) {
          // The id alone: a voicemail the decoder refuses is still on the platform.
          const std::string id = conversation_id(entity);  // any entity's id
          if (id.empty()) {
            unlisted->unsure = true;
            unlisted->ids.clear();
          } else {
            unlisted->ids.erase(id);
          }
        }
        auto vm = decode_voicemail(entity);
        if (!vm.ok()) return decode_failed("voicemail", vm.status(), corr);
        if (is_gone(user, vm->id())) return;  // a page read before its delete
        upstream::Event event;
        event.set_tenant(options_.tenant);
        event.set_user(user);
        *event.mutable_voicemail_left() = std::move(vm).value();
        const std::string key = "voicemail/" + user + "/" + event.voicemail_left().id();
        emit_voicemail(std::move(event), key);  // with its recording (decision 064)
      },
      [this, user, prefix, unlisted, next](Status status) {
        // A failed or partial listing deletes nothing (the reconcile is tried again).
        if (!status.ok()) return next(status);
        if (unlisted->unsure) {
          if (options_.log && !options_.skip_voicemail_listing_deletes) {
            options_.log("genesys: the voicemail listing of " + user +
                         " could not tell every id; it deletes nothing");
          }
          return next(status);
        }
        // Those still known (a notification may have deleted one meanwhile).
        auto ids = std::make_shared<std::vector<std::string>>();
        for (const std::string& id : unlisted->ids)
          if (last_sent_.count(prefix + id) != 0 && !is_gone(user, id)) ids->push_back(id);
        unlisted->ids.clear();
        confirm_unlisted(user, ids, 0, next);
      },
      own ? user : std::string());
}

void GenesysCore::confirm_unlisted(const std::string& user,
                                   std::shared_ptr<std::vector<std::string>> ids, size_t at,
                                   Next next) {
  if (at >= ids->size()) return next(Status::Ok());
  const std::string id = (*ids)[at];
  const bool own = own_logins_.count(user) > 0;
  call(
      "GET", "/api/v2/voicemail/messages/" + id, "",
      [this, user, ids, at, id, next](Result<CoreAnswer> answer) {
        if (!answer.ok()) return next(answer.status());
        if (answer->status == 404 ||
            (answer->status == 200 && voicemail_action(answer->body) == "delete")) {
          ++counters_.voicemails_unlisted;
          voicemail_gone(user, id);
        } else if (answer->status != 200) {
          return next(error(ErrorCode::kUnavailable,
                            "voicemail " + id + ": HTTP " + std::to_string(answer->status)));
        }
        // 200: still on the platform (a page skipped it), kept.
        confirm_unlisted(user, ids, at + 1, next);
      },
      own ? user : std::string());
}

void GenesysCore::voicemail_known(const std::string& user, const std::string& id) {
  if (id.empty() || is_gone(user, id) || !is_mirrored(AgentRef{options_.tenant, user})) return;
  // No bytes: the next listing that shows it sends it again.
  last_sent_.try_emplace("voicemail/" + user + "/" + id);
}

void GenesysCore::note_listed(Listed& listed, const std::string& entity) {
  if (listed.unsure) return;
  // The id alone: an entity the decoder refuses is still on the platform, not deleted.
  const std::string id = conversation_id(entity);  // any entity's id
  if (id.empty() || listed.ids.size() >= kMaxListedIds) {
    listed.unsure = true;
    listed.ids.clear();
    return;
  }
  listed.ids.insert(id);
}

void GenesysCore::delete_unlisted(const std::string& collection, Listed& listed) {
  std::unordered_set<std::string> ids = std::move(listed.ids);
  const bool unsure = listed.unsure;
  listed = Listed{};
  if (unsure) {
    if (options_.log) {
      options_.log("genesys: the " + collection +
                   " listing could not tell every id; it deletes nothing");
    }
    return;
  }
  if (options_.skip_listing_deletes) return;
  // Every record sent (or known from the store) under "<collection>/<id>".
  const std::string prefix = collection + "/";
  auto it = last_sent_.lower_bound(prefix);
  while (it != last_sent_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    const std::string id = it->first.substr(prefix.size());
    if (ids.count(id) != 0) {
      ++it;
      continue;
    }
    it = last_sent_.erase(it);
    upstream::Event event;
    event.set_tenant(options_.tenant);
    if (collection == "contact") {
      event.set_contact_deleted(id);
    } else {
      event.set_canned_response_deleted(id);
    }
    ++counters_.org_deletions;
    ++counters_.events;
    events_out_.push_back(std::move(event));
  }
}

void GenesysCore::org_record_known(const std::string& collection, const std::string& id) {
  if ((collection != "contact" && collection != "canned_response") || id.empty()) return;
  last_sent_.try_emplace(collection + "/" + id);  // no bytes: the next listing sends it again
}

void GenesysCore::mark_mirrored() {
  if (mirrored_ || !agents_mirrored_ || !org_listed_) return;
  mirrored_ = true;
  reconciled_.all = true;
}

}  // namespace outpost::genesys
