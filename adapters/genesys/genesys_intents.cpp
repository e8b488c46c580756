// The writes of the Genesys adapter (decision 023). Presence, wrap-up and queue membership
// (and voicemail read/delete, genesys_voicemail.cpp) are the sans-I/O core's intents, run by
// GenesysCoreDriver (decision 043): the authoritative mutator, inside its store transaction,
// waits at most `intent_wait` for the answer; past that it gets kUnavailable (the device keeps
// the mutation and retries with backoff) while the call goes on; the retry finds the answer
// under the same key. Sends (genesys_sends.cpp, decision 037) still run on their own thread
// through run_intent below. An agent's writes carry the agent's own login when the device
// handed it over, else the client's token. The agent's login itself is checked here.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kWriteDeadline{60};
constexpr size_t kMaxLoginBytes = 16 * 1024;

}  // namespace

struct GenesysUpstream::Intent {
  bool done = false;
  Clock::time_point done_at{};
  Result<PlatformAnswer> answer = error(ErrorCode::kUnavailable, "not answered");
};

bool GenesysUpstream::mirrored(const AgentRef& agent) const {
  if (agent.tenant != options_.tenant) return false;
  for (const std::string& user : options_.users)
    if (user == agent.user) return true;
  return false;
}

Result<PlatformAnswer> GenesysUpstream::answer_of(const Result<RestResponse>& response,
                                                  const std::string& what) {
  if (!response.ok()) {
    return error(ErrorCode::kUnavailable, what + ": " + response.status().message());
  }
  const long status = response->status;
  if (status >= 200 && status < 300) return PlatformAnswer::accept();
  if (status >= 400 && status < 500 && status != 401 && status != 429 && status != 408) {
    ErrorBody body = decode_error(response->body);
    {
      std::lock_guard lock(mutex_);
      ++counters_.refusals;
    }
    std::string why =
        body.message.empty() ? "refused (HTTP " + std::to_string(status) + ")" : body.message;
    if (options_.log) {
      options_.log("genesys: " + what + " refused: " + body.code + " [correlation " +
                   response->correlation_id + "]");
    }
    return PlatformAnswer::refuse(why);
  }
  return error(ErrorCode::kUnavailable, what + ": HTTP " + std::to_string(status));
}

Result<PlatformAnswer> GenesysUpstream::run_intent(const std::string& key,
                                                   std::function<Result<PlatformAnswer>()> call) {
  std::unique_lock lock(mutex_);
  const auto now = Clock::now();
  // Join the threads whose intent is done: each set `done` under this lock and only
  // returns after, so the join does not wait on the lock we hold.
  for (auto it = intent_threads_.begin(); it != intent_threads_.end();) {
    if (!it->first->done) {
      ++it;
      continue;
    }
    it->second.join();
    it = intent_threads_.erase(it);
  }
  for (auto it = intents_.begin(); it != intents_.end();) {
    const bool stale = it->second->done && now - it->second->done_at > options_.answer_keep;
    it = stale ? intents_.erase(it) : std::next(it);
  }
  std::shared_ptr<Intent> intent;
  if (auto it = intents_.find(key); it != intents_.end()) {
    intent = it->second;
  } else {
    if (stopping_) return error(ErrorCode::kUnavailable, "the adapter is stopping");
    size_t running = 0;
    for (const auto& [k, i] : intents_) running += i->done ? 0 : 1;
    if (running >= options_.max_intents_in_flight) {
      return error(ErrorCode::kUnavailable, "too many platform calls in flight");
    }
    intent = std::make_shared<Intent>();
    intents_[key] = intent;
    ++counters_.intents;
    intent_threads_.emplace_back(intent, [this, intent, call = std::move(call)] {
      Result<PlatformAnswer> answer = call();
      std::lock_guard done_lock(mutex_);
      intent->answer = std::move(answer);
      intent->done = true;
      intent->done_at = Clock::now();
      wake_.notify_all();
    });
  }
  wake_.wait_for(lock, options_.intent_wait, [&] { return intent->done || stopping_; });
  if (!intent->done) {
    ++counters_.intents_pending;
    return error(ErrorCode::kUnavailable,
                 "the platform has not answered yet; the device retries and takes the answer");
  }
  if (auto it = intents_.find(key); it != intents_.end() && it->second == intent) {
    intents_.erase(it);
  }
  return intent->answer;
}

Result<PlatformAnswer> GenesysUpstream::set_presence(const AgentRef& agent,
                                                     domain::Presence presence,
                                                     const std::string& aux_reason_id, int64_t) {
  // The core marks our own OFFLINE (the notification that follows is not the website
  // closing) and reads an accepted write's presence back once its answer is taken (decision 038).
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) {
        return core.set_presence(agent, presence, aux_reason_id, now_ms);
      },
      options_.intent_wait);
}

Result<PlatformAnswer> GenesysUpstream::wrap_up(const AgentRef& agent,
                                                const domain::Interaction& interaction,
                                                const std::string& code_id, int64_t) {
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) {
        return core.wrap_up(agent, interaction.id(), code_id, now_ms);
      },
      options_.intent_wait);
}

Result<PlatformAnswer> GenesysUpstream::set_queue_joined(const AgentRef& agent,
                                                         const std::string& queue_id, bool joined,
                                                         int64_t) {
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) {
        return core.set_queue_joined(agent, queue_id, joined, now_ms);
      },
      options_.intent_wait);
}

Status GenesysUpstream::set_user_login(const AgentRef& agent, const std::string& login_json,
                                       int64_t) {
  if (!mirrored(agent)) return error(ErrorCode::kNotFound, "this agent is not mirrored");
  if (login_json.size() > kMaxLoginBytes) return error(ErrorCode::kTooLarge, "login too large");
  OUTPOST_ASSIGN_OR_RETURN(Token token, decode_token(login_json));
  // Whose token is it? Only the platform knows: a token of another user is refused, so it
  // can never act for this agent.
  const std::string probe = "genesys-login-probe/" + agent.user;
  rest_.set_user_token(probe, token);
  auto me = rest_.call_as(probe, "GET", "/api/v2/users/me", "", Clock::now() + kWriteDeadline);
  rest_.forget_user_token(probe);
  if (!me.ok()) return me.status().with_context("checking the login");
  if (me->status == 401 || me->status == 403 || me->status == 400) {
    return error(ErrorCode::kUnauthenticated,
                 "the platform refused this login (HTTP " + std::to_string(me->status) + ")");
  }
  if (me->status != 200) {
    return error(ErrorCode::kUnavailable, "checking the login: HTTP " + std::to_string(me->status));
  }
  auto who = decode_user_id(me->body);
  if (!who.ok()) return who.status();
  if (*who != agent.user) {
    if (options_.log) options_.log("genesys: refused a login of another user for " + agent.user);
    return error(ErrorCode::kPermissionDenied, "this login is another user's");
  }
  rest_.set_user_token(agent.user, token);
  core_.with_core([&](GenesysCore& core) { core.set_own_login(agent.user, true); });
  {
    std::lock_guard lock(mutex_);
    ++counters_.user_logins;
  }
  if (options_.login_changed) options_.login_changed(agent.user, &token);
  return Status::Ok();
}

Status GenesysUpstream::restore_user_login(const std::string& user, const Token& token) {
  if (!mirrored(AgentRef{options_.tenant, user})) {
    return error(ErrorCode::kNotFound, "this agent is not mirrored");
  }
  rest_.set_user_token(user, token);
  core_.with_core([&](GenesysCore& core) { core.set_own_login(user, true); });
  return Status::Ok();
}

}  // namespace outpost::genesys
