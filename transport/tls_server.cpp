#include "transport/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>

#include "transport/tls_pem.h"

namespace outpost {

namespace {

std::string name_and_expiry(X509* certificate) {
  char subject[256] = {0};
  X509_NAME_oneline(X509_get_subject_name(certificate), subject, sizeof(subject));
  std::string expiry;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (ASN1_TIME_print(bio.get(), X509_get0_notAfter(certificate)) == 1) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    expiry.assign(data, static_cast<size_t>(size));
  }
  return std::string(subject) + ", valid until " + expiry;
}

}  // namespace

Result<TlsServerContext::Loaded> TlsServerContext::build(const std::string& cert_file,
                                                         const std::string& key_file) {
  OUTPOST_ASSIGN_OR_RETURN(std::string chain_pem,
                           tls_pem::read_file(cert_file, "certificate file"));
  OUTPOST_ASSIGN_OR_RETURN(auto chain,
                           tls_pem::certificates(chain_pem, "certificate file " + cert_file));
  OUTPOST_ASSIGN_OR_RETURN(std::string key_pem, tls_pem::read_file(key_file, "key file"));
  OUTPOST_ASSIGN_OR_RETURN(tls_pem::PrivateKey key,
                           tls_pem::private_key(key_pem, "key file " + key_file));
  Loaded loaded;
  try {
    loaded.context =
        std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  } catch (const std::exception& e) {
    return error(ErrorCode::kInternal, std::string("TLS: cannot create a context: ") + e.what());
  }
  SSL_CTX* ctx = loaded.context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // An idle connection (a live stream waiting for pokes, a silent socket before its
  // handshake) keeps no 16 KiB read/write buffers: the hostile suite's 10,000 attempts
  // over TLS grew the server by 165 MiB without this.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  bool ok = SSL_CTX_use_certificate(ctx, chain.front().get()) == 1;
  for (size_t i = 1; ok && i < chain.size(); ++i) {
    ok = SSL_CTX_add1_chain_cert(ctx, chain[i].get()) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    return error(ErrorCode::kInvalidArgument, "TLS: cannot use the certificates of " + cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return error(ErrorCode::kInvalidArgument,
                 "TLS: the key in " + key_file + " does not match the certificate in " + cert_file);
  }
  loaded.description = name_and_expiry(chain.front().get());
  return loaded;
}

Result<std::shared_ptr<TlsServerContext>> TlsServerContext::load(std::string cert_file,
                                                                 std::string key_file) {
  OUTPOST_ASSIGN_OR_RETURN(Loaded loaded, build(cert_file, key_file));
  auto made = std::shared_ptr<TlsServerContext>(new TlsServerContext());
  made->cert_file_ = std::move(cert_file);
  made->key_file_ = std::move(key_file);
  made->loaded_ = std::move(loaded);
  return made;
}

Status TlsServerContext::reload() {
  OUTPOST_ASSIGN_OR_RETURN(Loaded loaded, build(cert_file_, key_file_));
  std::lock_guard lock(mutex_);
  loaded_ = std::move(loaded);
  return Status::Ok();
}

std::shared_ptr<boost::asio::ssl::context> TlsServerContext::current() const {
  std::lock_guard lock(mutex_);
  return loaded_.context;
}

std::string TlsServerContext::describe() const {
  std::lock_guard lock(mutex_);
  return loaded_.description;
}

}  // namespace outpost
