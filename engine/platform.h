// The contact-center platform as the server's authoritative mutators see it: the intents a
// device sends (a presence change, a wrap-up, a send, a queue join) are forwarded here and
// the platform accepts or refuses them. adapters/ implements it (the seeded simulator
// today, a Genesys Cloud adapter later); without one the server accepts every intent.
// Thread rules: implementations are called from several server threads at once and must
// be safe for that.
#pragma once

#include <cstdint>
#include <string>

#include "engine/status.h"
#include "outpost/domain.pb.h"

namespace outpost {

// The platform's answer to an intent. kUnavailable (as a Status error) means "try later":
// the push stops there and the device retries; a refusal is an answer, with its reason.
struct PlatformAnswer {
  bool accepted = true;
  std::string reason;  // why it was refused, for the user

  static PlatformAnswer accept() { return {}; }
  static PlatformAnswer refuse(std::string why) { return {false, std::move(why)}; }
};

struct AgentRef {
  std::string tenant;
  std::string user;
  // The mutation asking (its client id and mutation id; empty: no device's mutation). A
  // mutation that asks several times (a wrap-up of several interactions) is retried until
  // every answer came: an adapter that answers later keeps its answers for this mutation's
  // retries (decision 050), and never gives them to another mutation.
  std::string mutation;
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual Result<PlatformAnswer> set_presence(const AgentRef& agent, domain::Presence presence,
                                              const std::string& aux_reason_id, int64_t now_ms) = 0;
  virtual Result<PlatformAnswer> wrap_up(const AgentRef& agent,
                                         const domain::Interaction& interaction,
                                         const std::string& code_id, int64_t now_ms) = 0;
  virtual Result<PlatformAnswer> send(const AgentRef& agent, const domain::Draft& draft,
                                      int64_t now_ms) = 0;
  virtual Result<PlatformAnswer> set_queue_joined(const AgentRef& agent,
                                                  const std::string& queue_id, bool joined,
                                                  int64_t now_ms) = 0;
  // The device marked a voicemail read / deleted it: the platform's copy follows. A refusal
  // rejects the mutation with its reason. Default: accepted (nothing to tell).
  virtual Result<PlatformAnswer> mark_voicemail_read(const AgentRef& agent,
                                                     const std::string& voicemail_id,
                                                     int64_t now_ms) {
    (void)agent, (void)voicemail_id, (void)now_ms;
    return PlatformAnswer::accept();
  }
  virtual Result<PlatformAnswer> delete_voicemail(const AgentRef& agent,
                                                  const std::string& voicemail_id, int64_t now_ms) {
    (void)agent, (void)voicemail_id, (void)now_ms;
    return PlatformAnswer::accept();
  }
  // The agent's own login on the platform, handed over by the agent's device (the JSON
  // token answer of the platform's login; POST /v1/platform/login, docs/genesys.md), for
  // the endpoints that act "for the logged-in user". Implementations must use it for this
  // agent only. Default: kFailedPrecondition (a platform without per-user logins).
  // A draft the user saved, as merged on the server. Called inside the store transaction:
  // implementations only queue the platform's copy (never wait on the platform here); a
  // save that then rolls back may still reach the platform, and the next save or the send
  // puts the right text. Default: nothing.
  virtual void draft_saved(const AgentRef& agent, const domain::Draft& draft, int64_t now_ms) {
    (void)agent, (void)draft, (void)now_ms;
  }
  virtual Status set_user_login(const AgentRef& agent, const std::string& login_json,
                                int64_t now_ms) {
    (void)agent, (void)login_json, (void)now_ms;
    return error(ErrorCode::kFailedPrecondition, "this platform takes no per-user login");
  }
};

}  // namespace outpost
