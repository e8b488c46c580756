// The model's new callbacks (decision 044), as the Python fake answers them
// (tests/adapters/genesys/fake_genesys_model.py create_callback) and the shared cases of
// platform_cases.json check: POST /api/v2/conversations/callbacks [outside the reference:
// the public API's CreateCallbackCommand -> CreateCallbackResponse]. The callback waits on
// its queue as an acd participant; `data` becomes the customer participant's attributes,
// which the analytics query's "property" predicates match.
#include <boost/json.hpp>
#include <string>

#include "apps/outpost-sim/genesys_model.h"

namespace outpost::sim {
namespace {

namespace json = boost::json;

ModelAnswer refused(const std::string& code, const std::string& message) {
  return {400, json::serialize(json::object{{"status", 400},
                                            {"code", code},
                                            {"message", message},
                                            {"contextId", "sim-context"},
                                            {"details", json::array{}},
                                            {"errors", json::array{}}})};
}

std::string text_of(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The fake's pattern: an optional '+', a digit, then 2..30 of digits, spaces, '(', ')', '-'.
bool phone_like(const json::value& v) {
  if (!v.is_string()) return false;
  const json::string& s = v.as_string();
  size_t at = !s.empty() && s[0] == '+' ? 1 : 0;
  if (at >= s.size() || s[at] < '0' || s[at] > '9') return false;
  const size_t rest = s.size() - at - 1;
  if (rest < 2 || rest > 30) return false;
  for (size_t i = at + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (!((c >= '0' && c <= '9') || c == ' ' || c == '(' || c == ')' || c == '-')) return false;
  }
  return true;
}

}  // namespace

bool GenesysModel::queue_exists(const std::string& id) const {
  for (const auto& [user, state] : users_) {
    if (state.queues.count(id)) return true;
  }
  return false;
}

ModelAnswer GenesysModel::create_callback(const json::value& body) {
  if (!body.is_object()) return refused("bad.request", "a CreateCallbackCommand");
  const json::object& command = body.as_object();
  std::string queue = text_of(command, "queueId");
  if (queue.empty()) {
    if (const auto* routing = command.if_contains("routingData"); routing && routing->is_object())
      queue = text_of(routing->as_object(), "queueId");
  }
  if (queue.empty()) return refused("bad.request", "A callback needs a queueId or routingData");
  if (!queue_exists(queue))
    return refused("callback.queue.invalid", "Queue " + queue + " does not exist");
  const auto* numbers = command.if_contains("callbackNumbers");
  bool numbers_ok = numbers && numbers->is_array() && !numbers->as_array().empty();
  for (size_t i = 0; numbers_ok && i < numbers->as_array().size(); ++i) {
    numbers_ok = phone_like(numbers->as_array()[i]);
  }
  if (!numbers_ok) {
    return refused("callback.number.invalid",
                   "callbackNumbers must hold at least one valid phone number");
  }
  const std::string now = iso(now_ms_);
  const std::string when = text_of(command, "callbackScheduledTime");
  // ISO times of one format compare as strings; a minute of grace, as the fake.
  if (!when.empty() && when < iso(now_ms_ - 60'000)) {
    return refused("callback.scheduled.time.past", "The callback's scheduled time is in the past");
  }
  json::object attributes;
  if (const auto* data = command.if_contains("data"); data && data->is_object()) {
    for (const auto& [key, value] : data->as_object()) {
      if (!value.is_string()) return refused("bad.request", "data is a map of strings");
      attributes[key] = value;
    }
  }
  const std::string id = next_id("cb");
  const std::string name = text_of(command, "callbackUserName");
  const std::string first = std::string(numbers->as_array()[0].as_string());
  json::object callback{
      {"id", next_id("comm")},    {"state", "scheduled"},
      {"direction", "outbound"},  {"callbackNumbers", *numbers},
      {"callbackUserName", name}, {"callbackScheduledTime", when.empty() ? now : when}};
  json::object customer{{"id", next_id("p")},
                        {"purpose", "customer"},
                        {"name", name},
                        {"address", "tel:" + first},
                        {"startTime", now},
                        {"attributes", attributes},
                        {"callbacks", json::array{callback}}};
  json::object acd_callback = callback;
  acd_callback["id"] = next_id("comm");
  json::object acd{{"id", next_id("p")},
                   {"purpose", "acd"},
                   {"queueId", queue},
                   {"startTime", now},
                   {"callbacks", json::array{acd_callback}}};
  const std::string self = "/api/v2/conversations/" + id;
  conversations_[id] = json::object{{"id", id},
                                    {"_media", "callback"},
                                    {"startTime", now},
                                    {"participants", json::array{customer, acd}},
                                    {"selfUri", self}};
  conversation_order_.push_back(id);
  json::array identifiers{json::object{{"type", "EXTERNAL"}, {"id", customer.at("id")}},
                          json::object{{"type", "ACD"}, {"id", acd.at("id")}}};
  return {200, json::serialize(
                   json::object{{"conversation", json::object{{"id", id}, {"selfUri", self}}},
                                {"callbackIdentifiers", identifiers}})};
}

bool GenesysModel::has_attributes(const Object& conversation,
                                  const std::map<std::string, std::string>& wanted) const {
  if (wanted.empty()) return true;
  for (const auto& pv : conversation.at("participants").as_array()) {
    const auto* attributes = pv.as_object().if_contains("attributes");
    if (!attributes || !attributes->is_object()) continue;
    bool all = true;
    for (const auto& [key, value] : wanted) {
      all = all && text_of(attributes->as_object(), key.c_str()) == value &&
            attributes->as_object().contains(key);
    }
    if (all) return true;
  }
  return false;
}

}  // namespace outpost::sim
