#include "transport/token_claims.h"

#include "transport/base64url.h"
#include "transport/limits.h"
#include "transport/token.h"

namespace outpost {

Result<protocol::TokenClaims> read_token_claims_unverified(std::string_view token) {
  const Status malformed = error(ErrorCode::kUnauthenticated, "malformed token");
  if (token.empty() || token.size() > limits::kMaxTokenLength) return malformed;
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return malformed;
  auto payload = base64url_decode(token.substr(0, dot));
  if (!payload.ok()) return malformed;
  protocol::TokenClaims claims;
  if (!claims.ParseFromString(*payload)) return malformed;
  if (!is_valid_token_name(claims.tenant()) || !is_valid_token_name(claims.user())) {
    return malformed;
  }
  return claims;
}

}  // namespace outpost
