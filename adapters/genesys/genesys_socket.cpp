#include "adapters/genesys/genesys_socket.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "adapters/genesys/genesys_json.h"

namespace outpost::genesys {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct Uri {
  bool tls = false;
  std::string host, port, target;
};

Result<Uri> parse_uri(const std::string& uri) {
  Uri out;
  std::string rest;
  if (uri.rfind("wss://", 0) == 0) {
    out.tls = true;
    rest = uri.substr(6);
  } else if (uri.rfind("ws://", 0) == 0) {
    rest = uri.substr(5);
  } else {
    return error(ErrorCode::kInvalidArgument, "not a ws:// or wss:// URI");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
    out.port = out.tls ? "443" : "80";
  }
  if (out.host.empty()) return error(ErrorCode::kInvalidArgument, "URI without host");
  return out;
}

}  // namespace

struct NotificationSocket::Impl {
  virtual ~Impl() = default;
  asio::io_context io;
  beast::flat_buffer buffer;
  bool reading = false;
  bool read_done = false;
  beast::error_code read_ec;
  bool open = false;

  virtual Status handshake(const Uri& uri, const std::string& ca_file,
                           std::chrono::milliseconds timeout) = 0;
  virtual void start_read() = 0;
  virtual beast::error_code write(const std::string& text) = 0;
  virtual void close() = 0;

  // Runs the io_context until `done` or the timeout; false on timeout.
  template <typename Done>
  bool run(Done done, std::chrono::milliseconds timeout) {
    io.restart();
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (io.run_one_until(until) == 0) return done();
    }
    return true;
  }
};

namespace {

template <typename Stream>
struct StreamImpl : NotificationSocket::Impl {
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<websocket::stream<Stream>> ws;

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(*ws); }

  Status handshake(const Uri& uri, const std::string& ca_file,
                   std::chrono::milliseconds timeout) override {
    make_stream(ca_file);
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(uri.host, uri.port, ec);
    if (ec) return error(ErrorCode::kUnavailable, "resolve " + uri.host + ": " + ec.message());
    lowest().expires_after(timeout);
    bool done = false;
    lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    run([&] { return done; }, timeout + std::chrono::seconds(1));
    if (!done || ec) return error(ErrorCode::kUnavailable, "connect: " + ec.message());
    if (Status s = tls_handshake(uri, timeout); !s.ok()) return s;
    lowest().expires_never();
    websocket::stream_base::timeout options =
        websocket::stream_base::timeout::suggested(beast::role_type::client);
    options.handshake_timeout = timeout;
    options.idle_timeout = websocket::stream_base::none();  // the adapter watches heartbeats
    ws->set_option(options);
    ws->read_message_max(kMaxBodyBytes);
    done = false;
    ws->async_handshake(uri.host + ":" + uri.port, uri.target, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    run([&] { return done; }, timeout + std::chrono::seconds(1));
    if (!done || ec) return error(ErrorCode::kUnavailable, "WebSocket upgrade: " + ec.message());
    ws->text(true);
    open = true;
    return Status::Ok();
  }

  void make_stream(const std::string& ca_file);
  Status tls_handshake(const Uri& uri, std::chrono::milliseconds timeout);

  void start_read() override {
    reading = true;
    read_done = false;
    ws->async_read(buffer, [this](beast::error_code e, size_t) {
      read_ec = e;
      read_done = true;
      reading = false;
    });
  }

  beast::error_code write(const std::string& text) override {
    beast::error_code ec;
    bool done = false;
    ws->async_write(asio::buffer(text), [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!run([&] { return done; }, std::chrono::seconds(10))) return asio::error::timed_out;
    return ec;
  }

  void close() override {
    if (!ws) return;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    open = false;
    io.restart();
    io.poll();  // let the cancelled handlers run before the stream goes away
  }
};

template <>
void StreamImpl<beast::tcp_stream>::make_stream(const std::string&) {
  ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io);
}

template <>
Status StreamImpl<beast::tcp_stream>::tls_handshake(const Uri&, std::chrono::milliseconds) {
  return Status::Ok();
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <>
void StreamImpl<TlsStream>::make_stream(const std::string& ca_file) {
  tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  tls->set_verify_mode(asio::ssl::verify_peer);
  if (ca_file.empty()) {
    tls->set_default_verify_paths();
  } else {
    tls->load_verify_file(ca_file);
  }
  ws = std::make_unique<websocket::stream<TlsStream>>(io, *tls);
}

template <>
Status StreamImpl<TlsStream>::tls_handshake(const Uri& uri, std::chrono::milliseconds timeout) {
  auto& ssl = ws->next_layer();
  SSL_set_tlsext_host_name(ssl.native_handle(), uri.host.c_str());
  ssl.set_verify_callback(asio::ssl::host_name_verification(uri.host));
  beast::error_code ec;
  bool done = false;
  ssl.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  run([&] { return done; }, timeout + std::chrono::seconds(1));
  if (!done || ec) return error(ErrorCode::kUnavailable, "TLS: " + ec.message());
  return Status::Ok();
}

}  // namespace

NotificationSocket::NotificationSocket() = default;
NotificationSocket::~NotificationSocket() {
  close();
}

Status NotificationSocket::open(const std::string& uri, const std::string& ca_file,
                                std::chrono::milliseconds timeout) {
  close();
  OUTPOST_ASSIGN_OR_RETURN(Uri parsed, parse_uri(uri));
  if (parsed.tls) {
    impl_ = std::make_unique<StreamImpl<TlsStream>>();
  } else {
    impl_ = std::make_unique<StreamImpl<beast::tcp_stream>>();
  }
  try {
    Status s = impl_->handshake(parsed, ca_file, timeout);
    if (!s.ok()) impl_.reset();
    return s;
  } catch (const std::exception& e) {  // TLS context setup (an unreadable CA file)
    impl_.reset();
    return error(ErrorCode::kUnavailable, std::string("WebSocket: ") + e.what());
  }
}

Result<std::optional<std::string>> NotificationSocket::read(std::chrono::milliseconds timeout) {
  if (!impl_ || !impl_->open) return error(ErrorCode::kUnavailable, "socket closed");
  if (!impl_->reading && !impl_->read_done) impl_->start_read();
  if (!impl_->run([&] { return impl_->read_done; }, timeout)) return std::optional<std::string>();
  impl_->read_done = false;
  if (impl_->read_ec) {
    impl_->open = false;
    if (impl_->read_ec == websocket::error::buffer_overflow) {
      return error(ErrorCode::kTooLarge, "notification over the bound");
    }
    return error(ErrorCode::kUnavailable, "socket: " + impl_->read_ec.message());
  }
  std::string text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return std::optional<std::string>(std::move(text));
}

Status NotificationSocket::send(const std::string& text) {
  if (!impl_ || !impl_->open) return error(ErrorCode::kUnavailable, "socket closed");
  // A read may be pending on the same io_context: Beast allows one read and one write.
  beast::error_code ec = impl_->write(text);
  if (ec) return error(ErrorCode::kUnavailable, "socket write: " + ec.message());
  return Status::Ok();
}

void NotificationSocket::close() {
  if (impl_) impl_->close();
  impl_.reset();
}

bool NotificationSocket::is_open() const {
  return impl_ && impl_->open;
}

}  // namespace outpost::genesys
