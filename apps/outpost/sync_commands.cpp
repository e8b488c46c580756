#include "apps/outpost/sync_commands.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <set>
#include <sstream>

#include "outpost/domain.pb.h"
#include "transport/sync_agent.h"

namespace outpost::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Without --budget, `sync` gives up after this many failed attempts in a row instead of
// retrying forever against a server that is down.
constexpr uint32_t kUnbudgetedMaxFailures = 5;
constexpr std::chrono::hours kNoBudget{24 * 365};
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 24;
// iOS gives a background push about 30 seconds; the app keeps a margin.
constexpr std::chrono::milliseconds kDefaultWakeBudget{25'000};

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buffer;
}

std::string human_duration(std::chrono::milliseconds elapsed) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2fs", static_cast<double>(elapsed.count()) / 1000.0);
  return buffer;
}

// One line per scope, redrawn in place: \r on the last line, cursor-up for the others.
class ProgressView {
 public:
  explicit ProgressView(std::ostream& out) : out_(out) {}

  void draw(const SyncProgress& progress, bool force) {
    auto now = Clock::now();
    if (!force && lines_ > 0 && now - last_draw_ < kRedrawInterval) return;
    last_draw_ = now;
    if (lines_ > 1) out_ << "\033[" << (lines_ - 1) << "A";
    if (lines_ > 0) out_ << "\r";
    size_t drawn = 0;
    for (const ScopeProgress& scope : progress.scopes) {
      if (drawn > 0) out_ << "\n";
      out_ << "\r\033[K" << line(scope);
      ++drawn;
    }
    lines_ = drawn;
    out_.flush();
  }

  void finish() {
    if (lines_ > 0) out_ << "\n";
    lines_ = 0;
    out_.flush();
  }

 private:
  static std::string line(const ScopeProgress& scope) {
    std::ostringstream text;
    char name[40];
    std::snprintf(name, sizeof(name), "%-24.24s", scope.scope.c_str());
    text << name << " [";
    const bool known = scope.records_total > 0;
    double fraction = 0;
    if (known) {
      fraction = static_cast<double>(scope.records_done) / static_cast<double>(scope.records_total);
      if (fraction > 1) fraction = 1;
    } else if (scope.phase == SyncPhase::kIdle) {
      fraction = 1;
    }
    int filled = static_cast<int>(fraction * kBarWidth);
    for (int i = 0; i < kBarWidth; ++i) text << (i < filled ? '#' : '-');
    text << "] " << scope.records_done;
    if (known) text << "/" << scope.records_total;
    text << " records  " << human_bytes(scope.bytes_done);
    if (scope.bytes_total > 0) text << "/" << human_bytes(scope.bytes_total);
    text << "  " << sync_phase_name(scope.phase);
    return text.str();
  }

  std::ostream& out_;
  size_t lines_ = 0;
  Clock::time_point last_draw_{};
};

// What the CLI reports as its app version (protocol DeviceReport) unless --app-version.
constexpr const char* kCliAppVersion = "outpost-cli/0.1.0";

struct Connection {
  std::string server;
  std::string token;
  std::string db;
  std::string app_version = kCliAppVersion;
  std::string ca_file;      // --ca: trust these CA certificates (https/wss)
  std::string pinned_file;  // --pin: accept only this server certificate (https/wss)
};

// --server and --token are required; the usage error is printed here.
bool connection_args(const ParsedArgs& args, Connection& connection, std::ostream& err) {
  auto server = args.flag("server");
  auto token = args.flag("token");
  auto db = args.flag("db");
  if (!server || !token || !db) {
    err << "outpost: " << args.positional[0] << " needs --db FILE --server URL --token TOKEN\n";
    return false;
  }
  connection.server = *server;
  connection.token = *token;
  connection.db = *db;
  connection.ca_file = args.flag("ca").value_or("");
  connection.pinned_file = args.flag("pin").value_or("");
  if (auto version = args.flag("app-version")) connection.app_version = *version;
  return true;
}

Result<std::unique_ptr<SyncAgent>> open_agent(const Connection& connection,
                                              SyncAgentOptions options) {
  options.server_url = connection.server;
  options.token = connection.token;
  options.replica_path = connection.db;
  options.client.app_version = connection.app_version;
  options.tls.ca_file = connection.ca_file;
  options.tls.pinned_cert_file = connection.pinned_file;
  return SyncAgent::open(std::move(options));
}

std::set<uint64_t> rejected_ids(SyncAgent& agent) {
  std::set<uint64_t> ids;
  (void)agent.with_replica([&](Replica& replica) {
    auto rejected = replica.rejected();
    if (!rejected.ok()) return;
    for (const auto& mutation : *rejected) ids.insert(mutation.id);
  });
  return ids;
}

// What --prefetch fetched of the voicemail audio after the records.
void print_prefetch(const PrefetchReport& prefetch, std::ostream& out) {
  out << "  voicemail audio     " << prefetch.fetched << " fetched (" << human_bytes(prefetch.bytes)
      << "), " << prefetch.already_cached << " cached, " << prefetch.left_for_later
      << " left for later, " << prefetch.failed << " failed\n";
  if (!prefetch.last_error.ok()) out << "    " << prefetch.last_error.to_string() << "\n";
}

int sync_command(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  Connection connection;
  if (!connection_args(args, connection, err)) return kExitUsage;
  std::chrono::milliseconds budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(kNoBudget);
  SyncForOptions for_options;
  for_options.max_consecutive_failures = kUnbudgetedMaxFailures;
  if (auto text = args.flag("budget")) {
    char* end = nullptr;
    double seconds = std::strtod(text->c_str(), &end);
    if (end == text->c_str() || *end != '\0' || !(seconds > 0) || seconds > 86400.0 * 365) {
      err << "outpost: --budget needs a positive number of seconds\n";
      return kExitUsage;
    }
    budget = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    for_options.max_consecutive_failures = 0;  // keep trying until the budget ends
  }

  const bool tty = isatty(STDOUT_FILENO) == 1;
  ProgressView view(out);
  SyncAgentOptions options;
  if (tty)
    options.on_progress = [&view](const SyncProgress& progress) { view.draw(progress, false); };
  options.prefetch_voicemail_audio = args.has("prefetch");
  if (auto blobs = args.flag("blobs")) options.blob_cache_dir = *blobs;
  auto agent = open_agent(connection, std::move(options));
  if (!agent.ok()) {
    err << "outpost: " << agent.status().to_string() << "\n";
    return kExitError;
  }
  std::set<uint64_t> rejected_before = rejected_ids(**agent);
  const bool options_prefetch = args.has("prefetch");

  SyncSummary summary = (*agent)->sync_for(budget, for_options);  // stops the agent again

  if (tty) {
    view.draw(summary.progress, true);
    view.finish();
  }
  uint64_t records = 0;
  for (const ScopeProgress& scope : summary.progress.scopes) records += scope.records_done;
  out << (summary.caught_up          ? "caught up"
          : summary.budget_exhausted ? "budget ran out"
                                     : "failed")
      << " in " << human_duration(summary.elapsed) << "\n";
  out << "  records applied     " << records << "\n";
  out << "  mutations pushed    " << summary.stats.mutations_pushed << ", confirmed "
      << summary.progress.mutations_confirmed << ", rejected "
      << summary.progress.mutations_rejected << ", pending " << summary.progress.pending_mutations
      << "\n";
  (void)(*agent)->with_replica([&](Replica& replica) {
    auto rejected = replica.rejected();
    if (!rejected.ok()) return;
    for (const auto& mutation : *rejected) {
      if (rejected_before.count(mutation.id) != 0) continue;
      out << "    rejected #" << mutation.id << " " << mutation.name << ": " << mutation.code
          << ": " << mutation.reason << "\n";
    }
  });
  out << "  wire                " << human_bytes(summary.stats.bytes_received) << " received, "
      << summary.stats.frames_sent << " requests, " << summary.stats.connects << " connection"
      << (summary.stats.connects == 1 ? "" : "s") << "\n";
  if (options_prefetch) print_prefetch(summary.prefetch, out);
  out.flush();
  if (summary.caught_up) return kExitOk;
  err << "outpost: " << summary.status.to_string() << "\n";
  return summary.budget_exhausted ? kExitBudget : kExitError;
}

const char* op_name(bool present) {
  return present ? "put" : "delete";
}

int watch_command(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  Connection connection;
  if (!connection_args(args, connection, err)) return kExitUsage;

  // SIGINT/SIGTERM are taken with sigtimedwait on this thread; block them before the
  // agent's threads exist so they inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);

  SyncAgentOptions options;
  options.on_state = [&err, server = connection.server](AgentState state, const Status& status,
                                                        uint64_t delay_ms) {
    switch (state) {
      case AgentState::kConnected:
        if (status.ok())
          err << "connected to " << server << "\n";
        else
          err << "retrying in " << delay_ms << " ms: " << status.to_string() << "\n";
        break;
      case AgentState::kBackoff:
        err << "disconnected (" << status.to_string() << "); reconnecting in " << delay_ms
            << " ms\n";
        break;
      case AgentState::kFailed:
        err << "failed: " << status.to_string() << "\n";
        break;
      default:
        break;
    }
    err.flush();
  };
  auto opened = open_agent(connection, std::move(options));
  if (!opened.ok()) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    err << "outpost: " << opened.status().to_string() << "\n";
    return kExitError;
  }
  SyncAgent& agent = **opened;
  // Notifications run on the loop thread (via loop_executor), after the commit, where the
  // replica may be read to tell a put from a delete.
  agent.subscribe(
      [&agent, &out](const ChangeSet& changes) {
        // Another process changed more than the replica's journal could say key by key.
        if (changes.everything_changed) out << "*\t*\treload\n";
        for (const auto& [collection, keys] : changes.keys) {
          for (const std::string& key : keys) {
            auto record = agent.replica().get(collection, key);
            bool present = record.ok() && *record != nullptr;
            out << collection << "\t" << key << "\t" << op_name(present) << "\n";
          }
        }
        out.flush();
      },
      agent.loop_executor());
  Status started = agent.start();
  if (!started.ok()) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    err << "outpost: " << started.to_string() << "\n";
    return kExitError;
  }
  int exit_code = kExitOk;
  for (;;) {
    timespec timeout{0, 250'000'000};
    int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGINT || signal == SIGTERM) break;
    if (agent.state() == AgentState::kFailed) {
      exit_code = kExitError;
      break;
    }
  }
  agent.stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // What arrived how: pulled, or carried with the poke (decision 032).
  const SyncStats stats = agent.stats();
  err << "stopped: " << stats.changes_received << " changes received, " << stats.carried_applied
      << " commits carried with the poke applied, " << stats.carried_refused << " refused\n";
  return exit_code;
}

// What a woken app does (a push arrived): open the replica, sync for the budget a
// background task gets (urgent records first), show what the user would see, exit.
int wake_command(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  const auto started = Clock::now();
  Connection connection;
  if (!connection_args(args, connection, err)) return kExitUsage;
  std::chrono::milliseconds budget = kDefaultWakeBudget;
  if (auto text = args.flag("budget")) {
    char* end = nullptr;
    double seconds = std::strtod(text->c_str(), &end);
    if (end == text->c_str() || *end != '\0' || !(seconds > 0) || seconds > 3600) {
      err << "outpost: --budget needs a positive number of seconds (at most 3600)\n";
      return kExitUsage;
    }
    budget = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  SyncAgentOptions options;
  options.urgent_first = true;  // a woken app with little time: urgent records first
  // On an unmetered network the app also fetches new voicemail audio within the budget, so
  // it plays offline later (--prefetch).
  options.prefetch_voicemail_audio = args.has("prefetch");
  if (auto blobs = args.flag("blobs")) options.blob_cache_dir = *blobs;
  auto agent = open_agent(connection, std::move(options));
  if (!agent.ok()) {
    err << "outpost: " << agent.status().to_string() << "\n";
    return kExitError;
  }
  // The moment the first voicemail change is on the device (readable by the UI).
  std::atomic<int64_t> voicemail_at_us{-1};
  (*agent)->subscribe([&voicemail_at_us, started](const ChangeSet& changes) {
    if (changes.keys.count("voicemail") == 0 || voicemail_at_us.load() >= 0) return;
    voicemail_at_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  });
  SyncForOptions for_options;
  for_options.max_consecutive_failures = 0;
  SyncSummary summary = (*agent)->sync_for(budget, for_options);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  out << (summary.caught_up ? "woke and caught up" : "woke, not caught up") << " in "
      << human_duration(elapsed) << "\n";
  if (voicemail_at_us.load() >= 0) {
    out << "  voicemail readable  " << voicemail_at_us.load() / 1000.0 << " ms after start\n";
  }
  (void)(*agent)->with_replica([&](Replica& replica) {
    auto rows = replica.sql(
        "SELECT id, caller_name FROM c_voicemail WHERE read = 0 ORDER BY received_ms DESC");
    if (!rows.ok()) return;
    out << "  unread voicemail    " << rows->rows.size() << "\n";
    for (const auto& row : rows->rows) {
      out << "    " << std::get<std::string>(row[0]) << "\t" << std::get<std::string>(row[1])
          << "\n";
    }
    auto state = replica.sql("SELECT presence FROM c_agent_state");
    if (state.ok() && !state->rows.empty() && std::holds_alternative<int64_t>(state->rows[0][0])) {
      const int64_t presence = std::get<int64_t>(state->rows[0][0]);
      out << "  presence            "
          << domain::Presence_Name(static_cast<domain::Presence>(presence)) << "\n";
    }
  });
  if (args.has("prefetch")) print_prefetch(summary.prefetch, out);
  out.flush();
  if (summary.caught_up) return kExitOk;
  err << "outpost: " << summary.status.to_string() << "\n";
  return summary.budget_exhausted ? kExitBudget : kExitError;
}

}  // namespace

bool is_sync_command(const std::string& command) {
  return command == "sync" || command == "watch" || command == "wake";
}

int run_sync_command(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 1) {
    err << "outpost: " << args.positional[0] << " takes no arguments\n";
    return kExitUsage;
  }
  if (args.positional[0] == "sync") return sync_command(args, out, err);
  if (args.positional[0] == "wake") return wake_command(args, out, err);
  return watch_command(args, out, err);
}

}  // namespace outpost::cli
