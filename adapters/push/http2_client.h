// A small HTTP/2 client over libcurl's multi interface (decision 011): one multi handle
// keeps one TLS connection per host and runs a batch of requests as concurrent streams on
// it. Used by the push senders; nothing else in outpost needs an HTTP client.
// Thread rules: one object per thread (libcurl multi handles are not shared).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost::push {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "name: value"
  std::string body;
};

struct HttpResponse {
  long status = 0;                             // 0 when no answer arrived
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  Status transport;  // not ok when no complete answer arrived (reset, refused, TLS...)
  bool timed_out = false;
  bool http2 = false;  // the answer came over HTTP/2
};

struct Http2Options {
  std::string ca_file;       // PEM bundle to verify the server; empty: the system's
  long timeout_ms = 10'000;  // whole request, including waiting for a stream
  long connect_timeout_ms = 5'000;
  // Connections per host. 1 keeps every stream on one connection: requests beyond the
  // server's SETTINGS_MAX_CONCURRENT_STREAMS wait for a stream instead of opening more.
  long max_host_connections = 1;
};

class Http2Client {
 public:
  // Errors: kInternal when libcurl cannot be initialised or lacks HTTP/2.
  static Result<std::unique_ptr<Http2Client>> create(Http2Options options);
  ~Http2Client();
  Http2Client(const Http2Client&) = delete;
  Http2Client& operator=(const Http2Client&) = delete;

  // Runs the requests concurrently and waits for all of them; one response each, in order.
  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests);
  // New connections opened so far (reuse check: stays at 1 per host while it lives).
  long connections_opened() const { return connections_opened_; }

 private:
  explicit Http2Client(Http2Options options, void* multi)
      : options_(std::move(options)), multi_(multi) {}
  Http2Options options_;
  void* multi_;
  long connections_opened_ = 0;
};

}  // namespace outpost::push
