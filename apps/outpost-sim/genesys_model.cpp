#include "apps/outpost-sim/genesys_model.h"

#include <time.h>

#include <algorithm>

namespace outpost::sim {
namespace {

namespace json = boost::json;

constexpr int kMaxPageSize = 100;
const char* const kSystemPresences[] = {"Available", "Away", "Busy",     "Offline", "Idle",
                                        "OnQueue",   "Meal", "Training", "Meeting", "Break"};
const std::map<std::string, std::string> kMediaKeys = {
    {"voice", "calls"}, {"email", "emails"}, {"message", "messages"}, {"callback", "callbacks"}};

ModelAnswer answer(long status, const json::value& body) {
  return {status, body.is_null() ? std::string() : json::serialize(body)};
}

ModelAnswer err(long status, const std::string& code, const std::string& message) {
  return answer(status, json::object{{"status", status},
                                     {"code", code},
                                     {"message", message},
                                     {"contextId", "sim-context"},
                                     {"details", json::array{}},
                                     {"errors", json::array{}}});
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A conversation as the API shows it (the model's own keys start with '_').
boost::json::object public_of(const boost::json::object& conversation) {
  boost::json::object out = conversation;
  out.erase("_media");
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < query.size()) {
    size_t amp = query.find('&', at);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(at, amp - at);
    const size_t eq = pair.find('=');
    if (eq != std::string::npos) out[pair.substr(0, eq)] = pair.substr(eq + 1);
    at = amp + 1;
  }
  return out;
}

// "a/b/c" split on '/'.
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

int to_int(const std::string& text, int fallback) {
  if (text.empty() || text.size() > 9) return fallback;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

GenesysModel::GenesysModel(std::vector<std::string> users, int64_t now_ms)
    : now_ms_(now_ms), user_ids_(std::move(users)) {
  for (const char* name : kSystemPresences) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    definitions_.push_back(json::object{{"id", "pd-" + lower},
                                        {"name", name},
                                        {"type", "System"},
                                        {"languageLabels", json::object{{"en_US", name}}},
                                        {"systemPresence", name},
                                        {"deactivated", false}});
  }
  const char* const kAux[][3] = {{"aux-lunch", "Lunch", "Meal"},
                                 {"aux-coffee", "Coffee", "Break"},
                                 {"aux-training", "Training", "Training"},
                                 {"aux-old", "Old reason", "Away"}};
  for (const auto& aux : kAux) {
    definitions_.push_back(json::object{{"id", aux[0]},
                                        {"name", aux[1]},
                                        {"type", "User"},
                                        {"languageLabels", json::object{{"en_US", aux[1]}}},
                                        {"systemPresence", aux[2]},
                                        {"deactivated", std::string(aux[0]) == "aux-old"}});
  }
  const char* const kCodes[] = {"Resolved", "Callback", "Escalated", "No answer"};
  for (int i = 0; i < 4; ++i) {
    wrapup_codes_.push_back(json::object{{"id", "wrapup-" + std::to_string(i + 1)},
                                         {"name", kCodes[i]},
                                         {"description", ""},
                                         {"dateCreated", iso(now_ms)}});
  }
  for (const std::string& user : user_ids_) {
    User& u = users_[user];
    u.modified = iso(now_ms);
    u.queues = {{"queue-1", true}, {"queue-2", false}, {"queue-3", true}};
  }
  init_listings(now_ms);
}

std::string GenesysModel::iso(int64_t ms) const {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm t;
  gmtime_r(&seconds, &t);
  char out[96];
  snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ms % 1000));
  return out;
}

std::string GenesysModel::next_id(const std::string& prefix) {
  return prefix + "-" + std::to_string(++seq_);
}

// ------------------------------------------------------------------------- shapes

std::string GenesysModel::system_presence(const std::string& definition) const {
  for (const auto& d : definitions_) {
    if (str(d.as_object(), "id") == definition) return str(d.as_object(), "systemPresence");
  }
  return "";
}

GenesysModel::Object GenesysModel::user_presence(const std::string& user) const {
  const User& u = users_.at(user);
  return Object{{"id", "PURECLOUD"},
                {"name", "PURECLOUD"},
                {"sourceId", "PURECLOUD"},
                {"primary", true},
                {"presenceDefinition",
                 Object{{"id", u.definition}, {"systemPresence", system_presence(u.definition)}}},
                {"message", ""},
                {"modifiedDate", u.modified}};
}

void GenesysModel::set_presence(const std::string& user, const std::string& definition) {
  User& u = users_.at(user);
  u.definition = definition;
  u.modified = iso(now_ms_);
  const std::string status = system_presence(definition) == "OnQueue" ? "IDLE" : "OFF_QUEUE";
  if (u.routing != status) {
    u.routing = status;
    notify("v2.users." + user + ".routingStatus",
           Object{{"id", user},
                  {"routingStatus", Object{{"status", status}, {"startTime", iso(now_ms_)}}}});
  }
  Object presence = user_presence(user);
  notify("v2.users." + user + ".presence",
         Object{{"source", "PURECLOUD"},
                {"presenceDefinition", presence["presenceDefinition"]},
                {"primary", true},
                {"message", ""},
                {"modifiedDate", presence["modifiedDate"]}});
}

GenesysModel::Object* GenesysModel::agent_participant(Object& conversation) {
  for (auto& p : conversation["participants"].as_array()) {
    if (str(p.as_object(), "purpose") == "agent") return &p.as_object();
  }
  return nullptr;
}

GenesysModel::Object GenesysModel::analytics_tree(const Object& conversation) const {
  json::array parts;
  for (const auto& pv : conversation.at("participants").as_array()) {
    const Object& p = pv.as_object();
    json::array sessions;
    for (const auto& [media, key] : kMediaKeys) {
      const auto* comms = p.if_contains(key);
      if (!comms) continue;
      for (const auto& cv : comms->as_array()) {
        const Object& comm = cv.as_object();
        Object segment{
            {"segmentStart", str(comm, "connectedTime").empty() ? str(conversation, "startTime")
                                                                : str(comm, "connectedTime")},
            {"segmentType", "interact"},
            {"queueId", str(p, "queueId")}};
        if (!str(comm, "disconnectedTime").empty()) {
          segment["segmentEnd"] = str(comm, "disconnectedTime");
        }
        if (const auto* w = p.if_contains("wrapup"); w && w->is_object()) {
          segment["wrapUpCode"] = str(w->as_object(), "code");
          segment["wrapUpNote"] = str(w->as_object(), "notes");
        }
        sessions.push_back(Object{{"sessionId", str(comm, "id")},
                                  {"mediaType", media},
                                  {"direction", "inbound"},
                                  {"ani", str(p, "address")},
                                  {"addressFrom", str(p, "address")},
                                  {"segments", json::array{segment}}});
      }
    }
    Object part{{"participantId", str(p, "id")},
                {"participantName", str(p, "name")},
                {"purpose", str(p, "purpose")},
                {"sessions", sessions}};
    if (!str(p, "userId").empty()) part["userId"] = str(p, "userId");
    parts.push_back(part);
  }
  Object tree{{"conversationId", str(conversation, "id")},
              {"conversationStart", str(conversation, "startTime")},
              {"originatingDirection", "inbound"},
              {"participants", parts}};
  if (!str(conversation, "endTime").empty()) tree["conversationEnd"] = str(conversation, "endTime");
  return tree;
}

void GenesysModel::notify(const std::string& topic, json::value body) {
  std::string text;
  for (auto& [slot, socket] : sockets_) {
    if (socket.channel.empty() || channels_.at(socket.channel).topics.count(topic) == 0) continue;
    if (text.empty()) {
      text =
          json::serialize(json::object{{"topicName", topic},
                                       {"eventBody", body},
                                       {"metadata", Object{{"CorrelationId", next_id("corr")}}}});
    }
    socket.out.push_back(text);
  }
}

void GenesysModel::notify_conversation(Object& conversation) {
  Object* agent = agent_participant(conversation);
  if (agent && !str(*agent, "userId").empty()) {
    notify("v2.users." + str(*agent, "userId") + ".conversations", public_of(conversation));
  }
}

// ------------------------------------------------------------------------- REST

ModelAnswer GenesysModel::listing(const json::array& entities,
                                  const std::map<std::string, std::string>& query,
                                  const std::string& path) {
  const int size_in = to_int(query.count("pageSize") ? query.at("pageSize") : "", 25);
  const int number = to_int(query.count("pageNumber") ? query.at("pageNumber") : "", 1);
  if (size_in < 1 || number < 1) return err(400, "bad.request", "bad paging");
  const int size = std::min(size_in, kMaxPageSize);
  const int total = static_cast<int>(entities.size());
  const int count = std::max(1, (total + size - 1) / size);
  json::array page;
  for (int i = (number - 1) * size; i < std::min(total, number * size); ++i) {
    page.push_back(entities[static_cast<size_t>(i)]);
  }
  std::string others;
  for (const auto& [k, v] : query) {
    if (k != "pageSize" && k != "pageNumber") others += k + "=" + v + "&";
  }
  auto uri = [&](int n) {
    return path + "?" + others + "pageSize=" + std::to_string(size) +
           "&pageNumber=" + std::to_string(n);
  };
  Object body{{"entities", page},      {"pageSize", size},      {"pageNumber", number},
              {"total", total},        {"pageCount", count},    {"firstUri", uri(1)},
              {"lastUri", uri(count)}, {"selfUri", uri(number)}};
  if (number < count) body["nextUri"] = uri(number + 1);
  return answer(200, body);
}

ModelAnswer GenesysModel::handle(const std::string& method, const std::string& target,
                                 const std::string& body_text, int64_t now_ms, int64_t sent_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  ++requests_;
  if (target.rfind(kMediaHost, 0) == 0) return media_download(target);  // genesys_model_media
  const size_t mark = target.find('?');
  const std::string path = target.substr(0, mark);
  const auto query = parse_query(mark == std::string::npos ? "" : target.substr(mark + 1));
  json::value body;
  if (!body_text.empty()) {
    boost::system::error_code ec;
    body = json::parse(body_text, ec);
    if (ec) return err(400, "bad.request", "the body is not JSON");
  }
  const auto parts = segments(path);  // "", "api", "v2", ...
  if (parts.size() < 4 || parts[1] != "api" || parts[2] != "v2") {
    return err(404, "not.found", "no route");
  }
  const std::string& top = parts[3];
  if (top == "users" && parts.size() >= 6) {
    if (users_.count(parts[4]) == 0) return err(404, "not.found", "user not found");
    std::string rest;
    for (size_t i = 5; i < parts.size(); ++i) rest += (i > 5 ? "/" : "") + parts[i];
    return user_route(method, parts[4], rest, query, body, path);
  }
  if (path == "/api/v2/presence/definitions" && method == "GET") {
    json::array entities;
    for (const auto& d : definitions_) {
      if (query.count("deactivated") && query.at("deactivated") == "true") {
        entities.push_back(d);
      } else if (!d.as_object().at("deactivated").as_bool()) {
        entities.push_back(d);
      }
    }
    return answer(200, Object{{"total", entities.size()},
                              {"entities", entities},
                              {"selfUri", "/api/v2/presence/definitions"}});
  }
  if (path == "/api/v2/routing/wrapupcodes" && method == "GET") {
    return listing(wrapup_codes_, query, path);
  }
  if (path == "/api/v2/analytics/conversations/details/query" && method == "POST") {
    return analytics_query(body);
  }
  if (path == "/api/v2/conversations/callbacks" && method == "POST") return create_callback(body);
  if (path == "/api/v2/conversations/emails" && method == "POST") return create_email(body);
  if (top == "conversations" && parts.size() == 5 && method == "GET") {
    auto it = conversations_.find(parts[4]);
    if (it == conversations_.end()) return err(404, "not.found", "conversation not found");
    return answer(200, public_of(it->second));
  }
  // /api/v2/conversations/{media}/{id}/participants/{p}/communications/{c}/wrapup
  if (top == "conversations" && parts.size() == 11 && parts[6] == "participants" &&
      parts[8] == "communications" && parts[10] == "wrapup" && method == "POST") {
    return wrapup(parts[5], parts[7], parts[9], body);
  }
  // /api/v2/conversations/emails/{id}/messages[/draft]
  if (top == "conversations" && parts.size() >= 7 && parts[4] == "emails" &&
      parts[6] == "messages") {
    auto it = conversations_.find(parts[5]);
    if (it == conversations_.end() || str(it->second, "_media") != "email") {
      return err(404, "not.found", "email conversation not found");
    }
    if (parts.size() == 8 && parts[7] == "draft" && method == "PUT") {
      note_overwrite(parts[5], body, sent_ms < 0 ? now_ms_ : std::min(sent_ms, now_ms_));
      drafts_[parts[5]] = body.is_object() ? body.as_object() : Object{};
      return answer(200, drafts_[parts[5]]);
    }
    if (parts.size() == 8 && parts[7] == "draft" && method == "GET") {
      draft_reads_ms_[parts[5]].push_back(now_ms_);
      auto draft = drafts_.find(parts[5]);
      if (draft == drafts_.end()) return err(404, "not.found", "no draft");
      return answer(200, draft->second);
    }
  }
  // The email and message sends and their reads (genesys_model_sends.cpp).
  if (top == "conversations" && parts.size() >= 6) {
    if (auto sent = send_route(method, parts, query, body); sent.status != 0) return sent;
  }
  if (top == "voicemail" && parts.size() == 7 && parts[4] == "users" && parts[6] == "messages" &&
      method == "GET") {
    json::array mine;
    // Newest first, as the platform lists them.
    for (auto it = voicemail_order_.rbegin(); it != voicemail_order_.rend(); ++it) {
      const Object& v = voicemails_.at(*it);
      if (!v.at("deleted").as_bool() && str(v.at("user").as_object(), "id") == parts[5]) {
        mine.push_back(v);
      }
    }
    return listing(mine, query, path);
  }
  if (top == "voicemail" && parts.size() == 7 && parts[4] == "messages" && parts[6] == "media" &&
      method == "GET") {
    return voicemail_media(parts[5], query);
  }
  if (top == "voicemail" && parts.size() == 6 && parts[4] == "messages") {
    return voicemail(method, parts[5], body);
  }
  if (top == "notifications") return channels(method, path, body);
  if (ModelAnswer listed = org_listing(method, path, query); listed.status != 0) return listed;
  return err(404, "not.found", "no route for " + method + " " + path);
}

ModelAnswer GenesysModel::user_route(const std::string& method, const std::string& user,
                                     const std::string& rest,
                                     const std::map<std::string, std::string>& query,
                                     const json::value& body, const std::string& path) {
  User& u = users_.at(user);
  if (rest == "presences/purecloud") {
    if (method == "GET") return answer(200, user_presence(user));
    if (method == "PATCH") {
      std::string id;
      if (body.is_object()) {
        if (const auto* d = body.as_object().if_contains("presenceDefinition");
            d && d->is_object()) {
          id = str(d->as_object(), "id");
        }
      }
      bool valid = false;
      for (const auto& d : definitions_) {
        if (str(d.as_object(), "id") == id && !d.as_object().at("deactivated").as_bool()) {
          valid = true;
        }
      }
      if (!valid) return err(400, "bad.request", "presence definition " + id + " is not valid");
      set_presence(user, id);
      return answer(200, user_presence(user));
    }
  }
  if (rest == "routingstatus" && method == "GET") {
    return answer(200, Object{{"status", u.routing}, {"userId", user}});
  }
  if (rest.rfind("queues/", 0) == 0 && method == "PATCH") {
    const std::string queue = rest.substr(7);
    if (u.queues.count(queue) == 0) return err(404, "not.found", "queue not found");
    const auto* joined = body.is_object() ? body.as_object().if_contains("joined") : nullptr;
    if (!joined || !joined->is_bool()) return err(400, "bad.request", "joined must be a boolean");
    u.queues[queue] = joined->as_bool();
    return answer(200, Object{{"id", queue}, {"joined", joined->as_bool()}});
  }
  if (rest == "queues" && method == "GET") return user_queues(user, query, path);
  return err(404, "not.found", "no route");
}

ModelAnswer GenesysModel::analytics_query(const json::value& body) {
  if (!body.is_object()) return err(400, "bad.request", "a query");
  const Object& q = body.as_object();
  const std::string interval = str(q, "interval");
  const size_t slash = interval.find('/');
  if (slash == std::string::npos) return err(400, "bad.request", "interval must be ISO/ISO");
  const std::string start = interval.substr(0, slash), end = interval.substr(slash + 1);
  std::set<std::string> users;
  std::map<std::string, std::string> properties;  // participant attribute -> value
  if (const auto* filters = q.if_contains("segmentFilters"); filters && filters->is_array()) {
    for (const auto& f : filters->as_array()) {
      const auto* predicates = f.as_object().if_contains("predicates");
      if (!predicates) continue;
      for (const auto& p : predicates->as_array()) {
        if (str(p.as_object(), "dimension") == "userId") users.insert(str(p.as_object(), "value"));
        if (str(p.as_object(), "type") == "property" && !str(p.as_object(), "property").empty())
          properties[str(p.as_object(), "property")] = str(p.as_object(), "value");
      }
    }
  }
  int size = 25, number = 1;
  if (const auto* paging = q.if_contains("paging"); paging && paging->is_object()) {
    if (const auto* s = paging->as_object().if_contains("pageSize"); s && s->is_int64()) {
      size = static_cast<int>(std::min<int64_t>(s->as_int64(), 100));
    }
    if (const auto* n = paging->as_object().if_contains("pageNumber"); n && n->is_int64()) {
      number = static_cast<int>(n->as_int64());
    }
  }
  if (size < 1 || number < 1) return err(400, "bad.request", "bad paging");
  json::array found;
  for (const std::string& id : conversation_order_) {
    Object& conversation = conversations_.at(id);
    Object* agent = agent_participant(conversation);
    if (!users.empty() && (agent == nullptr || users.count(str(*agent, "userId")) == 0)) continue;
    if (!has_attributes(conversation, properties)) continue;
    // ISO times of one format compare as strings.
    const std::string started = str(conversation, "startTime");
    if (started >= start && started < end) found.push_back(analytics_tree(conversation));
  }
  json::array page;
  for (size_t i = static_cast<size_t>((number - 1) * size);
       i < std::min(found.size(), static_cast<size_t>(number * size)); ++i) {
    page.push_back(found[i]);
  }
  Object out{{"totalHits", found.size()}};
  if (!page.empty()) out["conversations"] = page;
  return answer(200, out);
}

ModelAnswer GenesysModel::wrapup(const std::string& id, const std::string& participant,
                                 const std::string& comm_id, const json::value& body) {
  auto it = conversations_.find(id);
  if (it == conversations_.end()) return err(404, "not.found", "conversation not found");
  Object* p = nullptr;
  for (auto& pv : it->second["participants"].as_array()) {
    if (str(pv.as_object(), "id") == participant) p = &pv.as_object();
  }
  if (p == nullptr) return err(404, "not.found", "participant not found");
  Object* comm = nullptr;
  for (const auto& [media, key] : kMediaKeys) {
    if (auto* comms = p->if_contains(key)) {
      for (auto& cv : comms->as_array()) {
        if (str(cv.as_object(), "id") == comm_id) comm = &cv.as_object();
      }
    }
  }
  if (comm == nullptr) return err(404, "not.found", "communication not found");
  const std::string code = body.is_object() ? str(body.as_object(), "code") : "";
  std::string name;
  for (const auto& c : wrapup_codes_) {
    if (str(c.as_object(), "id") == code) name = str(c.as_object(), "name");
  }
  if (name.empty()) {
    return err(400, "wrapup.code.not.found", "The wrap-up code " + code + " does not exist");
  }
  if (str(*comm, "state") != "disconnected") {
    return err(400, "conversation.wrapup.communication.active",
               "The communication is still active");
  }
  if (p->if_contains("wrapup")) {
    return err(409, "conversation.wrapup.already.set", "Wrap-up was already submitted");
  }
  (*p)["wrapup"] = Object{{"code", code}, {"name", name}, {"notes", ""}, {"endTime", iso(now_ms_)}};
  (*p)["wrapupRequired"] = false;
  notify_conversation(it->second);
  return {202, ""};
}

ModelAnswer GenesysModel::voicemail(const std::string& method, const std::string& id,
                                    const json::value& body) {
  auto it = voicemails_.find(id);
  if (it == voicemails_.end() || it->second.at("deleted").as_bool()) {
    return err(404, "not.found", "voicemail not found");
  }
  Object& v = it->second;
  const std::string user = str(v.at("user").as_object(), "id");
  if (method == "GET") return answer(200, v);
  if (method == "PATCH") {
    if (body.is_object()) {
      if (const auto* read = body.as_object().if_contains("read"); read && read->is_bool()) {
        v["read"] = read->as_bool();
      }
    }
    v["modifiedDate"] = iso(now_ms_);
    Object event = v;
    event["action"] = "update";
    notify("v2.users." + user + ".voicemail.messages", event);
    return answer(200, v);
  }
  if (method == "DELETE") {
    v["deleted"] = true;
    Object event = v;
    event["action"] = "delete";
    notify("v2.users." + user + ".voicemail.messages", event);
    return {204, ""};
  }
  return err(405, "method.not.allowed", "");
}

ModelAnswer GenesysModel::channels(const std::string& method, const std::string& path,
                                   const json::value& body) {
  if (path == "/api/v2/notifications/channels" && method == "POST") {
    const std::string id = next_id("channel");
    channels_[id] = Channel{{}, now_ms_ + channel_ttl_ms_};
    return answer(200, Object{{"id", id},
                              {"connectUri", "sim://channels/" + id},
                              {"expires", iso(now_ms_ + channel_ttl_ms_)}});
  }
  const auto parts = segments(path);  // "", api, v2, notifications, channels, id, subscriptions
  if (parts.size() != 7 || parts[6] != "subscriptions") return err(404, "not.found", "no route");
  auto it = channels_.find(parts[5]);
  if (it == channels_.end() || it->second.expires_ms <= now_ms_) {
    return err(404, "not.found", "channel not found");
  }
  if (method != "PUT") return err(405, "method.not.allowed", "");
  if (!body.is_array()) return err(400, "bad.request", "a list of topics");
  it->second.topics.clear();
  json::array entities;
  for (const auto& t : body.as_array()) {
    const std::string topic = t.is_object() ? str(t.as_object(), "id") : "";
    bool known = false;
    for (const std::string& user : user_ids_) {
      known = known || topic.rfind("v2.users." + user + ".", 0) == 0;
    }
    if (known) it->second.topics.insert(topic);
    entities.push_back(Object{{"id", topic}, {"state", known ? "Permitted" : "Rejected"}});
  }
  it->second.expires_ms = now_ms_ + channel_ttl_ms_;
  return answer(200, Object{{"entities", entities}});
}

// ------------------------------------------------------------------------- the socket

bool GenesysModel::open_socket(const std::string& uri, int64_t now_ms, size_t slot) {
  now_ms_ = std::max(now_ms_, now_ms);
  const std::string prefix = "sim://channels/";
  if (uri.rfind(prefix, 0) != 0) return false;
  auto it = channels_.find(uri.substr(prefix.size()));
  if (it == channels_.end() || it->second.expires_ms <= now_ms_) return false;
  close_socket(slot);
  Socket& socket = sockets_[slot];
  socket.channel = it->first;
  socket.closed = false;
  socket.last_heartbeat_ms = now_ms_;
  return true;
}

void GenesysModel::close_socket(size_t slot) {
  sockets_.erase(slot);
}

bool GenesysModel::socket_open(size_t slot) const {
  auto it = sockets_.find(slot);
  return it != sockets_.end() && !it->second.channel.empty();
}

void GenesysModel::socket_send(const std::string& text, size_t slot) {
  if (!socket_open(slot)) return;
  if (text.find("\"ping\"") != std::string::npos) {
    sockets_[slot].out.push_back(
        R"({"topicName":"channel.metadata","eventBody":{"message":"pong"}})");
  }
}

void GenesysModel::tick(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  for (auto& [slot, socket] : sockets_) {
    if (socket.channel.empty()) continue;
    if (channels_.at(socket.channel).expires_ms <= now_ms_) {
      socket.out.push_back(R"({"topicName":"v2.system.socket_closing","eventBody":{}})");
      socket.channel.clear();
      socket.closed = true;
      continue;
    }
    while (now_ms_ - socket.last_heartbeat_ms >= heartbeat_ms_) {
      socket.last_heartbeat_ms += heartbeat_ms_;
      socket.out.push_back(
          R"({"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}})");
    }
  }
}

void GenesysModel::expire_channels(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  for (auto& [id, channel] : channels_) channel.expires_ms = std::min(channel.expires_ms, now_ms_);
}

std::vector<std::string> GenesysModel::take_socket_messages(bool* closed, size_t slot) {
  std::vector<std::string> out;
  *closed = false;
  auto it = sockets_.find(slot);
  if (it == sockets_.end()) return out;
  out.swap(it->second.out);
  *closed = it->second.closed;
  if (it->second.channel.empty()) sockets_.erase(it);  // closed by the platform: gone
  return out;
}

// ------------------------------------------------------------------------- activity

std::string GenesysModel::route(const std::string& user, const std::string& media, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  const std::string key = kMediaKeys.at(media);
  const std::string id = next_id("gc-conv");
  const std::string now = iso(now_ms_);
  Object customer{
      {"id", next_id("p")},
      {"purpose", "customer"},
      {"name", "Ann"},
      {"address", media == "voice" ? "tel:+358401234567" : "ann@example.com"},
      {"startTime", now},
      {key, json::array{Object{
                {"id", next_id("comm")}, {"state", "connected"}, {"direction", "inbound"}}}}};
  Object agent{{"id", next_id("p")},
               {"purpose", "agent"},
               {"userId", user},
               {"queueId", "queue-1"},
               {"queueName", "Support"},
               {"startTime", now},
               {"wrapupRequired", true},
               {"wrapupPrompt", "mandatory"},
               {"attributes", Object{}},
               {key, json::array{Object{{"id", next_id("comm")},
                                        {"state", "connected"},
                                        {"direction", "inbound"},
                                        {"connectedTime", now}}}}};
  Object conversation{{"id", id},
                      {"_media", media},
                      {"startTime", now},
                      {"participants", json::array{customer, agent}},
                      {"selfUri", "/api/v2/conversations/" + id}};
  first_message(conversation, media);
  conversations_[id] = conversation;
  conversation_order_.push_back(id);
  notify_conversation(conversations_[id]);
  return id;
}

bool GenesysModel::disconnect_one(const std::string& user, size_t pick, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  std::vector<std::string> live;
  for (const std::string& id : conversation_order_) {
    Object& c = conversations_.at(id);
    Object* agent = agent_participant(c);
    if (str(c, "endTime").empty() && agent && str(*agent, "userId") == user) live.push_back(id);
  }
  if (live.empty()) return false;
  return disconnect(live[pick % live.size()], now_ms);
}

bool GenesysModel::disconnect(const std::string& conversation_id, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  auto it = conversations_.find(conversation_id);
  if (it == conversations_.end()) return false;
  Object& c = it->second;
  const std::string now = iso(now_ms_);
  for (auto& pv : c["participants"].as_array()) {
    for (const auto& [media, key] : kMediaKeys) {
      if (auto* comms = pv.as_object().if_contains(key)) {
        for (auto& comm : comms->as_array()) {
          comm.as_object()["state"] = "disconnected";
          comm.as_object()["disconnectedTime"] = now;
        }
      }
    }
    pv.as_object()["endTime"] = now;
  }
  c["endTime"] = now;
  notify_conversation(c);
  return true;
}

std::string GenesysModel::leave_voicemail(const std::string& user, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  const std::string id = next_id("gc-vm");
  Object v{{"id", id},
           {"read", false},
           {"audioRecordingDurationSeconds", 17},
           {"audioRecordingSizeBytes", 27000},
           {"createdDate", iso(now_ms_)},
           {"modifiedDate", iso(now_ms_)},
           {"callerAddress", "tel:+358401234567"},
           {"callerName", "Ann Caller"},
           {"deleted", false},
           {"note", ""},
           {"transcription", ""},
           {"user", Object{{"id", user}}},
           {"conversation", Object{{"id", next_id("c")}}}};
  voicemails_[id] = v;
  voicemail_order_.push_back(id);
  Object event = v;
  event["action"] = "create";
  notify("v2.users." + user + ".voicemail.messages", event);
  return id;
}

bool GenesysModel::supervisor_sets(const std::string& user, const std::string& definition,
                                   int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (users_.count(user) == 0) return false;
  for (const auto& d : definitions_) {
    if (str(d.as_object(), "id") == definition && !d.as_object().at("deactivated").as_bool()) {
      set_presence(user, definition);
      return true;
    }
  }
  return false;
}

void GenesysModel::supervisor_presence(const std::string& user, size_t pick, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  std::vector<std::string> choices;
  for (const auto& d : definitions_) {
    if (!d.as_object().at("deactivated").as_bool()) choices.push_back(str(d.as_object(), "id"));
  }
  set_presence(user, choices[pick % choices.size()]);
}

// ------------------------------------------------------------------------- the checker's view

std::string GenesysModel::presence_definition(const std::string& user) const {
  return users_.at(user).definition;
}

std::vector<std::string> GenesysModel::aux_definitions() const {
  std::vector<std::string> out;
  for (const auto& d : definitions_) {
    if (str(d.as_object(), "type") == "User") out.push_back(str(d.as_object(), "id"));
  }
  return out;
}

std::vector<ModelConversation> GenesysModel::conversations() const {
  std::vector<ModelConversation> out;
  for (const std::string& id : conversation_order_) {
    const Object& c = conversations_.at(id);
    for (const auto& pv : c.at("participants").as_array()) {
      const Object& p = pv.as_object();
      if (str(p, "purpose") != "agent") continue;
      ModelConversation mc{id, str(p, "userId"), !str(c, "endTime").empty(), ""};
      if (const auto* w = p.if_contains("wrapup"); w && w->is_object()) {
        mc.wrapup_code = str(w->as_object(), "code");
      }
      out.push_back(mc);
    }
  }
  return out;
}

std::vector<ModelVoicemail> GenesysModel::voicemails() const {
  std::vector<ModelVoicemail> out;
  for (const std::string& id : voicemail_order_) {
    const Object& v = voicemails_.at(id);
    out.push_back({id, str(v.at("user").as_object(), "id"), v.at("read").as_bool(),
                   v.at("deleted").as_bool()});
  }
  return out;
}

}  // namespace outpost::sim
