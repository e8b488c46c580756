// Sends of email replies and SMS/chat messages, at most once (decision 037). The platform
// takes no idempotency key and a send's answer can be lost after the platform acted (a
// timeout, a dropped connection, the server killed mid-request). So the send's key is
// marked "attempted" in the journal (durably, DATA/platform-sends) before its POST, which
// is made once (RestClient::call_once_for: no blind retry of an unknown outcome); a
// definite answer settles the mark. A later attempt of a send still marked "attempted"
// first reads the conversation's messages, and a matching outbound one is the send's
// success: it is not POSTed again. An "accepted" mark answers at once (the server may have
// lost the answer before its store committed it).
#include <boost/json.hpp>

#include "adapters/genesys/genesys_new_conversations.h"
#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kWriteDeadline{60};
// How far back a retry looks: the newest messages of the conversation.
constexpr size_t kMaxEmailsRead = 20;
constexpr size_t kMaxListingPages = 10;
constexpr size_t kBulkIds = 100;  // the batch read's ids per request

}  // namespace

Result<PlatformAnswer> GenesysUpstream::send(const AgentRef& agent, const domain::Draft& draft,
                                             int64_t now_ms) {
  if (!mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  if (new_conversation_of(draft) != NewConversation::kNone) {
    return send_new_conversation(agent, draft, now_ms);  // decision 044
  }
  if (draft.kind() != domain::DRAFT_EMAIL_REPLY && draft.kind() != domain::DRAFT_SMS &&
      draft.kind() != domain::DRAFT_CHAT_MESSAGE) {
    // An unspecified kind: nothing to send.
    return PlatformAnswer::refuse("this kind of send is not wired to Genesys Cloud yet");
  }
  if (draft.interaction_id().empty())
    return PlatformAnswer::refuse("a reply needs its interaction");
  const std::string key =
      "send/" + agent.user + "/" + draft.id() + "/" + std::to_string(draft.revision());
  return run_intent(
      key, [this, key, user = agent.user, copy = draft] { return send_once(key, user, copy); });
}

Result<PlatformAnswer> GenesysUpstream::send_once(const std::string& key, const std::string& user,
                                                  const domain::Draft& draft) {
  const auto deadline = Clock::now() + kWriteDeadline;
  const std::string id = draft.interaction_id();
  const SendJournal::Mark mark = sends_.get(key);
  if (mark == SendJournal::Mark::kAccepted) return PlatformAnswer::accept();
  if (mark == SendJournal::Mark::kAttempted) {
    // An earlier attempt's outcome is unknown: was it sent?
    auto found = find_sent(user, draft, deadline);
    if (!found.ok()) {
      return error(ErrorCode::kUnavailable,
                   "checking whether the earlier send went out: " + found.status().message());
    }
    if (*found) {
      {
        std::lock_guard lock(mutex_);
        ++counters_.sends_found;
      }
      if (Status s = sends_.set(key, SendJournal::Mark::kAccepted); !s.ok() && options_.log) {
        options_.log("genesys: " + s.to_string());
      }
      return PlatformAnswer::accept();
    }
  }
  std::string path, body, what;
  if (draft.kind() == domain::DRAFT_EMAIL_REPLY) {
    // Save the draft on the platform (the web interface sees it), then send it.
    path = "/api/v2/conversations/emails/" + id + "/messages";
    body = encode_email_message(draft);
    what = "email send";
    auto saved = rest_.call_for(user, "PUT", path + "/draft", body, deadline);
    auto saved_answer = answer_of(saved, "email draft");
    if (!saved_answer.ok() || !saved_answer->accepted) return saved_answer;
  } else {
    auto got = rest_.call_for(user, "GET", "/api/v2/conversations/" + id, "", deadline);
    if (got.ok() && got->status == 404) {
      return PlatformAnswer::refuse("the platform does not know this interaction");
    }
    if (!got.ok() || got->status != 200) return answer_of(got, "message send");
    auto conversation = decode_conversation(got->body, user);
    if (conversation.status().code() == ErrorCode::kNotFound) {
      return PlatformAnswer::refuse("you take no part in this interaction");
    }
    if (!conversation.ok()) return error(ErrorCode::kUnavailable, "unreadable conversation");
    if (conversation->media_path != "messages") {
      return PlatformAnswer::refuse("this interaction takes no messages");
    }
    path = "/api/v2/conversations/messages/" + id + "/communications/" +
           conversation->communication_id + "/messages";
    body = boost::json::serialize(boost::json::object{{"textBody", draft.body()}});
    what = "message send";
  }
  return post_journaled(key, user, path, body, what, deadline);
}

Result<PlatformAnswer> GenesysUpstream::post_journaled(
    const std::string& key, const std::string& user, const std::string& path,
    const std::string& body, const std::string& what, Clock::time_point deadline,
    const std::function<void(const RestResponse&)>& accepted) {
  if (Status marked = sends_.set(key, SendJournal::Mark::kAttempted); !marked.ok()) {
    return error(ErrorCode::kUnavailable, "cannot journal the send: " + marked.message());
  }
  auto response = rest_.call_once_for(user, "POST", path, body, deadline);
  auto answer = answer_of(response, what);
  if (!answer.ok()) {
    // Unknown: the mark stays, and the device's retry looks before sending again.
    std::lock_guard lock(mutex_);
    ++counters_.sends_unknown;
    return answer;
  }
  Status settled =
      answer->accepted ? sends_.set(key, SendJournal::Mark::kAccepted) : sends_.forget(key);
  if (!settled.ok() && options_.log) options_.log("genesys: " + settled.to_string());
  if (answer->accepted && accepted) accepted(*response);
  return answer;
}

Result<bool> GenesysUpstream::find_sent(const std::string& user, const domain::Draft& draft,
                                        Clock::time_point deadline) {
  return draft.kind() == domain::DRAFT_EMAIL_REPLY ? find_sent_email(user, draft, deadline)
                                                   : find_sent_message(user, draft, deadline);
}

// GET …/emails/{id}/messages (previews, no bodies), then each newest message whose subject
// matches, until one has our text.
Result<bool> GenesysUpstream::find_sent_email(const std::string& user, const domain::Draft& draft,
                                              Clock::time_point deadline) {
  const std::string base = "/api/v2/conversations/emails/" + draft.interaction_id() + "/messages";
  std::vector<std::string> previews;
  std::string next = base + "?pageSize=100";
  for (size_t pages = 0; !next.empty() && pages < kMaxListingPages; ++pages) {
    auto got = rest_.call_for(user, "GET", next, "", deadline);
    if (!got.ok()) return got.status();
    if (got->status == 404) return false;  // no such conversation: nothing was sent
    if (got->status != 200) {
      return error(ErrorCode::kUnavailable, "email messages: HTTP " + std::to_string(got->status));
    }
    auto page = decode_page(got->body);
    if (!page.ok()) {
      decode_failed("email messages", page.status(), got->correlation_id);
      return page.status();
    }
    for (std::string& e : page->entities) previews.push_back(std::move(e));
    next = page->next_uri;
  }
  size_t read = 0;
  for (auto it = previews.rbegin(); it != previews.rend() && read < kMaxEmailsRead; ++it) {
    auto preview = decode_email_draft(*it);
    const std::string message_id = conversation_id(*it);
    if (!preview.ok() || message_id.empty()) continue;
    if (!preview->subject().empty() && preview->subject() != draft.subject()) continue;
    ++read;
    auto got = rest_.call_for(user, "GET", base + "/" + message_id, "", deadline);
    if (!got.ok()) return got.status();
    if (got->status == 404) continue;
    if (got->status != 200) {
      return error(ErrorCode::kUnavailable, "email message: HTTP " + std::to_string(got->status));
    }
    auto message = decode_email_draft(got->body);
    if (!message.ok()) {
      decode_failed("email message", message.status(), got->correlation_id);
      continue;
    }
    if (message->body() == draft.body() && message->subject() == draft.subject()) return true;
  }
  return false;
}

// GET /conversations/{id} names every message's id; the batch read gives their direction
// and text.
Result<bool> GenesysUpstream::find_sent_message(const std::string& user, const domain::Draft& draft,
                                                Clock::time_point deadline) {
  const std::string id = draft.interaction_id();
  auto got = rest_.call_for(user, "GET", "/api/v2/conversations/" + id, "", deadline);
  if (!got.ok()) return got.status();
  if (got->status == 404) return false;
  if (got->status != 200) {
    return error(ErrorCode::kUnavailable, "conversation: HTTP " + std::to_string(got->status));
  }
  auto ids = decode_message_ids(got->body);
  if (!ids.ok()) {
    decode_failed("conversation messages", ids.status(), got->correlation_id);
    return ids.status();
  }
  // Newest last: read backwards in batches.
  for (size_t end = ids->size(); end > 0;) {
    const size_t begin = end > kBulkIds ? end - kBulkIds : 0;
    boost::json::array batch;
    for (size_t i = begin; i < end; ++i) batch.emplace_back((*ids)[i]);
    end = begin;
    auto data =
        rest_.call_for(user, "POST", "/api/v2/conversations/messages/" + id + "/messages/bulk",
                       boost::json::serialize(batch), deadline);
    if (!data.ok()) return data.status();
    if (data->status != 200) {
      return error(ErrorCode::kUnavailable, "messages: HTTP " + std::to_string(data->status));
    }
    auto page = decode_page(data->body);
    if (!page.ok()) {
      decode_failed("messages", page.status(), data->correlation_id);
      return page.status();
    }
    for (const std::string& entity : page->entities) {
      auto message = decode_message_data(entity);
      if (!message.ok()) {
        decode_failed("message", message.status(), data->correlation_id);
        continue;
      }
      if (message->outbound && message->text == draft.body()) return true;
    }
  }
  return false;
}

}  // namespace outpost::genesys
