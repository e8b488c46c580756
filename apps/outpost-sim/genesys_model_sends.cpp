// The model's sends and their reads (decision 055), as the Python fake answers them
// (tests/adapters/genesys/fake_genesys_model.py send_email, send_message, email_listing,
// messages_bulk, create_email) [outside the reference: the public API's EmailMessage,
// EmailMessagePreviewListing, TextMessageListing of MessageData, CreateEmailRequest]:
// POST …/emails/{id}/messages sends the reply (refused once the conversation ended), GET
// …/emails/{id}/messages lists previews without bodies, GET …/messages/{mid} reads one;
// POST …/messages/{id}/communications/{c}/messages sends an SMS/chat message (its id joins
// the agent's communication), POST …/messages/{id}/messages/bulk reads messages by id;
// POST /conversations/emails makes a new outbound email on behalf of a queue.
#include <boost/json.hpp>
#include <string>

#include "apps/outpost-sim/genesys_model.h"

namespace outpost::sim {
namespace {

namespace json = boost::json;
constexpr size_t kMaxMessageChars = 4000;
constexpr size_t kMaxBulkIds = 100;
constexpr int kMaxPage = 100;

ModelAnswer fail(long status, const std::string& code, const std::string& message) {
  return {status, json::serialize(json::object{{"status", status},
                                               {"code", code},
                                               {"message", message},
                                               {"contextId", "sim-context"},
                                               {"details", json::array{}},
                                               {"errors", json::array{}}})};
}

ModelAnswer ok(long status, const json::value& body) {
  return {status, json::serialize(body)};
}

std::string text_of(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

int page_number(const std::map<std::string, std::string>& query, const char* key, int fallback) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty() || it->second.size() > 6) return fallback;
  int value = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

void GenesysModel::first_message(Object& conversation, const std::string& media) {
  const std::string id = text_of(conversation, "id");
  auto& customer = conversation["participants"].as_array()[0].as_object();
  const std::string now = iso(now_ms_);
  if (media == "email") {
    const std::string mid = next_id("email");
    email_messages_[id].push_back(
        Object{{"id", mid},
               {"from", Object{{"email", text_of(customer, "address")}, {"name", "Ann"}}},
               {"to", json::array{Object{{"email", "support@acme.example"}}}},
               {"subject", "Question"},
               {"textBody", "Hello, I have a question."},
               {"time", now},
               {"state", "Sent"},
               {"selfUri", "/api/v2/conversations/emails/" + id + "/messages/" + mid}});
  } else if (media == "message") {
    const std::string mid = next_id("msg");
    message_data_[mid] = Object{{"id", mid},
                                {"textBody", "Hello?"},
                                {"direction", "inbound"},
                                {"status", "received"},
                                {"timestamp", now},
                                {"fromAddress", text_of(customer, "address")},
                                {"_conversation", id}};
    customer["messages"].as_array()[0].as_object()["messages"] =
        json::array{Object{{"messageId", mid},
                           {"messageStatus", "received"},
                           {"messageTime", now},
                           {"messageSegmentCount", 1}}};
  }
}

ModelAnswer GenesysModel::send_route(const std::string& method,
                                     const std::vector<std::string>& parts,
                                     const std::map<std::string, std::string>& query,
                                     const json::value& body) {
  // parts: "", "api", "v2", "conversations", media, id, ...
  const std::string& media = parts[4];
  const std::string& id = parts[5];
  if (media == "emails" && parts.size() >= 7 && parts[6] == "messages") {
    auto it = conversations_.find(id);
    if (it == conversations_.end() || text_of(it->second, "_media") != "email") {
      return fail(404, "not.found", "email conversation not found");
    }
    json::array& messages = email_messages_[id];
    if (parts.size() == 7 && method == "POST") {
      if (!text_of(it->second, "endTime").empty()) {
        return fail(400, "conversation.email.disconnected",
                    "The email conversation is disconnected; the reply cannot be sent");
      }
      const json::object request = body.is_object() ? body.as_object() : json::object{};
      std::string text = text_of(request, "textBody");
      if (text.empty()) text = text_of(request, "htmlBody");
      if (blank(text)) return fail(400, "bad.request", "An email reply needs a body");
      const std::string mid = next_id("email");
      const auto* to = request.if_contains("to");
      Object sent{{"id", mid},
                  {"to", to && to->is_array() ? *to : json::value(json::array{})},
                  {"subject", text_of(request, "subject")},
                  {"textBody", text},
                  {"time", iso(now_ms_)},
                  {"state", "Sent"},
                  {"from", Object{{"email", "support@acme.example"}, {"name", "Support"}}},
                  {"selfUri", "/api/v2/conversations/emails/" + id + "/messages/" + mid}};
      messages.push_back(sent);
      drafts_.erase(id);  // sent: the draft is gone (as the Python fake)
      replied_.insert(id);
      notify_conversation(it->second);
      return ok(200, sent);
    }
    if (parts.size() == 7 && method == "GET") {
      json::array previews;
      for (const auto& m : messages) {
        Object preview = m.as_object();
        preview.erase("textBody");
        preview.erase("htmlBody");
        previews.push_back(preview);
      }
      // The listing's paging (pageSize, pageNumber, nextUri), as listing() makes it.
      const int size = std::min(page_number(query, "pageSize", 25), kMaxPage);
      const int number = page_number(query, "pageNumber", 1);
      if (size < 1 || number < 1) return fail(400, "bad.request", "bad paging");
      const int total = static_cast<int>(previews.size());
      const int count = std::max(1, (total + size - 1) / size);
      json::array page;
      for (int i = (number - 1) * size; i < std::min(total, number * size); ++i) {
        page.push_back(previews[static_cast<size_t>(i)]);
      }
      const std::string self = "/api/v2/conversations/emails/" + id + "/messages";
      Object out{{"entities", page},
                 {"pageSize", size},
                 {"pageNumber", number},
                 {"total", total},
                 {"pageCount", count}};
      if (number < count) {
        out["nextUri"] = self + "?pageSize=" + std::to_string(size) +
                         "&pageNumber=" + std::to_string(number + 1);
      }
      return ok(200, out);
    }
    if (parts.size() == 8 && parts[7] != "draft" && method == "GET") {
      for (const auto& m : messages) {
        if (text_of(m.as_object(), "id") == parts[7]) return ok(200, m);
      }
      return fail(404, "not.found", "message not found");
    }
    return {0, ""};
  }
  if (media != "messages") return {0, ""};
  if (parts.size() == 9 && parts[6] == "communications" && parts[8] == "messages" &&
      method == "POST") {
    auto it = conversations_.find(id);
    if (it == conversations_.end() || text_of(it->second, "_media") != "message") {
      return fail(404, "not.found", "message conversation not found");
    }
    Object* agent = agent_participant(it->second);
    Object* comm = nullptr;
    if (agent != nullptr) {
      if (auto* comms = agent->if_contains("messages"); comms && comms->is_array()) {
        for (auto& c : comms->as_array()) {
          if (text_of(c.as_object(), "id") == parts[7]) comm = &c.as_object();
        }
      }
    }
    if (comm == nullptr) return fail(404, "not.found", "communication not found");
    if (text_of(*comm, "state") == "disconnected") {
      return fail(400, "conversation.message.disconnected",
                  "The conversation is disconnected; the message cannot be sent");
    }
    const std::string text =
        body.is_object() ? text_of(body.as_object(), "textBody") : std::string();
    if (blank(text)) return fail(400, "bad.request", "textBody is required");
    if (text.size() > kMaxMessageChars) {
      return fail(400, "message.too.long", "A message is at most 4000 characters");
    }
    const std::string mid = next_id("msg");
    const std::string now = iso(now_ms_);
    Object sent{{"id", mid},
                {"textBody", text},
                {"direction", "outbound"},
                {"status", "queued"},
                {"timestamp", now}};
    Object data = sent;
    data["_conversation"] = id;
    message_data_[mid] = data;
    if (!comm->contains("messages")) (*comm)["messages"] = json::array{};
    (*comm)["messages"].as_array().push_back(Object{{"messageId", mid},
                                                    {"messageStatus", "queued"},
                                                    {"messageTime", now},
                                                    {"messageSegmentCount", 1}});
    return ok(202, sent);
  }
  if (parts.size() == 8 && parts[6] == "messages" && parts[7] == "bulk" && method == "POST") {
    auto it = conversations_.find(id);
    if (it == conversations_.end() || text_of(it->second, "_media") != "message") {
      return fail(404, "not.found", "message conversation not found");
    }
    if (!body.is_array()) return fail(400, "bad.request", "The body is a list of message ids");
    if (body.as_array().size() > kMaxBulkIds) {
      return fail(400, "bad.request", "At most 100 message ids");
    }
    json::array found;
    for (const auto& v : body.as_array()) {
      if (!v.is_string()) return fail(400, "bad.request", "The body is a list of message ids");
      auto data = message_data_.find(std::string(v.as_string()));
      if (data == message_data_.end() || text_of(data->second, "_conversation") != id) continue;
      Object shown = data->second;
      shown.erase("_conversation");
      found.push_back(shown);
    }
    const size_t n = found.size();
    return ok(200, Object{{"entities", std::move(found)},
                          {"pageSize", n},
                          {"pageNumber", 1},
                          {"total", n},
                          {"pageCount", 1}});
  }
  return {0, ""};
}

ModelAnswer GenesysModel::create_email(const json::value& body) {
  if (!body.is_object()) return fail(400, "bad.request", "a CreateEmailRequest");
  const Object& request = body.as_object();
  if (text_of(request, "direction") != "OUTBOUND") {
    return fail(400, "bad.request", "Only OUTBOUND emails are created here");
  }
  if (text_of(request, "provider") != "PureCloud Email") {
    return fail(400, "bad.request", "provider must be PureCloud Email");
  }
  const std::string queue = text_of(request, "queueId");
  if (queue.empty()) return fail(400, "bad.request", "An outbound email needs its queueId");
  if (!queue_exists(queue)) {
    return fail(400, "email.queue.invalid", "Queue " + queue + " does not exist");
  }
  const std::string to = text_of(request, "toAddress");
  const size_t at = to.find('@');
  if (at == std::string::npos || at == 0 || to.find('.', at) == std::string::npos ||
      to.find_first_of(" <>") != std::string::npos) {
    return fail(400, "email.address.invalid", "toAddress is not an email address");
  }
  const std::string text = text_of(request, "textBody");
  if (blank(text)) return fail(400, "bad.request", "An email needs a body");
  json::object attributes;
  if (const auto* a = request.if_contains("attributes"); a && a->is_object()) {
    for (const auto& [key, value] : a->as_object()) {
      if (!value.is_string()) return fail(400, "bad.request", "attributes is a map of strings");
      attributes[key] = value;
    }
  }
  const std::string now = iso(now_ms_);
  const std::string id = next_id("c");
  const std::string subject = text_of(request, "subject");
  Object customer{{"id", next_id("p")},
                  {"purpose", "customer"},
                  {"name", ""},
                  {"address", to},
                  {"startTime", now},
                  {"attributes", attributes},
                  {"emails", json::array{Object{{"id", next_id("comm")},
                                                {"state", "connected"},
                                                {"direction", "outbound"},
                                                {"subject", subject}}}}};
  Object conversation{{"id", id},
                      {"_media", "email"},
                      {"startTime", now},
                      {"participants", json::array{customer}},
                      {"selfUri", "/api/v2/conversations/" + id}};
  conversations_[id] = conversation;
  conversation_order_.push_back(id);
  const std::string mid = next_id("email");
  email_messages_[id].push_back(
      Object{{"id", mid},
             {"to", json::array{Object{{"email", to}, {"name", ""}}}},
             {"subject", subject},
             {"textBody", text},
             {"time", now},
             {"state", "Sent"},
             {"from", Object{{"email", "support@acme.example"}, {"name", "Support"}}},
             {"selfUri", "/api/v2/conversations/emails/" + id + "/messages/" + mid}});
  conversation.erase("_media");  // the model's own key
  return ok(200, conversation);
}

}  // namespace outpost::sim
