// Platform events handed to a running server through its data directory: `outpost-server
// event` writes one protobuf-JSON upstream::Event per file into DIR/inbox (atomically, by
// rename); the server applies each through DomainServer, in name order, tells the observer
// (the push thread) and deletes the file. A local admin and test channel: whoever can write
// DIR can already do anything to the server. Bad files are logged and deleted.
// Thread rules: one thread of its own; the constructor starts it, stop() joins.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "apps/outpost-server/periodic_thread.h"
#include "engine/domain_server.h"
#include "engine/status.h"
#include "outpost/upstream.pb.h"

namespace outpost::server_app {

inline constexpr std::size_t kMaxInboxFileBytes = 1 << 20;
inline constexpr int kMaxInboxFilesPerPass = 100;

// Writes `json` (checked to be an upstream::Event) into DIR/inbox. A voicemail whose
// audio_uri is the simulated platform's (sim-media:) and has no audio_sha256 gets the hash
// and size of that media filled in, as the platform would send them. Errors:
// kInvalidArgument for JSON that is not an event, kIo.
Status queue_event(const std::string& data_dir, const std::string& json);

class EventInbox {
 public:
  using Clock = std::function<int64_t()>;
  using Log = std::function<void(std::string_view)>;
  using Observer = std::function<void(const upstream::Event&)>;
  EventInbox(std::string data_dir, DomainServer& domain, std::chrono::milliseconds every,
             Clock clock, Log log, Observer observer);
  ~EventInbox() { stop(); }
  void stop();

 private:
  void pass();

  std::string dir_;
  DomainServer& domain_;
  Clock clock_;
  Log log_;
  Observer observer_;
  PeriodicThread thread_;  // last: starts after, stops before the members above
};

}  // namespace outpost::server_app
