#include "adapters/push/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <vector>

#include "transport/base64url.h"

namespace outpost::push {

Result<std::shared_ptr<SigningKey>> SigningKey::from_pem(std::string_view pem, Algorithm alg) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return error(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return error(ErrorCode::kInvalidArgument, "not a PEM private key");
  const int type = EVP_PKEY_get_base_id(key);
  bool fits = false;
  if (alg == Algorithm::kRs256) {
    fits = type == EVP_PKEY_RSA;
  } else if (type == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    fits = EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) == 1 &&
           std::string_view(group) == "prime256v1";
  }
  if (!fits) {
    EVP_PKEY_free(key);
    return error(ErrorCode::kInvalidArgument,
                 alg == Algorithm::kRs256 ? "RS256 needs an RSA key" : "ES256 needs a P-256 key");
  }
  return std::shared_ptr<SigningKey>(new SigningKey(key, alg));
}

SigningKey::~SigningKey() {
  EVP_PKEY_free(key_);
}

Result<std::string> SigningKey::sign_jwt(std::string_view header_members,
                                         std::string_view claims_json) const {
  std::string header = alg_ == Algorithm::kEs256 ? "{\"alg\":\"ES256\"" : "{\"alg\":\"RS256\"";
  if (!header_members.empty()) {
    header += ",";
    header += header_members;
  }
  header += "}";
  std::string input = base64url_encode(header) + "." + base64url_encode(claims_json);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return error(ErrorCode::kInternal, "EVP_MD_CTX_new failed");
  size_t len = 0;
  std::vector<unsigned char> sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                        input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return error(ErrorCode::kInternal, "signing failed");

  std::string signature;
  if (alg_ == Algorithm::kEs256) {
    // OpenSSL gives DER (SEQUENCE of r, s); JWS wants r || s, 32 bytes each (RFC 7518 3.4).
    const unsigned char* p = sig.data();
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (ecdsa == nullptr) return error(ErrorCode::kInternal, "bad ECDSA signature");
    unsigned char raw[64];
    const bool fits = BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), raw, 32) == 32 &&
                      BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), raw + 32, 32) == 32;
    ECDSA_SIG_free(ecdsa);
    if (!fits) return error(ErrorCode::kInternal, "ECDSA signature does not fit 64 bytes");
    signature.assign(reinterpret_cast<const char*>(raw), sizeof(raw));
  } else {
    signature.assign(reinterpret_cast<const char*>(sig.data()), sig.size());
  }
  return input + "." + base64url_encode(signature);
}

}  // namespace outpost::push
