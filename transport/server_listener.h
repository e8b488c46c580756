// Internal to the server runtime: the listening socket and the threads. Binds, accepts
// (retrying after a failed accept such as EMFILE), enforces the connection cap (one
// accepted past it is handed to an HttpSession that answers 503), runs the io_context on
// the pool, and stops in order: no more accepts, every session shut down, the stragglers
// cut after the grace period, the threads joined. Owns the ServerContext every session
// refers to. SyncServer (sync_server.cpp) is the facade in front of it.
//
// Thread rules: start() and stop() from the owner thread (serialized by a mutex);
// port() and context() from any thread. The accept loop runs on the acceptor's strand.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/status.h"
#include "transport/server_session.h"

namespace outpost::server_impl {

class Listener {
 public:
  Listener(ServerCore& core, const TokenAuthority& tokens, SyncServerOptions options);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // SyncServer::start's contract (errors included).
  Status start();
  // SyncServer::stop's contract. Idempotent.
  void stop();
  // The bound port while running, else 0.
  uint16_t port() const { return port_.load(); }
  ServerContext& context() { return context_; }

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void run_thread();

  // Declaration order is destruction order in reverse: the io_context goes before the
  // context its pending handlers' sessions refer to, the acceptor before the io_context.
  ServerContext context_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_{boost::asio::make_strand(ioc_)};
  boost::asio::steady_timer accept_retry_{acceptor_.get_executor()};
  std::vector<std::thread> threads_;
  std::atomic<uint16_t> port_{0};
  std::mutex lifecycle_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace outpost::server_impl
