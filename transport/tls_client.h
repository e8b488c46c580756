// What the device trusts when it speaks TLS (https://, wss://): the system store by
// default, an app's own CA certificates, or one pinned server certificate — and the clear
// error a refused certificate becomes. Used by the agent's session (decision 022).
// Thread rules: TlsClientOptions is a value; a TlsClientContext is immutable once created
// and shared by the agent's connections (any thread).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"

typedef struct ssl_st SSL;  // NOLINT: OpenSSL's own name
namespace boost::asio::ssl {
class context;
}

namespace outpost {

// What the agent trusts for an https:// or wss:// server. With nothing set, the system
// store (OpenSSL's default verify paths). The certificate's validity dates and the URL's
// host name (or IP address) are always checked.
struct TlsClientOptions {
  // CA certificates (PEM, one or more) trusted instead of the system store: a file, or
  // the text itself (an app bundling them). Both may be given.
  std::string ca_file;
  std::string ca_pem;
  // Certificate pinning: only this server certificate (PEM, the server's own leaf) is
  // accepted; it is its own trust anchor, so a self-signed one works. The CA options and
  // the system store are then not consulted.
  std::string pinned_cert_file;
  std::string pinned_cert_pem;
};

// What the message of a refused server certificate starts with ("TLS: untrusted server:
// ..."): the code is kFailedPrecondition, which no caller refreshes a token for or retries.
inline constexpr std::string_view kUntrustedServerPrefix = "TLS: untrusted server";

class TlsClientContext {
 public:
  // Errors: kInvalidArgument for a CA or pinned certificate that cannot be read or is not
  // PEM (the message names the file); kInternal when OpenSSL cannot set up a context.
  static Result<std::shared_ptr<TlsClientContext>> create(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  boost::asio::ssl::context& native() { return *context_; }

  // Before one connection's handshake: SNI (for a DNS name; RFC 6066 has none for an IP
  // address) and the host name or IP address the certificate must carry.
  // Errors: kInternal when OpenSSL refuses.
  Status prepare(SSL* ssl, const std::string& host) const;

  // After a failed handshake with `host`: kFailedPrecondition (not retryable), the message
  // led by kUntrustedServerPrefix, when the certificate failed verification, saying why
  // and against what; otherwise kUnavailable (the other end does not speak TLS, a reset),
  // with `failure` (the transport's message).
  Status handshake_failure(SSL* ssl, const std::string& host, std::string_view failure) const;

  // What is trusted, for messages: "the system store", "CA file ...", "the pinned
  // certificate".
  const std::string& trust() const { return trust_; }

 private:
  TlsClientContext() = default;

  std::unique_ptr<boost::asio::ssl::context> context_;
  std::string trust_;
  bool pinned_ = false;
};

}  // namespace outpost
