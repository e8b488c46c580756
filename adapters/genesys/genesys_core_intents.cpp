// The sans-I/O core's writes (decision 023 without the wait): each intent is a chain of
// requests under a key; the authoritative mutator's first call starts it and gets
// kUnavailable, the device's retry takes the answer. An answer taken by a device's mutation
// stays for that mutation's retries (AgentRef::mutation, decision 050): a wrap-up of
// several interactions settles once every answer came. A 4xx other than 401/408/429 is the
// platform's refusal with its message; a wrap-up the platform says was already submitted
// is read back, and accepted when it carries our code (a lost answer to our own POST).
#include <boost/json.hpp>

#include "adapters/genesys/genesys_core.h"

namespace outpost::genesys {
namespace {

bool plain_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

struct GenesysCore::Intent {
  bool done = false;
  bool taken = false;
  int64_t done_ms = 0;  // answered, then last taken: kept answer_keep past it
  Result<PlatformAnswer> answer = error(ErrorCode::kUnavailable, "not answered");
};

Result<PlatformAnswer> GenesysCore::answer_of(const Result<CoreAnswer>& answer,
                                              const std::string& what) {
  if (!answer.ok()) return error(ErrorCode::kUnavailable, what + ": " + answer.status().message());
  const long status = answer->status;
  if (status >= 200 && status < 300) return PlatformAnswer::accept();
  if (status >= 400 && status < 500 && status != 401 && status != 429 && status != 408) {
    ++counters_.refusals;
    ErrorBody body = decode_error(answer->body);
    if (options_.log) {
      options_.log("genesys: " + what + " refused: " + body.code + " [correlation " +
                   answer->correlation_id + "]");
    }
    return PlatformAnswer::refuse(
        body.message.empty() ? "refused (HTTP " + std::to_string(status) + ")" : body.message);
  }
  return error(ErrorCode::kUnavailable, what + ": HTTP " + std::to_string(status));
}

Result<PlatformAnswer> GenesysCore::run_intent(const std::string& what, const AgentRef& agent,
                                               int64_t now_ms,
                                               const std::function<void(Answered)>& start) {
  // A device's mutation may ask several times (one wrap-up, several interactions) and is
  // retried until every answer came: its answers are its own, kept while it retries.
  const bool kept = !agent.mutation.empty();
  const std::string key = kept ? what + "@" + agent.mutation : what;
  advance(now_ms);
  for (auto it = intents_.begin(); it != intents_.end();) {
    const bool stale = it->second->done && now_ms_ - it->second->done_ms > options_.answer_keep_ms;
    it = stale ? intents_.erase(it) : std::next(it);
  }
  if (auto it = intents_.find(key); it != intents_.end()) {
    if (!it->second->done) {
      ++intents_not_yet_;
      return error(ErrorCode::kUnavailable, "the platform has not answered yet");
    }
    Result<PlatformAnswer> answer = it->second->answer;
    const bool first = !it->second->taken;
    if (kept && answer.ok()) {
      it->second->taken = true;
      it->second->done_ms = now_ms_;  // kept answer_keep past its mutation's last retry
    } else {
      intents_.erase(it);  // no mutation to keep it for, or "try later": asked again
    }
    // The caller writes this answer now, maybe after the platform moved on (another
    // client's change came first): read the presence back so the mirror ends as the
    // platform is (found by outpost-sim, decision 038).
    if (first && what.rfind("presence/", 0) == 0 && answer.ok() && answer->accepted) {
      read_presence(agent.user, true, [](Status) {});
    }
    return answer;
  }
  size_t running = 0;
  for (const auto& [k, intent] : intents_) running += intent->done ? 0 : 1;
  if (running >= options_.max_intents_in_flight) {
    return error(ErrorCode::kUnavailable, "too many platform calls in flight");
  }
  auto intent = std::make_shared<Intent>();
  intents_[key] = intent;
  ++counters_.intents;
  start([this, intent](Result<PlatformAnswer> answer) {
    intent->answer = std::move(answer);
    intent->done = true;
    intent->done_ms = now_ms_;
    ++intents_answered_;
  });
  if (intent->done) {  // answered without a request
    intents_.erase(key);
    return intent->answer;
  }
  ++intents_not_yet_;
  return error(ErrorCode::kUnavailable, "the platform has not answered yet; the device retries");
}

void GenesysCore::write(const std::string& method, const std::string& target,
                        const std::string& body, const std::string& what, const std::string& user,
                        Answered answered) {
  call(
      method, target, body,
      [this, what, answered](Result<CoreAnswer> answer) { answered(answer_of(answer, what)); },
      user);
}

Result<PlatformAnswer> GenesysCore::set_presence(const AgentRef& agent, domain::Presence presence,
                                                 const std::string& aux_reason_id, int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  if (!presence_loaded_) return error(ErrorCode::kUnavailable, "presence definitions not loaded");
  std::string definition;
  switch (presence) {
    case domain::PRESENCE_READY:
      definition = presence_map_.on_queue_id;
      break;
    case domain::PRESENCE_OFFLINE:
      definition = presence_map_.offline_id;
      agents_[agent.user].offline_requested_ms = now_ms_;
      break;
    case domain::PRESENCE_NOT_READY:
      definition = aux_reason_id.empty() ? presence_map_.available_id : aux_reason_id;
      break;
    default:
      return PlatformAnswer::refuse("unknown presence");
  }
  if (definition.empty()) return PlatformAnswer::refuse("the org has no such presence");
  const std::string path = "/api/v2/users/" + agent.user + "/presences/purecloud";
  const std::string body = boost::json::serialize(
      boost::json::object{{"presenceDefinition", boost::json::object{{"id", definition}}}});
  const std::string key = "presence/" + agent.user + "/" + definition;
  return run_intent(key, agent, now_ms, [&](Answered answered) {
    write("PATCH", path, body, "presence", agent.user, answered);
  });
}

Result<PlatformAnswer> GenesysCore::wrap_up(const AgentRef& agent,
                                            const std::string& interaction_id,
                                            const std::string& code_id, int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  if (code_id.empty()) return PlatformAnswer::accept();  // skipped: nothing to submit
  const std::string id = interaction_id;
  const std::string user = agent.user;
  const std::string conversation = "/api/v2/conversations/" + id;
  const std::string key = "wrapup/" + user + "/" + id + "/" + code_id;
  return run_intent(key, agent, now_ms, [&](Answered answered) {
    call(
        "GET", conversation, "",
        [this, id, user, code_id, conversation, answered](Result<CoreAnswer> got) {
          if (got.ok() && got->status == 404) {
            return answered(PlatformAnswer::refuse("the platform does not know this interaction"));
          }
          if (!got.ok() || got->status != 200) return answered(answer_of(got, "wrap-up"));
          auto c = decode_conversation(got->body, user);
          if (c.status().code() == ErrorCode::kNotFound) {
            return answered(PlatformAnswer::refuse("you take no part in this interaction"));
          }
          if (!c.ok()) {
            decode_failed("conversation", c.status(), got->correlation_id);
            return answered(error(ErrorCode::kUnavailable, "wrap-up: unreadable conversation"));
          }
          const std::string path = "/api/v2/conversations/" + c->media_path + "/" + id +
                                   "/participants/" + c->participant_id + "/communications/" +
                                   c->communication_id + "/wrapup";
          const std::string body = boost::json::serialize(boost::json::object{{"code", code_id}});
          call(
              "POST", path, body,
              [this, user, code_id, conversation, answered](Result<CoreAnswer> posted) {
                if (!posted.ok() || posted->status != 409) {
                  return answered(answer_of(posted, "wrap-up"));
                }
                // Already submitted: ours, when the answer to our own POST was lost?
                const Result<PlatformAnswer> refused = answer_of(posted, "wrap-up");
                call(
                    "GET", conversation, "",
                    [user, code_id, refused, answered](Result<CoreAnswer> again) {
                      if (again.ok() && again->status == 200) {
                        auto now = decode_conversation(again->body, user);
                        if (now.ok() && now->interaction.wrapup_code_id() == code_id) {
                          return answered(PlatformAnswer::accept());
                        }
                      }
                      answered(refused);
                    },
                    user);
              },
              user);
        },
        user);
  });
}

Result<PlatformAnswer> GenesysCore::set_queue_joined(const AgentRef& agent,
                                                     const std::string& queue_id, bool joined,
                                                     int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  const std::string path = "/api/v2/users/" + agent.user + "/queues/" + queue_id;
  const std::string body = boost::json::serialize(boost::json::object{{"joined", joined}});
  // The server's record follows the write's answer, not an event: whatever the answer, the
  // next listing sends the platform's membership even if it is what the core last sent
  // (decision 056; a device's leave, then the web's join, was skipped as a duplicate).
  const std::string mirrored_key = "queue/" + agent.user + "/" + queue_id;
  return run_intent(mirrored_key + (joined ? "/join" : "/leave"), agent, now_ms,
                    [&](Answered answered) {
                      write("PATCH", path, body, "queue membership", agent.user,
                            [this, mirrored_key, answered](Result<PlatformAnswer> answer) {
                              forget(mirrored_key);
                              answered(std::move(answer));
                            });
                    });
}

Result<PlatformAnswer> GenesysCore::mark_voicemail_read(const AgentRef& agent,
                                                        const std::string& id, int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  if (!plain_id(id)) return PlatformAnswer::refuse("not a Genesys voicemail");
  const std::string body = boost::json::serialize(boost::json::object{{"read", true}});
  return run_intent("voicemail/" + agent.user + "/" + id + "/PATCH", agent, now_ms,
                    [&](Answered answered) {
                      call(
                          "PATCH", "/api/v2/voicemail/messages/" + id, body,
                          [this, answered](Result<CoreAnswer> answer) {
                            if (answer.ok() && answer->status == 404) {
                              return answered(PlatformAnswer::accept());
                            }
                            answered(answer_of(answer, "voicemail read"));
                          },
                          agent.user);
                    });
}

Result<PlatformAnswer> GenesysCore::delete_voicemail(const AgentRef& agent, const std::string& id,
                                                     int64_t now_ms) {
  advance(now_ms);
  if (!is_mirrored(agent)) {
    return PlatformAnswer::refuse("this agent is not mirrored from Genesys Cloud");
  }
  if (!plain_id(id)) return PlatformAnswer::refuse("not a Genesys voicemail");
  return run_intent(
      "voicemail/" + agent.user + "/" + id + "/DELETE", agent, now_ms, [&](Answered answered) {
        call(
            "DELETE", "/api/v2/voicemail/messages/" + id, "",
            [this, answered, user = agent.user, id](Result<CoreAnswer> answer) {
              // Deleted, whether or not a device's retry takes the answer (a
              // phone restored from a backup forgets its mutation: seed 119).
              if (answer.ok() &&
                  (answer->status == 404 || (answer->status >= 200 && answer->status < 300))) {
                voicemail_gone(user, id);
              }
              if (answer.ok() && answer->status == 404) {
                return answered(PlatformAnswer::accept());
              }
              answered(answer_of(answer, "voicemail delete"));
            },
            agent.user);
      });
}

}  // namespace outpost::genesys
