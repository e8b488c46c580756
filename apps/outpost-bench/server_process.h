// The real outpost-server binary as the benchmark's child process: seeded with
// `outpost-server seed`, run with `serve --listen 127.0.0.1:0`, measured from /proc (RSS,
// CPU time), stopped with SIGTERM. Tokens are signed with the data directory's key, the
// same one every server process of the run loads.
// Thread rules: one thread drives a ServerProcess; usage() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"
#include "outpost/protocol.pb.h"
#include "support/process.h"
#include "transport/token.h"

namespace outpost::bench {

struct ServerSetup {
  std::string server_bin;
  std::string data_dir;   // the key (token.key) and, for the embedded store, outpost.db
  std::string store_url;  // forwarded as --store when not empty
  int threads = 2;
  std::vector<std::string> extra_args;  // more `serve` flags (the push scenario's)
  // Both set: `serve --tls-cert --tls-key` (the servers speak https/wss).
  std::string tls_cert;
  std::string tls_key;
};

// What /proc says about a process.
struct ProcessUsage {
  double rss_mib = 0;       // VmRSS
  double peak_rss_mib = 0;  // VmHWM
  double cpu_seconds = 0;   // user + system
};
ProcessUsage process_usage(pid_t pid);
// Resets this process's peak RSS (VmHWM) to its current RSS (Linux clear_refs).
void reset_peak_rss();

// `outpost-server seed --data DIR [--store URL] --tenant T --user U --contacts N`.
Status seed_store(const ServerSetup& setup, const std::string& tenant, const std::string& user,
                  uint32_t contacts);

class ServerProcess {
 public:
  // Starts `serve` and waits (bounded) for its "listening on" line. `index` names its log.
  static Result<std::unique_ptr<ServerProcess>> start(const ServerSetup& setup, int index);
  ~ServerProcess();  // stop()s

  // SIGTERM, then waits for a graceful exit (SIGKILL after a bound). Errors: kInternal when
  // the server did not exit 0 (its log is in the message).
  Status stop();

  std::string url() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  // The admin listener (/metrics, the fleet console) on loopback.
  uint16_t admin_port() const { return admin_port_; }
  pid_t pid() const { return process_->pid(); }
  ProcessUsage usage() const { return process_usage(pid()); }
  std::string log_tail() const;

 private:
  ServerProcess() = default;
  std::unique_ptr<support::Process> process_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  bool tls_ = false;
  bool stopped_ = false;
};

// Signs device tokens with the run's key (DIR/token.key, created when missing).
class TokenIssuer {
 public:
  static Result<TokenIssuer> open(const std::string& data_dir);
  // Errors: those of TokenAuthority::issue.
  Result<std::string> issue(const std::string& tenant, const std::string& user,
                            const std::string& device) const;

 private:
  explicit TokenIssuer(std::string key) : authority_(std::make_shared<TokenAuthority>(key)) {}
  std::shared_ptr<TokenAuthority> authority_;
};

}  // namespace outpost::bench
