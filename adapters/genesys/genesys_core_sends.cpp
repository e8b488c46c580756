// The core's sends at most once (decisions 037, 044, 055): email replies (the draft PUT,
// then the POST), SMS/chat messages (the conversation read for its communication, then the
// POST), new callbacks and new emails. Genesys Cloud takes no idempotency key and a send's
// answer can be lost after the platform acted, so the send's key is marked "attempted"
// through the SendMarks port before its single POST (call_once: a timeout, a transport
// error or a 502/503/504 is not retried); a definite answer settles the mark (2xx
// "accepted", kept; a 4xx refusal forgotten). A later attempt of a send still "attempted"
// first looks: a reply's conversation is read for a matching message we sent (found: the
// send is accepted, not POSTed again; not found: one POST), a new conversation is asked of
// the analytics query by the send key it carries (not found: refused rather than risk a
// second callback or email). An "accepted" mark answers at once. One chain per send key
// runs at a time, and a fresh core (a restart) looks only once a request of its previous
// life can no longer reach the platform (send_settle_ms past its start).
#include <algorithm>
#include <boost/json.hpp>

#include "adapters/genesys/genesys_core.h"
#include "adapters/genesys/genesys_new_conversations.h"

namespace outpost::genesys {
namespace {

using Mark = SendMarks::Mark;
// How far back a retry looks: the newest messages of the conversation.
constexpr size_t kMaxEmailsRead = 20;
constexpr size_t kMaxListingPages = 10;
constexpr size_t kBulkIds = 100;  // the batch read's ids per request
// The analytics read-back's interval: the journal forgets marks after 7 days; conversations
// started in the last 6 days (and the next hour, for clocks ahead of ours).
constexpr int64_t kLookBackMs = 6LL * 24 * 3600 * 1000;
constexpr int64_t kLookAheadMs = 3600LL * 1000;
constexpr const char* kAnalyticsQuery = "/api/v2/analytics/conversations/details/query";

std::string send_key_of(const std::string& user, const domain::Draft& draft) {
  return "send/" + user + "/" + draft.id() + "/" + std::to_string(draft.revision());
}

std::string what_of(const domain::Draft& draft) {
  switch (new_conversation_of(draft)) {
    case NewConversation::kCallback:
      return "callback";
    case NewConversation::kEmail:
      return "new email";
    default:
      return draft.kind() == domain::DRAFT_EMAIL_REPLY ? "email send" : "message send";
  }
}

}  // namespace

Result<PlatformAnswer> GenesysCore::send(const AgentRef& agent, const domain::Draft& draft,
                                         int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  const std::string key = send_key_of(agent.user, draft);
  if (new_conversation_of(draft) != NewConversation::kNone) {
    // A send already attempted is answered by the journal or the read-back, not checked
    // again: its callback's time may have passed since the attempt that made it.
    if (marks().get(key) == Mark::kNone) {
      if (std::string why = new_conversation_refusal(draft, now_ms_); !why.empty()) {
        ++counters_.refusals;
        return PlatformAnswer::refuse(why);
      }
    }
  } else if (draft.kind() != domain::DRAFT_EMAIL_REPLY && draft.kind() != domain::DRAFT_SMS &&
             draft.kind() != domain::DRAFT_CHAT_MESSAGE) {
    return PlatformAnswer::refuse("this kind of send is not wired to Genesys Cloud yet");
  } else if (draft.interaction_id().empty()) {
    return PlatformAnswer::refuse("a reply needs its interaction");
  }
  const std::string user = agent.user;
  const domain::Draft copy = draft;
  return run_intent(key, agent, now_ms, [&](Answered answered) {
    if (sends_running_.count(key)) {  // another mutation's attempt of the same send
      return answered(error(ErrorCode::kUnavailable, "this send is in progress"));
    }
    sends_running_.insert(key);
    send_chain(key, user, copy, [this, key, answered](Result<PlatformAnswer> answer) {
      sends_running_.erase(key);
      answered(std::move(answer));
    });
  });
}

void GenesysCore::send_chain(const std::string& key, const std::string& user,
                             const domain::Draft& draft, Answered answered) {
  const Mark mark = marks().get(key);
  if (mark == Mark::kAccepted) return answered(PlatformAnswer::accept());
  if (mark == Mark::kNone) return post_send(key, user, draft, answered);
  // An earlier attempt's outcome is unknown. Its POST may still be on its way from a
  // previous life of the core: look only once it cannot arrive any more.
  const int64_t settle =
      options_.send_settle_ms >= 0 ? options_.send_settle_ms : options_.request_timeout_ms;
  if (now_ms_ - started_ms_ < settle) {
    return answered(error(ErrorCode::kUnavailable, "an earlier attempt may still be on its way"));
  }
  const bool fresh = new_conversation_of(draft) != NewConversation::kNone;
  const std::string what = what_of(draft);
  Found found = [this, key, user, draft, fresh, what, answered](Result<bool> got) {
    if (!got.ok()) {
      return answered(error(ErrorCode::kUnavailable, "checking whether the earlier " + what +
                                                         " went out: " + got.status().message()));
    }
    if (*got) {
      ++counters_.sends_found;
      if (Status s = marks().set(key, Mark::kAccepted); !s.ok() && options_.log) {
        options_.log("genesys: " + s.to_string());
      }
      return answered(PlatformAnswer::accept());
    }
    if (fresh) {
      // The analytics view is not read-after-write: "not found" proves nothing.
      return answered(PlatformAnswer::refuse(
          "the platform did not answer whether this " + what +
          " was made, and it cannot be found yet: it is not sent again, so the customer never "
          "gets two. Check the queue, then edit and send to make a new one"));
    }
    post_send(key, user, draft, answered);
  };
  if (fresh) return find_created(key, std::move(found));
  if (draft.kind() == domain::DRAFT_EMAIL_REPLY) return find_sent_email(user, draft, found);
  find_sent_message(user, draft, std::move(found));
}

void GenesysCore::post_send(const std::string& key, const std::string& user,
                            const domain::Draft& draft, Answered answered) {
  const std::string id = draft.interaction_id();
  switch (new_conversation_of(draft)) {
    case NewConversation::kCallback:
      return post_journaled(key, user, "/api/v2/conversations/callbacks",
                            encode_new_callback(draft, key), "callback", answered);
    case NewConversation::kEmail:
      return post_journaled(key, user, "/api/v2/conversations/emails", encode_new_email(draft, key),
                            "new email", answered);
    default:
      break;
  }
  if (draft.kind() == domain::DRAFT_EMAIL_REPLY) {
    // Save the draft on the platform (the web interface sees it), then send it.
    const std::string base = "/api/v2/conversations/emails/" + id + "/messages";
    const std::string message = encode_email_message(draft);
    // Read first: a web edit not seen yet is not written over (nor sent without).
    return read_before_send(user, draft, [=, this](Status read) {
      if (!read.ok()) return answered(read);
      const int64_t sent_ms = now_ms_;
      // One attempt, as a save's PUT (decision 062): the device's retry reads again.
      call_single(
          "PUT", base + "/draft", message,
          [this, key, base, message, user, draft, answered, sent_ms](Result<CoreAnswer> saved) {
            if (!saved.ok() || saved->transport_error || saved->status == 502 ||
                saved->status == 503 || saved->status == 504) {
              send_put_unknown(draft, sent_ms);  // it may have landed
            }
            auto saved_answer = answer_of(saved, "email draft");
            if (!saved_answer.ok() || !saved_answer->accepted) return answered(saved_answer);
            send_put_done(draft);
            post_journaled(key, user, base, message, "email send",
                           [this, draft, answered](Result<PlatformAnswer> sent) {
                             if (!sent.ok() || !sent->accepted) send_not_sent(draft);
                             answered(std::move(sent));
                           });
          },
          user);
    });
  }
  call(
      "GET", "/api/v2/conversations/" + id, "",
      [this, key, user, id, draft, answered](Result<CoreAnswer> got) {
        if (got.ok() && got->status == 404) {
          return answered(PlatformAnswer::refuse("the platform does not know this interaction"));
        }
        if (!got.ok() || got->status != 200) return answered(answer_of(got, "message send"));
        auto c = decode_conversation(got->body, user);
        if (c.status().code() == ErrorCode::kNotFound) {
          return answered(PlatformAnswer::refuse("you take no part in this interaction"));
        }
        if (!c.ok()) {
          decode_failed("conversation", c.status(), got->correlation_id);
          return answered(error(ErrorCode::kUnavailable, "message send: unreadable conversation"));
        }
        if (c->media_path != "messages") {
          return answered(PlatformAnswer::refuse("this interaction takes no messages"));
        }
        post_journaled(key, user,
                       "/api/v2/conversations/messages/" + id + "/communications/" +
                           c->communication_id + "/messages",
                       boost::json::serialize(boost::json::object{{"textBody", draft.body()}}),
                       "message send", answered);
      },
      user);
}

void GenesysCore::post_journaled(const std::string& key, const std::string& user,
                                 const std::string& path, const std::string& body,
                                 const std::string& what, Answered answered) {
  if (Status marked = marks().set(key, Mark::kAttempted); !marked.ok()) {
    return answered(error(ErrorCode::kUnavailable, "cannot journal the send: " + marked.message()));
  }
  call_once(
      path, body,
      [this, key, what, answered](Result<CoreAnswer> response) {
        Result<PlatformAnswer> answer = answer_of(response, what);
        if (!answer.ok()) {
          // Unknown: the mark stays, and the device's retry looks before sending again.
          ++counters_.sends_unknown;
          return answered(answer);
        }
        Status settled = answer->accepted ? marks().set(key, Mark::kAccepted) : marks().forget(key);
        if (!settled.ok() && options_.log) options_.log("genesys: " + settled.to_string());
        if (answer->accepted && options_.log && (what == "callback" || what == "new email")) {
          auto created = decode_created_conversation(response->body);
          options_.log("genesys: " + what + " made: conversation " +
                       (created.ok() ? *created : std::string("(unreadable answer)")) +
                       " [correlation " + response->correlation_id + "]");
        }
        answered(answer);
      },
      user, key);
}

// GET …/emails/{id}/messages (previews, no bodies), then each newest message whose subject
// matches, until one has our text.
void GenesysCore::find_sent_email(const std::string& user, const domain::Draft& draft,
                                  Found found) {
  list_emails(user, draft, std::make_shared<std::vector<std::string>>(),
              "/api/v2/conversations/emails/" + draft.interaction_id() + "/messages?pageSize=100",
              0, std::move(found));
}

void GenesysCore::list_emails(const std::string& user, const domain::Draft& draft,
                              std::shared_ptr<std::vector<std::string>> previews,
                              const std::string& target, size_t pages, Found found) {
  call(
      "GET", target, "",
      [this, user, draft, previews, pages, found](Result<CoreAnswer> got) {
        if (!got.ok()) return found(got.status());
        if (got->status == 404) return found(false);  // no such conversation: nothing sent
        if (got->status != 200) {
          return found(error(ErrorCode::kUnavailable,
                             "email messages: HTTP " + std::to_string(got->status)));
        }
        auto listed = decode_page(got->body);
        if (!listed.ok()) {
          decode_failed("email messages", listed.status(), got->correlation_id);
          return found(listed.status());
        }
        for (std::string& e : listed->entities) previews->push_back(std::move(e));
        if (!listed->next_uri.empty() && pages + 1 < kMaxListingPages) {
          return list_emails(user, draft, previews, listed->next_uri, pages + 1, found);
        }
        // Newest last: read backwards.
        std::reverse(previews->begin(), previews->end());
        read_emails(user, draft, previews, 0, 0, found);
      },
      user);
}

void GenesysCore::read_emails(const std::string& user, const domain::Draft& draft,
                              std::shared_ptr<std::vector<std::string>> previews, size_t at,
                              size_t read, Found found) {
  for (; at < previews->size() && read < kMaxEmailsRead; ++at) {
    auto preview = decode_email_draft((*previews)[at]);
    const std::string message_id = conversation_id((*previews)[at]);
    if (!preview.ok() || message_id.empty()) continue;
    if (!preview->subject().empty() && preview->subject() != draft.subject()) continue;
    const std::string target =
        "/api/v2/conversations/emails/" + draft.interaction_id() + "/messages/" + message_id;
    return call(
        "GET", target, "",
        [this, user, draft, previews, at, read, found](Result<CoreAnswer> got) {
          if (!got.ok()) return found(got.status());
          if (got->status == 200) {
            auto message = decode_email_draft(got->body);
            if (!message.ok()) {
              decode_failed("email message", message.status(), got->correlation_id);
            } else if (message->body() == draft.body() && message->subject() == draft.subject()) {
              return found(true);
            }
          } else if (got->status != 404) {
            return found(error(ErrorCode::kUnavailable,
                               "email message: HTTP " + std::to_string(got->status)));
          }
          read_emails(user, draft, previews, at + 1, read + 1, found);
        },
        user);
  }
  found(false);
}

// GET /conversations/{id} names every message's id; the batch read gives their direction
// and text.
void GenesysCore::find_sent_message(const std::string& user, const domain::Draft& draft,
                                    Found found) {
  call(
      "GET", "/api/v2/conversations/" + draft.interaction_id(), "",
      [this, user, draft, found](Result<CoreAnswer> got) {
        if (!got.ok()) return found(got.status());
        if (got->status == 404) return found(false);
        if (got->status != 200) {
          return found(
              error(ErrorCode::kUnavailable, "conversation: HTTP " + std::to_string(got->status)));
        }
        auto ids = decode_message_ids(got->body);
        if (!ids.ok()) {
          decode_failed("conversation messages", ids.status(), got->correlation_id);
          return found(ids.status());
        }
        auto shared = std::make_shared<std::vector<std::string>>(std::move(*ids));
        read_messages(user, draft, shared, shared->size(), found);
      },
      user);
}

// Newest last: read backwards in batches.
void GenesysCore::read_messages(const std::string& user, const domain::Draft& draft,
                                std::shared_ptr<std::vector<std::string>> ids, size_t end,
                                Found found) {
  if (end == 0) return found(false);
  const size_t begin = end > kBulkIds ? end - kBulkIds : 0;
  boost::json::array batch;
  for (size_t i = begin; i < end; ++i) batch.emplace_back((*ids)[i]);
  call(
      "POST", "/api/v2/conversations/messages/" + draft.interaction_id() + "/messages/bulk",
      boost::json::serialize(batch),
      [this, user, draft, ids, begin, found](Result<CoreAnswer> data) {
        if (!data.ok()) return found(data.status());
        if (data->status != 200) {
          return found(
              error(ErrorCode::kUnavailable, "messages: HTTP " + std::to_string(data->status)));
        }
        auto page = decode_page(data->body);
        if (!page.ok()) {
          decode_failed("messages", page.status(), data->correlation_id);
          return found(page.status());
        }
        for (const std::string& entity : page->entities) {
          auto message = decode_message_data(entity);
          if (!message.ok()) {
            decode_failed("message", message.status(), data->correlation_id);
            continue;
          }
          if (message->outbound && message->text == draft.body()) return found(true);
        }
        read_messages(user, draft, ids, begin, found);
      },
      user);
}

// The analytics details query (the client's token: its role has
// analytics:conversationDetail:view) for a conversation whose participant carries the key.
void GenesysCore::find_created(const std::string& key, Found found) {
  call("POST", kAnalyticsQuery,
       encode_created_query(key, now_ms_ - kLookBackMs, now_ms_ + kLookAheadMs),
       [this, found](Result<CoreAnswer> got) {
         if (!got.ok()) return found(got.status());
         if (got->status != 200) {
           return found(error(ErrorCode::kUnavailable,
                              "analytics query: HTTP " + std::to_string(got->status)));
         }
         auto ids = decode_found_conversations(got->body);
         if (!ids.ok()) {
           decode_failed("created conversations", ids.status(), got->correlation_id);
           return found(ids.status());
         }
         found(!ids->empty());
       });
}

}  // namespace outpost::genesys
