// The claims of a bearer token as the device reads them: without the signing key, only to
// learn its own tenant and user (the server verifies every token it is shown).
// Thread rules: a free function over its argument; safe from any thread.
#pragma once

#include <string_view>

#include "engine/status.h"
#include "outpost/protocol.pb.h"

namespace outpost {

// The claims of a bearer token, read WITHOUT checking its signature or expiry: the device
// only needs its own tenant and user to name its scopes; the server verifies the token.
// Errors: kUnauthenticated "malformed token" (too long, not two base64url parts, bad
// protobuf, invalid names).
Result<protocol::TokenClaims> read_token_claims_unverified(std::string_view token);

}  // namespace outpost
