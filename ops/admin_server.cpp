#include "ops/admin_server.h"

#include <openssl/crypto.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace outpost::ops {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxRequestBytes = 8 * 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    out[key] = value;
  }
  return out;
}

bool is_loopback_address(const std::string& address) {
  beast::error_code ec;
  auto parsed = net::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

struct Route {
  std::function<AdminReply(const AdminRequest&)> handler;
  EventSource events;
  std::chrono::milliseconds interval{1000};
  bool open = false;
};

struct AdminServer::Impl {
  explicit Impl(AdminServerOptions options) : options(std::move(options)) {}

  class Session;

  void do_accept();
  void log(std::string_view line) const {
    if (options.log) options.log(line);
  }

  AdminServerOptions options;
  std::map<std::string, Route> routes;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::atomic<uint16_t> port{0};
  std::set<std::shared_ptr<Session>> sessions;  // the I/O thread only
  size_t event_streams = 0;
  bool started = false;
  bool stopped = false;
};

// One connection: requests answered in turn; an event stream holds it until it ends.
class AdminServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), timer_(server.ioc) {}

  void start() { do_read(); }
  void close() {
    timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBytes);
    parser_->header_limit(kMaxRequestBytes);
    stream_.expires_after(server_.options.idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void finish() {
    if (streaming_) --server_.event_streams;
    streaming_ = false;
    close();
    server_.sessions.erase(shared_from_this());
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish();
    const auto& request = parser_->get();
    std::string_view target(request.target().data(), request.target().size());
    AdminRequest admin;
    admin.method = std::string(request.method_string());
    size_t question = target.find('?');
    admin.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) admin.query = parse_query(target.substr(question + 1));
    keep_alive_ = request.keep_alive();

    auto route = server_.routes.find(admin.path);
    if (route == server_.routes.end()) return reply({404, "text/plain", "not found\n"});
    if (admin.method != "GET") return reply({405, "text/plain", "only GET\n"});
    if (!route->second.open && !authorized(request, admin)) {
      return reply({401, "text/plain", "admin token required (Authorization: Bearer)\n"});
    }
    if (route->second.events) return start_events(route->second);
    AdminReply answer;
    try {
      answer = route->second.handler(admin);
    } catch (const std::exception& e) {
      server_.log(std::string("admin handler failed: ") + e.what());
      answer = {500, "text/plain", "internal error\n"};
    }
    reply(std::move(answer));
  }

  bool authorized(const http::request<http::string_body>& request, const AdminRequest& admin) {
    const std::string& token = server_.options.token;
    if (token.empty()) return true;
    std::string_view header(request[http::field::authorization].data(),
                            request[http::field::authorization].size());
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() > kBearer.size() && header.substr(0, kBearer.size()) == kBearer &&
        same_secret(header.substr(kBearer.size()), token)) {
      return true;
    }
    auto query_token = admin.query.find("token");
    return query_token != admin.query.end() && same_secret(query_token->second, token);
  }

  void reply(AdminReply answer) {
    response_ = {};
    response_.version(11);
    response_.result(answer.status);
    response_.set(http::field::server, "outpost-server admin");
    response_.set(http::field::content_type, answer.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.body() = std::move(answer.body);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) return self->finish();
                        self->do_read();
                      });
  }

  void start_events(const Route& route) {
    if (server_.event_streams >= server_.options.max_event_streams) {
      return reply({503, "text/plain", "too many event streams\n"});
    }
    ++server_.event_streams;
    streaming_ = true;
    source_ = route.events;
    interval_ = route.interval;
    stream_.expires_never();
    // No length: the body is the stream of events until either side closes.
    pending_ =
        "HTTP/1.1 200 OK\r\nServer: outpost-server admin\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\nretry: 2000\n\n";
    next_event();
  }

  void next_event() {
    std::string data;
    try {
      data = source_();
    } catch (const std::exception& e) {
      server_.log(std::string("admin event source failed: ") + e.what());
      return finish();
    }
    pending_ += data.empty() ? std::string(": idle\n\n") : "data: " + data + "\n\n";
    stream_.expires_after(server_.options.idle_timeout);
    net::async_write(stream_, net::buffer(pending_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->pending_.clear();
                       if (ec) return self->finish();
                       self->timer_.expires_after(self->interval_);
                       self->timer_.async_wait([self](beast::error_code wait_ec) {
                         if (wait_ec) return self->finish();
                         self->next_event();
                       });
                     });
  }

  Impl& server_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
  bool streaming_ = false;
  EventSource source_;
  std::chrono::milliseconds interval_{1000};
  std::string pending_;
};

void AdminServer::Impl::do_accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      if (sessions.size() >= options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        auto session = std::make_shared<Session>(*this, std::move(socket));
        sessions.insert(session);
        session->start();
      }
    } else {
      log("admin accept: " + ec.message());
    }
    do_accept();
  });
}

AdminServer::AdminServer(AdminServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::route(std::string path, std::function<AdminReply(const AdminRequest&)> handler,
                        bool open) {
  Route& route = impl_->routes[std::move(path)];
  route.handler = std::move(handler);
  route.open = open;
}

void AdminServer::event_stream(std::string path, EventSource source,
                               std::chrono::milliseconds interval) {
  Route& route = impl_->routes[std::move(path)];
  route.events = std::move(source);
  route.interval = interval;
}

Status AdminServer::start() {
  Impl& s = *impl_;
  if (s.started || s.stopped) return error(ErrorCode::kFailedPrecondition, "already started");
  beast::error_code ec;
  auto address = net::ip::make_address(s.options.address, ec);
  if (ec) {
    return error(ErrorCode::kInvalidArgument,
                 "admin listener: not an IP address: '" + s.options.address + "'");
  }
  if (!address.is_loopback() && s.options.token.empty()) {
    return error(ErrorCode::kInvalidArgument,
                 "admin listener on " + s.options.address +
                     " (not loopback) needs an admin token (--admin-token-file or "
                     "OUTPOST_ADMIN_TOKEN)");
  }
  tcp::endpoint endpoint(address, s.options.port);
  auto failed = [&](std::string_view what) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    return error(ErrorCode::kUnavailable, "admin listener: cannot listen on " + s.options.address +
                                              ":" + std::to_string(s.options.port) + ": " +
                                              std::string(what) + ": " + ec.message());
  };
  if (s.acceptor.open(endpoint.protocol(), ec)) return failed("open");
  if (s.acceptor.set_option(net::socket_base::reuse_address(true), ec)) return failed("option");
  if (s.acceptor.bind(endpoint, ec)) return failed("bind");
  if (s.acceptor.listen(net::socket_base::max_listen_connections, ec)) return failed("listen");
  s.port = s.acceptor.local_endpoint(ec).port();
  s.started = true;
  s.do_accept();
  s.thread = std::thread([&s] {
    for (;;) {
      try {
        s.ioc.run();
        return;
      } catch (const std::exception& e) {
        s.log(std::string("admin thread: ") + e.what());
      }
    }
  });
  return Status::Ok();
}

uint16_t AdminServer::port() const {
  return impl_->port.load();
}

void AdminServer::stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  if (!s.started) return;
  std::promise<void> closed;
  net::post(s.ioc, [&s, &closed] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    auto sessions = s.sessions;
    for (const auto& session : sessions) session->close();
    closed.set_value();
  });
  closed.get_future().wait();
  s.ioc.stop();
  if (s.thread.joinable()) s.thread.join();
  s.sessions.clear();
  s.port = 0;
}

}  // namespace outpost::ops
