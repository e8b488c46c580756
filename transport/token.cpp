#include "transport/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

#include "transport/base64url.h"
#include "transport/limits.h"

namespace outpost {
namespace {

constexpr size_t kMacBytes = 32;  // SHA-256
using Mac = std::array<unsigned char, kMacBytes>;

// nullopt if OpenSSL fails; callers fail closed.
std::optional<Mac> sign(std::string_view key, std::string_view payload) {
  Mac mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac.data(),
           &length) == nullptr ||
      length != kMacBytes) {
    return std::nullopt;
  }
  return mac;
}

Status hmac_failed() {
  return error(ErrorCode::kInternal, "HMAC-SHA256 failed");
}

Status malformed() {
  return error(ErrorCode::kUnauthenticated, "malformed token");
}

Status key_too_short() {
  return error(ErrorCode::kFailedPrecondition,
               "token key shorter than " + std::to_string(TokenAuthority::kMinKeyBytes) + " bytes");
}

bool claims_have_valid_names(const protocol::TokenClaims& claims) {
  return is_valid_token_name(claims.tenant()) && is_valid_token_name(claims.user()) &&
         is_valid_token_name(claims.device());
}

}  // namespace

bool is_valid_token_name(std::string_view name) {
  return is_valid_name(name);
}

std::string user_scope(std::string_view tenant, std::string_view user) {
  return ScopeName::format_user(tenant, user);
}

std::string org_scope(std::string_view tenant) {
  return ScopeName::format_org(tenant);
}

TokenAuthority::TokenAuthority(std::string key) : key_(std::move(key)) {}

Result<std::string> TokenAuthority::issue(const protocol::TokenClaims& claims) const {
  if (key_.size() < kMinKeyBytes) return key_too_short();
  if (!claims_have_valid_names(claims)) {
    return error(ErrorCode::kInvalidArgument, "tenant, user and device must be 1 to " +
                                                  std::to_string(limits::kMaxNameLength) +
                                                  " characters of [A-Za-z0-9._-]");
  }
  if (claims.expires_ms() <= claims.issued_ms()) {
    return error(ErrorCode::kInvalidArgument, "token expires before it is issued");
  }
  std::string serialized;
  if (!claims.SerializeToString(&serialized)) {
    return error(ErrorCode::kInternal, "cannot serialize token claims");
  }
  std::string token = base64url_encode(serialized);
  std::optional<Mac> mac = sign(key_, token);
  if (!mac) return hmac_failed();
  token.push_back('.');
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(mac->data()), kMacBytes));
  if (token.size() > limits::kMaxTokenLength) {
    return error(ErrorCode::kInternal, "issued token longer than limits::kMaxTokenLength");
  }
  return token;
}

std::string TokenAuthority::derive_key(std::string_view purpose) const {
  std::optional<Mac> mac = sign(key_, purpose);
  if (!mac) return "";
  return std::string(reinterpret_cast<const char*>(mac->data()), kMacBytes);
}

Result<protocol::TokenClaims> TokenAuthority::verify(std::string_view token, int64_t now_ms) const {
  if (key_.size() < kMinKeyBytes) return key_too_short();
  if (token.empty() || token.size() > limits::kMaxTokenLength) return malformed();
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return malformed();
  }
  std::string_view payload_text = token.substr(0, dot);
  Result<std::string> payload = base64url_decode(payload_text);
  Result<std::string> signature = base64url_decode(token.substr(dot + 1));
  if (!payload.ok() || !signature.ok() || payload->empty() || signature->size() != kMacBytes) {
    return malformed();
  }

  // Authenticate before parsing: nothing unsigned reaches the protobuf parser.
  std::optional<Mac> expected = sign(key_, payload_text);
  if (!expected) return hmac_failed();
  if (CRYPTO_memcmp(expected->data(), signature->data(), kMacBytes) != 0) {
    return error(ErrorCode::kUnauthenticated, "bad token signature");
  }

  protocol::TokenClaims claims;
  if (!claims.ParseFromString(*payload) || !claims_have_valid_names(claims)) return malformed();
  if (claims.expires_ms() <= now_ms) return error(ErrorCode::kUnauthenticated, "token expired");
  return claims;
}

}  // namespace outpost
