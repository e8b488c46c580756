// Decoders of Genesys Cloud's JSON (shared/reference/platform-apis.md §1) into outpost's
// domain records and upstream events: the paged listings and their envelopes, presence,
// routing status, queues, wrap-up codes, conversations (the API's and the analytics query's
// shapes), voicemail, external contacts, responses, email drafts, OAuth tokens, error bodies
// and notification envelopes. Pure functions over bytes: no I/O, fuzzed (fuzz/genesys_fuzzer).
// Every body is bounded (kMaxBodyBytes, kMaxDepth, kMaxEntities); bad JSON, a missing id or
// an enum value this build does not know is kInvalidArgument and nothing is produced.
// Thread rules: stateless functions; PresenceMap is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "outpost/domain.pb.h"
#include "outpost/upstream.pb.h"

namespace outpost::genesys {

inline constexpr size_t kMaxBodyBytes = 8u << 20;  // one REST answer or notification
inline constexpr size_t kMaxDepth = 32;            // JSON nesting
inline constexpr size_t kMaxEntities = 1000;       // entities in one page

// "2026-12-06T20:17:14.123Z" (or without fraction) into epoch ms; nullopt when malformed.
std::optional<int64_t> parse_iso_ms(std::string_view text);
// Epoch ms as the platform writes times ("...T...Z", milliseconds).
std::string format_iso_ms(int64_t ms);

// One page of a listing: the entities as JSON text (decoded by the functions below), and
// where the next page is (nextUri, or the scan's cursors.after; empty on the last page).
struct Page {
  std::vector<std::string> entities;
  std::string next_uri;
  std::string cursor_after;
  int64_t total = -1;  // -1 when the listing does not say
  int64_t page_count = -1;
  int64_t page_size = -1;  // the pageSize the platform used, -1 when absent (the scan)
};
// `member` names the array ("entities"; the analytics query answers "conversations").
Result<Page> decode_page(std::string_view body, std::string_view member = "entities");

struct Token {
  std::string access_token;
  int64_t expires_in_s = 0;
  std::string refresh_token;  // user grants (authorization_code, refresh_token) only
};
Result<Token> decode_token(std::string_view body);
// GET /api/v2/users/me: the user's id (kInvalidArgument without one).
Result<std::string> decode_user_id(std::string_view body);

// GET /api/v2/voicemail/messages/{id}/media: the download link (`mediaFileUri`, an http(s)
// URI; kNotFound when the answer has none, kInvalidArgument for anything else).
Result<std::string> decode_media_uri(std::string_view body);

// An ErrorBody's message (and code), for a refusal shown to the agent.
struct ErrorBody {
  std::string code;
  std::string message;
  std::string context_id;
};
ErrorBody decode_error(std::string_view body);

// Presence definitions: the org's AUX reasons (type User under a system presence), and the
// definition ids the adapter PATCHes for READY (OnQueue) and OFFLINE (Offline).
struct PresenceMap {
  std::string on_queue_id;
  std::string offline_id;
  std::string available_id;
  std::map<std::string, std::string> system_of;  // definition id -> systemPresence
};
struct PresenceDefinitions {
  PresenceMap map;
  std::vector<domain::AuxReason> aux_reasons;
};
Result<PresenceDefinitions> decode_presence_definitions(std::string_view body);

// A UserPresence (REST) or the presence topic's eventBody, mapped with the definitions:
// OnQueue -> READY, Offline -> OFFLINE, any other -> NOT_READY with the definition as reason.
// `modified_ms`, when given, gets its modifiedDate (0 when absent or unreadable): which of
// two presences is newer (decision 050).
Result<upstream::PresenceChanged> decode_presence(std::string_view body, const PresenceMap& map,
                                                  int64_t* modified_ms = nullptr);
// RoutingStatus (REST: {status}) or the routingStatus topic ({routingStatus{status}}).
Result<std::string> decode_routing_status(std::string_view body);

Result<domain::Queue> decode_user_queue(std::string_view body);
Result<domain::WrapupCode> decode_wrapup_code(std::string_view body);
Result<domain::Voicemail> decode_voicemail(std::string_view body);
// The voicemail topic's `action` ("create", "update", "delete", ...; "" when absent).
std::string voicemail_action(std::string_view body);
Result<domain::Contact> decode_contact(std::string_view body);
Result<domain::CannedResponse> decode_response(std::string_view body);

// A Conversation (REST or the conversations topic) as `user`'s interaction, and what a
// wrap-up of it must name. kNotFound when `user` takes no part in it.
struct ConversationForUser {
  domain::Interaction interaction;
  std::string media_path;  // "calls", "emails", "messages", "callbacks"
  std::string participant_id;
  std::string communication_id;
};
Result<ConversationForUser> decode_conversation(std::string_view body, const std::string& user);
// One conversation of the analytics details query, as `user`'s interaction.
Result<domain::Interaction> decode_analytics_conversation(std::string_view body,
                                                          const std::string& user);
// An EmailMessage draft: its text and recipients (id and revision are the caller's).
Result<domain::Draft> decode_email_draft(std::string_view body);
// The app's draft as an EmailMessage (to/cc/bcc, subject, textBody) for PUT or send.
std::string encode_email_message(const domain::Draft& draft);
// A Conversation's id ("" when absent or unreadable); also any entity's `id`.
std::string conversation_id(std::string_view body);

// The ids of a messaging Conversation's messages, every participant's
// (participants[].messages[].messages[].messageId, the public API's MessageDetails), at most
// kMaxEntities. kInvalidArgument when not a conversation.
Result<std::vector<std::string>> decode_message_ids(std::string_view conversation);
// One MessageData of the batch read (POST …/messages/{id}/messages/bulk): its id, direction
// ("inbound" or "outbound"; any other is kInvalidArgument) and text.
struct MessageData {
  std::string id;
  bool outbound = false;
  std::string text;
};
Result<MessageData> decode_message_data(std::string_view body);

// A message on the notifications WebSocket.
struct Notification {
  enum class Kind { kEvent, kHeartbeat, kPong, kSocketClosing, kSubscribed, kChannelGone, kOther };
  Kind kind = Kind::kOther;
  std::string topic;
  std::string body;  // eventBody as JSON text
  std::string correlation_id;
};
Result<Notification> decode_notification(std::string_view text);

}  // namespace outpost::genesys
