// The server's TLS certificate and key (outpost-server serve --tls-cert/--tls-key), reloadable
// while it runs: every new connection takes the current context; reload() (on SIGHUP)
// builds a new one from the files and swaps it in, and connections already open keep the
// one they started with (decision 022).
// Thread rules: all members are safe from any thread (the current context is swapped under
// a mutex; a context is immutable once built).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "engine/status.h"

namespace boost::asio::ssl {
class context;
}

namespace outpost {

class TlsServerContext {
 public:
  // Reads the certificate chain (PEM: the server's certificate first, then intermediates)
  // and its private key (PEM, unencrypted). Errors: kInvalidArgument naming the file (not
  // readable, not PEM, a key that does not match the certificate); kInternal when OpenSSL
  // cannot set up a context.
  static Result<std::shared_ptr<TlsServerContext>> load(std::string cert_file,
                                                        std::string key_file);
  // Reads both files again. On success new connections use the new certificate; on any
  // error nothing changes (the old certificate stays in use) and the error is returned.
  Status reload();
  // The context a new connection uses; keep the pointer for the connection's life.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  // The current certificate's subject and expiry, for the log.
  std::string describe() const;

 private:
  struct Loaded {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string description;
  };
  static Result<Loaded> build(const std::string& cert_file, const std::string& key_file);

  std::string cert_file_;
  std::string key_file_;
  mutable std::mutex mutex_;
  Loaded loaded_;  // guarded by mutex_
};

}  // namespace outpost
