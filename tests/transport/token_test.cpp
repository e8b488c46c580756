#include "transport/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "transport/base64url.h"
#include "transport/limits.h"

namespace outpost {
namespace {

const std::string kKey(32, 'k');
constexpr int64_t kNow = 1'700'000'000'000;

protocol::TokenClaims claims(std::string tenant = "acme", std::string user = "agent.smith",
                             std::string device = "phone-1") {
  protocol::TokenClaims result;
  result.set_tenant(std::move(tenant));
  result.set_user(std::move(user));
  result.set_device(std::move(device));
  result.set_issued_ms(kNow);
  result.set_expires_ms(kNow + 3'600'000);
  return result;
}

// Signs arbitrary payload bytes the way the documented format says, standing in for a
// buggy or future issuer that holds the key.
std::string sign_payload(const std::string& key, const std::string& payload) {
  std::string text = base64url_encode(payload);
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &length);
  return text + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), length));
}

void expect_unauthenticated(const Result<protocol::TokenClaims>& result, std::string_view message) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(result.status().message(), message);
}

TEST(Token, IssuesAndVerifies) {
  TokenAuthority authority(kKey);
  Result<std::string> token = authority.issue(claims());
  ASSERT_TRUE(token.ok()) << token.status().to_string();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 1);
  EXPECT_LE(token->size(), limits::kMaxTokenLength);

  Result<protocol::TokenClaims> verified = authority.verify(*token, kNow + 1000);
  ASSERT_TRUE(verified.ok()) << verified.status().to_string();
  EXPECT_EQ(verified->tenant(), "acme");
  EXPECT_EQ(verified->user(), "agent.smith");
  EXPECT_EQ(verified->device(), "phone-1");
  EXPECT_EQ(verified->issued_ms(), kNow);
  EXPECT_EQ(verified->expires_ms(), kNow + 3'600'000);
  // A second authority with the same key (another server process) agrees.
  EXPECT_TRUE(TokenAuthority(kKey).verify(*token, kNow).ok());
}

TEST(Token, LongestNamesStillFitTheLengthBound) {
  std::string name(limits::kMaxNameLength, 'n');
  Result<std::string> token = TokenAuthority(kKey).issue(claims(name, name, name));
  ASSERT_TRUE(token.ok());
  EXPECT_LE(token->size(), limits::kMaxTokenLength);
}

TEST(Token, ExpiresAtExpiresMs) {
  TokenAuthority authority(kKey);
  std::string token = authority.issue(claims()).value();
  EXPECT_TRUE(authority.verify(token, kNow + 3'599'999).ok());
  expect_unauthenticated(authority.verify(token, kNow + 3'600'000), "token expired");
  expect_unauthenticated(authority.verify(token, kNow + 100'000'000), "token expired");
}

TEST(Token, RefusesTamperedPayload) {
  TokenAuthority authority(kKey);
  std::string token = authority.issue(claims()).value();
  size_t dot = token.find('.');
  // Re-encode a payload for another user, keeping the original signature.
  protocol::TokenClaims other = claims("acme", "supervisor");
  std::string forged = base64url_encode(other.SerializeAsString()) + token.substr(dot);
  expect_unauthenticated(authority.verify(forged, kNow), "bad token signature");
  // Flip one character of the payload (staying inside the alphabet).
  for (size_t at = 0; at < dot; at += 5) {
    std::string tampered = token;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    Result<protocol::TokenClaims> result = authority.verify(tampered, kNow);
    ASSERT_FALSE(result.ok()) << at;
    EXPECT_EQ(result.status().code(), ErrorCode::kUnauthenticated);
  }
}

TEST(Token, RefusesTamperedSignature) {
  TokenAuthority authority(kKey);
  std::string token = authority.issue(claims()).value();
  // The last character carries spare bits; flip a character in the middle.
  std::string tampered = token;
  size_t at = token.find('.') + 10;
  tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
  expect_unauthenticated(authority.verify(tampered, kNow), "bad token signature");
}

TEST(Token, RefusesTokenFromAnotherKey) {
  std::string token = TokenAuthority(std::string(32, 'x')).issue(claims()).value();
  expect_unauthenticated(TokenAuthority(kKey).verify(token, kNow), "bad token signature");
}

TEST(Token, RefusesMalformedTokens) {
  TokenAuthority authority(kKey);
  std::string token = authority.issue(claims()).value();
  size_t dot = token.find('.');
  for (const std::string& bad : {
           std::string(), std::string("."), std::string("garbage"), std::string("not.base64!"),
           token.substr(0, dot),                            // no signature
           token.substr(0, dot + 1),                        // empty signature
           token.substr(0, token.size() - 1),               // truncated signature
           token.substr(dot),                               // no payload
           token + ".",                                     // two dots
           token + "." + token,                             // two tokens
           token.substr(0, dot) + "=" + token.substr(dot),  // padding
           token + "AA",                                    // signature too long
       }) {
    expect_unauthenticated(authority.verify(bad, kNow), "malformed token");
  }
}

TEST(Token, RefusesOversizeTokenBeforeDecoding) {
  TokenAuthority authority(kKey);
  std::string huge(limits::kMaxTokenLength + 1, 'A');
  huge[100] = '.';
  expect_unauthenticated(authority.verify(huge, kNow), "malformed token");
}

TEST(Token, RefusesInvalidNamesAtIssue) {
  TokenAuthority authority(kKey);
  for (const protocol::TokenClaims& bad : {
           claims("a/b"),
           claims("acme", "x/../y"),
           claims("acme", "user", ""),
           claims(""),
           claims("acme corp"),
           claims("acmé"),
           claims(std::string(limits::kMaxNameLength + 1, 't')),
           claims("acme", std::string("nul\0byte", 8)),
       }) {
    EXPECT_EQ(authority.issue(bad).status().code(), ErrorCode::kInvalidArgument)
        << bad.ShortDebugString();
  }
  protocol::TokenClaims backwards = claims();
  backwards.set_expires_ms(backwards.issued_ms());
  EXPECT_EQ(authority.issue(backwards).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Token, FollowsTheDocumentedFormat) {
  // An independent HMAC over the documented layout verifies: other servers can check it.
  Result<protocol::TokenClaims> verified =
      TokenAuthority(kKey).verify(sign_payload(kKey, claims().SerializeAsString()), kNow);
  ASSERT_TRUE(verified.ok()) << verified.status().to_string();
  EXPECT_EQ(verified->user(), "agent.smith");
}

TEST(Token, RefusesSignedButInvalidClaims) {
  // Correctly signed, so only the payload checks stand between these and the scopes.
  TokenAuthority authority(kKey);
  for (const protocol::TokenClaims& bad :
       {claims("a/b"), claims("acme", "x/y"), claims("acme", "user", ""), claims("")}) {
    expect_unauthenticated(authority.verify(sign_payload(kKey, bad.SerializeAsString()), kNow),
                           "malformed token");
  }
  for (const std::string& not_claims :
       {std::string("\xFF\xFF\xFF"), std::string("not a protobuf"), std::string(1, '\0')}) {
    expect_unauthenticated(authority.verify(sign_payload(kKey, not_claims), kNow),
                           "malformed token");
  }
}

TEST(Token, RefusesWeakKey) {
  TokenAuthority weak("short");
  EXPECT_EQ(weak.issue(claims()).status().code(), ErrorCode::kFailedPrecondition);
  std::string token = TokenAuthority(kKey).issue(claims()).value();
  EXPECT_EQ(weak.verify(token, kNow).status().code(), ErrorCode::kFailedPrecondition);
}

TEST(Token, DerivesUnambiguousScopes) {
  EXPECT_EQ(user_scope("acme", "agent.smith"), "user/acme/agent.smith");
  EXPECT_EQ(org_scope("acme"), "org/acme");
  EXPECT_TRUE(is_valid_token_name("A-z_0.9"));
  EXPECT_FALSE(is_valid_token_name("a/b"));
  EXPECT_FALSE(is_valid_token_name(""));
  EXPECT_TRUE(is_valid_token_name(std::string(limits::kMaxNameLength, 'a')));
  EXPECT_FALSE(is_valid_token_name(std::string(limits::kMaxNameLength + 1, 'a')));
}

}  // namespace
}  // namespace outpost
