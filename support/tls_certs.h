// Throwaway certificates made at run time for TLS on loopback: a CA, server certificates it
// signs (valid, expired, for another host name), self-signed ones. The tests and
// outpost-bench use them; nothing real trusts them. EC P-256 keys, SHA-256 signatures.
// Thread rules: a TestCa is immutable after create(); distinct objects: safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace outpost::support {

// One certificate to issue. Validity is relative to now, in seconds.
struct CertificateSpec {
  std::string common_name = "outpost test server";
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  int64_t valid_from_s = -3600;    // not before: an hour ago
  int64_t valid_until_s = 86'400;  // not after: in a day (negative: already expired)
};

// A certificate and its private key, PEM.
struct CertificatePem {
  std::string certificate;
  std::string key;
};

class TestCa {
 public:
  // A new CA with a fresh key. Aborts (std::abort) only if OpenSSL cannot make a key.
  static TestCa create(const std::string& name = "outpost test CA");
  ~TestCa();
  TestCa(TestCa&&) noexcept;
  TestCa& operator=(TestCa&&) noexcept;

  const std::string& certificate_pem() const { return certificate_pem_; }
  // A server certificate signed by this CA.
  CertificatePem issue(const CertificateSpec& spec = {}) const;
  // A certificate signed by its own key (no CA).
  static CertificatePem self_signed(const CertificateSpec& spec = {});

 private:
  TestCa() = default;
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string certificate_pem_;
};

// Writes `content` to `path` (replacing it); false on failure.
bool write_text_file(const std::string& path, const std::string& content);

}  // namespace outpost::support
