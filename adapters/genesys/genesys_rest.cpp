#include "adapters/genesys/genesys_rest.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "adapters/genesys/genesys_json.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;

struct Sink {
  std::string* body;
  uint64_t limit = kMaxBodyBytes;
  bool too_large = false;
};

size_t write_body(char* data, size_t size, size_t count, void* out) {
  auto* sink = static_cast<Sink*>(out);
  if (sink->body->size() + size * count > sink->limit) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, size * count);
  return size * count;
}

struct Headers {
  std::string correlation_id;
  std::string retry_after;
  RateLimit rate_limit;
};

// A non-negative count header ("300"); -1 when absent or not a plain number.
int64_t count_of(const std::string& value) {
  if (value.empty() || value.size() > 12) return -1;
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

size_t read_header(char* data, size_t size, size_t count, void* out) {
  auto* headers = static_cast<Headers*>(out);
  std::string line(data, size * count);
  size_t colon = line.find(':');
  if (colon == std::string::npos) return size * count;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string value = line.substr(colon + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.erase(0, 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  if (name == "inin-correlation-id") headers->correlation_id = value;
  if (name == "retry-after") headers->retry_after = value;
  if (name == "inin-ratelimit-allowed") headers->rate_limit.allowed = count_of(value);
  if (name == "inin-ratelimit-count") headers->rate_limit.count = count_of(value);
  if (name == "inin-ratelimit-reset") headers->rate_limit.reset_s = count_of(value);
  return size * count;
}

int abort_when_stopped(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

bool retryable_5xx(long status) {
  return status == 502 || status == 503 || status == 504;
}

// application/x-www-form-urlencoded value: unreserved characters kept, the rest %XX.
std::string url_escape(const std::string& in) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* const kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kChars[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += kChars[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

RestClient::RestClient(RestOptions options) : options_(std::move(options)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  budget_ = std::max(1.0, options_.requests_per_minute / 6);  // a 10-second burst
  budget_at_ = Clock::now();
}

RestClient::~RestClient() {
  stop();
}

void RestClient::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  cancelled_.store(true);
  wake_.notify_all();
}

RestClient::Counters RestClient::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void RestClient::log(const std::string& line) const {
  if (options_.log) options_.log("genesys: " + line);
}

bool RestClient::sleep_until(Clock::time_point when) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, when, [this] { return stopped_; });
  return !stopped_;
}

bool RestClient::take_budget(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const double per_ms = options_.requests_per_minute / 60'000.0;
  const double cap = std::max(1.0, options_.requests_per_minute / 6);
  bool waited = false;
  while (!stopped_) {
    auto now = Clock::now();
    if (now < rate_hold_until_) {
      // The platform's own count says its limit is near: wait for its window to reset.
      if (rate_hold_until_ > deadline) return false;
      waited = true;
      wake_.wait_until(lock, rate_hold_until_, [this] { return stopped_; });
      continue;
    }
    double elapsed = std::chrono::duration<double, std::milli>(now - budget_at_).count();
    budget_ = std::min(cap, budget_ + elapsed * per_ms);
    budget_at_ = now;
    if (budget_ >= 1) {
      budget_ -= 1;
      if (waited) ++counters_.budget_waits;
      return true;
    }
    auto next = now + std::chrono::milliseconds(static_cast<int64_t>((1 - budget_) / per_ms) + 1);
    if (next > deadline) return false;
    waited = true;
    wake_.wait_until(lock, next, [this] { return stopped_; });
  }
  return false;
}

RestClient::Raw RestClient::perform(const std::string& method, const std::string& url,
                                    const std::vector<std::string>& headers,
                                    const std::string& body, uint64_t max_bytes) {
  Raw raw;
  CURL* easy = curl_easy_init();
  if (!easy) {
    raw.transport = error(ErrorCode::kInternal, "curl_easy_init failed");
    return raw;
  }
  Sink sink{&raw.body, max_bytes};
  Headers seen;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &seen);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  // stop() ends a transfer in flight too (libcurl asks at least once a second), so a server
  // stopping does not wait out a platform that does not answer.
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, abort_when_stopped);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &cancelled_);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  CURLcode code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &raw.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(easy);
  raw.correlation_id = seen.correlation_id;
  raw.retry_after = seen.retry_after;
  raw.rate_limit = seen.rate_limit;
  if (sink.too_large) {
    raw.transport = error(ErrorCode::kTooLarge, "platform answer over the bound");
  } else if (code != CURLE_OK) {
    raw.transport = error(ErrorCode::kUnavailable, std::string(curl_easy_strerror(code)));
  }
  return raw;
}

Result<std::string> RestClient::token(bool force) {
  {
    std::lock_guard lock(mutex_);
    if (!force && !token_.empty() && Clock::now() < token_expires_) return token_;
    ++counters_.token_fetches;
  }
  std::vector<std::string> headers = {
      "Authorization: Basic " + base64(options_.client_id + ":" + options_.client_secret),
      "Content-Type: application/x-www-form-urlencoded"};
  Raw raw = perform("POST", options_.login_base + "/oauth/token", headers,
                    "grant_type=client_credentials");
  if (!raw.transport.ok()) return raw.transport.with_context("token");
  if (raw.status == 401 || raw.status == 400 || raw.status == 403) {
    return error(ErrorCode::kUnauthenticated, "the login host refused the client credentials (" +
                                                  std::to_string(raw.status) + " " +
                                                  decode_error(raw.body).code + ")");
  }
  if (raw.status != 200) {
    return error(ErrorCode::kUnavailable, "token: HTTP " + std::to_string(raw.status));
  }
  OUTPOST_ASSIGN_OR_RETURN(Token fresh, decode_token(raw.body));
  std::lock_guard lock(mutex_);
  token_ = fresh.access_token;
  // Renew at 90% of the lifetime the platform gave (it is configurable per client).
  token_expires_ = Clock::now() + std::chrono::milliseconds(fresh.expires_in_s * 900);
  return token_;
}

void RestClient::set_user_token(const std::string& user, const Token& token) {
  std::lock_guard lock(mutex_);
  UserToken& held = user_tokens_[user];
  held.access = token.access_token;
  if (!token.refresh_token.empty()) held.refresh = token.refresh_token;
  held.expires = Clock::now() + std::chrono::milliseconds(token.expires_in_s * 900);
}

void RestClient::forget_user_token(const std::string& user) {
  std::lock_guard lock(mutex_);
  user_tokens_.erase(user);
}

bool RestClient::has_user_token(const std::string& user) const {
  std::lock_guard lock(mutex_);
  return user_tokens_.count(user) > 0;
}

// The refresh_token grant (the client authenticates with Basic, as for its own token). The
// platform rotates the refresh token; a refused one drops the user's login.
Result<std::string> RestClient::refresh_user(const std::string& user) {
  std::string refresh;
  {
    std::lock_guard lock(mutex_);
    auto it = user_tokens_.find(user);
    if (it == user_tokens_.end()) {
      return error(ErrorCode::kFailedPrecondition, "no Genesys login for " + user);
    }
    refresh = it->second.refresh;
    ++counters_.user_refreshes;
  }
  auto refused = [&](const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      ++counters_.user_refresh_failures;
      user_tokens_.erase(user);
    }
    if (options_.user_token_changed) options_.user_token_changed(user, nullptr);
    return error(ErrorCode::kUnauthenticated,
                 "the Genesys login of " + user + " expired (" + why + "); log in again");
  };
  if (refresh.empty()) return refused("no refresh token");
  std::vector<std::string> headers = {
      "Authorization: Basic " + base64(options_.client_id + ":" + options_.client_secret),
      "Content-Type: application/x-www-form-urlencoded"};
  Raw raw = perform("POST", options_.login_base + "/oauth/token", headers,
                    "grant_type=refresh_token&refresh_token=" + url_escape(refresh));
  if (!raw.transport.ok()) return raw.transport.with_context("refresh token");
  if (raw.status == 400 || raw.status == 401 || raw.status == 403) {
    return refused(std::to_string(raw.status) + " " + decode_error(raw.body).code);
  }
  if (raw.status != 200) {
    return error(ErrorCode::kUnavailable, "refresh token: HTTP " + std::to_string(raw.status));
  }
  auto fresh = decode_token(raw.body);
  if (!fresh.ok()) return refused("unreadable answer");
  Token renewed = *fresh;
  {
    std::lock_guard lock(mutex_);
    auto it = user_tokens_.find(user);
    if (it == user_tokens_.end() || it->second.refresh != refresh) {
      // Replaced (a new login) while we refreshed: the newer login wins.
      if (it != user_tokens_.end()) return it->second.access;
      return error(ErrorCode::kFailedPrecondition, "no Genesys login for " + user);
    }
    it->second.access = fresh->access_token;
    if (!fresh->refresh_token.empty()) it->second.refresh = fresh->refresh_token;
    it->second.expires = Clock::now() + std::chrono::milliseconds(fresh->expires_in_s * 900);
    renewed.refresh_token = it->second.refresh;
  }
  if (options_.user_token_changed) options_.user_token_changed(user, &renewed);
  return renewed.access_token;
}

Result<std::string> RestClient::bearer(const std::string& user, bool force) {
  if (user.empty()) return token(force);
  {
    std::lock_guard lock(mutex_);
    auto it = user_tokens_.find(user);
    if (it == user_tokens_.end()) {
      return error(ErrorCode::kFailedPrecondition, "no Genesys login for " + user);
    }
    if (!force && Clock::now() < it->second.expires) return it->second.access;
  }
  return refresh_user(user);
}

Result<RestResponse> RestClient::download(const std::string& url, uint64_t max_bytes,
                                          Clock::time_point deadline) {
  for (size_t backoffs = 0;; ++backoffs) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return error(ErrorCode::kCancelled, "stopped");
      ++counters_.downloads;
    }
    Raw raw = perform("GET", url, {}, "", max_bytes);
    if (raw.transport.code() == ErrorCode::kTooLarge) return raw.transport;
    const bool failed = !raw.transport.ok() || retryable_5xx(raw.status);
    if (!failed)
      return RestResponse{raw.status, std::move(raw.body), std::move(raw.correlation_id)};
    {
      std::lock_guard lock(mutex_);
      if (!raw.transport.ok()) ++counters_.transport_errors;
    }
    const std::string what =
        raw.transport.ok() ? "HTTP " + std::to_string(raw.status) : raw.transport.message();
    if (backoffs >= options_.backoff_ms.size()) {
      return error(ErrorCode::kUnavailable, "media download: " + what);
    }
    auto when = Clock::now() + std::chrono::milliseconds(options_.backoff_ms[backoffs]);
    if (when > deadline) return error(ErrorCode::kUnavailable, "media download: " + what);
    if (!sleep_until(when)) return error(ErrorCode::kCancelled, "stopped");
  }
}

void RestClient::observe_rate_limit(const RateLimit& seen) {
  if (seen.allowed <= 0 || seen.count < 0) return;
  // Hold back when the requests left in the platform's window are within a margin (5%, at
  // least 2) of none: the calls in flight may spend them.
  const int64_t margin = std::max<int64_t>(2, seen.allowed / 20);
  if (seen.allowed - seen.count > margin) return;
  const int64_t reset_s = std::clamp<int64_t>(seen.reset_s < 0 ? 60 : seen.reset_s, 1, 60);
  const auto until = Clock::now() + std::chrono::seconds(reset_s);
  bool logged = false;
  {
    std::lock_guard lock(mutex_);
    if (until <= rate_hold_until_) return;
    rate_hold_until_ = until;
    ++counters_.rate_limit_holds;
    logged = true;
  }
  if (logged) {
    log("inin-ratelimit: " + std::to_string(seen.count) + " of " + std::to_string(seen.allowed) +
        " used; holding requests for " + std::to_string(reset_s) + " s");
  }
}

Result<RestResponse> RestClient::call(const std::string& method, const std::string& target,
                                      const std::string& body, Clock::time_point deadline) {
  return call_with("", method, target, body, deadline);
}

Result<RestResponse> RestClient::call_as(const std::string& user, const std::string& method,
                                         const std::string& target, const std::string& body,
                                         Clock::time_point deadline) {
  if (user.empty()) return error(ErrorCode::kInvalidArgument, "call_as without a user");
  return call_with(user, method, target, body, deadline);
}

Result<RestResponse> RestClient::call_for(const std::string& user, const std::string& method,
                                          const std::string& target, const std::string& body,
                                          Clock::time_point deadline) {
  auto answer = has_user_token(user) ? call_as(user, method, target, body, deadline)
                                     : call(method, target, body, deadline);
  // The login ended under us (refused refresh): the client's own token still works.
  if (!answer.ok() && answer.status().code() == ErrorCode::kUnauthenticated &&
      !has_user_token(user)) {
    return call(method, target, body, deadline);
  }
  return answer;
}

Result<RestResponse> RestClient::call_once_for(const std::string& user, const std::string& method,
                                               const std::string& target, const std::string& body,
                                               Clock::time_point deadline) {
  return call_with(has_user_token(user) ? user : "", method, target, body, deadline,
                   /*retry_unknown=*/false);
}

Result<RestResponse> RestClient::call_single(const std::string& user, const std::string& method,
                                             const std::string& target, const std::string& body,
                                             Clock::time_point deadline) {
  const bool as_user = !user.empty() && has_user_token(user);
  auto answer = call_with(as_user ? user : "", method, target, body, deadline,
                          /*retry_unknown=*/false, /*single=*/true);
  // The login ended under us (refused refresh): the client's own token still works.
  if (as_user && !answer.ok() && answer.status().code() == ErrorCode::kUnauthenticated &&
      !has_user_token(user)) {
    return call_with("", method, target, body, deadline, false, true);
  }
  return answer;
}

Result<RestResponse> RestClient::call_with(const std::string& user, const std::string& method,
                                           const std::string& target, const std::string& body,
                                           Clock::time_point deadline, bool retry_unknown,
                                           bool single) {
  const std::string url = target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0
                              ? target
                              : options_.api_base + target;
  bool refreshed = false;
  size_t backoffs = 0;
  int rate_limited = 0;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return error(ErrorCode::kCancelled, "stopped");
    }
    OUTPOST_ASSIGN_OR_RETURN(std::string bearer_token, bearer(user, false));
    if (!take_budget(deadline)) {
      return error(ErrorCode::kUnavailable, "the org's request budget is spent for now");
    }
    std::vector<std::string> headers = {"Authorization: Bearer " + bearer_token,
                                        "Content-Type: application/json",
                                        "Accept: application/json"};
    Raw raw = perform(method, url, headers, body);
    observe_rate_limit(raw.rate_limit);
    {
      std::lock_guard lock(mutex_);
      ++counters_.requests;
      if (!raw.transport.ok()) ++counters_.transport_errors;
    }
    if (raw.transport.code() == ErrorCode::kTooLarge) return raw.transport;
    const bool transport_failed = !raw.transport.ok();
    if (!transport_failed && raw.status == 401 && !refreshed) {
      refreshed = true;
      {
        std::lock_guard lock(mutex_);
        ++counters_.refreshed_401;
      }
      OUTPOST_RETURN_IF_ERROR(bearer(user, true).status());
      continue;
    }
    if (!transport_failed && raw.status == 429 && single) {
      RestResponse throttled{raw.status, std::move(raw.body), std::move(raw.correlation_id)};
      if (!raw.retry_after.empty()) {
        throttled.retry_after_ms =
            static_cast<int64_t>(static_cast<double>(std::atoll(raw.retry_after.c_str())) * 1000.0 *
                                 options_.retry_after_scale);
      }
      return throttled;
    }
    if (!transport_failed && raw.status == 429) {
      int64_t wait_ms = options_.default_retry_after_ms;
      if (!raw.retry_after.empty()) wait_ms = std::atoll(raw.retry_after.c_str()) * 1000;
      if (wait_ms > options_.max_retry_after_ms || ++rate_limited > 5) {
        return error(ErrorCode::kUnavailable, "rate limited (429), Retry-After " + raw.retry_after +
                                                  " s [" + raw.correlation_id + "]");
      }
      wait_ms = static_cast<int64_t>(static_cast<double>(wait_ms) * options_.retry_after_scale);
      auto when = Clock::now() + std::chrono::milliseconds(wait_ms);
      if (when > deadline) {
        return error(ErrorCode::kUnavailable, "rate limited (429) past the caller's deadline");
      }
      {
        std::lock_guard lock(mutex_);
        ++counters_.retried_429;
      }
      log("429 on " + method + " " + target + ", waiting " + std::to_string(wait_ms) + " ms [" +
          raw.correlation_id + "]");
      if (!sleep_until(when)) return error(ErrorCode::kCancelled, "stopped");
      continue;
    }
    if ((transport_failed || retryable_5xx(raw.status)) && !retry_unknown) {
      // The platform may have acted: the caller decides (decision 037).
      if (!transport_failed) {
        return RestResponse{raw.status, std::move(raw.body), std::move(raw.correlation_id)};
      }
      return error(ErrorCode::kUnavailable,
                   method + " " + target + ": " + raw.transport.message() + " (outcome unknown)");
    }
    if (transport_failed || retryable_5xx(raw.status)) {
      std::string what =
          transport_failed ? raw.transport.message() : "HTTP " + std::to_string(raw.status);
      if (backoffs >= options_.backoff_ms.size()) {
        return error(ErrorCode::kUnavailable,
                     method + " " + target + ": " + what + " [" + raw.correlation_id + "]");
      }
      auto when = Clock::now() + std::chrono::milliseconds(options_.backoff_ms[backoffs++]);
      if (when > deadline) {
        return error(ErrorCode::kUnavailable, method + " " + target + ": " + what);
      }
      {
        std::lock_guard lock(mutex_);
        ++counters_.retried_5xx;
      }
      if (!sleep_until(when)) return error(ErrorCode::kCancelled, "stopped");
      continue;
    }
    return RestResponse{raw.status, std::move(raw.body), std::move(raw.correlation_id)};
  }
}

}  // namespace outpost::genesys
