// New conversations a device starts on Genesys Cloud (decision 044): a callback scheduled on
// a queue (guide 2.1.5.2.4.4, 2.1.11) and a new email sent on behalf of a queue (guide
// 2.1.5.2.4.2). Not in shared/reference/platform-apis.md: the shapes are the public Platform
// API's (CreateCallbackCommand -> CreateCallbackResponse, CreateEmailRequest ->
// EmailConversation; the analytics query's "property" predicates on participant attributes).
// Pure functions over drafts and bytes (fuzzed: fuzz/genesys_fuzzer): the checks made before
// any POST, the request bodies, and the decoders of the answers. The adapter's side (journal,
// the single POST, the read-back) is the core's, genesys_core_sends.cpp (decision 055).
// Thread rules: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "outpost/domain.pb.h"

namespace outpost::genesys {

// The participant attribute (callback `data`, email `attributes`) that carries the send's
// journal key, so a retry whose first answer was lost can find what it created.
inline constexpr std::string_view kSendKeyAttribute = "outpostSendKey";
inline constexpr std::string_view kNoteAttribute = "outpostNote";
inline constexpr size_t kMaxNoteAttributeBytes = 2000;  // a callback's note as participant data

enum class NewConversation { kNone, kCallback, kEmail, kSms };
// What a draft starts: a callback request, a new outbound email, an SMS without an
// interaction (a new SMS session); kNone for replies.
NewConversation new_conversation_of(const domain::Draft& draft);

// Why the platform must not be asked (the draft's refusal), or "" when the draft may be
// sent: a callback needs its queue, a phone number and a time not in the past (0: as soon
// as possible); a new email its queue, one valid address, no copies or attachments, a body.
// A new SMS is always refused (decision 044: the public API's agentless send opens no
// session with the agent and needs the queue's SMS number).
std::string new_conversation_refusal(const domain::Draft& draft, int64_t now_ms);

// POST /api/v2/conversations/callbacks: queueId, callbackNumbers [number], callbackUserName
// (the draft's subject), callbackScheduledTime (ISO-8601, omitted when 0), data {send key,
// the draft's body as a note}.
std::string encode_new_callback(const domain::Draft& draft, std::string_view send_key);
// POST /api/v2/conversations/emails: direction OUTBOUND, provider "PureCloud Email",
// queueId, toAddress, subject, textBody, attributes {send key}.
std::string encode_new_email(const domain::Draft& draft, std::string_view send_key);
// POST /api/v2/analytics/conversations/details/query for the conversations whose
// participant attribute kSendKeyAttribute is `send_key`, started in [from_ms, to_ms).
std::string encode_created_query(std::string_view send_key, int64_t from_ms, int64_t to_ms);

// The created conversation's id: CreateCallbackResponse's conversation.id, or an
// EmailConversation's id. kInvalidArgument when neither.
Result<std::string> decode_created_conversation(std::string_view body);
// The analytics answer's conversationIds (at most kMaxEntities). kInvalidArgument when not
// such an answer.
Result<std::vector<std::string>> decode_found_conversations(std::string_view body);

}  // namespace outpost::genesys
