#include "support/tls_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>

namespace outpost::support {

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Certificate = std::unique_ptr<X509, X509Free>;

Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) std::abort();
  return key;
}

template <typename Write>
std::string to_pem(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  write(bio.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string certificate_to_pem(X509* certificate) {
  return to_pem([&](BIO* bio) { PEM_write_bio_X509(bio, certificate); });
}

std::string key_to_pem(EVP_PKEY* key) {
  return to_pem(
      [&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); });
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) std::abort();
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// An unsigned certificate for `subject_key` named `common_name`, naming `issuer` as its
// issuer (null: itself).
Certificate make_certificate(const std::string& common_name, EVP_PKEY* subject_key, X509* issuer,
                             int64_t valid_from_s, int64_t valid_until_s) {
  Certificate certificate(X509_new());
  X509* x = certificate.get();
  X509_set_version(x, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7F;  // positive
  BIGNUM* number = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(x));
  BN_free(number);
  X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(valid_from_s));
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(valid_until_s));
  X509_set_pubkey(x, subject_key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return certificate;
}

void sign(X509* certificate, EVP_PKEY* key) {
  if (X509_sign(certificate, key, EVP_sha256()) <= 0) std::abort();
}

std::string subject_alt_names(const CertificateSpec& spec) {
  std::string out;
  for (const std::string& dns : spec.dns_names) out += (out.empty() ? "DNS:" : ",DNS:") + dns;
  for (const std::string& ip : spec.ip_addresses) out += (out.empty() ? "IP:" : ",IP:") + ip;
  return out;
}

CertificatePem issue_with(const CertificateSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  Key key = new_key();
  EVP_PKEY* signer = issuer_key != nullptr ? issuer_key : key.get();
  Certificate certificate =
      make_certificate(spec.common_name, key.get(), issuer, spec.valid_from_s, spec.valid_until_s);
  X509* x = certificate.get();
  X509* issuer_or_self = issuer != nullptr ? issuer : x;
  add_extension(x, issuer_or_self, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(x, issuer_or_self, NID_key_usage, "critical,digitalSignature");
  add_extension(x, issuer_or_self, NID_ext_key_usage, "serverAuth");
  std::string names = subject_alt_names(spec);
  if (!names.empty()) add_extension(x, issuer_or_self, NID_subject_alt_name, names);
  sign(x, signer);
  return {certificate_to_pem(x), key_to_pem(key.get())};
}

}  // namespace

struct TestCa::Keys {
  Key key;
  Certificate certificate;
};

TestCa::~TestCa() = default;
TestCa::TestCa(TestCa&&) noexcept = default;
TestCa& TestCa::operator=(TestCa&&) noexcept = default;

TestCa TestCa::create(const std::string& name) {
  TestCa ca;
  ca.keys_ = std::make_unique<Keys>();
  ca.keys_->key = new_key();
  ca.keys_->certificate =
      make_certificate(name, ca.keys_->key.get(), nullptr, -3600, 10LL * 365 * 86'400);
  X509* x = ca.keys_->certificate.get();
  add_extension(x, x, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(x, x, NID_subject_key_identifier, "hash");
  sign(x, ca.keys_->key.get());
  ca.certificate_pem_ = certificate_to_pem(x);
  return ca;
}

CertificatePem TestCa::issue(const CertificateSpec& spec) const {
  return issue_with(spec, keys_->certificate.get(), keys_->key.get());
}

CertificatePem TestCa::self_signed(const CertificateSpec& spec) {
  return issue_with(spec, nullptr, nullptr);
}

bool write_text_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

}  // namespace outpost::support
