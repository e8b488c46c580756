#include "apps/outpost-bench/idle_fleet.h"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "apps/outpost-bench/bench_options.h"
#include "engine/schema.h"
#include "engine/scope.h"
#include "outpost/protocol.pb.h"

namespace outpost::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
// Descriptors each process keeps for everything else (store files, listeners, the writer
// device, the scrapes).
constexpr rlim_t kReservedDescriptors = 300;

}  // namespace

int descriptor_room() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return kMaxIdleConnections;
  }
  if (limit.rlim_cur <= kReservedDescriptors) return 0;
  return static_cast<int>(
      std::min<rlim_t>(limit.rlim_cur - kReservedDescriptors, kMaxIdleConnections));
}

net::ip::address_v4 source_address(int index) {
  const auto source = static_cast<uint32_t>(index / kConnectionsPerSource);
  return net::ip::address_v4((127u << 24) | (1u << 16) | (source + 1));
}

// One idle device: connects, upgrades, then keeps a read pending (Beast answers pings
// while a read is pending) and discards what arrives (pokes).
class IdleClient : public std::enable_shared_from_this<IdleClient> {
 public:
  IdleClient(net::io_context& io, IdleCounters& counters, StreamFormat format)
      : ws_(io), counters_(counters), format_(format) {}

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

  // One ping each way, as a device that has spoken once: in format 1 the server then holds
  // the connection's zstd compressor and decompressor (and their history); in format 2 it
  // holds none. `ping` is the connection's first message, already compressed (the same
  // bytes for every client; frames received are counted, not decoded).
  void ping(std::shared_ptr<const std::string> ping) {
    if (!open_) return;
    awaiting_pong_ = true;
    ws_.binary(true);
    ws_.async_write(net::buffer(*ping),
                    [self = shared_from_this(), ping](beast::error_code, size_t) {});
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  // Decision 047: the measured rounds read every socket through one IdleReader. Cancels
  // the pending read (Beast then leaves the socket alone); true when the connection is
  // open and was handed over, its socket in `fd`.
  bool hand_over(int& fd) {
    if (!open_) return false;
    handing_over_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().cancel(ignored);
    fd = beast::get_lowest_layer(ws_).socket().native_handle();
    return true;
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
        [authorization = authorization_, format = format_](websocket::request_type& request) {
          request.set(beast::http::field::authorization, authorization);
          request.set(beast::http::field::user_agent, "outpost-bench-idle");
          if (format == StreamFormat::kMessage) {
            request.set(kStreamFormatHeader, kMessageFormatValue);  // decision 039
          }
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
      if (ec && self->handing_over_) return;  // the IdleReader reads from now on
      if (ec) {
        if (self->open_) ++self->counters_.dropped;
        self->open_ = false;
        return;
      }
      self->buffer_.clear();
      IdleCounters& c = self->counters_;
      if (std::exchange(self->awaiting_pong_, false)) {
        ++c.ponged;
      } else if (std::exchange(self->awaiting_answer_, false)) {
        ++c.answered;
      } else if (c.round > self->poked_round_) {
        self->poked_round_ = c.round;
        ++c.poked;
        c.poke_ms.push_back(
            std::chrono::duration<double, std::milli>(IdleClock::now() - c.round_started).count());
      }
      if (!self->handing_over_) self->read();
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
  IdleCounters& counters_;
  const StreamFormat format_;
  std::string host_, target_, authorization_;
  std::function<void()> settled_;
  bool open_ = false;
  bool awaiting_pong_ = false;
  bool awaiting_answer_ = false;
  bool handing_over_ = false;
  int poked_round_ = 0;
};

void run_for(net::io_context& io, IdleClock::duration duration) {
  io.restart();
  io.run_for(duration);
}

Result<ClientMessages> client_messages(StreamFormat format) {
  protocol::ClientFrame ping;
  ping.mutable_ping()->set_sent_ms(1);
  protocol::ClientFrame frame;
  protocol::PullRequest* pull = frame.mutable_pull();
  pull->set_client_id("idle-bench");
  pull->set_schema_version(Schema::domain().version());
  pull->set_protocol_version(protocol::VERSION_CURRENT);
  pull->set_accepts_carried(true);
  pull->add_cursors()->set_scope(ScopeName::format_user(kIdleTenant, "agent-idle"));
  pull->add_cursors()->set_scope(ScopeName::format_org(kIdleTenant));
  WireCodec codec(format);
  OUTPOST_ASSIGN_OR_RETURN(std::string ping_bytes, codec.encode(ping.SerializeAsString()));
  OUTPOST_ASSIGN_OR_RETURN(std::string pull_bytes, codec.encode(frame.SerializeAsString()));
  return ClientMessages{std::make_shared<const std::string>(std::move(ping_bytes)),
                        std::make_shared<const std::string>(std::move(pull_bytes))};
}

IdleFleet::IdleFleet(net::io_context& io, IdleCounters& counters, std::vector<IdleClientSpec> specs,
                     StreamFormat format)
    : io_(io), counters_(counters), specs_(std::move(specs)), format_(format) {
  clients_.reserve(specs_.size());
}

IdleFleet::~IdleFleet() = default;

void IdleFleet::open_to(int size) {
  limit_ = std::min(size, static_cast<int>(specs_.size()));
  net::post(io_, [this] { open_more(); });
  const auto deadline = IdleClock::now() + kOpenTimeout;
  while (IdleClock::now() < deadline && counters_.opened + counters_.failed < limit_) {
    run_for(io_, std::chrono::milliseconds(50));
  }
}

void IdleFleet::open_more() {
  while (in_flight_ < kOpeningAtOnce && next_ < limit_) {
    const IdleClientSpec& spec = specs_[static_cast<size_t>(next_)];
    auto client = std::make_shared<IdleClient>(io_, counters_, format_);
    clients_.push_back(client);
    ++in_flight_;
    ++next_;
    client->start(source_address(spec.index), spec.endpoint, "127.0.0.1", spec.target,
                  spec.authorization, [this] {
                    --in_flight_;
                    net::post(io_, [this] { open_more(); });
                  });
  }
}

void IdleFleet::ping_all(int open, const std::shared_ptr<const std::string>& ping) {
  for (auto& client : clients_) client->ping(ping);
  const auto deadline = IdleClock::now() + kPingTimeout;
  while (IdleClock::now() < deadline && counters_.ponged < open) {
    run_for(io_, std::chrono::milliseconds(50));
  }
}

std::vector<int> IdleFleet::hand_over() {
  std::vector<int> fds;
  for (auto& client : clients_) {
    int fd = -1;
    if (client->hand_over(fd)) fds.push_back(fd);
  }
  run_for(io_, std::chrono::milliseconds(200));  // the cancelled reads complete
  return fds;
}

void IdleFleet::close_all() {
  for (auto& client : clients_) client->close();
  run_for(io_, std::chrono::milliseconds(200));
  clients_.clear();
}

}  // namespace outpost::bench
