// Sends pushes to APNs over HTTP/2 with a JWT provider token (ES256, key id + team id),
// reused and refreshed between 20 and 60 minutes on the caller's clock. Hosts are
// configuration so tests point them at the fake APNs (tests/adapters/push/).
// Thread rules: one object per thread (see PushSender).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "adapters/push/http2_client.h"
#include "adapters/push/jwt.h"
#include "adapters/push/push_sender.h"

namespace outpost::push {

// Apple: refresh no more often than every 20 minutes, no less often than every 60.
inline constexpr std::int64_t kApnsTokenMinAgeMs = 20 * 60'000;
inline constexpr std::int64_t kApnsTokenMaxAgeMs = 60 * 60'000;

struct ApnsConfig {
  std::string key_pem;  // the .p8 file's contents
  std::string key_id;   // 10-character Key ID (JWT "kid")
  std::string team_id;  // JWT "iss"
  std::string production_host = "https://api.push.apple.com";
  std::string sandbox_host = "https://api.sandbox.push.apple.com";
  // Age at which the provider token is replaced; clamped into [20 min, 60 min - 1 min].
  std::int64_t token_refresh_after_ms = 50 * 60'000;
  Http2Options http;
};

class ApnsSender : public PushSender {
 public:
  // Errors: kInvalidArgument for a key that is not P-256 or an empty key id / team id.
  static Result<std::unique_ptr<ApnsSender>> create(ApnsConfig config);

  std::vector<SendResult> send(const std::vector<PushMessage>& batch,
                               std::int64_t now_unix_ms) override;
  const SenderCounters& counters() const override { return counters_; }
  long connections_opened() const { return http_->connections_opened(); }

 private:
  ApnsSender(ApnsConfig config, std::shared_ptr<SigningKey> key, std::unique_ptr<Http2Client> http);
  Result<std::string> provider_token(std::int64_t now_ms, bool force);
  // Sends the messages at `indices`; fills results; returns the indices whose provider
  // token was rejected.
  std::vector<size_t> round(const std::vector<PushMessage>& batch,
                            const std::vector<size_t>& indices, std::int64_t now_ms,
                            std::vector<SendResult>& results);

  ApnsConfig config_;
  std::shared_ptr<SigningKey> key_;
  std::unique_ptr<Http2Client> http_;
  std::string token_;
  std::int64_t token_iat_ms_ = 0;
  // APNs allows one stream on a new connection until a provider token is accepted: the
  // first request on a connection goes alone. The connection count when that happened.
  long warm_connections_ = -1;
  SenderCounters counters_;
};

}  // namespace outpost::push
