// The model's listings (decision 056), from shared/reference/platform-apis.md §1.4, §1.8,
// §1.9 and the Python fake (tests/adapters/genesys/fake_genesys_model.py): response-management
// libraries and responses (numbered pages, a library's responses by libraryId), the external
// contacts scan (limit 10..200, the cursor an offset, nextUri and cursors.after while more
// remain; DELETE of one contact, §1.8), and a user's queues joined or not (UserQueue: the
// queue with `joined`); and the web interface's changes to them, deletions too (decision 063).
#include <algorithm>
#include <cstdio>

#include "apps/outpost-sim/genesys_model.h"

namespace outpost::sim {
namespace {

namespace json = boost::json;

constexpr size_t kContacts = 25;
constexpr size_t kScanMin = 10, kScanMax = 200;
const char* const kFirstNames[] = {"Ann", "Bo", "Cai", "Dita", "Eero", "Fay", "Gus", "Hild"};

ModelAnswer answer(long status, const json::value& body) {
  return {status, json::serialize(body)};
}

ModelAnswer err(long status, const std::string& code, const std::string& message) {
  return answer(
      status,
      json::object{
          {"status", status}, {"code", code}, {"message", message}, {"contextId", "sim-context"}});
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// As the Python fake's: "resp-N" in library N % 2, email when N is odd, chat otherwise.
json::object response(size_t n, const json::object& library, const std::string& created) {
  const std::string id = "resp-" + std::to_string(n);
  return json::object{
      {"id", id},
      {"name", "Answer " + std::to_string(n)},
      {"version", 1},
      {"libraries",
       json::array{json::object{{"id", library.at("id")}, {"name", library.at("name")}}}},
      {"texts", json::array{json::object{{"content", "Thank you, {{name}} (" + id + ")."},
                                         {"contentType", "text/plain"},
                                         {"type", "body"}}}},
      {"interactionType", n % 2 ? "email" : "chat"},
      {"substitutions", json::array{json::object{{"id", "name"}}}},
      {"dateCreated", created}};
}

}  // namespace

// As the Python fake's make_contact: "ec-00000" on.
json::object GenesysModel::contact(size_t n, int64_t now_ms) const {
  const std::string first = kFirstNames[n % std::size(kFirstNames)];
  char id[16], phone[24], e164[24];
  snprintf(id, sizeof(id), "ec-%05zu", n);
  snprintf(phone, sizeof(phone), "+358 40 %07zu", n);
  snprintf(e164, sizeof(e164), "+35840%07zu", n);
  std::string lower = first;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return json::object{
      {"id", id},
      {"firstName", first},
      {"lastName", "Person" + std::to_string(n)},
      {"title", ""},
      {"workPhone", json::object{{"display", phone}, {"e164", e164}}},
      {"workEmail", lower + "." + std::to_string(n) + "@example.com"},
      {"type", "Curated"},
      {"externalOrganization", json::object{{"id", "eo-1"}, {"name", "Example Oy"}}},
      {"modifyDate", iso(now_ms)},
      {"createDate", iso(now_ms)}};
}

void GenesysModel::init_listings(int64_t now_ms) {
  const char* const kQueues[][2] = {
      {"queue-1", "Support"}, {"queue-2", "Sales"}, {"queue-3", "Chat"}};
  const std::vector<std::vector<const char*>> kMedia = {
      {"call", "email"}, {"call"}, {"message", "chat"}};
  for (size_t i = 0; i < std::size(kQueues); ++i) {
    json::object media;
    for (const char* m : kMedia[i]) media[m] = json::object{{"alertingTimeoutSeconds", 8}};
    queue_definitions_.push_back(json::object{{"id", kQueues[i][0]},
                                              {"name", kQueues[i][1]},
                                              {"memberCount", 12},
                                              {"joinedMemberCount", 7},
                                              {"mediaSettings", media}});
  }
  for (const char* name : {"General", "Billing"}) {
    libraries_.push_back(json::object{{"id", "lib-" + std::to_string(libraries_.size() + 1)},
                                      {"name", name},
                                      {"version", 1},
                                      {"dateCreated", iso(now_ms)}});
  }
  for (size_t n = 1; n <= 7; ++n) {
    responses_.push_back(response(n, libraries_[n % 2].as_object(), iso(now_ms)));
  }
  responses_made_ = 7;
  for (size_t n = 0; n < kContacts; ++n) contacts_.push_back(contact(n, now_ms));
  contacts_made_ = kContacts;
}

void GenesysModel::add_contacts(size_t count) {
  for (size_t i = 0; i < count; ++i) contacts_.push_back(contact(contacts_made_++, now_ms_));
}

void GenesysModel::add_responses(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    responses_.push_back(response(++responses_made_, libraries_[0].as_object(), iso(now_ms_)));
  }
}

bool GenesysModel::delete_contact(const std::string& id) {
  for (auto it = contacts_.begin(); it != contacts_.end(); ++it) {
    if (str(it->as_object(), "id") != id) continue;
    contacts_.erase(it);
    org_deleted_.insert(id);
    return true;
  }
  return false;
}

ModelAnswer GenesysModel::org_listing(const std::string& method, const std::string& path,
                                      const std::map<std::string, std::string>& query) {
  const std::string kOne = "/api/v2/externalcontacts/contacts/";
  if (method == "DELETE" && path.rfind(kOne, 0) == 0 && path.size() > kOne.size()) {
    if (!delete_contact(path.substr(kOne.size()))) return err(404, "not.found", "no such contact");
    return {204, ""};
  }
  if (method != "GET") return {};
  if (path == "/api/v2/responsemanagement/libraries") return listing(libraries_, query, path);
  if (path == "/api/v2/responsemanagement/responses") {
    auto library = query.find("libraryId");
    if (library == query.end() || library->second.empty()) {
      return err(400, "bad.request", "libraryId is required");
    }
    json::array mine;
    for (const auto& r : responses_) {
      for (const auto& l : r.as_object().at("libraries").as_array()) {
        if (str(l.as_object(), "id") == library->second) mine.push_back(r);
      }
    }
    return listing(mine, query, path);
  }
  if (path != "/api/v2/externalcontacts/scan/contacts") return {};
  auto number = [&](const char* key, size_t fallback) -> long long {
    auto it = query.find(key);
    if (it == query.end() || it->second.empty()) return static_cast<long long>(fallback);
    if (it->second.size() > 9 || it->second.find_first_not_of("0123456789") != std::string::npos)
      return -1;
    return std::stoll(it->second);
  };
  const long long limit = number("limit", 100), after = number("cursor", 0);
  if (after < 0 || limit < 0) return err(400, "bad.request", "bad cursor");
  if (limit < static_cast<long long>(kScanMin) || limit > static_cast<long long>(kScanMax)) {
    return err(400, "bad.request", "limit must be 10..200");
  }
  json::array page;
  const size_t from = std::min(contacts_.size(), static_cast<size_t>(after));
  const size_t to = std::min(contacts_.size(), from + static_cast<size_t>(limit));
  for (size_t i = from; i < to; ++i) page.push_back(contacts_[i]);
  json::object body{{"entities", page}, {"selfUri", "/api/v2/externalcontacts/scan/contacts"}};
  if (to < contacts_.size()) {
    const std::string cursor = std::to_string(to);
    body["cursors"] = json::object{{"after", cursor}};
    body["nextUri"] = "/api/v2/externalcontacts/scan/contacts?limit=" + std::to_string(limit) +
                      "&cursor=" + cursor;
  }
  return answer(200, body);
}

ModelAnswer GenesysModel::user_queues(const std::string& user,
                                      const std::map<std::string, std::string>& query,
                                      const std::string& path) {
  auto joined_param = query.find("joined");
  const bool joined = joined_param == query.end() || joined_param->second == "true";
  const User& u = users_.at(user);
  json::array mine;
  for (const auto& q : queue_definitions_) {
    auto member = u.queues.find(str(q.as_object(), "id"));
    if (member == u.queues.end() || member->second != joined) continue;
    json::object entity = q.as_object();
    entity["joined"] = joined;
    mine.push_back(entity);
  }
  return listing(mine, query, path);
}

std::string GenesysModel::web_edit_org_listing(size_t pick, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  // A third of the changes are deletions (decision 063), never of the last of either.
  const size_t what = pick % 6;
  if (what == 3 && contacts_.size() > 1) {
    const std::string id = str(contacts_[(pick / 6) % contacts_.size()].as_object(), "id");
    delete_contact(id);
    return "contact " + id + " deleted";
  }
  if (what == 4 && responses_.size() > 1) {
    auto it = responses_.begin() + static_cast<std::ptrdiff_t>((pick / 6) % responses_.size());
    const std::string id = str(it->as_object(), "id");
    responses_.erase(it);
    org_deleted_.insert(id);
    return "response " + id + " deleted";
  }
  if (what == 5) {
    const size_t n = ++responses_made_;
    responses_.push_back(response(n, libraries_[n % 2].as_object(), iso(now_ms_)));
    return "response " + str(responses_.back().as_object(), "id") + " added";
  }
  if (what % 3 == 0) {
    contacts_.push_back(contact(contacts_made_++, now_ms_));
    return "contact " + str(contacts_.back().as_object(), "id") + " added";
  }
  if (what % 3 == 1) {
    json::object& c = contacts_[(pick / 3) % contacts_.size()].as_object();
    c["lastName"] = str(c, "lastName") + "-" + std::to_string(pick % 97);
    c["modifyDate"] = iso(now_ms_);
    return "contact " + str(c, "id") + " edited";
  }
  json::object& r = responses_[(pick / 3) % responses_.size()].as_object();
  r["texts"].as_array()[0].as_object()["content"] = "Edited at " + iso(now_ms_) + " for {{name}}.";
  r["version"] = r["version"].to_number<int64_t>() + 1;
  return "response " + str(r, "id") + " edited";
}

std::string GenesysModel::web_change_queue(const std::string& user, size_t pick, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  User& u = users_.at(user);
  auto it = u.queues.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(pick % u.queues.size()));
  it->second = !it->second;
  return user + (it->second ? " joins " : " leaves ") + it->first;
}

}  // namespace outpost::sim
