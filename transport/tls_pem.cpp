#include "transport/tls_pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <fstream>
#include <iterator>

namespace outpost::tls_pem {

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

std::unique_ptr<BIO, BioFree> memory_bio(std::string_view pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason = code != 0 ? ERR_reason_error_string(code) : "";
  ERR_clear_error();
  return reason.empty() ? "not PEM" : reason;
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error(ErrorCode::kInvalidArgument, "TLS: cannot read " + std::string(what) + " " + path);
  std::string out;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    out.append(buffer, static_cast<size_t>(in.gcount()));
    if (out.size() > kMaxPemFileBytes) {
      return error(ErrorCode::kInvalidArgument,
                   "TLS: " + std::string(what) + " " + path + " is larger than 1 MiB");
    }
  }
  return out;
}

Result<std::vector<Certificate>> certificates(std::string_view pem, const std::string& source) {
  if (pem.size() > kMaxPemFileBytes) {
    return error(ErrorCode::kInvalidArgument, "TLS: " + source + " is larger than 1 MiB");
  }
  auto bio = memory_bio(pem);
  std::vector<Certificate> out;
  for (;;) {
    Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (certificate == nullptr) break;
    out.push_back(std::move(certificate));
  }
  unsigned long last = ERR_peek_last_error();
  bool clean_end = ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  std::string reason = openssl_reason();
  if (out.empty() || (last != 0 && !clean_end)) {
    return error(ErrorCode::kInvalidArgument,
                 "TLS: " + source + " holds no valid PEM certificate (" + reason + ")");
  }
  return out;
}

Result<PrivateKey> private_key(std::string_view pem, const std::string& source) {
  auto bio = memory_bio(pem);
  // An encrypted key gets no passphrase (never a prompt on the terminal): it fails here.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (key == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 "TLS: " + source + " holds no PEM private key (" + openssl_reason() + ")");
  }
  ERR_clear_error();
  return key;
}

}  // namespace outpost::tls_pem
