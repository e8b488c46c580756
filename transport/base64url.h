// base64url (RFC 4648 section 5) without padding, as used in bearer tokens.
// Decoding is strict so that one byte string has exactly one text form.
// Thread rules: pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace outpost {

// Encodes with the alphabet A-Z a-z 0-9 - _ and no '=' padding.
std::string base64url_encode(std::string_view bytes);

// Errors: kInvalidArgument for a character outside the alphabet (including '=' padding
// and whitespace), a length that no encoding produces (4n+1), or unused trailing bits that
// are not zero (a non-canonical encoding).
Result<std::string> base64url_decode(std::string_view text);

}  // namespace outpost
