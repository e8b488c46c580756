#include "apps/outpost-bench/server_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "transport/token_key_file.h"

namespace outpost::bench {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(60);
// Seeding 100k contacts takes a few seconds; 2M (the --records bound) a few minutes.
constexpr auto kSeedTimeout = std::chrono::minutes(20);
constexpr size_t kLogTailBytes = 2000;
constexpr int64_t kTokenTtlMs = 24LL * 3600 * 1000;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string tail(const std::string& text) {
  return text.size() <= kLogTailBytes ? text : text.substr(text.size() - kLogTailBytes);
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProcessUsage process_usage(pid_t pid) {
  ProcessUsage usage;
  const std::string base = "/proc/" + std::to_string(pid);
  std::istringstream status(read_file(base + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) usage.rss_mib = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) usage.peak_rss_mib = std::stod(line.substr(6)) / 1024;
  }
  // /proc/PID/stat: the command (field 2) may hold spaces; the fields after its ')' are
  // state(3) ... utime(14) stime(15).
  const std::string stat = read_file(base + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    double ticks = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n == 14 || n == 15) ticks += std::stod(field);
    }
    usage.cpu_seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return usage;
}

void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

Status seed_store(const ServerSetup& setup, const std::string& tenant, const std::string& user,
                  uint32_t contacts) {
  std::vector<std::string> argv = {setup.server_bin, "seed", "--data", setup.data_dir};
  if (!setup.store_url.empty()) {
    argv.push_back("--store");
    argv.push_back(setup.store_url);
  }
  for (const std::string& arg : {std::string("--tenant"), tenant, std::string("--user"), user,
                                 std::string("--contacts"), std::to_string(contacts)}) {
    argv.push_back(arg);
  }
  std::string output;
  const int code = support::run_command(argv, &output, kSeedTimeout);
  if (code != 0) {
    return error(ErrorCode::kInternal,
                 "outpost-server seed exited " + std::to_string(code) + ": " + tail(output));
  }
  return Status::Ok();
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::start(const ServerSetup& setup, int index) {
  std::vector<std::string> argv = {
      setup.server_bin, "serve",       "--data",    setup.data_dir,
      "--listen",       "127.0.0.1:0", "--threads", std::to_string(setup.threads)};
  if (!setup.store_url.empty()) {
    argv.push_back("--store");
    argv.push_back(setup.store_url);
  }
  argv.insert(argv.end(), setup.extra_args.begin(), setup.extra_args.end());
  if (!setup.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", setup.tls_cert, "--tls-key", setup.tls_key});
  }
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->tls_ = !setup.tls_cert.empty();
  const std::string log = setup.data_dir + "/server-" + std::to_string(index) + ".log";
  server->process_ = std::make_unique<support::Process>(argv, log);
  if (server->process_->pid() <= 0) {
    return error(ErrorCode::kInternal, "cannot start " + setup.server_bin);
  }
  const std::string marker = "listening on 127.0.0.1:";
  const std::string admin_marker = "admin on 127.0.0.1:";
  if (!server->process_->wait_for_output(admin_marker, kStartTimeout)) {
    server->stopped_ = true;
    return error(ErrorCode::kUnavailable,
                 "outpost-server did not start: " + tail(server->process_->output()));
  }
  const std::string output = server->process_->output();
  server->port_ =
      static_cast<uint16_t>(std::stoi(output.substr(output.find(marker) + marker.size())));
  server->admin_port_ = static_cast<uint16_t>(
      std::stoi(output.substr(output.find(admin_marker) + admin_marker.size())));
  return server;
}

ServerProcess::~ServerProcess() {
  (void)stop();
}

Status ServerProcess::stop() {
  if (stopped_ || !process_) return Status::Ok();
  stopped_ = true;
  process_->signal(SIGTERM);
  const int code = process_->wait(kStopTimeout);
  if (code != 0) {
    return error(ErrorCode::kInternal,
                 "outpost-server exited " + std::to_string(code) + ": " + log_tail());
  }
  return Status::Ok();
}

std::string ServerProcess::log_tail() const {
  return tail(process_->output());
}

Result<TokenIssuer> TokenIssuer::open(const std::string& data_dir) {
  OUTPOST_ASSIGN_OR_RETURN(std::string key, load_or_create_key(data_dir));
  return TokenIssuer(std::move(key));
}

Result<std::string> TokenIssuer::issue(const std::string& tenant, const std::string& user,
                                       const std::string& device) const {
  protocol::TokenClaims claims;
  claims.set_tenant(tenant);
  claims.set_user(user);
  claims.set_device(device);
  claims.set_issued_ms(wall_ms());
  claims.set_expires_ms(claims.issued_ms() + kTokenTtlMs);
  return authority_->issue(claims);
}

}  // namespace outpost::bench
