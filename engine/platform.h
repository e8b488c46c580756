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
};

}  // namespace outpost
