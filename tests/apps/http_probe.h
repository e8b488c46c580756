// What the end-to-end tests ask a real outpost-server's admin listener: one plain HTTP GET
// on loopback, and the port a server printed after a prefix in its log.
// Thread rules: plain functions; each call blocks on its own socket.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <cstdint>
#include <string>

namespace outpost::testing {

// GET http://127.0.0.1:PORT/TARGET; the whole answer, or "" when nobody listens.
inline std::string http_get(const std::string& port, const std::string& target) {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::stoi(port))}, ec);
  if (ec) return "";
  net::write(socket,
             net::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
             ec);
  std::string answer;
  char buffer[8192];
  while (!ec) {
    size_t n = socket.read_some(net::buffer(buffer), ec);
    answer.append(buffer, n);
  }
  return answer;
}

// The port of the address printed after `prefix` (up to the end of that line), or "".
inline std::string port_after(const std::string& out, const std::string& prefix) {
  auto at = out.find(prefix);
  if (at == std::string::npos) return "";
  std::string address = out.substr(at + prefix.size(), out.find('\n', at) - at - prefix.size());
  return address.substr(address.rfind(':') + 1);
}

}  // namespace outpost::testing
