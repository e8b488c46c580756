#include "adapters/push/push_payload.h"

#include <openssl/sha.h>

#include <boost/json.hpp>
#include <cstdio>

namespace outpost::push {
namespace json = boost::json;
namespace {

// Seconds a stored push stays deliverable: a wake or notification is worth a day; the
// inactivity check only now (APNs: expiration 0 = deliver once or drop).
constexpr std::int64_t kWakeTtlSeconds = 86'400;

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  char buf[3];
  for (unsigned char b : digest) {
    std::snprintf(buf, sizeof(buf), "%02x", b);
    hex += buf;
  }
  return hex;
}

// What the app reads from any push: the kind and, per kind, the scope and head or the
// voicemail id. Values are strings (FCM data requires it).
json::object app_data(const Push& push) {
  json::object data;
  data["kind"] = push_kind_name(push.kind);
  if (push.kind == PushKind::kWake) {
    data["scope"] = push.scope;
    data["head"] = std::to_string(push.head);
  }
  if (!push.voicemail_id.empty()) data["voicemail_id"] = push.voicemail_id;
  return data;
}

}  // namespace

std::string collapse_id_for(const Push& push) {
  if (push.kind != PushKind::kWake) return push_kind_name(push.kind);
  if (push.scope.size() <= kMaxCollapseIdBytes) return push.scope;
  return sha256_hex(push.scope);
}

Result<HttpRequest> build_apns_request(const PushMessage& message, const std::string& host,
                                       std::int64_t now_unix_s) {
  const Push& push = message.push;
  if (push.target.token.empty()) return error(ErrorCode::kInvalidArgument, "empty device token");
  json::object body = app_data(push);
  json::object aps;
  const bool visible = is_visible(push.kind);
  if (visible) {
    aps["alert"] = json::object{{"title", push.title}, {"body", push.body}};
    aps["sound"] = "default";
  } else {
    aps["content-available"] = 1;
  }
  body["aps"] = std::move(aps);
  HttpRequest req;
  req.url = host + "/3/device/" + push.target.token;
  req.body = json::serialize(body);
  if (req.body.size() > kMaxPayloadBytes) {
    return error(ErrorCode::kTooLarge, "APNs payload of " + std::to_string(req.body.size()) +
                                           " bytes passes " + std::to_string(kMaxPayloadBytes));
  }
  const std::int64_t expiration =
      push.kind == PushKind::kInactivityCheck ? 0 : now_unix_s + kWakeTtlSeconds;
  req.headers = {
      "apns-topic: " + push.target.app_id,
      std::string("apns-push-type: ") + (visible ? "alert" : "background"),
      std::string("apns-priority: ") + (visible ? "10" : "5"),
      "apns-expiration: " + std::to_string(expiration),
      "apns-collapse-id: " + collapse_id_for(push),
      "content-type: application/json",
  };
  return req;
}

Result<HttpRequest> build_fcm_request(const PushMessage& message, const std::string& base_url,
                                      const std::string& project_id) {
  const Push& push = message.push;
  if (push.target.token.empty())
    return error(ErrorCode::kInvalidArgument, "empty registration token");
  const bool visible = is_visible(push.kind);
  const std::string collapse = collapse_id_for(push);
  json::object msg;
  msg["token"] = push.target.token;
  msg["data"] = app_data(push);
  json::object android;
  android["priority"] = visible ? "high" : "normal";
  android["collapse_key"] = collapse;
  android["ttl"] =
      push.kind == PushKind::kInactivityCheck ? "0s" : std::to_string(kWakeTtlSeconds) + "s";
  msg["android"] = std::move(android);
  if (visible) {
    msg["notification"] = json::object{{"title", push.title}, {"body", push.body}};
  } else {
    // An FCM token may belong to an Apple device: data messages to it must be priority 5.
    msg["apns"] =
        json::object{{"headers", json::object{{"apns-push-type", "background"},
                                              {"apns-priority", "5"},
                                              {"apns-collapse-id", collapse}}},
                     {"payload", json::object{{"aps", json::object{{"content-available", 1}}}}}};
  }
  const std::string message_json = json::serialize(msg);
  if (message_json.size() > kMaxPayloadBytes) {
    return error(ErrorCode::kTooLarge, "FCM message of " + std::to_string(message_json.size()) +
                                           " bytes passes " + std::to_string(kMaxPayloadBytes));
  }
  HttpRequest req;
  req.url = base_url + "/v1/projects/" + project_id + "/messages:send";
  req.body = "{\"message\":" + message_json + "}";
  req.headers = {"content-type: application/json; charset=UTF-8"};
  return req;
}

}  // namespace outpost::push
