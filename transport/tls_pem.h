// PEM files for TLS, read into OpenSSL objects with clear errors (shared by tls_client and
// tls_server; no sockets). A file that cannot be read or holds no PEM object is an
// error value naming it, never an exception.
// Thread rules: free functions; distinct objects: safe.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace outpost::tls_pem {

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

// Bound on a PEM file read here (certificate chains and keys are a few KiB).
inline constexpr size_t kMaxPemFileBytes = 1024 * 1024;

// The whole file. Errors: kInvalidArgument naming `what` and the path (missing, unreadable,
// over kMaxPemFileBytes).
Result<std::string> read_file(const std::string& path, std::string_view what);
// Every certificate in `pem`, in order. Errors: kInvalidArgument naming `source` when
// there is none or one is malformed.
Result<std::vector<Certificate>> certificates(std::string_view pem, const std::string& source);
// The first private key in `pem`. Errors: kInvalidArgument naming `source`.
Result<PrivateKey> private_key(std::string_view pem, const std::string& source);

}  // namespace outpost::tls_pem
