// The admin listener: a small HTTP server on its own address (loopback by default), never
// the devices' port, for operators and their tools: /metrics, /healthz, /readyz, the fleet
// console and its JSON and server-sent-event feeds (ops/admin_routes.h registers them).
// Off loopback it requires an admin token (Authorization: Bearer, or ?token= for the
// browser's EventSource); /healthz and /readyz stay open for load balancers.
// Thread rules: one I/O thread serves every connection; handlers run on it (keep them
// short). start() and stop() are called by the owner thread. Handlers must outlive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace outpost::ops {

struct AdminRequest {
  std::string method;
  std::string path;                          // without the query
  std::map<std::string, std::string> query;  // decoded ?a=b&c=d
};

struct AdminReply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct AdminServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port
  // Required unless `address` is a loopback address. Compared in constant time.
  std::string token;
  size_t max_connections = 64;
  size_t max_event_streams = 16;
  std::chrono::milliseconds idle_timeout{30000};
  std::function<void(std::string_view)> log;
};

// The next event of a server-sent-event stream, asked for every `interval`: the data line's
// text, or "" for nothing new (a comment keeps the connection alive instead).
using EventSource = std::function<std::string()>;

class AdminServer {
 public:
  explicit AdminServer(AdminServerOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Routes; register before start(). `open`: served without the token.
  void route(std::string path, std::function<AdminReply(const AdminRequest&)> handler,
             bool open = false);
  void event_stream(std::string path, EventSource source, std::chrono::milliseconds interval);

  // Errors: kInvalidArgument (not an IP address; no token off loopback), kUnavailable
  // (cannot bind), kFailedPrecondition (started twice).
  Status start();
  uint16_t port() const;
  // Closes the listener and every connection (event streams included). Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `address` (an IP address) is a loopback address.
bool is_loopback_address(const std::string& address);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; '+' is a space.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace outpost::ops
