#include "adapters/push/apns_sender.h"

#include <algorithm>

#include "adapters/push/answer_mapping.h"
#include "adapters/push/push_payload.h"

namespace outpost::push {

Result<std::unique_ptr<ApnsSender>> ApnsSender::create(ApnsConfig config) {
  if (config.key_id.empty() || config.team_id.empty()) {
    return error(ErrorCode::kInvalidArgument, "APNs needs a key id and a team id");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto key,
                           SigningKey::from_pem(config.key_pem, SigningKey::Algorithm::kEs256));
  OUTPOST_ASSIGN_OR_RETURN(auto http, Http2Client::create(config.http));
  config.token_refresh_after_ms =
      std::clamp(config.token_refresh_after_ms, kApnsTokenMinAgeMs, kApnsTokenMaxAgeMs - 60'000);
  return std::unique_ptr<ApnsSender>(
      new ApnsSender(std::move(config), std::move(key), std::move(http)));
}

ApnsSender::ApnsSender(ApnsConfig config, std::shared_ptr<SigningKey> key,
                       std::unique_ptr<Http2Client> http)
    : config_(std::move(config)), key_(std::move(key)), http_(std::move(http)) {}

Result<std::string> ApnsSender::provider_token(std::int64_t now_ms, bool force) {
  const std::int64_t age = now_ms - token_iat_ms_;
  if (!force && !token_.empty() && age >= 0 && age < config_.token_refresh_after_ms) {
    return token_;
  }
  const std::int64_t iat = now_ms / 1000;
  OUTPOST_ASSIGN_OR_RETURN(
      std::string jwt,
      key_->sign_jwt("\"kid\":\"" + config_.key_id + "\"",
                     "{\"iss\":\"" + config_.team_id + "\",\"iat\":" + std::to_string(iat) + "}"));
  if (!token_.empty()) ++counters_.provider_token_refreshes;
  token_ = std::move(jwt);
  token_iat_ms_ = now_ms;
  return token_;
}

std::vector<size_t> ApnsSender::round(const std::vector<PushMessage>& batch,
                                      const std::vector<size_t>& indices, std::int64_t now_ms,
                                      std::vector<SendResult>& results) {
  std::vector<size_t> rejected;
  std::vector<HttpRequest> requests;
  std::vector<size_t> sent;
  for (size_t i : indices) {
    const PushMessage& m = batch[i];
    const std::string& host =
        m.push.target.sandbox ? config_.sandbox_host : config_.production_host;
    auto req = build_apns_request(m, host, now_ms / 1000);
    if (!req.ok()) {
      results[i] = {Outcome::kFailed, 0, req.status().to_string()};
      ++counters_.failed;
      if (req.status().code() == ErrorCode::kTooLarge) ++counters_.payload_too_large;
      continue;
    }
    req->headers.push_back("authorization: bearer " + token_);
    requests.push_back(std::move(req).value());
    sent.push_back(i);
  }
  if (requests.empty()) return rejected;
  std::vector<HttpResponse> responses;
  if (requests.size() > 1 && warm_connections_ != http_->connections_opened()) {
    // No connection with an accepted token yet: one stream first, then the rest.
    std::vector<HttpRequest> first(std::make_move_iterator(requests.begin()),
                                   std::make_move_iterator(requests.begin() + 1));
    responses = http_->perform(first);
    std::vector<HttpRequest> rest(std::make_move_iterator(requests.begin() + 1),
                                  std::make_move_iterator(requests.end()));
    if (responses[0].status != 0 && responses[0].status != 403) {
      warm_connections_ = http_->connections_opened();
    }
    for (auto& r : http_->perform(rest)) responses.push_back(std::move(r));
  } else {
    responses = http_->perform(requests);
    if (!responses.empty() && responses[0].status != 0 && responses[0].status != 403) {
      warm_connections_ = http_->connections_opened();
    }
  }
  for (size_t k = 0; k < sent.size(); ++k) {
    MappedAnswer mapped = map_apns_answer(responses[k]);
    count_answer(responses[k], mapped, counters_);
    results[sent[k]] = mapped.result;
    if (mapped.provider_token_rejected) rejected.push_back(sent[k]);
  }
  return rejected;
}

std::vector<SendResult> ApnsSender::send(const std::vector<PushMessage>& batch,
                                         std::int64_t now_unix_ms) {
  std::vector<SendResult> results(batch.size());
  std::vector<size_t> all(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) all[i] = i;
  auto token = provider_token(now_unix_ms, false);
  if (!token.ok()) {
    for (auto& r : results) r = {Outcome::kFailed, 0, token.status().to_string()};
    counters_.failed += batch.size();
    return results;
  }
  std::vector<size_t> rejected = round(batch, all, now_unix_ms, results);
  if (rejected.empty()) return results;
  // The provider token was refused: make a new one, once, and re-send those.
  token = provider_token(now_unix_ms, true);
  if (token.ok()) rejected = round(batch, rejected, now_unix_ms, results);
  counters_.failed += rejected.size();  // refused twice: the credentials are wrong
  return results;
}

}  // namespace outpost::push
