#include "adapters/genesys/genesys_json.h"

#include <time.h>

#include <boost/json.hpp>
#include <cstdio>

namespace outpost::genesys {
namespace {

namespace json = boost::json;
namespace d = outpost::domain;

Result<json::value> parse(std::string_view body) {
  if (body.size() > kMaxBodyBytes) return error(ErrorCode::kTooLarge, "platform JSON too large");
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec, {}, options);
  if (ec) return error(ErrorCode::kInvalidArgument, "platform JSON: " + ec.message());
  return value;
}

Result<json::object> parse_object(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::value value, parse(body));
  if (!value.is_object()) return error(ErrorCode::kInvalidArgument, "platform JSON: not an object");
  return std::move(value.as_object());
}

const json::value* member(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->value();
}

// A string member ("" when absent or not a string: the platform omits empty fields).
std::string str(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* obj_of(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* arr_of(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

bool boolean(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  return v && v->is_bool() && v->as_bool();
}

int64_t integer(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
  if (v->is_double()) {
    double x = v->as_double();
    return x > -9e18 && x < 9e18 ? static_cast<int64_t>(x) : 0;
  }
  return 0;
}

int64_t time_of(const json::object& obj, std::string_view key) {
  return parse_iso_ms(str(obj, key)).value_or(0);
}

Status need_id(const std::string& id, const char* what) {
  if (id.empty()) return error(ErrorCode::kInvalidArgument, std::string(what) + " without id");
  return Status::Ok();
}

Status unknown_enum(const char* what, const std::string& value) {
  return error(ErrorCode::kInvalidArgument, std::string("unknown ") + what + " '" + value + "'");
}

// A PhoneNumber object ({display, e164, ...}) or a plain string.
std::string phone(const json::object& obj, std::string_view key) {
  const json::value* v = member(obj, key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (!v->is_object()) return {};
  std::string e164 = str(v->as_object(), "e164");
  return e164.empty() ? str(v->as_object(), "display") : e164;
}

const std::vector<std::string>& system_presences() {
  static const std::vector<std::string> all = {"Available", "Away", "Busy",     "Offline", "Idle",
                                               "OnQueue",   "Meal", "Training", "Meeting", "Break"};
  return all;
}

bool known_system_presence(const std::string& value) {
  for (const auto& s : system_presences())
    if (s == value) return true;
  return false;
}

Result<d::MediaType> media_of_key(std::string_view key) {
  if (key == "calls") return d::MEDIA_VOICE;
  if (key == "emails") return d::MEDIA_EMAIL;
  if (key == "messages") return d::MEDIA_SMS;
  if (key == "callbacks") return d::MEDIA_CALLBACK;
  if (key == "chats") return d::MEDIA_CHAT;
  return unknown_enum("media", std::string(key));
}

Result<d::MediaType> media_of_analytics(const std::string& type) {
  if (type == "voice") return d::MEDIA_VOICE;
  if (type == "email") return d::MEDIA_EMAIL;
  if (type == "message") return d::MEDIA_SMS;
  if (type == "chat") return d::MEDIA_CHAT;
  if (type == "callback") return d::MEDIA_CALLBACK;
  return unknown_enum("mediaType", type);
}

Result<d::Direction> direction_of(const std::string& text) {
  if (text.empty()) return d::DIRECTION_UNSPECIFIED;
  if (text == "inbound") return d::DIRECTION_INBOUND;
  if (text == "outbound") return d::DIRECTION_OUTBOUND;
  return unknown_enum("direction", text);
}

// A communication's state on the agent's participant.
Result<d::InteractionState> state_of(const std::string& state, bool held) {
  if (state == "alerting" || state == "offering") return d::INTERACTION_ALERTING;
  if (state == "connected" || state == "dialing" || state == "contacting") {
    return held ? d::INTERACTION_HELD : d::INTERACTION_CONNECTED;
  }
  if (state == "disconnected" || state == "terminated" || state == "none") {
    return d::INTERACTION_DISCONNECTED;
  }
  return unknown_enum("communication state", state);
}

}  // namespace

std::optional<int64_t> parse_iso_ms(std::string_view text) {
  if (text.size() < 20 || text.size() > 40) return std::nullopt;
  std::string s(text);
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 ||
      year < 1970 || year > 9999) {
    return std::nullopt;
  }
  int64_t ms = 0;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits)
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
    for (; digits < 3 && digits > 0; ++digits) ms *= 10;
  }
  if (i + 1 != s.size() || s[i] != 'Z') return std::nullopt;
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string format_iso_ms(int64_t ms) {
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return out;
}

Result<Page> decode_page(std::string_view body, std::string_view array_name) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  Page page;
  if (const json::array* entities = arr_of(obj, array_name)) {
    if (entities->size() > kMaxEntities) {
      return error(ErrorCode::kTooLarge, "platform page with too many entities");
    }
    for (const json::value& entity : *entities) {
      if (!entity.is_object()) return error(ErrorCode::kInvalidArgument, "entity not an object");
      page.entities.push_back(json::serialize(entity));
    }
  } else if (member(obj, array_name) != nullptr) {
    return error(ErrorCode::kInvalidArgument, "entities not an array");
  }
  page.next_uri = str(obj, "nextUri");
  if (const json::object* cursors = obj_of(obj, "cursors"))
    page.cursor_after = str(*cursors, "after");
  if (member(obj, "total")) page.total = integer(obj, "total");
  if (member(obj, "totalHits")) page.total = integer(obj, "totalHits");
  if (member(obj, "pageCount")) page.page_count = integer(obj, "pageCount");
  if (member(obj, "pageSize")) page.page_size = integer(obj, "pageSize");
  return page;
}

Result<Token> decode_token(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  Token token;
  token.access_token = str(obj, "access_token");
  token.expires_in_s = integer(obj, "expires_in");
  token.refresh_token = str(obj, "refresh_token");
  if (token.access_token.empty()) {
    std::string why = str(obj, "error");
    return error(ErrorCode::kUnauthenticated,
                 "token answer without access_token" + (why.empty() ? "" : ": " + why));
  }
  if (token.expires_in_s <= 0) token.expires_in_s = 3600;
  return token;
}

Result<std::string> decode_user_id(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  std::string id = str(obj, "id");
  if (id.empty() || id.size() > 256) return error(ErrorCode::kInvalidArgument, "a user without id");
  return id;
}

Result<std::string> decode_media_uri(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  std::string uri = str(obj, "mediaFileUri");
  if (uri.empty()) return error(ErrorCode::kNotFound, "the media answer has no download link");
  if (uri.size() > 4096 || (uri.rfind("https://", 0) != 0 && uri.rfind("http://", 0) != 0)) {
    return error(ErrorCode::kInvalidArgument, "the media download link is not an http(s) URI");
  }
  return uri;
}

ErrorBody decode_error(std::string_view body) {
  ErrorBody out;
  auto obj = parse_object(body);
  if (!obj.ok()) return out;
  out.code = str(*obj, "code");
  out.message = str(*obj, "message");
  out.context_id = str(*obj, "contextId");
  if (out.code.empty()) out.code = str(*obj, "error");
  return out;
}

Result<PresenceDefinitions> decode_presence_definitions(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(Page page, decode_page(body));
  PresenceDefinitions out;
  int32_t order = 0;
  for (const std::string& text : page.entities) {
    OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(text));
    std::string id = str(obj, "id");
    OUTPOST_RETURN_IF_ERROR(need_id(id, "presence definition"));
    std::string system = str(obj, "systemPresence");
    if (!known_system_presence(system)) return unknown_enum("systemPresence", system);
    out.map.system_of[id] = system;
    const bool user_defined = str(obj, "type") == "User";
    if (!user_defined) {
      if (system == "OnQueue") out.map.on_queue_id = id;
      if (system == "Offline") out.map.offline_id = id;
      if (system == "Available") out.map.available_id = id;
    }
    if (system == "OnQueue" || system == "Offline") continue;
    d::AuxReason reason;
    reason.set_id(id);
    std::string label;
    if (const json::object* labels = obj_of(obj, "languageLabels")) label = str(*labels, "en_US");
    reason.set_name(label.empty() ? str(obj, "name") : label);
    if (reason.name().empty()) reason.set_name(system);
    reason.set_system_presence(system);
    reason.set_deactivated(boolean(obj, "deactivated"));
    reason.set_sort_order(order++);
    out.aux_reasons.push_back(std::move(reason));
  }
  return out;
}

Result<upstream::PresenceChanged> decode_presence(std::string_view body, const PresenceMap& map,
                                                  int64_t* modified_ms) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  if (modified_ms != nullptr) *modified_ms = time_of(obj, "modifiedDate");
  const json::object* definition = obj_of(obj, "presenceDefinition");
  if (!definition) return error(ErrorCode::kInvalidArgument, "presence without definition");
  std::string id = str(*definition, "id");
  std::string system = str(*definition, "systemPresence");
  if (system.empty()) {
    auto it = map.system_of.find(id);
    if (it != map.system_of.end()) system = it->second;
  }
  if (!known_system_presence(system)) return unknown_enum("systemPresence", system);
  upstream::PresenceChanged change;
  change.set_cause(upstream::CAUSE_PLATFORM);
  if (system == "OnQueue") {
    change.set_presence(d::PRESENCE_READY);
  } else if (system == "Offline") {
    change.set_presence(d::PRESENCE_OFFLINE);
  } else {
    change.set_presence(d::PRESENCE_NOT_READY);
    change.set_aux_reason_id(id);
  }
  return change;
}

Result<std::string> decode_routing_status(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  std::string status = str(obj, "status");
  if (const json::object* nested = obj_of(obj, "routingStatus")) status = str(*nested, "status");
  static const char* const kKnown[] = {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING",
                                       "COMMUNICATING"};
  for (const char* known : kKnown)
    if (status == known) return status;
  return unknown_enum("routing status", status);
}

Result<d::Queue> decode_user_queue(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::Queue queue;
  queue.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(queue.id(), "queue"));
  queue.set_name(str(obj, "name"));
  queue.set_joined(boolean(obj, "joined"));
  queue.set_member_count(static_cast<int32_t>(integer(obj, "memberCount")));
  queue.set_joined_member_count(static_cast<int32_t>(integer(obj, "joinedMemberCount")));
  if (const json::object* media = obj_of(obj, "mediaSettings")) {
    for (const auto& [name, settings] : *media) {
      (void)settings;
      if (name == "call") queue.add_media(d::MEDIA_VOICE);
      if (name == "email") queue.add_media(d::MEDIA_EMAIL);
      if (name == "message") queue.add_media(d::MEDIA_SMS);
      if (name == "chat") queue.add_media(d::MEDIA_CHAT);
      if (name == "callback") queue.add_media(d::MEDIA_CALLBACK);
    }
  }
  return queue;
}

Result<d::WrapupCode> decode_wrapup_code(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::WrapupCode code;
  code.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(code.id(), "wrap-up code"));
  code.set_name(str(obj, "name"));
  code.set_description(str(obj, "description"));
  return code;
}

Result<d::Voicemail> decode_voicemail(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::Voicemail vm;
  vm.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(vm.id(), "voicemail"));
  vm.set_caller_address(str(obj, "callerAddress"));
  vm.set_caller_name(str(obj, "callerName"));
  vm.set_received_ms(time_of(obj, "createdDate"));
  vm.set_duration_s(static_cast<int32_t>(integer(obj, "audioRecordingDurationSeconds")));
  vm.set_read(boolean(obj, "read"));
  vm.set_note(str(obj, "note"));
  if (const json::value* t = member(obj, "transcription"); t && t->is_string()) {
    vm.set_transcription(std::string(t->as_string()));
  }
  if (const json::object* conversation = obj_of(obj, "conversation")) {
    vm.set_conversation_id(str(*conversation, "id"));
  }
  return vm;
}

std::string voicemail_action(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj.ok()) return {};
  if (boolean(*obj, "deleted")) return "delete";
  return str(*obj, "action");
}

Result<d::Contact> decode_contact(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::Contact contact;
  contact.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(contact.id(), "external contact"));
  contact.set_first_name(str(obj, "firstName"));
  contact.set_middle_name(str(obj, "middleName"));
  contact.set_last_name(str(obj, "lastName"));
  contact.set_salutation(str(obj, "salutation"));
  contact.set_title(str(obj, "title"));
  if (const json::object* org = obj_of(obj, "externalOrganization")) {
    contact.set_company(str(*org, "name"));
  }
  contact.set_work_phone(phone(obj, "workPhone"));
  contact.set_cell_phone(phone(obj, "cellPhone"));
  contact.set_home_phone(phone(obj, "homePhone"));
  contact.set_other_phone(phone(obj, "otherPhone"));
  contact.set_work_email(str(obj, "workEmail"));
  contact.set_personal_email(str(obj, "personalEmail"));
  contact.set_other_email(str(obj, "otherEmail"));
  if (const json::object* address = obj_of(obj, "address")) {
    std::string text = str(*address, "address1");
    for (const char* part : {"city", "postalCode", "country"}) {
      std::string value = str(*address, part);
      if (!value.empty()) text += (text.empty() ? "" : ", ") + value;
    }
    contact.set_address(text);
  }
  std::string type = str(obj, "type");
  if (!type.empty() && type != "Ephemeral" && type != "Identified" && type != "Curated") {
    return unknown_enum("contact type", type);
  }
  contact.set_modified_ms(time_of(obj, "modifyDate"));
  return contact;
}

Result<d::CannedResponse> decode_response(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::CannedResponse response;
  response.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(response.id(), "response"));
  response.set_title(str(obj, "name"));
  if (const json::array* libraries = arr_of(obj, "libraries"); libraries && !libraries->empty()) {
    if ((*libraries)[0].is_object()) {
      response.set_library_id(str((*libraries)[0].as_object(), "id"));
      response.set_library_name(str((*libraries)[0].as_object(), "name"));
    }
  }
  if (const json::array* texts = arr_of(obj, "texts")) {
    for (const json::value& t : *texts) {
      if (!t.is_object()) continue;
      const auto& text = t.as_object();
      if (str(text, "type") == "subject") continue;
      std::string type = str(text, "contentType");
      if (type == "text/plain")
        response.set_text(str(text, "content"));
      else if (type == "text/html")
        response.set_html(str(text, "content"));
      else
        return unknown_enum("contentType", type);
    }
  }
  std::string kind = str(obj, "interactionType");
  if (kind == "email")
    response.set_interaction_type(d::MEDIA_EMAIL);
  else if (kind == "chat")
    response.set_interaction_type(d::MEDIA_CHAT);
  else if (kind == "twitter" || kind.empty())
    response.set_interaction_type(d::MEDIA_UNSPECIFIED);
  else
    return unknown_enum("interactionType", kind);
  if (const json::array* subs = arr_of(obj, "substitutions")) {
    for (const json::value& s : *subs)
      if (s.is_object()) response.add_variables(str(s.as_object(), "id"));
  }
  response.set_modified_ms(time_of(obj, "dateCreated"));
  return response;
}

Result<ConversationForUser> decode_conversation(std::string_view body, const std::string& user) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  ConversationForUser out;
  d::Interaction& it = out.interaction;
  it.set_id(str(obj, "id"));
  OUTPOST_RETURN_IF_ERROR(need_id(it.id(), "conversation"));
  it.set_started_ms(time_of(obj, "startTime"));
  it.set_ended_ms(time_of(obj, "endTime"));
  const json::array* participants = arr_of(obj, "participants");
  if (!participants) return error(ErrorCode::kInvalidArgument, "conversation without participants");
  const json::object* agent = nullptr;
  const json::object* customer = nullptr;
  for (const json::value& p : *participants) {
    if (!p.is_object()) return error(ErrorCode::kInvalidArgument, "participant not an object");
    const auto& po = p.as_object();
    std::string purpose = str(po, "purpose");
    if (purpose == "agent" && str(po, "userId") == user) agent = &po;
    if (purpose == "customer" || purpose == "external") customer = customer ? customer : &po;
  }
  if (!agent) return error(ErrorCode::kNotFound, "user takes no part in conversation " + it.id());
  out.participant_id = str(*agent, "id");
  for (const char* key : {"calls", "emails", "messages", "callbacks", "chats"}) {
    const json::array* comms = arr_of(*agent, key);
    if (!comms || comms->empty() || !comms->back().is_object()) continue;
    const auto& comm = comms->back().as_object();
    OUTPOST_ASSIGN_OR_RETURN(d::MediaType media, media_of_key(key));
    it.set_media(media);
    out.media_path = key;
    out.communication_id = str(comm, "id");
    OUTPOST_ASSIGN_OR_RETURN(d::InteractionState state,
                             state_of(str(comm, "state"), boolean(comm, "held")));
    it.set_state(state);
    OUTPOST_ASSIGN_OR_RETURN(d::Direction direction, direction_of(str(comm, "direction")));
    it.set_direction(direction);
    it.set_subject(str(comm, "subject"));
    if (int64_t end = time_of(comm, "disconnectedTime"); end != 0) it.set_ended_ms(end);
    break;
  }
  if (out.media_path.empty()) return error(ErrorCode::kInvalidArgument, "no communication");
  it.set_agent_user_id(user);
  it.set_queue_id(str(*agent, "queueId"));
  it.set_queue_name(str(*agent, "queueName"));
  it.set_wrapup_required(boolean(*agent, "wrapupRequired"));
  if (const json::object* wrapup = obj_of(*agent, "wrapup")) {
    it.set_wrapup_code_id(str(*wrapup, "code"));
    it.set_wrapup_code_name(str(*wrapup, "name"));
    it.set_wrapup_notes(str(*wrapup, "notes"));
  }
  if (it.state() == d::INTERACTION_DISCONNECTED &&
      (!it.wrapup_code_id().empty() || !it.wrapup_required())) {
    it.set_state(d::INTERACTION_QUALIFIED);
  }
  if (customer) {
    it.set_peer_address(str(*customer, "address"));
    it.set_peer_name(str(*customer, "name"));
    it.set_contact_id(str(*customer, "externalContactId"));
  }
  if (const json::object* attributes = obj_of(*agent, "attributes")) {
    for (const auto& [k, v] : *attributes)
      if (v.is_string())
        (*it.mutable_participant_data())[std::string(k)] = std::string(v.as_string());
  }
  if (it.ended_ms() > it.started_ms() && it.started_ms() > 0) {
    it.set_duration_s(static_cast<int32_t>((it.ended_ms() - it.started_ms()) / 1000));
  }
  return out;
}

Result<d::Interaction> decode_analytics_conversation(std::string_view body,
                                                     const std::string& user) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::Interaction it;
  it.set_id(str(obj, "conversationId"));
  OUTPOST_RETURN_IF_ERROR(need_id(it.id(), "analytics conversation"));
  it.set_started_ms(time_of(obj, "conversationStart"));
  it.set_ended_ms(time_of(obj, "conversationEnd"));
  OUTPOST_ASSIGN_OR_RETURN(d::Direction direction, direction_of(str(obj, "originatingDirection")));
  it.set_direction(direction);
  it.set_agent_user_id(user);
  const json::array* participants = arr_of(obj, "participants");
  if (!participants) return error(ErrorCode::kInvalidArgument, "conversation without participants");
  bool mine = false;
  for (const json::value& p : *participants) {
    if (!p.is_object()) return error(ErrorCode::kInvalidArgument, "participant not an object");
    const auto& po = p.as_object();
    const std::string purpose = str(po, "purpose");
    const json::array* sessions = arr_of(po, "sessions");
    if (purpose == "customer" || purpose == "external") {
      it.set_peer_name(str(po, "participantName"));
      it.set_contact_id(str(po, "externalContactId"));
    }
    if (!sessions) continue;
    for (const json::value& s : *sessions) {
      if (!s.is_object()) continue;
      const auto& so = s.as_object();
      if (purpose == "customer" || purpose == "external") {
        std::string address = str(so, "ani");
        it.set_peer_address(address.empty() ? str(so, "addressFrom") : address);
      }
      if (purpose != "agent" || str(po, "userId") != user) continue;
      mine = true;
      OUTPOST_ASSIGN_OR_RETURN(d::MediaType media, media_of_analytics(str(so, "mediaType")));
      it.set_media(media);
      if (const json::array* segments = arr_of(so, "segments")) {
        for (const json::value& seg : *segments) {
          if (!seg.is_object()) continue;
          const auto& g = seg.as_object();
          if (!str(g, "queueId").empty()) it.set_queue_id(str(g, "queueId"));
          if (!str(g, "wrapUpCode").empty()) it.set_wrapup_code_id(str(g, "wrapUpCode"));
          if (!str(g, "wrapUpNote").empty()) it.set_wrapup_notes(str(g, "wrapUpNote"));
          if (!str(g, "subject").empty()) it.set_subject(str(g, "subject"));
        }
      }
    }
  }
  if (!mine) return error(ErrorCode::kNotFound, "user takes no part in conversation " + it.id());
  if (it.ended_ms() == 0) {
    it.set_state(d::INTERACTION_CONNECTED);
  } else {
    it.set_state(it.wrapup_code_id().empty() ? d::INTERACTION_DISCONNECTED
                                             : d::INTERACTION_QUALIFIED);
    it.set_wrapup_required(it.wrapup_code_id().empty());
    if (it.started_ms() > 0 && it.ended_ms() > it.started_ms()) {
      it.set_duration_s(static_cast<int32_t>((it.ended_ms() - it.started_ms()) / 1000));
    }
  }
  return it;
}

Result<d::Draft> decode_email_draft(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  d::Draft draft;
  draft.set_kind(d::DRAFT_EMAIL_REPLY);
  draft.set_subject(str(obj, "subject"));
  draft.set_body(str(obj, "textBody"));
  for (const char* key : {"to", "cc", "bcc"}) {
    const json::array* list = arr_of(obj, key);
    if (!list) continue;
    for (const json::value& a : *list) {
      if (!a.is_object()) continue;
      std::string email = str(a.as_object(), "email");
      if (std::string_view(key) == "to") draft.add_to(email);
      if (std::string_view(key) == "cc") draft.add_cc(email);
      if (std::string_view(key) == "bcc") draft.add_bcc(email);
    }
  }
  draft.set_updated_ms(time_of(obj, "time"));
  return draft;
}

std::string encode_email_message(const d::Draft& draft) {
  auto addresses = [](const auto& list) {
    json::array out;
    for (const std::string& a : list) out.push_back(json::object{{"email", a}});
    return out;
  };
  return json::serialize(json::object{{"to", addresses(draft.to())},
                                      {"cc", addresses(draft.cc())},
                                      {"bcc", addresses(draft.bcc())},
                                      {"subject", draft.subject()},
                                      {"textBody", draft.body()}});
}

std::string conversation_id(std::string_view body) {
  auto obj = parse_object(body);
  return obj.ok() ? str(*obj, "id") : std::string();
}

Result<std::vector<std::string>> decode_message_ids(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  const json::array* participants = arr_of(obj, "participants");
  if (!participants) return error(ErrorCode::kInvalidArgument, "conversation without participants");
  std::vector<std::string> ids;
  for (const json::value& p : *participants) {
    if (!p.is_object()) return error(ErrorCode::kInvalidArgument, "participant not an object");
    const json::array* comms = arr_of(p.as_object(), "messages");
    if (!comms) continue;
    for (const json::value& comm : *comms) {
      if (!comm.is_object()) continue;
      const json::array* details = arr_of(comm.as_object(), "messages");
      if (!details) continue;
      for (const json::value& detail : *details) {
        if (!detail.is_object()) continue;
        std::string id = str(detail.as_object(), "messageId");
        if (id.empty()) continue;
        if (ids.size() >= kMaxEntities) {
          return error(ErrorCode::kTooLarge, "conversation with too many messages");
        }
        ids.push_back(std::move(id));
      }
    }
  }
  return ids;
}

Result<MessageData> decode_message_data(std::string_view body) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(body));
  MessageData out;
  out.id = str(obj, "id");
  OUTPOST_RETURN_IF_ERROR(need_id(out.id, "message"));
  const std::string direction = str(obj, "direction");
  if (direction != "inbound" && direction != "outbound") {
    return unknown_enum("message direction", direction);
  }
  out.outbound = direction == "outbound";
  out.text = str(obj, "textBody");
  return out;
}

Result<Notification> decode_notification(std::string_view text) {
  OUTPOST_ASSIGN_OR_RETURN(json::object obj, parse_object(text));
  Notification n;
  n.topic = str(obj, "topicName");
  if (n.topic.empty()) {
    // Answers to socket commands: {"result":"200","status":"subscribed"} or 404 (gone).
    std::string result = str(obj, "result");
    if (result == "404")
      n.kind = Notification::Kind::kChannelGone;
    else if (result == "200")
      n.kind = Notification::Kind::kSubscribed;
    return n;
  }
  const json::object* body = obj_of(obj, "eventBody");
  if (n.topic == "channel.metadata") {
    std::string message = body ? str(*body, "message") : "";
    n.kind = message == "pong" ? Notification::Kind::kPong : Notification::Kind::kHeartbeat;
    return n;
  }
  if (n.topic == "v2.system.socket_closing") {
    n.kind = Notification::Kind::kSocketClosing;
    return n;
  }
  if (!body) return error(ErrorCode::kInvalidArgument, "notification without eventBody");
  n.kind = Notification::Kind::kEvent;
  n.body = json::serialize(*body);
  if (const json::object* metadata = obj_of(obj, "metadata")) {
    n.correlation_id = str(*metadata, "CorrelationId");
  }
  return n;
}

}  // namespace outpost::genesys
