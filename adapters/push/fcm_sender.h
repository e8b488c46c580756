// Sends pushes through FCM HTTP v1 with a service account: an RS256 JWT assertion is
// exchanged at the token endpoint for an OAuth2 access token, cached until shortly before it
// expires. Endpoints are configuration so tests point them at the fake FCM.
// Thread rules: one object per thread (see PushSender).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "adapters/push/http2_client.h"
#include "adapters/push/jwt.h"
#include "adapters/push/push_sender.h"

namespace outpost::push {

// An access token is replaced this long before its expiry.
inline constexpr std::int64_t kFcmTokenMarginMs = 60'000;
// The assertion's lifetime (Google: exp at most iat + 3600).
inline constexpr std::int64_t kFcmAssertionSeconds = 3600;

struct FcmConfig {
  std::string service_account_json;  // the downloaded key file's contents
  std::string base_url = "https://fcm.googleapis.com";
  std::string token_url;   // empty: the service account's token_uri
  std::string project_id;  // empty: the service account's project_id
  std::string scope = "https://www.googleapis.com/auth/firebase.messaging";
  Http2Options http;
};

class FcmSender : public PushSender {
 public:
  // Errors: kInvalidArgument for a service account without client_email, private_key (RSA)
  // or a project id / token url.
  static Result<std::unique_ptr<FcmSender>> create(FcmConfig config);

  std::vector<SendResult> send(const std::vector<PushMessage>& batch,
                               std::int64_t now_unix_ms) override;
  const SenderCounters& counters() const override { return counters_; }
  long connections_opened() const { return http_->connections_opened(); }

 private:
  FcmSender(FcmConfig config, std::string client_email, std::string key_id,
            std::shared_ptr<SigningKey> key, std::unique_ptr<Http2Client> http);
  // The cached access token, or a new one from the token endpoint. Errors: kUnauthenticated
  // when the endpoint refuses the assertion, kUnavailable when it cannot be reached.
  Result<std::string> access_token(std::int64_t now_ms, bool force);
  std::vector<size_t> round(const std::vector<PushMessage>& batch,
                            const std::vector<size_t>& indices, std::vector<SendResult>& results);

  FcmConfig config_;
  std::string client_email_;
  std::string key_id_;
  std::shared_ptr<SigningKey> key_;
  std::unique_ptr<Http2Client> http_;
  std::string token_;
  std::int64_t token_expires_ms_ = 0;
  SenderCounters counters_;
};

}  // namespace outpost::push
