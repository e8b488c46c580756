#include "apps/outpost-bench/idle_workers.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "apps/outpost-bench/idle_fleet.h"
#include "support/process.h"
#include "transport/server_address.h"

namespace outpost::bench {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// The first stage's size, as in the in-process fleet: the earlier runs' figure.
constexpr int kBaselineConnections = 10'000;
// How long a worker waits for the bench's next step, and the bench for a worker's line
// beyond the step's own bound (opening is bounded by kOpenTimeout).
constexpr auto kStepTimeout = std::chrono::minutes(10);
constexpr auto kLineSlack = std::chrono::seconds(60);

// What a worker is told: its stages (cumulative counts of its clients), how long to hold
// each, its clients. The file: "hold SECONDS", "stages N N ..", then one line per client:
// "PORT INDEX TARGET TOKEN".
struct WorkerSpec {
  std::chrono::seconds hold{0};
  std::vector<int> stages;
  std::vector<IdleClientSpec> clients;
};

Result<WorkerSpec> read_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error(ErrorCode::kNotFound, "cannot read " + path);
  WorkerSpec spec;
  std::string word, line;
  int seconds = 0;
  if (!(in >> word >> seconds) || word != "hold") {
    return error(ErrorCode::kInvalidArgument, path + ": no hold line");
  }
  spec.hold = std::chrono::seconds(seconds);
  std::getline(in, line);
  if (!std::getline(in, line)) return error(ErrorCode::kInvalidArgument, path + ": no stages");
  std::istringstream stages(line);
  stages >> word;
  for (int n = 0; stages >> n;) spec.stages.push_back(n);
  unsigned short port = 0;
  IdleClientSpec client;
  std::string token;
  while (in >> port >> client.index >> client.target >> token) {
    client.endpoint = tcp::endpoint(net::ip::make_address("127.0.0.1"), port);
    client.authorization = "Bearer " + token;
    spec.clients.push_back(client);
  }
  if (spec.stages.empty()) return error(ErrorCode::kInvalidArgument, path + ": no stages");
  return spec;
}

void say(const std::string& line) {
  fprintf(stdout, "%s\n", line.c_str());
  fflush(stdout);
}

std::string counts(const IdleCounters& c) {
  return "opened=" + std::to_string(c.opened) + " failed=" + std::to_string(c.failed) +
         " dropped=" + std::to_string(c.dropped) + " ponged=" + std::to_string(c.ponged) +
         " first_error=" + c.first_error;
}

// A worker's progress line: "WHAT opened=N failed=N dropped=N ponged=N first_error=...".
struct WorkerLine {
  int opened = 0, failed = 0, dropped = 0, ponged = 0;
  std::string first_error;
};

WorkerLine parse_line(const std::string& output, const std::string& prefix) {
  WorkerLine line;
  size_t at = output.rfind("\n" + prefix);
  if (at == std::string::npos) return line;
  ++at;
  const std::string text = output.substr(at, output.find('\n', at) - at);
  auto field = [&](const std::string& name) {
    const size_t pos = text.find(" " + name + "=");
    return pos == std::string::npos ? std::string() : text.substr(pos + name.size() + 2);
  };
  line.opened = std::atoi(field("opened").c_str());
  line.failed = std::atoi(field("failed").c_str());
  line.dropped = std::atoi(field("dropped").c_str());
  line.ponged = std::atoi(field("ponged").c_str());
  line.first_error = field("first_error");
  return line;
}

double servers_rss(BenchContext& context, std::string* each = nullptr) {
  double rss = 0;
  for (auto& server : context.servers) {
    const double one = server->usage().rss_mib;
    rss += one;
    if (each) *each += (each->empty() ? "" : ",") + std::to_string(static_cast<int>(one));
  }
  return rss;
}

// The machine's TCP buffer memory (/proc/net/sockstat "TCP: ... mem PAGES"), both ends of
// every loopback connection: kernel memory, in no process's RSS.
double tcp_buffers_mib() {
  std::ifstream in("/proc/net/sockstat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    const size_t at = line.find(" mem ");
    if (at == std::string::npos) return 0;
    return std::atof(line.c_str() + at + 5) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
           (1024.0 * 1024.0);
  }
  return 0;
}

}  // namespace

int run_idle_worker(const std::string& spec_path) {
  auto spec = read_spec(spec_path);
  if (!spec.ok()) {
    fprintf(stderr, "outpost-bench --idle-worker: %s\n", spec.status().to_string().c_str());
    return 1;
  }
  auto messages = client_messages(StreamFormat::kMessage);
  if (!messages.ok()) return 1;
  net::io_context io;
  // The bench's SIGUSR1 is the next step; the handler is in place before the first line.
  net::signal_set signals(io, SIGUSR1);
  int steps = 0;
  std::function<void()> arm = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      ++steps;
      arm();
    });
  };
  arm();
  auto wait_step = [&](int step) {
    const auto deadline = IdleClock::now() + kStepTimeout;
    while (steps < step && IdleClock::now() < deadline) {
      run_for(io, std::chrono::milliseconds(50));
    }
    return steps >= step;
  };
  IdleCounters counters;
  IdleFleet fleet(io, counters, std::move(spec->clients), StreamFormat::kMessage);
  say("worker " + std::to_string(getpid()));  // every later line follows a newline
  int step = 0;
  for (size_t k = 0; k < spec->stages.size(); ++k) {
    fleet.open_to(spec->stages[k]);
    run_for(io, spec->hold);
    say("stage " + std::to_string(k) + " " + counts(counters));
    if (!wait_step(++step)) return 1;
  }
  fleet.ping_all(counters.opened - counters.dropped, messages->ping);
  run_for(io, spec->hold);
  say("ping " + counts(counters));
  (void)wait_step(++step);
  fleet.close_all();
  say("closed " + counts(counters));
  return 0;
}

bool idle_needs_workers(const BenchContext& context, int connections) {
  return context.options.servers > 1 && connections > descriptor_room();
}

Status run_idle_in_workers(BenchContext& context, const std::vector<std::string>& tokens,
                           int connections, std::chrono::seconds hold) {
  (void)context.stop_servers();
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  std::vector<unsigned short> ports;
  std::vector<std::string> targets;
  for (size_t i = 0; i < context.servers.size(); ++i) {
    OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(context.server_url(i)));
    ports.push_back(static_cast<unsigned short>(std::stoi(address.port)));
    targets.push_back(address.stream_target());
  }
  const double rss_before = servers_rss(context);
  const double tcp_before = tcp_buffers_mib();
  const int room = descriptor_room();
  const int servers = static_cast<int>(ports.size());
  const int target = std::min({connections, room * servers, static_cast<int>(tokens.size())});
  const int workers = std::max(1, (target + room - 1) / std::max(room, 1));
  std::vector<int> totals = {std::min(kBaselineConnections, target)};
  if (target > totals.front()) totals.push_back(target);

  // Client i talks to server i % servers from worker i % workers.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::unique_ptr<support::Process>> children;
  for (int w = 0; w < workers; ++w) {
    const std::string path = context.work_dir + "/idle-worker-" + std::to_string(w);
    std::ofstream spec(path + ".spec");
    spec << "hold " << hold.count() << "\nstages";
    for (int total : totals) spec << " " << (total > w ? (total - w + workers - 1) / workers : 0);
    spec << "\n";
    for (int i = w; i < target; i += workers) {
      const auto server = static_cast<size_t>(i % servers);
      spec << ports[server] << " " << i << " " << targets[server] << " "
           << tokens[static_cast<size_t>(i)] << "\n";
    }
    spec.close();
    children.push_back(std::make_unique<support::Process>(
        std::vector<std::string>{self, "--idle-worker", path + ".spec"}, path + ".log"));
    if (children.back()->pid() <= 0) return error(ErrorCode::kInternal, "cannot start " + self);
  }
  // Every worker's line for one step, summed; an error when one is late.
  auto collect = [&](const std::string& prefix) -> Result<WorkerLine> {
    WorkerLine sum;
    for (auto& child : children) {
      if (!child->wait_for_output("\n" + prefix, kOpenTimeout + hold + kLineSlack)) {
        return error(ErrorCode::kUnavailable, "idle worker " + std::to_string(child->pid()) +
                                                  " printed no '" + prefix +
                                                  "': " + child->output().substr(0, 500));
      }
      const WorkerLine one = parse_line(child->output(), prefix);
      sum.opened += one.opened;
      sum.failed += one.failed;
      sum.dropped += one.dropped;
      sum.ponged += one.ponged;
      if (sum.first_error.empty()) sum.first_error = one.first_error;
    }
    return sum;
  };
  auto next_step = [&] {
    for (auto& child : children) child->signal(SIGUSR1);
  };

  struct StageFigure {
    int open = 0;
    double rss = 0;
    double kib = 0;
  };
  std::vector<StageFigure> stages;
  const auto start = IdleClock::now();
  WorkerLine last;
  for (size_t k = 0; k < totals.size(); ++k) {
    OUTPOST_ASSIGN_OR_RETURN(last, collect("stage " + std::to_string(k) + " "));
    StageFigure stage{last.opened - last.dropped, servers_rss(context)};
    stage.kib = stage.open > 0 ? (stage.rss - rss_before) * 1024 / stage.open : 0;
    stages.push_back(stage);
    next_step();
  }
  const double open_seconds = std::chrono::duration<double>(IdleClock::now() - start).count();
  const double tcp_held = tcp_buffers_mib();
  std::string each_before_ping;
  (void)servers_rss(context, &each_before_ping);
  OUTPOST_ASSIGN_OR_RETURN(WorkerLine pinged, collect("ping "));
  std::string each_after_ping;
  const double rss_after_ping = servers_rss(context, &each_after_ping);
  next_step();
  for (auto& child : children) (void)child->wait(std::chrono::seconds(60));
  if (last.opened == 0) {
    return error(ErrorCode::kUnavailable,
                 "no idle connection could be opened: " + last.first_error);
  }

  const StageFigure& full = stages.back();
  const StageFigure& first = stages.front();
  std::vector<Param> params = context.common_params();
  for (Param p : {param("target", connections), param("descriptor_room", room),
                  param("client_processes", workers), param("stream_format", 2),
                  param("opened", last.opened), param("failed", last.failed),
                  param("dropped", pinged.dropped), param("open_seconds", open_seconds),
                  param("hold_seconds", static_cast<int>(hold.count()))}) {
    params.push_back(std::move(p));
  }
  if (!last.first_error.empty()) params.push_back(param("first_error", last.first_error));
  context.report.add({"idle_connections", static_cast<double>(full.open), "connections",
                      static_cast<double>(connections),
                      static_cast<double>(full.open) / connections, params});
  for (Param p :
       {param("rss_before_mib", rss_before), param("kib_per_connection", full.kib),
        param("rss_per_server_mib", each_before_ping), param("tcp_buffers_mib_before", tcp_before),
        param("tcp_buffers_mib_held", tcp_held)}) {
    params.push_back(std::move(p));
  }
  context.report.add({"idle_connections.server_rss", full.rss, "MiB", 0, 0, params});
  std::vector<Param> per_connection = context.common_params();
  for (Param p : {param("connections", full.open), param("baseline_connections", first.open),
                  param("rss_mib", full.rss), param("baseline_rss_mib", first.rss),
                  param("rss_before_mib", rss_before), param("client_processes", workers)}) {
    per_connection.push_back(std::move(p));
  }
  const double baseline = stages.size() > 1 ? first.kib : 0.0;
  context.report.add({"idle_connections.kib_per_connection", full.kib, "KiB", baseline,
                      baseline > 0 ? full.kib / baseline : 0, per_connection});
  std::vector<Param> after_ping = context.common_params();
  for (Param p : {param("connections", full.open), param("ponged", pinged.ponged),
                  param("rss_mib", rss_after_ping), param("rss_before_ping_mib", full.rss),
                  param("rss_per_server_mib", each_after_ping), param("stream_format", 2)}) {
    after_ping.push_back(std::move(p));
  }
  const double kib_after_ping =
      full.open > 0 ? (rss_after_ping - rss_before) * 1024 / full.open : 0.0;
  context.report.add({"idle_connections.kib_per_connection_after_ping", kib_after_ping, "KiB",
                      full.kib, full.kib > 0 ? kib_after_ping / full.kib : 0, after_ping});
  return Status::Ok();
}

}  // namespace outpost::bench
