// Maps an HTTP answer from APNs or FCM to a SendResult (docs/push.md has the table), and
// counts it. Internal to adapters/push.
#pragma once

#include "adapters/push/http2_client.h"
#include "adapters/push/push_sender.h"

namespace outpost::push {

struct MappedAnswer {
  SendResult result;
  bool provider_token_rejected = false;  // APNs 403 *ProviderToken, FCM 401: refresh once
};

MappedAnswer map_apns_answer(const HttpResponse& response);
MappedAnswer map_fcm_answer(const HttpResponse& response);
// Counts one HTTP answer in the sender's counters (a provider-token rejection is counted as
// such, not as a failure: the sender decides after its one refresh).
void count_answer(const HttpResponse& response, const MappedAnswer& mapped,
                  SenderCounters& counters);
// Retry-After in seconds (delta-seconds form) as milliseconds; -1 when absent or a date.
std::int64_t retry_after_ms(const HttpResponse& response);

}  // namespace outpost::push
