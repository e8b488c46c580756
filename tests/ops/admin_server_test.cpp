// ops/admin_server.h and ops/admin_routes.h over a real socket on 127.0.0.1: routes, the
// admin token, the loopback rule, server-sent events, /readyz while draining.
#include "ops/admin_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <string>

#include "ops/admin_routes.h"

namespace outpost::ops {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// One HTTP/1.1 GET with Connection: close; returns the whole answer (head and body).
std::string get(uint16_t port, const std::string& target, const std::string& headers = "") {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "Connection: close\r\n\r\n";
  net::write(socket, net::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  char buffer[4096];
  for (;;) {
    size_t n = socket.read_some(net::buffer(buffer), ec);
    answer.append(buffer, n);
    if (ec) break;
  }
  return answer;
}

unsigned status_of(const std::string& answer) {
  return answer.size() > 12 ? static_cast<unsigned>(std::stoi(answer.substr(9, 3))) : 0;
}

TEST(AdminServer, ServesRoutesAndRefusesWhatItDoesNotKnow) {
  AdminServer server({});
  server.route("/hello", [](const AdminRequest& request) {
    return AdminReply{200, "text/plain", "hi " + request.query.at("name") + "\n"};
  });
  ASSERT_TRUE(server.start().ok());
  std::string answer = get(server.port(), "/hello?name=a%20b");
  EXPECT_EQ(status_of(answer), 200u) << answer;
  EXPECT_NE(answer.find("hi a b\n"), std::string::npos);
  EXPECT_EQ(status_of(get(server.port(), "/nowhere")), 404u);
  server.stop();
}

TEST(AdminServer, TheAdminTokenGuardsEverythingButHealth) {
  AdminServerOptions options;
  options.token = "0123456789abcdef-secret";
  AdminServer server(options);
  server.route("/metrics", [](const AdminRequest&) { return AdminReply{200, "text/plain", "m"}; });
  server.route(
      "/healthz",
      [](const AdminRequest&) {
        return AdminReply{200, "text/plain", "ok"};
      },
      true);
  ASSERT_TRUE(server.start().ok());
  EXPECT_EQ(status_of(get(server.port(), "/metrics")), 401u);
  EXPECT_EQ(status_of(get(server.port(), "/metrics", "Authorization: Bearer wrong\r\n")), 401u);
  EXPECT_EQ(status_of(get(server.port(), "/metrics",
                          "Authorization: Bearer 0123456789abcdef-secret\r\n")),
            200u);
  EXPECT_EQ(status_of(get(server.port(), "/metrics?token=0123456789abcdef-secret")), 200u);
  EXPECT_EQ(status_of(get(server.port(), "/healthz")), 200u);
}

TEST(AdminServer, OffLoopbackItNeedsAToken) {
  AdminServerOptions options;
  options.address = "0.0.0.0";
  AdminServer server(options);
  Status started = server.start();
  EXPECT_EQ(started.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(started.message().find("admin token"), std::string::npos);
  AdminServerOptions bad;
  bad.address = "localhost";  // not an IP address
  EXPECT_EQ(AdminServer(bad).start().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
}

TEST(AdminServer, EventStreamsSendEventsUntilStopped) {
  AdminServer server({});
  std::atomic<int> events{0};
  server.event_stream(
      "/events", [&events] { return "{\"n\":" + std::to_string(++events) + "}"; },
      std::chrono::milliseconds(50));
  ASSERT_TRUE(server.start().ok());
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
  net::write(socket, net::buffer(std::string("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")));
  net::streambuf buffer;
  net::read_until(socket, buffer, "data: {\"n\":3}\n\n");
  std::string seen(net::buffers_begin(buffer.data()), net::buffers_end(buffer.data()));
  EXPECT_NE(seen.find("Content-Type: text/event-stream"), std::string::npos) << seen;
  EXPECT_NE(seen.find("data: {\"n\":1}\n\n"), std::string::npos);
  server.stop();  // ends the stream
  boost::system::error_code ec;
  char rest[4096];
  while (!ec) socket.read_some(net::buffer(rest), ec);
  EXPECT_TRUE(ec);
}

TEST(AdminRoutes, ReadyzFailsWhileDrainingOrWhenTheStoreIsDown) {
  Registry registry;
  Fleet fleet;
  std::atomic<bool> draining{false};
  std::atomic<bool> store_up{true};
  HealthChecks health;
  health.store = [&store_up] {
    return store_up ? Status::Ok() : error(ErrorCode::kUnavailable, "database gone");
  };
  health.draining = &draining;
  health.connections = [] { return size_t{7}; };
  AdminServer server({});
  add_admin_routes(server, registry, fleet, health, [] { return int64_t{1000}; });
  ASSERT_TRUE(server.start().ok());
  EXPECT_EQ(status_of(get(server.port(), "/readyz")), 200u);
  store_up = false;
  std::string down = get(server.port(), "/readyz");
  EXPECT_EQ(status_of(down), 503u);
  EXPECT_NE(down.find("database gone"), std::string::npos);
  store_up = true;
  draining = true;
  EXPECT_NE(get(server.port(), "/readyz").find("draining"), std::string::npos);
  EXPECT_EQ(status_of(get(server.port(), "/healthz")), 200u);  // alive all along
  std::string metrics = get(server.port(), "/metrics");
  EXPECT_NE(metrics.find("outpost_connections 7\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("outpost_draining 1\n"), std::string::npos);
  std::string page = get(server.port(), "/");
  EXPECT_NE(page.find("<title>outpost fleet</title>"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // nothing from elsewhere
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST(AdminRoutes, JsonIsQuoted) {
  EXPECT_EQ(json_quote("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\u0001\"");
}

}  // namespace
}  // namespace outpost::ops
