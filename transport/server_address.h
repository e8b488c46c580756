// Where the device's server is: the scheme (plain or TLS), host, port and path prefix of an
// "http://", "ws://", "https://" or "wss://" URL, parsed once when an agent is created.
// Thread rules: a value type and a free function; distinct objects: safe.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace outpost {

// Where the server is: "http[s]://host:port[/prefix]" or "ws[s]://host:port[/prefix]".
// http and ws mean the same (the agent always opens the WebSocket stream), as do https and
// wss; the default port is 80 or 443.
struct ServerAddress {
  bool tls = false;  // https:// or wss://
  std::string host;
  std::string port;
  std::string path_prefix;  // without a trailing '/', may be empty
  std::string stream_target() const { return path_prefix + "/v1/stream"; }
};
// Errors: kInvalidArgument for another scheme, a missing host or a bad port.
Result<ServerAddress> parse_server_url(std::string_view url);

}  // namespace outpost
