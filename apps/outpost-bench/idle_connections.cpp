#include "apps/outpost-bench/idle_connections.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "apps/outpost-bench/idle_reader.h"
#include "apps/outpost-bench/idle_workers.h"
#include "apps/outpost-bench/ops_scenarios.h"
#include "outpost/mutations.pb.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kPokeRoundTimeout = std::chrono::seconds(20);
constexpr auto kPokePause = std::chrono::milliseconds(200);
constexpr auto kWriterReadyTimeout = std::chrono::seconds(30);
// The first stage's size: the figure of the earlier runs, the baseline per connection.
constexpr int kBaselineConnections = 10'000;

double servers_rss_mib(BenchContext& context) {
  double rss = 0;
  for (auto& server : context.servers) rss += server->usage().rss_mib;
  return rss;
}

// The servers' RSS with `open` idle connections held.
struct Stage {
  int open = 0;
  double rss_mib = 0;
  double kib_per_connection = 0;
};

// The open clients' sockets under one IdleReader for the rounds (decision 047), with each
// one's place in them: the same reader for every format and baseline of the scenario.
struct ReaderFleet {
  explicit ReaderFleet(IdleCounters& counters)
      : counters(counters),
        reader([this](size_t index, Clock::time_point readable,
                      Clock::time_point arrived) { on_message(index, readable, arrived); },
               [this](size_t) { ++this->counters.dropped; }) {}

  Status add(int fd) {
    OUTPOST_RETURN_IF_ERROR(reader.add(fd));
    poked_round.push_back(0);
    awaiting_answer.push_back(false);
    return Status::Ok();
  }

  // Reads for `duration` (one epoll wake-up at a time).
  void run_for(Clock::duration duration) {
    const auto until = Clock::now() + duration;
    do {
      reader.poll(std::chrono::milliseconds(1));
    } while (Clock::now() < until);
  }

  // A message: the answer to the announcing pull, or this round's frame (counted once per
  // connection, at the time its socket was readable).
  void on_message(size_t index, Clock::time_point readable, Clock::time_point arrived) {
    if (awaiting_answer[index]) {
      awaiting_answer[index] = false;
      ++counters.answered;
    } else if (counters.round > poked_round[index]) {
      poked_round[index] = counters.round;
      ++counters.poked;
      counters.poke_ms.push_back(
          std::chrono::duration<double, std::milli>(readable - counters.round_started).count());
      counters.arrived_ms.push_back(
          std::chrono::duration<double, std::milli>(arrived - counters.round_started).count());
    }
  }

  IdleCounters& counters;
  std::vector<int> poked_round;
  std::vector<bool> awaiting_answer;
  IdleReader reader;
};

// Poke rounds: the writer saves a draft, and the time until each open connection has the
// round's frame (a poke, or the carried changes) is one sample. The servers' CPU time and
// the load average over the rounds come with them.
struct PokeRounds {
  std::vector<double> ms;
  std::vector<double> arrived_ms;  // when the kernel queued each frame on its socket
  int incomplete = 0;
  double server_cpu_seconds = 0;
  double load_before = 0, load_after = 0;
};

double servers_cpu_seconds(BenchContext& context) {
  double cpu = 0;
  for (auto& server : context.servers) cpu += server->usage().cpu_seconds;
  return cpu;
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : 0.0;
}

Result<PokeRounds> poke_rounds(BenchContext& context, ReaderFleet& readers, SyncAgent& writer,
                               int open, int rounds, int first_round) {
  IdleCounters& counters = readers.counters;
  counters.poke_ms.clear();
  counters.arrived_ms.clear();
  PokeRounds out;
  out.load_before = load_average();
  const double cpu_before = servers_cpu_seconds(context);
  for (int round = first_round; round < first_round + rounds; ++round) {
    counters.poked = 0;
    counters.round_started = Clock::now();
    counters.round = round;
    OUTPOST_RETURN_IF_ERROR(writer.post([round](Replica& replica) {
      mutations::SaveDraft args;
      args.mutable_draft()->set_id("draft-idle");
      args.mutable_draft()->set_interaction_id("conv-idle");
      args.mutable_draft()->set_body("revision " + std::to_string(round));
      (void)replica.mutate("save_draft", args, round);
    }));
    const auto round_deadline = Clock::now() + kPokeRoundTimeout;
    while (counters.poked < open && Clock::now() < round_deadline) {
      readers.reader.poll(std::chrono::milliseconds(1));
    }
    if (counters.poked < open) ++out.incomplete;
    counters.round = 0;
    readers.run_for(kPokePause);
  }
  out.server_cpu_seconds = servers_cpu_seconds(context) - cpu_before;
  out.load_after = load_average();
  out.ms = std::move(counters.poke_ms);
  out.arrived_ms = std::move(counters.arrived_ms);
  return out;
}

// One fleet of idle clients in one stream format against freshly started servers: opened
// in stages, held, one ping each, then (format 1 only, the decision-032 baseline) plain
// poke rounds, then each announces carried changes and the same rounds carry the change.
struct FleetRun {
  std::vector<Stage> stages;
  double rss_before = 0;
  double rss_after_ping = 0;
  double open_seconds = 0;
  int room = 0;
  int opened = 0, failed = 0, dropped = 0, ponged = 0, announced = 0;
  int dropped_in_rounds = 0;  // connections lost between the hand-over and the end
  std::string first_error;
  PokeRounds plain;
  PokeRounds carried;
  uint64_t carried_sent = 0, carried_encodings = 0, carried_compressions = 0;
};

// What every round figure carries besides its percentile: the servers' CPU per delivered
// frame over the rounds (load-independent evidence) and the load average around them.
void add_round_params(std::vector<Param>& params, const PokeRounds& rounds) {
  const double delivered = static_cast<double>(rounds.ms.size());
  params.push_back(param("server_cpu_seconds", rounds.server_cpu_seconds));
  params.push_back(param("server_cpu_us_per_delivery",
                         delivered > 0 ? rounds.server_cpu_seconds * 1e6 / delivered : 0.0));
  params.push_back(param("load_before", rounds.load_before));
  params.push_back(param("load_after", rounds.load_after));
}

uint64_t event_delta(const Result<uint64_t>& before, const Result<uint64_t>& after) {
  return before.ok() && after.ok() ? *after - *before : 0;
}

Result<FleetRun> run_fleet(BenchContext& context, const std::vector<std::string>& tokens,
                           int connections, std::chrono::seconds hold, int rounds,
                           StreamFormat format, bool with_plain_rounds) {
  FleetRun run;
  // Fresh servers for each fleet: what one format leaves allocated is not the other's.
  (void)context.stop_servers();  // what an earlier scenario left running
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  const int scrapes = context.options.quick ? 3 : 20;
  if (with_plain_rounds) OUTPOST_RETURN_IF_ERROR(measure_admin(context, 0, scrapes, false));
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::string> targets;
  for (size_t i = 0; i < context.servers.size(); ++i) {
    OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(context.server_url(i)));
    endpoints.emplace_back(net::ip::make_address("127.0.0.1"),
                           static_cast<unsigned short>(std::stoi(address.port)));
    targets.push_back(address.stream_target());
  }
  OUTPOST_ASSIGN_OR_RETURN(ClientMessages messages, client_messages(format));
  run.rss_before = servers_rss_mib(context);

  // What the descriptor limit lets open: the clients all live in this process, each
  // server holds its share.
  run.room = descriptor_room();
  const int target =
      std::min({connections, run.room, run.room * static_cast<int>(endpoints.size())});

  net::io_context io;
  IdleCounters counters;
  std::vector<IdleClientSpec> specs;
  for (int i = 0; i < target; ++i) {
    const auto index = static_cast<size_t>(i);
    const size_t server = index % endpoints.size();
    specs.push_back({endpoints[server], targets[server], "Bearer " + tokens[index], i});
  }
  IdleFleet fleet(io, counters, std::move(specs), format);
  // Stages: 10,000 (the baseline per connection), then all; each opened (bounded), held,
  // then the servers' RSS read.
  const auto start = Clock::now();
  for (int size : {std::min(kBaselineConnections, target), target}) {
    if (!run.stages.empty() && size <= fleet.limit()) break;
    fleet.open_to(size);
    run_for(io, hold);
    Stage stage{counters.opened - counters.dropped, servers_rss_mib(context)};
    stage.kib_per_connection =
        stage.open > 0 ? (stage.rss_mib - run.rss_before) * 1024 / stage.open : 0.0;
    run.stages.push_back(stage);
  }
  run.open_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Then one ping each: what a device that has spoken once costs (in format 1 its zstd
  // contexts and history).
  fleet.ping_all(run.stages.back().open, messages.ping);
  run_for(io, hold);
  run.rss_after_ping = servers_rss_mib(context);
  const int open = run.stages.back().open;
  run.dropped = counters.dropped;
  if (with_plain_rounds) OUTPOST_RETURN_IF_ERROR(measure_admin(context, open, scrapes, true));

  // Decision 047: from here on one IdleReader reads every open socket (epoll, batched),
  // for the plain rounds, the announcing pulls and the carried rounds alike.
  const std::vector<int> fds = fleet.hand_over();
  auto readers = std::make_unique<ReaderFleet>(counters);
  for (int fd : fds) OUTPOST_RETURN_IF_ERROR(readers->add(fd));

  // Pokes: another device of the same agent saves a draft; every idle connection should
  // get a poke frame (it would then pull). The time until each has it is the server's
  // fan-out alone, without 10,000 devices' own work on these cores.
  SyncAgentOptions writer_options;
  writer_options.server_url = context.server_url(0);
  OUTPOST_ASSIGN_OR_RETURN(writer_options.token,
                           context.tokens->issue(kIdleTenant, "agent-idle", "idle-writer"));
  writer_options.replica_path = context.scenario_dir("idle_connections") + "/writer.db";
  OUTPOST_ASSIGN_OR_RETURN(auto writer, SyncAgent::open(writer_options));
  OUTPOST_RETURN_IF_ERROR(writer->start());
  const auto writer_deadline = Clock::now() + kWriterReadyTimeout;
  while (Clock::now() < writer_deadline && writer->state() != AgentState::kConnected) {
    readers->run_for(std::chrono::milliseconds(10));
  }
  int next_round = 1;
  // First as before decision 032: the connections never pulled, so they get plain pokes.
  if (with_plain_rounds) {
    OUTPOST_ASSIGN_OR_RETURN(run.plain, poke_rounds(context, *readers, *writer, open, rounds, 1));
    next_round += rounds;
  }
  // Then each announces that it applies carried changes (one pull, answered): the same
  // rounds now put the change itself on every socket, encoded once per commit.
  for (size_t i = 0; i < readers->awaiting_answer.size(); ++i) {
    readers->awaiting_answer[i] = true;
    readers->reader.send(i, *messages.pull);
  }
  const auto answered_deadline = Clock::now() + kPokeRoundTimeout;
  while (counters.answered < open && Clock::now() < answered_deadline) {
    readers->reader.poll(std::chrono::milliseconds(5));
  }
  run.announced = counters.answered;
  // The server's own count of carried frames: the rounds' frames were the changes.
  auto sent_before = transport_event(context, "carried_sent");
  auto encoded_before = transport_event(context, "carried_encodings");
  auto compressed_before = transport_event(context, "carried_compressions");
  OUTPOST_ASSIGN_OR_RETURN(run.carried,
                           poke_rounds(context, *readers, *writer, open, rounds, next_round));
  run.carried_sent = event_delta(sent_before, transport_event(context, "carried_sent"));
  run.carried_encodings =
      event_delta(encoded_before, transport_event(context, "carried_encodings"));
  run.carried_compressions =
      event_delta(compressed_before, transport_event(context, "carried_compressions"));
  writer->stop();

  run.dropped_in_rounds = counters.dropped - run.dropped;
  readers.reset();
  fleet.close_all();
  run.opened = counters.opened;
  run.failed = counters.failed;
  run.ponged = counters.ponged;
  run.first_error = counters.first_error;
  if (counters.opened == 0) {
    return error(ErrorCode::kUnavailable,
                 "no idle connection could be opened: " + counters.first_error);
  }
  // A server holding thousands of streams may need its SIGKILL to stop in time: the
  // figures are taken, so that is reported, not fatal.
  if (Status stopped = context.stop_servers(); !stopped.ok()) {
    fprintf(stderr, "outpost-bench: idle_connections: stopping the servers: %s\n",
            stopped.to_string().substr(0, 300).c_str());
  }
  return run;
}

double kib_after_ping(const FleetRun& run) {
  const int open = run.stages.back().open;
  return open > 0 ? (run.rss_after_ping - run.rss_before) * 1024 / open : 0.0;
}

// Decision 039: the same fleet in stream format 2 beside format 1 of the same run.
void report_message_format(BenchContext& context, const FleetRun& stream, const FleetRun& message,
                           int rounds) {
  const int open = message.stages.back().open;
  std::vector<Param> params = context.common_params();
  for (Param p : {param("connections", open), param("ponged", message.ponged),
                  param("rss_mib", message.rss_after_ping),
                  param("rss_before_ping_mib", message.stages.back().rss_mib),
                  param("baseline_is", "stream format 1, same connections count, same run")}) {
    params.push_back(std::move(p));
  }
  const double base = kib_after_ping(stream);
  context.report.add({"idle_connections.message_format.kib_per_connection_after_ping",
                      kib_after_ping(message), "KiB", base,
                      base > 0 ? kib_after_ping(message) / base : 0, params});
  std::vector<Param> carried_params = context.common_params();
  for (Param p :
       {param("connections", open), param("announced", message.announced), param("rounds", rounds),
        param("delivered", static_cast<uint64_t>(message.carried.ms.size())),
        param("expected", static_cast<uint64_t>(open) * rounds),
        param("incomplete_rounds", message.carried.incomplete),
        param("carried_sent", message.carried_sent),
        param("carried_encodings", message.carried_encodings),
        param("carried_compressions", message.carried_compressions),
        param("dropped_in_rounds", message.dropped_in_rounds),
        param("baseline_is", "idle_connections.carried: stream format 1, same run")}) {
    carried_params.push_back(std::move(p));
  }
  add_round_params(carried_params, message.carried);
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}}) {
    std::vector<Param> with_stat = carried_params;
    with_stat.push_back(param("stat", name));
    const double value = percentile(message.carried.ms, p);
    const double baseline = percentile(stream.carried.ms, p);
    context.report.add({"idle_connections.message_format.carried", value, "ms", baseline,
                        baseline > 0 ? value / baseline : 0, with_stat});
    // Decision 052: the same frames when the kernel queued them on the client sockets,
    // beside when the reader found them readable (its own scheduling left out).
    const double on_socket = percentile(message.carried.arrived_ms, p);
    for (Param& named : with_stat) {
      if (named.name == "baseline_is") {
        named = param("baseline_is",
                      "idle_connections.message_format.carried: the same frames, "
                      "when the reader found them readable");
      }
    }
    context.report.add({"idle_connections.message_format.carried_on_socket", on_socket, "ms", value,
                        value > 0 ? on_socket / value : 0, std::move(with_stat)});
  }
}

}  // namespace

Status run_idle_connections(BenchContext& context, int connections, std::chrono::seconds hold,
                            int rounds) {
  // One device each (idle-0, idle-1, ...): the fleet console then holds `connections`
  // devices, and the admin figures below are taken at that size.
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(std::string token, context.tokens->issue(kIdleTenant, "agent-idle",
                                                                      "idle-" + std::to_string(i)));
    tokens.push_back(std::move(token));
  }
  // Past one process's descriptor limit with several servers: the clients live in worker
  // processes (decision 052), in today's stream format only.
  if (idle_needs_workers(context, connections)) {
    OUTPOST_RETURN_IF_ERROR(run_idle_in_workers(context, tokens, connections, hold));
    return context.start_servers();
  }
  // Format 1 first (every figure before decision 039), then the same on restarted servers
  // with every client in format 2.
  OUTPOST_ASSIGN_OR_RETURN(FleetRun stream_run, run_fleet(context, tokens, connections, hold,
                                                          rounds, StreamFormat::kStream, true));
  OUTPOST_ASSIGN_OR_RETURN(FleetRun message_run, run_fleet(context, tokens, connections, hold,
                                                           rounds, StreamFormat::kMessage, false));
  OUTPOST_RETURN_IF_ERROR(context.start_servers());  // as the scenarios after this expect
  const FleetRun& run = stream_run;
  const int open = run.stages.back().open;
  const double rss = run.stages.back().rss_mib;
  std::vector<Param> params = context.common_params();
  for (Param p : {param("target", connections), param("descriptor_room", run.room),
                  param("opened", run.opened), param("failed", run.failed),
                  param("dropped", run.dropped), param("open_seconds", run.open_seconds),
                  param("hold_seconds", static_cast<int>(hold.count()))}) {
    params.push_back(std::move(p));
  }
  if (!run.first_error.empty()) params.push_back(param("first_error", run.first_error));
  context.report.add({"idle_connections", static_cast<double>(open), "connections",
                      static_cast<double>(connections), static_cast<double>(open) / connections,
                      params});
  params.push_back(param("rss_before_mib", run.rss_before));
  params.push_back(param("kib_per_connection", run.stages.back().kib_per_connection));
  context.report.add({"idle_connections.server_rss", rss, "MiB", 0, 0, params});
  // Per connection at the full size beside the same at 10,000, and what `connections`
  // would take at that rate when the descriptor limit stopped the run short of it.
  const Stage& first = run.stages.front();
  std::vector<Param> per_connection = context.common_params();
  for (Param p : {param("connections", open), param("baseline_connections", first.open),
                  param("rss_mib", rss), param("baseline_rss_mib", first.rss_mib),
                  param("rss_before_mib", run.rss_before),
                  param("projected_rss_mib",
                        run.rss_before + run.stages.back().kib_per_connection * connections / 1024),
                  param("projected_connections", connections)}) {
    per_connection.push_back(std::move(p));
  }
  const double baseline = run.stages.size() > 1 ? first.kib_per_connection : 0.0;
  // After one ping each, beside the same connections before it.
  std::vector<Param> after_ping = context.common_params();
  for (Param p : {param("connections", open), param("ponged", run.ponged),
                  param("rss_mib", run.rss_after_ping), param("rss_before_ping_mib", rss)}) {
    after_ping.push_back(std::move(p));
  }
  const double before_ping = run.stages.back().kib_per_connection;
  context.report.add({"idle_connections.kib_per_connection_after_ping", kib_after_ping(run), "KiB",
                      before_ping, before_ping > 0 ? kib_after_ping(run) / before_ping : 0,
                      after_ping});
  context.report.add({"idle_connections.kib_per_connection", before_ping, "KiB", baseline,
                      baseline > 0 ? before_ping / baseline : 0, per_connection});
  std::vector<Param> poke_params = context.common_params();
  for (Param p : {param("connections", open), param("rounds", rounds),
                  param("delivered", static_cast<uint64_t>(run.plain.ms.size())),
                  param("expected", static_cast<uint64_t>(open) * rounds),
                  param("incomplete_rounds", run.plain.incomplete)}) {
    poke_params.push_back(std::move(p));
  }
  add_round_params(poke_params, run.plain);
  std::vector<Param> carried_params = context.common_params();
  for (Param p :
       {param("connections", open), param("announced", run.announced), param("rounds", rounds),
        param("delivered", static_cast<uint64_t>(run.carried.ms.size())),
        param("expected", static_cast<uint64_t>(open) * rounds),
        param("incomplete_rounds", run.carried.incomplete), param("carried_sent", run.carried_sent),
        param("carried_encodings", run.carried_encodings),
        param("dropped_in_rounds", run.dropped_in_rounds),
        param("baseline_is", "idle_connections.poke: a plain poke, same connections")}) {
    carried_params.push_back(std::move(p));
  }
  add_round_params(carried_params, run.carried);
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}}) {
    std::vector<Param> with_stat = poke_params;
    with_stat.push_back(param("stat", name));
    const double poke = percentile(run.plain.ms, p);
    context.report.add({"idle_connections.poke", poke, "ms", 0, 0, std::move(with_stat)});
    // Decision 032: the change itself on every socket, beside the plain poke's arrival.
    with_stat = carried_params;
    with_stat.push_back(param("stat", name));
    const double value = percentile(run.carried.ms, p);
    context.report.add({"idle_connections.carried", value, "ms", poke, poke > 0 ? value / poke : 0,
                        std::move(with_stat)});
  }
  report_message_format(context, stream_run, message_run, rounds);
  return Status::Ok();
}

}  // namespace outpost::bench
