#include "transport/server_listener.h"

#include <boost/asio/post.hpp>

#include <future>
#include <string>

#include "transport/server_http_session.h"
#include "transport/tls_server.h"

namespace outpost::server_impl {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A failed accept (out of file descriptors...) is retried after this pause.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// stop(): after the grace period, cut connections and wait this long for them to go.
constexpr auto kForceCloseWait = std::chrono::seconds(2);
// Fan-out groups per I/O thread (decision 047): a commit is one task per group. (Decision
// 059 measured 16: no better, possibly worse, on the loaded two cores; 4 stays.)
constexpr size_t kFanoutGroupsPerThread = 4;

}  // namespace

Listener::Listener(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options)
    : context_(core, tokens, std::move(options)) {}

void Listener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void Listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    ServerCounters::add(context_.counters.accept_failures);
    context_.log("accept: " + ec.message());
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) do_accept();
    });
    return;
  }
  if (context_.stopping) return;
  ServerCounters::add(context_.counters.connections_accepted);
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  // Past the cap a connection still costs a descriptor for the linger time, but no
  // parsing, token check or store work.
  const bool over_capacity = context_.registry->size() >= context_.options.max_connections;
  if (over_capacity) ServerCounters::add(context_.counters.connections_refused);
  if (context_.options.tls != nullptr) {
    // The certificate in force now: a reload (SIGHUP) changes later connections only.
    std::shared_ptr<net::ssl::context> tls = context_.options.tls->current();
    std::make_shared<HttpSession<TlsStream>>(context_, TlsStream(std::move(socket), *tls),
                                             over_capacity)
        ->start();
  } else {
    std::make_shared<HttpSession<beast::tcp_stream>>(context_, beast::tcp_stream(std::move(socket)),
                                                     over_capacity)
        ->start();
  }
  do_accept();
}

void Listener::run_thread() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      context_.log(std::string("server thread: ") + e.what());
    }
  }
}

Status Listener::start() {
  std::lock_guard lock(lifecycle_);
  if (started_ || stopped_) return error(ErrorCode::kFailedPrecondition, "already started");
  const SyncServerOptions& options = context_.options;
  if (options.threads < 1) return error(ErrorCode::kInvalidArgument, "threads must be >= 1");
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return error(ErrorCode::kInvalidArgument, "not an IP address: '" + options.address + "'");
  }
  tcp::endpoint endpoint(address, options.port);
  auto failed = [&](std::string_view what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return error(ErrorCode::kUnavailable, "cannot listen on " + options.address + ":" +
                                              std::to_string(options.port) + ": " +
                                              std::string(what) + ": " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return failed("open");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return failed("option");
  if (acceptor_.bind(endpoint, ec)) return failed("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return failed("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return failed("local_endpoint");

  started_ = true;
  work_.emplace(ioc_.get_executor());
  // Decision 047: a few fan-out groups per thread, so both threads share a commit's
  // sessions and a busy group does not hold the others back.
  context_.registry->start_fanout(ioc_,
                                  static_cast<size_t>(options.threads) * kFanoutGroupsPerThread);
  do_accept();
  for (int i = 0; i < options.threads; ++i) {
    threads_.emplace_back([this] { run_thread(); });
  }
  context_.log("listening on " + options.address + ":" + std::to_string(port_.load()));
  return Status::Ok();
}

void Listener::stop() {
  std::lock_guard lock(lifecycle_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;

  context_.stopping = true;
  context_.registry->disable_pokes();
  // Close the acceptor on its strand and wait: no connection is accepted afterwards.
  std::promise<void> acceptor_closed;
  net::post(acceptor_.get_executor(), [this, &acceptor_closed] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  for (const auto& session : context_.registry->snapshot()) session->shutdown();
  if (!context_.registry->wait_empty(
          std::chrono::milliseconds(context_.options.shutdown_grace_ms))) {
    context_.log("stop: cutting connections still open after the grace period");
    for (const auto& session : context_.registry->snapshot()) session->force_close();
    context_.registry->wait_empty(kForceCloseWait);
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  port_ = 0;
}

}  // namespace outpost::server_impl
