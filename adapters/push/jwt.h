// JSON Web Tokens for the push services, signed with OpenSSL: ES256 (APNs provider token,
// the .p8 P-256 key) and RS256 (the FCM service account's assertion).
// Thread rules: a SigningKey is immutable after load; safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"

struct evp_pkey_st;

namespace outpost::push {

class SigningKey {
 public:
  enum class Algorithm { kEs256, kRs256 };
  // Loads a PEM private key (PKCS#8 "BEGIN PRIVATE KEY", as in an APNs .p8 file or a
  // service account's private_key). Errors: kInvalidArgument for an unreadable key or one
  // that does not fit the algorithm (ES256 needs P-256, RS256 needs RSA).
  static Result<std::shared_ptr<SigningKey>> from_pem(std::string_view pem, Algorithm alg);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  Algorithm algorithm() const { return alg_; }
  // header.claims.signature, each base64url; the header gets "alg" added in front of the
  // given members (a JSON object body without braces, e.g. "\"kid\":\"ABC\"").
  Result<std::string> sign_jwt(std::string_view header_members, std::string_view claims_json) const;

 private:
  SigningKey(evp_pkey_st* key, Algorithm alg) : key_(key), alg_(alg) {}
  evp_pkey_st* key_;
  Algorithm alg_;
};

}  // namespace outpost::push
