// The pure half of decision 044: checks, request bodies and answer decoders for new
// callbacks and new emails (shapes from the public Platform API, not the reference).
#include <boost/json.hpp>

#include "adapters/genesys/genesys_json.h"
#include "adapters/genesys/genesys_new_conversations.h"

namespace outpost::genesys {
namespace {

namespace json = boost::json;
namespace d = outpost::domain;

constexpr size_t kMinPhoneDigits = 3;
constexpr size_t kMaxPhoneDigits = 20;  // E.164 is 15; room for extensions' prefixes
constexpr size_t kMaxAddressBytes = 254;

// "+358 40-111 (2223)" -> "+358401112223"; "" when not a phone number.
std::string phone_number(std::string_view text) {
  std::string out;
  size_t digits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      out += c;
      ++digits;
    } else if (c == '+' && out.empty() && digits == 0) {
      out += c;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return {};
    }
  }
  return digits >= kMinPhoneDigits && digits <= kMaxPhoneDigits ? out : std::string();
}

bool email_address(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressBytes) return false;
  const size_t at = text.find('@');
  if (at == 0 || at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : text) {
    if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == 127) return false;
  }
  const std::string_view domain = text.substr(at + 1);
  const size_t dot = domain.rfind('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < domain.size();
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return std::string(text);
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string callback_refusal(const d::Draft& draft, int64_t now_ms) {
  if (draft.queue_id().empty()) {
    return "a callback needs the queue (service) it is scheduled on";
  }
  if (draft.callback_number().empty()) return "a callback needs a phone number";
  if (phone_number(draft.callback_number()).empty()) {
    return "'" + draft.callback_number() + "' is not a phone number";
  }
  if (draft.callback_at_ms() < 0 ||
      (draft.callback_at_ms() > 0 && draft.callback_at_ms() < now_ms)) {
    return "the callback's time has passed: choose a time in the future";
  }
  return {};
}

std::string email_refusal(const d::Draft& draft) {
  if (draft.queue_id().empty()) return "a new email needs the queue it is sent on behalf of";
  if (draft.to_size() != 1) return "a new email on Genesys Cloud goes to exactly one address";
  if (draft.cc_size() > 0 || draft.bcc_size() > 0) {
    return "a new email on Genesys Cloud takes no copies (cc, bcc)";
  }
  if (draft.attachments_size() > 0) return "attachments on a new email are not sent yet";
  if (!email_address(trimmed(draft.to(0)))) return "'" + draft.to(0) + "' is not an email address";
  if (blank(draft.body())) return "an email needs a body";
  return {};
}

Result<json::value> parse(std::string_view body) {
  if (body.size() > kMaxBodyBytes) return error(ErrorCode::kTooLarge, "platform JSON too large");
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec, {}, options);
  if (ec) return error(ErrorCode::kInvalidArgument, "platform JSON: " + ec.message());
  if (!value.is_object()) return error(ErrorCode::kInvalidArgument, "platform JSON: not an object");
  return value;
}

std::string string_member(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

NewConversation new_conversation_of(const d::Draft& draft) {
  switch (draft.kind()) {
    case d::DRAFT_CALLBACK_REQUEST:
      return NewConversation::kCallback;
    case d::DRAFT_OUTBOUND_EMAIL:
      return NewConversation::kEmail;
    case d::DRAFT_SMS:
      return draft.interaction_id().empty() ? NewConversation::kSms : NewConversation::kNone;
    default:
      return NewConversation::kNone;
  }
}

std::string new_conversation_refusal(const d::Draft& draft, int64_t now_ms) {
  switch (new_conversation_of(draft)) {
    case NewConversation::kCallback:
      return callback_refusal(draft, now_ms);
    case NewConversation::kEmail:
      return email_refusal(draft);
    case NewConversation::kSms:
      return "a new SMS session is not wired to Genesys Cloud: its public agentless send opens "
             "no session with the agent and needs the queue's SMS number; answer from an "
             "interaction instead";
    case NewConversation::kNone:
      break;
  }
  return "not a new conversation";
}

std::string encode_new_callback(const d::Draft& draft, std::string_view send_key) {
  json::object data{{kSendKeyAttribute, send_key}};
  if (!blank(draft.body())) {
    std::string note = draft.body().substr(0, kMaxNoteAttributeBytes);
    // Never cut a UTF-8 sequence: drop continuation bytes left at the end.
    while (note.size() < draft.body().size() && !note.empty() &&
           (static_cast<unsigned char>(draft.body()[note.size()]) & 0xC0) == 0x80) {
      note.pop_back();
    }
    data[kNoteAttribute] = note;
  }
  json::object command{{"queueId", draft.queue_id()},
                       {"callbackNumbers", json::array{phone_number(draft.callback_number())}},
                       {"data", std::move(data)}};
  if (!draft.subject().empty()) command["callbackUserName"] = draft.subject();
  if (draft.callback_at_ms() > 0) {
    command["callbackScheduledTime"] = format_iso_ms(draft.callback_at_ms());
  }
  return json::serialize(command);
}

std::string encode_new_email(const d::Draft& draft, std::string_view send_key) {
  json::object request{{"direction", "OUTBOUND"},
                       {"provider", "PureCloud Email"},
                       {"queueId", draft.queue_id()},
                       {"toAddress", draft.to_size() > 0 ? trimmed(draft.to(0)) : std::string()},
                       {"subject", draft.subject()},
                       {"textBody", draft.body()},
                       {"attributes", json::object{{kSendKeyAttribute, send_key}}}};
  return json::serialize(request);
}

std::string encode_created_query(std::string_view send_key, int64_t from_ms, int64_t to_ms) {
  json::object predicate{{"type", "property"},
                         {"propertyType", "string"},
                         {"property", kSendKeyAttribute},
                         {"value", send_key}};
  json::object query{
      {"interval", format_iso_ms(from_ms) + "/" + format_iso_ms(to_ms)},
      {"order", "desc"},
      {"segmentFilters",
       json::array{json::object{{"type", "and"}, {"predicates", json::array{predicate}}}}},
      {"paging", json::object{{"pageSize", 25}, {"pageNumber", 1}}}};
  return json::serialize(query);
}

Result<std::string> decode_created_conversation(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::value value, parse(body));
  const json::object& obj = value.as_object();
  if (const json::value* conv = obj.if_contains("conversation"); conv && conv->is_object()) {
    std::string id = string_member(conv->as_object(), "id");
    if (!id.empty()) return id;
  }
  std::string id = string_member(obj, "id");
  if (id.empty()) return error(ErrorCode::kInvalidArgument, "created conversation without id");
  return id;
}

Result<std::vector<std::string>> decode_found_conversations(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::value value, parse(body));
  const json::object& obj = value.as_object();
  std::vector<std::string> ids;
  const json::value* list = obj.if_contains("conversations");
  if (list == nullptr) {
    // No match: the query answers without "conversations" (totalHits 0).
    if (obj.if_contains("totalHits") == nullptr) {
      return error(ErrorCode::kInvalidArgument, "not an analytics answer");
    }
    return ids;
  }
  if (!list->is_array()) return error(ErrorCode::kInvalidArgument, "conversations not a list");
  for (const json::value& c : list->as_array()) {
    if (ids.size() >= kMaxEntities) break;
    if (!c.is_object()) return error(ErrorCode::kInvalidArgument, "conversation not an object");
    std::string id = string_member(c.as_object(), "conversationId");
    if (id.empty()) return error(ErrorCode::kInvalidArgument, "conversation without id");
    ids.push_back(std::move(id));
  }
  return ids;
}

}  // namespace outpost::genesys
