// The push service of a simulated run: the engine's PushPolicy on the simulated clock, fed
// as outpost-server's push thread feeds it (streams opening and closing, commits to user
// scopes, voice interactions and voicemail from the platform's events), with the org's
// delays compressed to seconds. Its wakes wake a sleeping device early. Every step it
// checks invariant (5) against the run's own truth (which devices are connected, which
// voice interactions the platform has open), not the policy's view: never log out an agent
// who has a live stream or a voice interaction.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/push_policy.h"
#include "engine/server_store.h"
#include "outpost/upstream.pb.h"

namespace outpost::sim {

struct PushActorStats {
  uint64_t wakes = 0;
  uint64_t notifications = 0;
  uint64_t logouts = 0;
};

class SimPushActor {
 public:
  // The compressed org settings of a run (a run lasts minutes of simulated time).
  static push::Settings settings();

  // Devices are named by index; each has a target from the start.
  void add_device(int device, const std::string& user_scope);
  // The run's truth after a step: whether each device's stream is connected.
  void set_connected(int device, bool connected, int64_t now_ms);
  void on_commit(const std::vector<CommittedHead>& heads, int64_t now_ms);
  void on_platform_event(const upstream::Event& event, int64_t now_ms);
  // Polls the policy. Returns the devices to wake; a violation of (5) goes to `fail`.
  std::vector<int> step(int64_t now_ms, const std::function<void(const std::string&)>& fail);

  const PushActorStats& stats() const { return stats_; }

 private:
  push::PushPolicy policy_{settings()};
  std::map<int, std::string> user_of_;                  // device -> user scope
  std::map<int, bool> connected_;                       // the truth
  std::map<std::string, std::set<std::string>> calls_;  // user scope -> open voice calls
  PushActorStats stats_;
};

}  // namespace outpost::sim
