// Where the device's server is: the host, port and path prefix of an "http://" or "ws://"
// URL, parsed once when an agent is created.
// Thread rules: a value type and a free function; distinct objects: safe.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace outpost {

// Where the server is: "http://host:port[/prefix]" or "ws://host:port[/prefix]".
struct ServerAddress {
  std::string host;
  std::string port;
  std::string path_prefix;  // without a trailing '/', may be empty
  std::string stream_target() const { return path_prefix + "/v1/stream"; }
};
// Errors: kInvalidArgument for another scheme (https/wss are not supported yet), a
// missing host or a bad port.
Result<ServerAddress> parse_server_url(std::string_view url);

}  // namespace outpost
