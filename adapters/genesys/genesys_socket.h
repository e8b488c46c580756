// The notifications WebSocket of one Genesys Cloud channel (Boost.Beast): opens the
// channel's connectUri (wss:// on the real cloud, ws:// against the local fake), reads text
// messages with a timeout, sends the socket commands (ping, subscribe). The caller (the
// adapter's channel loop) decodes the messages and watches the heartbeats.
// Thread rules: one object per thread; not shared.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/status.h"

namespace outpost::genesys {

class NotificationSocket {
 public:
  NotificationSocket();
  ~NotificationSocket();
  NotificationSocket(const NotificationSocket&) = delete;
  NotificationSocket& operator=(const NotificationSocket&) = delete;

  // Connects and upgrades. Errors: kInvalidArgument (not a ws:// or wss:// URI),
  // kUnavailable (refused, TLS or upgrade failed, timed out).
  Status open(const std::string& uri, const std::string& ca_file,
              std::chrono::milliseconds timeout);
  // The next text message; nullopt when none came within `timeout`. Errors: kUnavailable
  // (closed or dropped), kTooLarge (a message over genesys::kMaxBodyBytes).
  Result<std::optional<std::string>> read(std::chrono::milliseconds timeout);
  Status send(const std::string& text);
  void close();
  bool is_open() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace outpost::genesys
