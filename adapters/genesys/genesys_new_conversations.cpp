// New callbacks and new emails sent at most once (decision 044), as decision 037's replies:
// the send's key is journaled "attempted" (durably) before its single POST, a 2xx marks it
// "accepted", a 4xx is the draft's refusal with the platform's message (decision 006), and
// an attempt whose outcome is unknown (a timeout, a lost answer, the server killed) is
// never POSTed again blindly. The key travels with what the POST creates, as a participant
// attribute (callback `data`, email `attributes`), so the retry asks the analytics query
// for a conversation carrying it: found, the send is accepted; not found, it is refused
// with a reason rather than risk a second callback or email (the analytics view is not
// read-after-write, so "not found" proves nothing).
#include <chrono>

#include "adapters/genesys/genesys_new_conversations.h"
#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kWriteDeadline{60};
// The read-back's interval: the journal forgets marks after 7 days; the analytics details
// query is asked for conversations started in the last 6 days (and the next hour, for
// clocks ahead of ours).
constexpr int64_t kLookBackMs = 6LL * 24 * 3600 * 1000;
constexpr int64_t kLookAheadMs = 3600LL * 1000;
constexpr const char* kAnalyticsQuery = "/api/v2/analytics/conversations/details/query";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<PlatformAnswer> GenesysUpstream::send_new_conversation(const AgentRef& agent,
                                                              const domain::Draft& draft,
                                                              int64_t now_ms) {
  const std::string key =
      "send/" + agent.user + "/" + draft.id() + "/" + std::to_string(draft.revision());
  // A send already attempted is answered by the journal or the read-back, not checked
  // again: its callback's time may have passed since the attempt that made it.
  if (sends_.get(key) == SendJournal::Mark::kNone) {
    if (std::string why = new_conversation_refusal(draft, now_ms > 0 ? now_ms : wall_ms());
        !why.empty()) {
      std::lock_guard lock(mutex_);
      ++counters_.refusals;
      return PlatformAnswer::refuse(why);
    }
  }
  return run_intent(
      key, [this, key, user = agent.user, copy = draft] { return create_once(key, user, copy); });
}

Result<PlatformAnswer> GenesysUpstream::create_once(const std::string& key, const std::string& user,
                                                    const domain::Draft& draft) {
  const auto deadline = Clock::now() + kWriteDeadline;
  const bool callback = new_conversation_of(draft) == NewConversation::kCallback;
  const std::string what = callback ? "callback" : "new email";
  const SendJournal::Mark mark = sends_.get(key);
  if (mark == SendJournal::Mark::kAccepted) return PlatformAnswer::accept();
  if (mark == SendJournal::Mark::kAttempted) {
    auto found = find_created(key, deadline);
    if (!found.ok()) {
      return error(ErrorCode::kUnavailable, "checking whether the earlier " + what +
                                                " was made: " + found.status().message());
    }
    if (!*found) {
      return PlatformAnswer::refuse(
          "the platform did not answer whether this " + what +
          " was made, and it cannot be found yet: it is not sent again, so the customer never "
          "gets two. Check the queue, then edit and send to make a new one");
    }
    {
      std::lock_guard lock(mutex_);
      ++counters_.sends_found;
    }
    if (Status s = sends_.set(key, SendJournal::Mark::kAccepted); !s.ok() && options_.log) {
      options_.log("genesys: " + s.to_string());
    }
    return PlatformAnswer::accept();
  }
  const std::string path =
      callback ? "/api/v2/conversations/callbacks" : "/api/v2/conversations/emails";
  const std::string body =
      callback ? encode_new_callback(draft, key) : encode_new_email(draft, key);
  return post_journaled(
      key, user, path, body, what, deadline, [this, what](const RestResponse& response) {
        if (!options_.log) return;
        auto created = decode_created_conversation(response.body);
        options_.log("genesys: " + what + " made: conversation " +
                     (created.ok() ? *created : std::string("(unreadable answer)")) +
                     " [correlation " + response.correlation_id + "]");
      });
}

// The analytics details query (the client's token: its role has
// analytics:conversationDetail:view) for a conversation whose participant carries the key.
Result<bool> GenesysUpstream::find_created(const std::string& key, Clock::time_point deadline) {
  const int64_t now = wall_ms();
  auto got = rest_.call("POST", kAnalyticsQuery,
                        encode_created_query(key, now - kLookBackMs, now + kLookAheadMs), deadline);
  if (!got.ok()) return got.status();
  if (got->status != 200) {
    return error(ErrorCode::kUnavailable, "analytics query: HTTP " + std::to_string(got->status));
  }
  auto ids = decode_found_conversations(got->body);
  if (!ids.ok()) {
    decode_failed("created conversations", ids.status(), got->correlation_id);
    return ids.status();
  }
  return !ids->empty();
}

}  // namespace outpost::genesys
