// The Genesys Cloud REST client (libcurl, blocking): OAuth client credentials against the
// login host (the token fetched on first use, renewed before it expires, and once more on a
// 401, after which the call is retried once), the org's request budget (a token bucket under
// the documented per-minute limits), and the SDKs' retry rules from
// shared/reference/platform-apis.md §1.0: 429 waits Retry-After (3 s when absent, gives up
// past 3 min), 502/503/504 back off 3, 9, 27 s; timeouts and refused connections count as
// unavailable. The platform's inin-ratelimit-* headers adapt the budget: when its window is
// nearly spent, calls wait for the window's reset instead of meeting 429s. Answers are bounded
// (genesys::kMaxBodyBytes). Secrets are never logged. Per-user tokens: endpoints that act "for the
// logged-in user" (and writes made for an agent) take that user's own token (set_user_token: an
// authorization-code grant the device obtained), renewed with its refresh token before it expires
// and once on a 401. A call for user U only ever carries U's token, or the client's own where U has
// none (call_for); never another user's. Thread rules: safe from several threads (each call has its
// own curl handle; the token and the budget are locked). stop() wakes every waiting call, which
// then fails kCancelled, and ends the transfers in flight (within about a second).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/genesys/genesys_json.h"
#include "engine/status.h"

namespace outpost::genesys {

struct RestOptions {
  std::string api_base;    // "https://api.mypurecloud.de" (no trailing slash)
  std::string login_base;  // "https://login.mypurecloud.de"
  std::string client_id;
  std::string client_secret;
  std::string ca_file;  // PEM bundle; empty: the system's
  long timeout_ms = 10'000;
  long connect_timeout_ms = 5'000;
  // The SDKs' retry timings; tests shrink them.
  std::vector<int64_t> backoff_ms = {3'000, 9'000, 27'000};
  int64_t default_retry_after_ms = 3'000;
  int64_t max_retry_after_ms = 180'000;
  double retry_after_scale = 1.0;  // tests shrink the platform's Retry-After
  // The org's budget: at most this many requests per minute (the documented limits are
  // 300 per token/app and user; the default stays under).
  double requests_per_minute = 240;
  std::function<void(const std::string&)> log;
  // A user's token renewed (the refresh grant rotates the refresh token) or, with nullptr,
  // ended (its refresh refused). Called outside the client's lock.
  std::function<void(const std::string& user, const Token* token)> user_token_changed;
};

// The platform's inin-ratelimit-* answer headers (-1 when absent): requests allowed in its
// window, used so far, seconds until the window resets.
struct RateLimit {
  int64_t allowed = -1;
  int64_t count = -1;
  int64_t reset_s = -1;
};

struct RestResponse {
  long status = 0;
  std::string body;
  std::string correlation_id;   // inin-correlation-id
  int64_t retry_after_ms = -1;  // a 429's Retry-After (call_single only), -1 when absent
};

class RestClient {
 public:
  explicit RestClient(RestOptions options);
  ~RestClient();

  // One API call: `target` is a path ("/api/v2/...") or an absolute URI the platform gave
  // (nextUri may be either). Returns the final answer with any HTTP status; the caller
  // decides what a 4xx means. Errors: kUnavailable (retries exhausted, timeouts, the budget
  // or a Retry-After beyond `deadline`), kUnauthenticated (the login host refused the
  // credentials), kTooLarge, kCancelled after stop().
  Result<RestResponse> call(const std::string& method, const std::string& target,
                            const std::string& body = "",
                            std::chrono::steady_clock::time_point deadline =
                                std::chrono::steady_clock::time_point::max());

  // The same call with `user`'s own token (kFailedPrecondition when none is held;
  // kUnauthenticated when its refresh was refused: the user must log in again).
  Result<RestResponse> call_as(const std::string& user, const std::string& method,
                               const std::string& target, const std::string& body = "",
                               std::chrono::steady_clock::time_point deadline =
                                   std::chrono::steady_clock::time_point::max());
  // call_as when `user`'s token is held, else call (the client's token, no user context).
  Result<RestResponse> call_for(const std::string& user, const std::string& method,
                                const std::string& target, const std::string& body = "",
                                std::chrono::steady_clock::time_point deadline =
                                    std::chrono::steady_clock::time_point::max());

  // A call that must not be repeated blindly (a send: the platform takes no idempotency
  // key), with call_for's token choice: a 401 (refresh, once) and a 429 are retried (the
  // platform did not act); a transport error or timeout is kUnavailable at once and a
  // 502/503/504 is returned as it is, since the platform may have acted (decision 037).
  Result<RestResponse> call_once_for(const std::string& user, const std::string& method,
                                     const std::string& target, const std::string& body,
                                     std::chrono::steady_clock::time_point deadline);

  // One attempt, for a caller that applies the retry rules itself (GenesysCore through
  // GenesysCoreDriver, decision 043): the token (and call_for's choice of it), a 401's
  // refresh and retry, the budget and the rate-limit holds stay here; a 429 (with its
  // Retry-After, scaled by retry_after_scale) and a 502/503/504 are returned as answers, a
  // transport error or timeout is kUnavailable.
  Result<RestResponse> call_single(const std::string& user, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   std::chrono::steady_clock::time_point deadline);

  // GET of a download link the platform gave (a pre-signed URL on its media host): no
  // bearer (the link carries its own signature, and a token must not travel to another
  // host), no request budget (not the API), at most `max_bytes`, transport errors and
  // 502/503/504 retried with the backoff. Returns the answer with any status (a 403 is an
  // expired link). The URL is never logged. Errors: kTooLarge, kUnavailable, kCancelled.
  Result<RestResponse> download(const std::string& url, uint64_t max_bytes,
                                std::chrono::steady_clock::time_point deadline);

  // Holds `user`'s token (access, refresh, lifetime in seconds), replacing any before.
  void set_user_token(const std::string& user, const Token& token);
  void forget_user_token(const std::string& user);
  bool has_user_token(const std::string& user) const;

  void stop();

  struct Counters {
    uint64_t requests = 0, retried_429 = 0, retried_5xx = 0, token_fetches = 0, refreshed_401 = 0,
             transport_errors = 0, budget_waits = 0, user_refreshes = 0, user_refresh_failures = 0,
             downloads = 0, rate_limit_holds = 0;
  };
  Counters counters() const;

 private:
  struct Raw {
    long status = 0;
    std::string body;
    std::string correlation_id;
    std::string retry_after;
    RateLimit rate_limit;
    Status transport;
  };
  Raw perform(const std::string& method, const std::string& url,
              const std::vector<std::string>& headers, const std::string& body,
              uint64_t max_bytes = kMaxBodyBytes);
  Result<std::string> token(bool force);
  // `user` empty: the client's token; else that user's, refreshed when due or forced.
  Result<std::string> bearer(const std::string& user, bool force);
  Result<std::string> refresh_user(const std::string& user);
  Result<RestResponse> call_with(const std::string& user, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 std::chrono::steady_clock::time_point deadline,
                                 bool retry_unknown = true, bool single = false);
  // Reads an answer's inin-ratelimit-* headers: when the platform's window is nearly spent,
  // every call waits until it resets (inin-ratelimit-reset, at most 60 s).
  void observe_rate_limit(const RateLimit& seen);
  // Waits for the budget (and any hold of observe_rate_limit), or `ms`; false when stopped
  // or past the deadline.
  bool take_budget(std::chrono::steady_clock::time_point deadline);
  bool sleep_until(std::chrono::steady_clock::time_point when);
  void log(const std::string& line) const;

  RestOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::atomic<bool> cancelled_{false};  // stopped_, read by transfers in flight
  std::string token_;
  std::chrono::steady_clock::time_point token_expires_{};
  struct UserToken {
    std::string access, refresh;
    std::chrono::steady_clock::time_point expires{};
  };
  std::map<std::string, UserToken> user_tokens_;
  double budget_ = 0;
  std::chrono::steady_clock::time_point budget_at_{};
  std::chrono::steady_clock::time_point rate_hold_until_{};
  Counters counters_;
};

}  // namespace outpost::genesys
