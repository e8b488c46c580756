// What every push sender shares: the message (a policy Push with an id), the outcome of one
// send mapped from the service's answer, the counters, and the PushSender interface that
// ApnsSender and FcmSender implement. docs/push.md maps each answer to its outcome.
// Thread rules: a sender is used by one thread at a time (it owns an HTTP/2 connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/push_policy.h"
#include "engine/status.h"

namespace outpost::push {

// Every limit of the senders, by name.
inline constexpr std::size_t kMaxPayloadBytes = 4096;   // APNs body, FCM message
inline constexpr std::size_t kMaxCollapseIdBytes = 64;  // apns-collapse-id

struct PushMessage {
  std::string id;  // caller's id, for logs and apns-id
  Push push;
};

enum class Outcome {
  kDelivered,     // the service accepted it
  kRemoveTarget,  // the token is bad or unregistered: feed TargetDead to the policy
  kRetry,         // 429, 503, other 5xx, timeouts, resets: try again later
  kFailed,        // permanent: do not retry (bad request, too large, credentials)
};
const char* outcome_name(Outcome outcome);

struct SendResult {
  Outcome outcome = Outcome::kFailed;
  int http_status = 0;  // 0 when no answer arrived
  std::string reason;   // the service's reason / errorCode, or the transport error
  // Retry-After in milliseconds when the service sent one; -1 otherwise.
  std::int64_t retry_after_ms = -1;
};

// Every answer counted; the metrics issue exports these.
struct SenderCounters {
  std::uint64_t requests = 0;  // HTTP requests sent (retries and re-sends included)
  std::uint64_t delivered = 0;
  std::uint64_t removed_targets = 0;
  std::uint64_t rate_limited = 0;   // 429
  std::uint64_t unavailable = 0;    // 503
  std::uint64_t server_errors = 0;  // other 5xx
  std::uint64_t timeouts = 0;
  std::uint64_t transport_errors = 0;  // resets, refused, TLS, protocol
  std::uint64_t provider_token_refreshes = 0;
  std::uint64_t provider_token_rejected = 0;  // APNs 403 token / FCM 401
  std::uint64_t token_errors = 0;             // FCM token endpoint refused or unreachable
  std::uint64_t payload_too_large = 0;
  std::uint64_t failed = 0;  // permanent failures of any kind
};

class PushSender {
 public:
  virtual ~PushSender() = default;
  // Sends every message concurrently (one connection, one stream each) and returns one
  // result per message, in order. `now_unix_ms` is the wall clock, passed in, used for the
  // provider token's iat and its refresh. A rejected provider token is refreshed once and
  // the rejected messages re-sent within this call.
  virtual std::vector<SendResult> send(const std::vector<PushMessage>& batch,
                                       std::int64_t now_unix_ms) = 0;
  virtual const SenderCounters& counters() const = 0;
};

}  // namespace outpost::push
