#include "transport/server_address.h"

#include <charconv>

namespace outpost {

Result<ServerAddress> parse_server_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return error(ErrorCode::kInvalidArgument,
                 "bad server URL '" + std::string(url) + "': " + std::string(why));
  };
  ServerAddress address;
  std::string_view rest;
  size_t separator = url.find("://");
  std::string_view scheme = url.substr(0, separator);
  if (separator == std::string_view::npos ||
      (scheme != "http" && scheme != "ws" && scheme != "https" && scheme != "wss")) {
    return bad("expected http://, ws://, https:// or wss://host:port");
  }
  rest = url.substr(separator + 3);
  address.tls = scheme == "https" || scheme == "wss";
  std::string default_port = address.tls ? "443" : "80";
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    address.path_prefix = std::string(path);
  }
  std::string_view port;
  if (authority.starts_with("[")) {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    address.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    address.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (address.host.empty()) return bad("missing host");
  if (port.empty()) {
    address.port = default_port;
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    address.port = std::string(port);
  }
  return address;
}

}  // namespace outpost
