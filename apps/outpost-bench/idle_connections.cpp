#include "apps/outpost-bench/idle_connections.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "apps/outpost-bench/ops_scenarios.h"
#include "engine/schema.h"
#include "engine/scope.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"
#include "transport/sync_agent.h"
#include "transport/zstd_codec.h"

namespace outpost::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Connections being opened at once: a bound on the servers' accept backlog and on SYNs.
constexpr int kOpeningAtOnce = 128;
constexpr auto kOpenTimeout = std::chrono::minutes(3);
constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
constexpr auto kPokeRoundTimeout = std::chrono::seconds(20);
constexpr auto kPokePause = std::chrono::milliseconds(200);
constexpr auto kWriterReadyTimeout = std::chrono::seconds(30);
constexpr auto kPingTimeout = std::chrono::seconds(60);
// The first stage's size: the figure of the earlier runs, the baseline per connection.
constexpr int kBaselineConnections = 10'000;
// Clients per source address (127.1.0.1, 127.1.0.2, ...): well under the ~28,000
// ephemeral ports one source address has towards one server port.
constexpr int kConnectionsPerSource = 10'000;
// Descriptors the bench and each server keep for everything else (store files,
// listeners, the writer device, the scrapes).
constexpr rlim_t kReservedDescriptors = 300;

// The connections one process can hold under its descriptor limit (the bench raised the
// soft limit to the hard one; the servers inherit it).
int descriptor_room() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return kMaxIdleConnections;
  }
  if (limit.rlim_cur <= kReservedDescriptors) return 0;
  return static_cast<int>(
      std::min<rlim_t>(limit.rlim_cur - kReservedDescriptors, kMaxIdleConnections));
}

// The source address of client `index`: 127.1.0.1 for the first kConnectionsPerSource...
net::ip::address_v4 source_address(int index) {
  const auto source = static_cast<uint32_t>(index / kConnectionsPerSource);
  return net::ip::address_v4((127u << 24) | (1u << 16) | (source + 1));
}

struct Counters {
  int opened = 0;
  int failed = 0;
  int dropped = 0;  // opened, then closed by the server or an error
  std::string first_error;
  // The poke rounds: a frame arriving while a round is on counts once per connection.
  int round = 0;
  Clock::time_point round_started;
  int poked = 0;   // connections that got this round's frame
  int ponged = 0;  // connections whose ping was answered
  std::vector<double> poke_ms;
  int answered = 0;  // connections whose announcing pull was answered
};

// One idle device: connects, upgrades, then keeps a read pending (Beast answers pings
// while a read is pending) and discards what arrives (pokes).
class IdleClient : public std::enable_shared_from_this<IdleClient> {
 public:
  IdleClient(net::io_context& io, Counters& counters) : ws_(io), counters_(counters) {}

  void start(net::ip::address_v4 source, tcp::endpoint endpoint, std::string host,
             std::string target, std::string authorization, std::function<void()> settled) {
    host_ = std::move(host);
    target_ = std::move(target);
    authorization_ = std::move(authorization);
    settled_ = std::move(settled);
    if (beast::error_code ec = bind_source(source)) return fail(ec);
    beast::get_lowest_layer(ws_).expires_after(kHandshakeTimeout);
    beast::get_lowest_layer(ws_).async_connect(
        endpoint, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  // One ping each way through the connection's zstd contexts, as a device that has
  // spoken once: the server then holds its compressor and decompressor. The client's own
  // compressor is used once and dropped (later frames are counted, not decoded).
  void ping() {
    if (!open_) return;
    protocol::ClientFrame frame;
    frame.mutable_ping()->set_sent_ms(1);
    StreamCompressor compressor;
    Result<std::string> wire = compressor.compress_message(frame.SerializeAsString());
    if (!wire.ok()) return;
    ping_ = std::move(wire).value();
    awaiting_pong_ = true;
    ws_.binary(true);
    ws_.async_write(net::buffer(ping_), [self = shared_from_this()](beast::error_code, size_t) {
      std::string().swap(self->ping_);
    });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  // Sends `pull` (the connection's first message, already compressed: every connection's
  // zstd stream starts the same way) saying the device applies changes carried with the
  // poke; its answer is the next frame, counted in `answered`, not as a poke.
  void announce(std::shared_ptr<const std::string> pull) {
    if (!open_) return;
    awaiting_answer_ = true;
    ws_.binary(true);
    ws_.async_write(net::buffer(*pull),
                    [self = shared_from_this(), pull](beast::error_code ec, size_t) {
                      if (ec && self->open_) {
                        ++self->counters_.dropped;
                        self->open_ = false;
                      }
                    });
  }

 private:
  // Binds the socket to `source` before the connect; the port is picked at connect time
  // (IP_BIND_ADDRESS_NO_PORT), per destination, rather than one for every destination.
  beast::error_code bind_source(net::ip::address_v4 source) {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.open(tcp::v4(), ec);
    if (ec) return ec;
#ifdef IP_BIND_ADDRESS_NO_PORT
    int on = 1;
    (void)::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
#endif
    socket.bind(tcp::endpoint(source, 0), ec);
    return ec;
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec);
    beast::get_lowest_layer(ws_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.handshake_timeout = kHandshakeTimeout;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [authorization = authorization_](websocket::request_type& request) {
          request.set(beast::http::field::authorization, authorization);
          request.set(beast::http::field::user_agent, "outpost-bench-idle");
        }));
    ws_.async_handshake(host_, target_, [self = shared_from_this()](beast::error_code ec) {
      self->on_handshake(ec);
    });
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail(ec);
    ++counters_.opened;
    open_ = true;
    settle();
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (self->open_) ++self->counters_.dropped;
        self->open_ = false;
        return;
      }
      self->buffer_.clear();
      Counters& c = self->counters_;
      if (std::exchange(self->awaiting_pong_, false)) {
        ++c.ponged;
      } else if (std::exchange(self->awaiting_answer_, false)) {
        ++c.answered;
      } else if (c.round > self->poked_round_) {
        self->poked_round_ = c.round;
        ++c.poked;
        c.poke_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - c.round_started).count());
      }
      self->read();
    });
  }

  void fail(beast::error_code ec) {
    ++counters_.failed;
    if (counters_.first_error.empty()) counters_.first_error = ec.message();
    settle();
  }

  void settle() {
    if (settled_) std::exchange(settled_, nullptr)();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Counters& counters_;
  std::string host_, target_, authorization_;
  std::function<void()> settled_;
  bool open_ = false;
  bool awaiting_pong_ = false;
  bool awaiting_answer_ = false;
  std::string ping_;
  int poked_round_ = 0;
};

void run_for(net::io_context& io, Clock::duration duration) {
  io.restart();
  io.run_for(duration);
}

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

// The idle clients, opened kOpeningAtOnce at a time and spread over the servers.
struct Fleet {
  net::io_context& io;
  Counters& counters;
  const std::vector<tcp::endpoint>& endpoints;
  const std::vector<std::string>& targets;
  const std::vector<std::string>& tokens;
  std::vector<std::shared_ptr<IdleClient>> clients;
  int next = 0;
  int in_flight = 0;
  int limit = 0;

  // Opens clients until `size` have connected or failed (bounded by kOpenTimeout).
  void open_to(int size) {
    limit = size;
    net::post(io, [this] { open_more(); });
    const auto deadline = Clock::now() + kOpenTimeout;
    while (Clock::now() < deadline && counters.opened + counters.failed < limit) {
      run_for(io, std::chrono::milliseconds(50));
    }
  }

  void open_more() {
    while (in_flight < kOpeningAtOnce && next < limit) {
      const auto index = static_cast<size_t>(next);
      const size_t server = index % endpoints.size();
      auto client = std::make_shared<IdleClient>(io, counters);
      clients.push_back(client);
      ++in_flight;
      ++next;
      client->start(source_address(static_cast<int>(index)), endpoints[server], "127.0.0.1",
                    targets[server], "Bearer " + tokens[index], [this] {
                      --in_flight;
                      net::post(io, [this] { open_more(); });
                    });
    }
  }

  // One ping from every open client; returns when `open` were answered (or kPingTimeout).
  void ping_all(int open) {
    for (auto& client : clients) client->ping();
    const auto deadline = Clock::now() + kPingTimeout;
    while (Clock::now() < deadline && counters.ponged < open) {
      run_for(io, std::chrono::milliseconds(50));
    }
  }
};

// A fresh device's pull of the idle agent's scopes, announcing carried changes, compressed
// as the first message of a connection's zstd stream.
Result<std::shared_ptr<const std::string>> announcing_pull() {
  protocol::ClientFrame frame;
  protocol::PullRequest* pull = frame.mutable_pull();
  pull->set_client_id("idle-bench");
  pull->set_schema_version(Schema::domain().version());
  pull->set_protocol_version(protocol::VERSION_CURRENT);
  pull->set_accepts_carried(true);
  pull->add_cursors()->set_scope(ScopeName::format_user(kIdleTenant, "agent-idle"));
  pull->add_cursors()->set_scope(ScopeName::format_org(kIdleTenant));
  StreamCompressor compressor;
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes,
                           compressor.compress_message(frame.SerializeAsString()));
  return std::make_shared<const std::string>(std::move(bytes));
}

// Poke rounds: the writer saves a draft, and the time until each open connection has the
// round's frame (a poke, or the carried changes) is one sample.
struct PokeRounds {
  std::vector<double> ms;
  int incomplete = 0;
};

Result<PokeRounds> poke_rounds(net::io_context& io, Counters& counters, SyncAgent& writer, int open,
                               int rounds, int first_round) {
  counters.poke_ms.clear();
  PokeRounds out;
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
      io.restart();
      io.run_for(std::chrono::milliseconds(1));
    }
    if (counters.poked < open) ++out.incomplete;
    counters.round = 0;
    io.restart();
    io.run_for(kPokePause);
  }
  out.ms = std::move(counters.poke_ms);
  return out;
}

}  // namespace

Status run_idle_connections(BenchContext& context, int connections, std::chrono::seconds hold,
                            int rounds) {
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  // One device each (idle-0, idle-1, ...): the fleet console then holds `connections`
  // devices, and the admin figures below are taken at that size.
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    OUTPOST_ASSIGN_OR_RETURN(std::string token, context.tokens->issue(kIdleTenant, "agent-idle",
                                                                      "idle-" + std::to_string(i)));
    tokens.push_back(std::move(token));
  }
  const int scrapes = context.options.quick ? 3 : 20;
  OUTPOST_RETURN_IF_ERROR(measure_admin(context, 0, scrapes, false));
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::string> targets;
  for (size_t i = 0; i < context.servers.size(); ++i) {
    OUTPOST_ASSIGN_OR_RETURN(ServerAddress address, parse_server_url(context.server_url(i)));
    endpoints.emplace_back(net::ip::make_address("127.0.0.1"),
                           static_cast<unsigned short>(std::stoi(address.port)));
    targets.push_back(address.stream_target());
  }
  const double rss_before = servers_rss_mib(context);

  // What the descriptor limit lets open: the clients all live in this process, each
  // server holds its share.
  const int room = descriptor_room();
  const int target = std::min({connections, room, room * static_cast<int>(endpoints.size())});

  net::io_context io;
  Counters counters;
  Fleet fleet{io, counters, endpoints, targets, tokens};
  fleet.clients.reserve(static_cast<size_t>(target));
  // Stages: 10,000 (the baseline per connection), then all; each opened (bounded), held,
  // then the servers' RSS read.
  std::vector<Stage> stages;
  const auto start = Clock::now();
  for (int size : {std::min(kBaselineConnections, target), target}) {
    if (!stages.empty() && size <= fleet.limit) break;
    fleet.open_to(size);
    run_for(io, hold);
    Stage stage{counters.opened - counters.dropped, servers_rss_mib(context)};
    stage.kib_per_connection =
        stage.open > 0 ? (stage.rss_mib - rss_before) * 1024 / stage.open : 0.0;
    stages.push_back(stage);
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Then one ping each: what a device that has spoken once costs (its zstd history).
  fleet.ping_all(stages.back().open);
  run_for(io, hold);
  const double rss_after_ping = servers_rss_mib(context);
  const double rss = stages.back().rss_mib;
  const int open = stages.back().open;
  const int dropped = counters.dropped;
  OUTPOST_RETURN_IF_ERROR(measure_admin(context, open, scrapes, true));

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
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  // First as before decision 032: the connections never pulled, so they get plain pokes.
  OUTPOST_ASSIGN_OR_RETURN(PokeRounds plain, poke_rounds(io, counters, *writer, open, rounds, 1));
  // Then each announces that it applies carried changes (one pull, answered): the same
  // rounds now put the change itself on every socket, encoded once per commit.
  OUTPOST_ASSIGN_OR_RETURN(auto pull, announcing_pull());
  for (auto& client : fleet.clients) client->announce(pull);
  const auto answered_deadline = Clock::now() + kPokeRoundTimeout;
  while (counters.answered < open && Clock::now() < answered_deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  const int announced = counters.answered;
  // The server's own count of carried frames: the rounds' frames were the changes.
  auto sent_before = transport_event(context, "carried_sent");
  auto encoded_before = transport_event(context, "carried_encodings");
  OUTPOST_ASSIGN_OR_RETURN(PokeRounds carried,
                           poke_rounds(io, counters, *writer, open, rounds, rounds + 1));
  auto sent_after = transport_event(context, "carried_sent");
  auto encoded_after = transport_event(context, "carried_encodings");
  const uint64_t carried_sent =
      sent_before.ok() && sent_after.ok() ? *sent_after - *sent_before : 0;
  const uint64_t carried_encodings =
      encoded_before.ok() && encoded_after.ok() ? *encoded_after - *encoded_before : 0;
  writer->stop();

  for (auto& client : fleet.clients) client->close();
  run_for(io, std::chrono::milliseconds(200));
  fleet.clients.clear();
  if (counters.opened == 0) {
    return error(ErrorCode::kUnavailable,
                 "no idle connection could be opened: " + counters.first_error);
  }
  std::vector<Param> params = context.common_params();
  for (Param p : {param("target", connections), param("descriptor_room", room),
                  param("opened", counters.opened), param("failed", counters.failed),
                  param("dropped", dropped), param("open_seconds", open_seconds),
                  param("hold_seconds", static_cast<int>(hold.count()))}) {
    params.push_back(std::move(p));
  }
  if (!counters.first_error.empty()) params.push_back(param("first_error", counters.first_error));
  context.report.add({"idle_connections", static_cast<double>(open), "connections",
                      static_cast<double>(connections), static_cast<double>(open) / connections,
                      params});
  params.push_back(param("rss_before_mib", rss_before));
  params.push_back(param("kib_per_connection", stages.back().kib_per_connection));
  context.report.add({"idle_connections.server_rss", rss, "MiB", 0, 0, params});
  // Per connection at the full size beside the same at 10,000, and what `connections`
  // would take at that rate when the descriptor limit stopped the run short of it.
  const Stage& first = stages.front();
  std::vector<Param> per_connection = context.common_params();
  for (Param p : {param("connections", open), param("baseline_connections", first.open),
                  param("rss_mib", rss), param("baseline_rss_mib", first.rss_mib),
                  param("rss_before_mib", rss_before),
                  param("projected_rss_mib",
                        rss_before + stages.back().kib_per_connection * connections / 1024),
                  param("projected_connections", connections)}) {
    per_connection.push_back(std::move(p));
  }
  const double baseline = stages.size() > 1 ? first.kib_per_connection : 0.0;
  // After one ping each, beside the same connections before it.
  std::vector<Param> after_ping = context.common_params();
  for (Param p : {param("connections", open), param("ponged", counters.ponged),
                  param("rss_mib", rss_after_ping), param("rss_before_ping_mib", rss)}) {
    after_ping.push_back(std::move(p));
  }
  const double kib_after_ping = open > 0 ? (rss_after_ping - rss_before) * 1024 / open : 0.0;
  context.report.add(
      {"idle_connections.kib_per_connection_after_ping", kib_after_ping, "KiB",
       stages.back().kib_per_connection,
       stages.back().kib_per_connection > 0 ? kib_after_ping / stages.back().kib_per_connection : 0,
       after_ping});
  context.report.add(
      {"idle_connections.kib_per_connection", stages.back().kib_per_connection, "KiB", baseline,
       baseline > 0 ? stages.back().kib_per_connection / baseline : 0, per_connection});
  std::vector<Param> poke_params = context.common_params();
  for (Param p : {param("connections", open), param("rounds", rounds),
                  param("delivered", static_cast<uint64_t>(plain.ms.size())),
                  param("expected", static_cast<uint64_t>(open) * rounds),
                  param("incomplete_rounds", plain.incomplete)}) {
    poke_params.push_back(std::move(p));
  }
  std::vector<Param> carried_params = context.common_params();
  for (Param p :
       {param("connections", open), param("announced", announced), param("rounds", rounds),
        param("delivered", static_cast<uint64_t>(carried.ms.size())),
        param("expected", static_cast<uint64_t>(open) * rounds),
        param("incomplete_rounds", carried.incomplete), param("carried_sent", carried_sent),
        param("carried_encodings", carried_encodings),
        param("baseline_is", "idle_connections.poke: a plain poke, same connections")}) {
    carried_params.push_back(std::move(p));
  }
  for (const auto& [name, p] : {std::pair{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}}) {
    std::vector<Param> with_stat = poke_params;
    with_stat.push_back(param("stat", name));
    const double poke = percentile(plain.ms, p);
    context.report.add({"idle_connections.poke", poke, "ms", 0, 0, std::move(with_stat)});
    // Decision 032: the change itself on every socket, beside the plain poke's arrival.
    with_stat = carried_params;
    with_stat.push_back(param("stat", name));
    const double value = percentile(carried.ms, p);
    context.report.add({"idle_connections.carried", value, "ms", poke, poke > 0 ? value / poke : 0,
                        std::move(with_stat)});
  }
  return Status::Ok();
}

}  // namespace outpost::bench
