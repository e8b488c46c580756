#include "transport/tls_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <fstream>
#include <sstream>
#include <vector>

#include "transport/tls_pem.h"

namespace outpost {

namespace ssl = boost::asio::ssl;

namespace {

// The certificate's DER encoding, to compare a presented certificate with the pinned one.
std::string der_of(X509* certificate) {
  int size = i2d_X509(certificate, nullptr);
  if (size <= 0) return {};
  std::string out(static_cast<size_t>(size), '\0');
  auto* cursor = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(certificate, &cursor);
  return out;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

TlsClientContext::~TlsClientContext() = default;

Result<std::shared_ptr<TlsClientContext>> TlsClientContext::create(
    const TlsClientOptions& options) {
  std::shared_ptr<TlsClientContext> made(new TlsClientContext());
  try {
    made->context_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return error(ErrorCode::kInternal, std::string("TLS: cannot create a context: ") + e.what());
  }
  SSL_CTX* ctx = made->context_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);

  bool pinned = !options.pinned_cert_file.empty() || !options.pinned_cert_pem.empty();
  if (pinned) {
    std::string pem = options.pinned_cert_pem;
    std::string source = "the pinned certificate";
    if (!options.pinned_cert_file.empty()) {
      OUTPOST_ASSIGN_OR_RETURN(pem,
                               tls_pem::read_file(options.pinned_cert_file, "pinned certificate"));
      source = "pinned certificate " + options.pinned_cert_file;
    }
    OUTPOST_ASSIGN_OR_RETURN(auto certificates, tls_pem::certificates(pem, source));
    if (certificates.size() != 1) {
      return error(ErrorCode::kInvalidArgument,
                   "TLS: " + source + " must hold exactly one certificate (the server's own)");
    }
    X509* pin = certificates.front().get();
    if (X509_STORE_add_cert(store, pin) != 1) {
      return error(ErrorCode::kInternal, "TLS: cannot trust " + source);
    }
    // The pinned leaf is a trust anchor on its own (no chain up to a root).
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
    std::string pinned_der = der_of(pin);
    boost::system::error_code ec;
    made->context_->set_verify_callback(
        [pinned_der](bool preverified, ssl::verify_context& verify) {
          X509_STORE_CTX* store_ctx = verify.native_handle();
          if (!preverified || X509_STORE_CTX_get_error_depth(store_ctx) != 0) return preverified;
          if (der_of(X509_STORE_CTX_get_current_cert(store_ctx)) == pinned_der) return true;
          X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_CERT_REJECTED);
          return false;
        },
        ec);
    if (ec) return error(ErrorCode::kInternal, "TLS: cannot set the pin check: " + ec.message());
    made->trust_ = source;
    made->pinned_ = true;
    return made;
  }

  std::vector<std::string> sources;
  if (!options.ca_file.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(std::string pem, tls_pem::read_file(options.ca_file, "CA file"));
    OUTPOST_ASSIGN_OR_RETURN(auto certificates,
                             tls_pem::certificates(pem, "CA file " + options.ca_file));
    for (auto& certificate : certificates) X509_STORE_add_cert(store, certificate.get());
    sources.push_back("CA file " + options.ca_file);
  }
  if (!options.ca_pem.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(auto certificates,
                             tls_pem::certificates(options.ca_pem, "the app's CA certificates"));
    for (auto& certificate : certificates) X509_STORE_add_cert(store, certificate.get());
    sources.push_back("the app's CA certificates");
  }
  if (sources.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
      return error(ErrorCode::kInternal, "TLS: cannot load the system certificate store");
    }
    made->trust_ = "the system store";
  } else {
    made->trust_ = sources.size() == 1 ? sources[0] : sources[0] + " and " + sources[1];
  }
  return made;
}

Status TlsClientContext::prepare(SSL* ssl, const std::string& host) const {
  bool ok = true;
  if (is_ip_address(host)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  } else {
    // OpenSSL's own host check (not asio's host_name_verification callback) so that a
    // mismatch is reported as X509_V_ERR_HOSTNAME_MISMATCH (decision 022).
    ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    return error(ErrorCode::kInternal, "TLS: cannot set the expected server name " + host);
  }
  return Status::Ok();
}

Status TlsClientContext::handshake_failure(SSL* ssl, const std::string& host,
                                           std::string_view failure) const {
  long verify = SSL_get_verify_result(ssl);
  ERR_clear_error();
  if (verify != X509_V_OK) {
    std::string why = X509_verify_cert_error_string(verify);
    std::string message = std::string(kUntrustedServerPrefix) + ": " +
                          (pinned_ ? host + " did not present the pinned certificate (" + why + ")"
                                   : "the certificate of " + host + " is not trusted (" + why +
                                         "; trusting " + trust_ + ")");
    return error(ErrorCode::kFailedPrecondition, message + "; nothing was sent");
  }
  return error(ErrorCode::kUnavailable, "TLS handshake with " + host +
                                            " failed: " + std::string(failure) +
                                            " (does the server speak TLS on that port?)");
}

}  // namespace outpost
