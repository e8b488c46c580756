// The writes of the Genesys adapter (decision 023). Presence, wrap-up and queue membership
// (and voicemail read/delete, genesys_voicemail.cpp) are the sans-I/O core's intents, run by
// GenesysCoreDriver (decision 043): the authoritative mutator, inside its store transaction,
// waits at most `intent_wait` for the answer; past that it gets kUnavailable (the device keeps
// the mutation and retries with backoff) while the call goes on; the retry finds the answer
// under the same key. Sends too (decision 055: journaled by the core). An agent's writes carry the
// agent's own login when the device handed it over, else the client's token. The agent's login
// itself is checked here.
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kWriteDeadline{60};
constexpr size_t kMaxLoginBytes = 16 * 1024;

}  // namespace

bool GenesysUpstream::mirrored(const AgentRef& agent) const {
  if (agent.tenant != options_.tenant) return false;
  for (const std::string& user : options_.users)
    if (user == agent.user) return true;
  return false;
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

// Sends at most once (decisions 037, 044, 055): the core journals each in DATA/platform-sends
// (sends_, its SendMarks) before the single POST and looks before any second one.
Result<PlatformAnswer> GenesysUpstream::send(const AgentRef& agent, const domain::Draft& draft,
                                             int64_t) {
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) { return core.send(agent, draft, now_ms); },
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
