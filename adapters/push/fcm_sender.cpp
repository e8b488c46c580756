#include "adapters/push/fcm_sender.h"

#include <boost/json.hpp>

#include "adapters/push/answer_mapping.h"
#include "adapters/push/push_payload.h"

namespace outpost::push {
namespace json = boost::json;
namespace {

std::string form_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string member(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

}  // namespace

Result<std::unique_ptr<FcmSender>> FcmSender::create(FcmConfig config) {
  boost::system::error_code ec;
  json::value sa = json::parse(config.service_account_json, ec);
  if (ec || !sa.is_object()) {
    return error(ErrorCode::kInvalidArgument, "service account is not a JSON object");
  }
  const json::object& obj = sa.as_object();
  const std::string email = member(obj, "client_email");
  const std::string pem = member(obj, "private_key");
  if (email.empty() || pem.empty()) {
    return error(ErrorCode::kInvalidArgument, "service account lacks client_email or private_key");
  }
  if (config.project_id.empty()) config.project_id = member(obj, "project_id");
  if (config.token_url.empty()) config.token_url = member(obj, "token_uri");
  if (config.project_id.empty() || config.token_url.empty()) {
    return error(ErrorCode::kInvalidArgument, "no FCM project id or token url");
  }
  OUTPOST_ASSIGN_OR_RETURN(auto key, SigningKey::from_pem(pem, SigningKey::Algorithm::kRs256));
  OUTPOST_ASSIGN_OR_RETURN(auto http, Http2Client::create(config.http));
  return std::unique_ptr<FcmSender>(new FcmSender(
      std::move(config), email, member(obj, "private_key_id"), std::move(key), std::move(http)));
}

FcmSender::FcmSender(FcmConfig config, std::string client_email, std::string key_id,
                     std::shared_ptr<SigningKey> key, std::unique_ptr<Http2Client> http)
    : config_(std::move(config)),
      client_email_(std::move(client_email)),
      key_id_(std::move(key_id)),
      key_(std::move(key)),
      http_(std::move(http)) {}

Result<std::string> FcmSender::access_token(std::int64_t now_ms, bool force) {
  if (!force && !token_.empty() && now_ms < token_expires_ms_ - kFcmTokenMarginMs) return token_;
  const std::int64_t iat = now_ms / 1000;
  json::object claims{{"iss", client_email_},
                      {"scope", config_.scope},
                      {"aud", config_.token_url},
                      {"iat", iat},
                      {"exp", iat + kFcmAssertionSeconds}};
  std::string header = "\"typ\":\"JWT\"";
  if (!key_id_.empty()) header += ",\"kid\":" + json::serialize(json::value(key_id_));
  OUTPOST_ASSIGN_OR_RETURN(std::string assertion, key_->sign_jwt(header, json::serialize(claims)));
  HttpRequest req;
  req.url = config_.token_url;
  req.headers = {"content-type: application/x-www-form-urlencoded"};
  req.body = "grant_type=" + form_escape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
             "&assertion=" + assertion;
  HttpResponse resp = std::move(http_->perform({req}).front());
  if (resp.status == 0 || resp.status >= 500) {
    ++counters_.token_errors;
    return error(ErrorCode::kUnavailable,
                 "token endpoint: " + (resp.status == 0 ? resp.transport.message()
                                                        : "HTTP " + std::to_string(resp.status)));
  }
  boost::system::error_code ec;
  json::value body = json::parse(resp.body, ec);
  std::string token;
  std::int64_t expires_in = 0;
  if (!ec && body.is_object()) {
    token = member(body.as_object(), "access_token");
    if (auto it = body.as_object().find("expires_in");
        it != body.as_object().end() && it->value().is_int64()) {
      expires_in = it->value().as_int64();
    }
  }
  if (resp.status != 200 || token.empty() || expires_in <= 0) {
    ++counters_.token_errors;
    return error(ErrorCode::kUnauthenticated,
                 "token endpoint refused the assertion: HTTP " + std::to_string(resp.status));
  }
  if (!token_.empty()) ++counters_.provider_token_refreshes;
  token_ = std::move(token);
  token_expires_ms_ = now_ms + expires_in * 1000;
  return token_;
}

std::vector<size_t> FcmSender::round(const std::vector<PushMessage>& batch,
                                     const std::vector<size_t>& indices,
                                     std::vector<SendResult>& results) {
  std::vector<size_t> rejected;
  std::vector<HttpRequest> requests;
  std::vector<size_t> sent;
  for (size_t i : indices) {
    auto req = build_fcm_request(batch[i], config_.base_url, config_.project_id);
    if (!req.ok()) {
      results[i] = {Outcome::kFailed, 0, req.status().to_string()};
      ++counters_.failed;
      if (req.status().code() == ErrorCode::kTooLarge) ++counters_.payload_too_large;
      continue;
    }
    req->headers.push_back("authorization: Bearer " + token_);
    requests.push_back(std::move(req).value());
    sent.push_back(i);
  }
  if (requests.empty()) return rejected;
  auto responses = http_->perform(requests);
  for (size_t k = 0; k < sent.size(); ++k) {
    MappedAnswer mapped = map_fcm_answer(responses[k]);
    count_answer(responses[k], mapped, counters_);
    results[sent[k]] = mapped.result;
    if (mapped.provider_token_rejected) rejected.push_back(sent[k]);
  }
  return rejected;
}

std::vector<SendResult> FcmSender::send(const std::vector<PushMessage>& batch,
                                        std::int64_t now_unix_ms) {
  std::vector<SendResult> results(batch.size());
  auto fail_all = [&](const Status& status, const std::vector<size_t>& which) {
    const Outcome outcome =
        status.code() == ErrorCode::kUnavailable ? Outcome::kRetry : Outcome::kFailed;
    for (size_t i : which) results[i] = {outcome, 0, status.to_string()};
    if (outcome == Outcome::kFailed) counters_.failed += which.size();
  };
  std::vector<size_t> all(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) all[i] = i;
  auto token = access_token(now_unix_ms, false);
  if (!token.ok()) {
    fail_all(token.status(), all);
    return results;
  }
  std::vector<size_t> rejected = round(batch, all, results);
  if (rejected.empty()) return results;
  // 401: the access token was refused (revoked or expired early): fetch a new one, once.
  token = access_token(now_unix_ms, true);
  if (!token.ok()) {
    fail_all(token.status(), rejected);
    return results;
  }
  rejected = round(batch, rejected, results);
  counters_.failed += rejected.size();
  return results;
}

}  // namespace outpost::push
