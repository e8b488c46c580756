// Bearer tokens (transport/token.h) and their text forms:
//   byte 0 % 4 == 0: TokenAuthority::verify(rest): anything but a token signed with the key
//                    is kUnauthenticated; a verified token names valid scopes;
//                 1: base64url_decode(rest): what decodes has exactly one text form;
//                 2: http_api::authenticate("Authorization" header value = rest);
//                 3: rest as the claims payload of a token signed with the right key, so
//                    the protobuf and name checks behind the signature are reached too.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "transport/base64url.h"
#include "transport/http_util.h"
#include "transport/token.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
using outpost::fuzz::kNowMs;

void check_verified(const outpost::protocol::TokenClaims& claims) {
  check(outpost::is_valid_token_name(claims.tenant()) &&
            outpost::is_valid_token_name(claims.user()) &&
            outpost::is_valid_token_name(claims.device()),
        "a verified token carries an invalid name");
  check(claims.expires_ms() > kNowMs, "an expired token verified");
}

void verify(std::string_view token) {
  auto claims = outpost::fuzz::token_authority().verify(token, kNowMs);
  check_code(claims.status(), {ErrorCode::kUnauthenticated}, "verify");
  if (claims.ok()) check_verified(claims.value());
}

void base64url(std::string_view text) {
  auto bytes = outpost::base64url_decode(text);
  check_code(bytes.status(), {ErrorCode::kInvalidArgument}, "base64url_decode");
  if (bytes.ok()) {
    check(outpost::base64url_encode(bytes.value()) == text, "base64url text is not canonical");
  }
}

void authenticate(std::string_view header) {
  auto who = outpost::http_api::authenticate(outpost::fuzz::token_authority(), header, kNowMs);
  check_code(who.status(), {ErrorCode::kUnauthenticated}, "authenticate");
  if (who.ok()) check(who->expires_ms > kNowMs, "an expired token authenticated");
}

void signed_payload(std::string_view payload) {
  // The key of token_authority(), as fuzz_support.cpp builds it.
  const std::string key(32, 'k');
  std::string text = outpost::base64url_encode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &mac_size);
  std::string token =
      text + "." +
      outpost::base64url_encode(std::string_view(reinterpret_cast<char*>(mac), mac_size));
  auto claims = outpost::fuzz::token_authority().verify(token, kNowMs);
  check_code(claims.status(), {ErrorCode::kUnauthenticated}, "verify (signed)");
  if (!claims.ok()) return;
  check_verified(claims.value());
  // What verified can be issued again, and that verifies to the same claims.
  if (claims->expires_ms() > claims->issued_ms()) {
    auto again = outpost::fuzz::token_authority().issue(claims.value());
    check(again.ok(), "a verified token's claims cannot be issued");
    auto back = outpost::fuzz::token_authority().verify(again.value(), kNowMs);
    check(back.ok() && back->SerializeAsString() == claims->SerializeAsString(),
          "re-issued claims differ");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      verify(rest);
      break;
    case 1:
      base64url(rest);
      break;
    case 2:
      authenticate(rest);
      break;
    default:
      signed_payload(rest);
  }
  return 0;
}
