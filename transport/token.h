// Signed bearer tokens and the scopes they grant. A token is
//   base64url(serialized protocol::TokenClaims) "." base64url(HMAC-SHA256(key, first part))
// and grants exactly user/<tenant>/<user> and org/<tenant>. I/O-free.
// Thread rules: a TokenAuthority is immutable after construction; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/scope.h"
#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// A tenant, user or device name: 1 to limits::kMaxNameLength characters of [A-Za-z0-9._-].
// The restriction keeps scopes unambiguous: no name can contain '/'. The same check as
// is_valid_name in engine/scope.h.
bool is_valid_token_name(std::string_view name);

// "user/<tenant>/<user>" and "org/<tenant>" (ScopeName::format_user / format_org). The names
// must be valid token names (a verified token's always are).
std::string user_scope(std::string_view tenant, std::string_view user);
std::string org_scope(std::string_view tenant);

class TokenAuthority {
 public:
  // Keys shorter than this are refused by issue() and verify().
  static constexpr size_t kMinKeyBytes = 32;

  // `key` is the secret shared by every server that verifies these tokens; see
  // load_or_create_key() in transport/token_key_file.h.
  explicit TokenAuthority(std::string key);

  // Errors: kInvalidArgument for a tenant, user or device that is not a valid token name,
  // or expires_ms <= issued_ms; kFailedPrecondition for a key shorter than kMinKeyBytes.
  Result<std::string> issue(const protocol::TokenClaims& claims) const;

  // The claims of a token this authority issued and that has not expired at `now_ms`.
  // The signature is checked (in constant time) before the payload is parsed.
  // Errors (all kUnauthenticated, so a caller can answer 401 without looking further):
  //   "malformed token"      too long, not two base64url parts, bad protobuf or names;
  //   "bad token signature"  forged, tampered with, or issued under another key;
  //   "token expired"        expires_ms <= now_ms.
  // kFailedPrecondition for a key shorter than kMinKeyBytes.
  Result<protocol::TokenClaims> verify(std::string_view token, int64_t now_ms) const;

  // A secret for another use of this server's key (HMAC-SHA256(key, purpose), 32 bytes),
  // so one key file serves several purposes without one MAC standing in for another.
  // "" when HMAC fails (callers then seal with an empty key; nothing verifies across).
  std::string derive_key(std::string_view purpose) const;

 private:
  std::string key_;
};

}  // namespace outpost
