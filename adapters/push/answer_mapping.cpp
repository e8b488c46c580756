#include "adapters/push/answer_mapping.h"

#include <boost/json.hpp>
#include <cctype>

namespace outpost::push {
namespace json = boost::json;
namespace {

json::value parse_or_null(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return nullptr;
  return v;
}

std::string string_at(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    const json::object* obj = cur->if_object();
    if (obj == nullptr) return {};
    auto it = obj->find(key);
    if (it == obj->end()) return {};
    cur = &it->value();
  }
  const json::string* s = cur->if_string();
  return s ? std::string(*s) : std::string();
}

MappedAnswer transport_failure(const HttpResponse& r) {
  MappedAnswer m;
  m.result.outcome = Outcome::kRetry;
  m.result.reason = r.transport.ok() ? "no answer" : r.transport.message();
  return m;
}

MappedAnswer retry_or_fail(const HttpResponse& r, std::string reason) {
  MappedAnswer m;
  m.result.http_status = static_cast<int>(r.status);
  m.result.reason = std::move(reason);
  if (r.status == 429 || r.status >= 500) {
    m.result.outcome = Outcome::kRetry;
    m.result.retry_after_ms = retry_after_ms(r);
  } else {
    m.result.outcome = Outcome::kFailed;
  }
  return m;
}

}  // namespace

std::int64_t retry_after_ms(const HttpResponse& response) {
  auto it = response.headers.find("retry-after");
  if (it == response.headers.end() || it->second.empty() || it->second.size() > 9) return -1;
  std::int64_t seconds = 0;
  for (char c : it->second) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds * 1000;
}

MappedAnswer map_apns_answer(const HttpResponse& r) {
  if (r.status == 0) return transport_failure(r);
  if (!r.http2) {
    MappedAnswer m;
    m.result = {Outcome::kRetry, static_cast<int>(r.status), "answer not over HTTP/2"};
    return m;
  }
  if (r.status == 200) return {{Outcome::kDelivered, 200, ""}};
  const std::string reason = string_at(parse_or_null(r.body), {"reason"});
  MappedAnswer m;
  m.result.http_status = static_cast<int>(r.status);
  m.result.reason = reason;
  if (r.status == 410 ||
      (r.status == 400 && (reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic"))) {
    m.result.outcome = Outcome::kRemoveTarget;
    return m;
  }
  if (r.status == 403 && (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken" ||
                          reason == "MissingProviderToken")) {
    m.result.outcome = Outcome::kFailed;
    m.provider_token_rejected = true;
    return m;
  }
  return retry_or_fail(r, reason);
}

MappedAnswer map_fcm_answer(const HttpResponse& r) {
  if (r.status == 0) return transport_failure(r);
  if (r.status == 200) return {{Outcome::kDelivered, 200, ""}};
  const json::value body = parse_or_null(r.body);
  std::string code = string_at(body, {"error", "status"});
  // The FcmError detail carries the specific errorCode (UNREGISTERED, SENDER_ID_MISMATCH...);
  // a google.rpc.BadRequest detail names the field at fault.
  bool token_field = false;
  const json::object* err = nullptr;
  if (const json::object* top = body.if_object()) {
    if (auto e = top->find("error"); e != top->end()) err = e->value().if_object();
  }
  if (err != nullptr) {
    if (auto d = err->find("details"); d != err->end() && d->value().is_array()) {
      for (const auto& detail : d->value().as_array()) {
        const std::string ec = string_at(detail, {"errorCode"});
        if (!ec.empty()) code = ec;
        if (const json::object* o = detail.if_object()) {
          if (auto fv = o->find("fieldViolations"); fv != o->end() && fv->value().is_array()) {
            for (const auto& v : fv->value().as_array()) {
              if (string_at(v, {"field"}) == "message.token") token_field = true;
            }
          }
        }
      }
    }
  }
  MappedAnswer m;
  m.result.http_status = static_cast<int>(r.status);
  m.result.reason = code;
  if ((r.status == 404 && (code == "UNREGISTERED" || code == "NOT_FOUND")) ||
      (r.status == 400 && code == "INVALID_ARGUMENT" && token_field) ||
      (r.status == 403 && code == "SENDER_ID_MISMATCH")) {
    m.result.outcome = Outcome::kRemoveTarget;
    return m;
  }
  if (r.status == 401) {
    m.result.outcome = Outcome::kFailed;
    m.provider_token_rejected = true;
    return m;
  }
  return retry_or_fail(r, code);
}

void count_answer(const HttpResponse& r, const MappedAnswer& mapped, SenderCounters& c) {
  ++c.requests;
  if (r.status == 0) {
    ++(r.timed_out ? c.timeouts : c.transport_errors);
    return;
  }
  if (mapped.provider_token_rejected) ++c.provider_token_rejected;
  if (r.status == 429)
    ++c.rate_limited;
  else if (r.status == 503)
    ++c.unavailable;
  else if (r.status >= 500)
    ++c.server_errors;
  if (r.status == 413) ++c.payload_too_large;
  switch (mapped.result.outcome) {
    case Outcome::kDelivered:
      ++c.delivered;
      break;
    case Outcome::kRemoveTarget:
      ++c.removed_targets;
      break;
    case Outcome::kFailed:
      if (!mapped.provider_token_rejected) ++c.failed;
      break;
    case Outcome::kRetry:
      break;
  }
}

}  // namespace outpost::push
