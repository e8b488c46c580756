// The request each service expects for a policy Push (shared/reference/platform-apis.md
// §2-3): headers and JSON body, size-checked against the 4 KB limit before anything is
// sent. Authorization is added by the sender. Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "adapters/push/http2_client.h"
#include "adapters/push/push_sender.h"
#include "engine/status.h"

namespace outpost::push {

// The collapse id / key: the scope for a wake (hashed to 64 hex characters when longer than
// APNs allows), the kind's name otherwise.
std::string collapse_id_for(const Push& push);

// POST {host}/3/device/{token}. Background kinds: apns-push-type background, priority 5,
// content-available 1, no alert; visible kinds: alert, priority 10.
// Errors: kTooLarge when the body passes kMaxPayloadBytes; kInvalidArgument for an empty token.
Result<HttpRequest> build_apns_request(const PushMessage& message, const std::string& host,
                                       std::int64_t now_unix_s);

// POST {base_url}/v1/projects/{project}/messages:send. Background kinds: a data-only message,
// Android normal priority, collapse key per scope (plus the APNs block FCM needs for Apple
// devices: background, priority 5); visible kinds: a notification message.
// Errors: kTooLarge when the message passes kMaxPayloadBytes; kInvalidArgument for no token.
Result<HttpRequest> build_fcm_request(const PushMessage& message, const std::string& base_url,
                                      const std::string& project_id);

}  // namespace outpost::push
