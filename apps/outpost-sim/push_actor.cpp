#include "apps/outpost-sim/push_actor.h"

#include "engine/scope.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;

std::string device_key(int device) {
  return "d" + std::to_string(device);
}

}  // namespace

push::Settings SimPushActor::settings() {
  push::Settings s;
  s.coalesce = 500;
  s.silent_after = 1'000;
  s.keepalive_after = 2'000;
  s.logout_after_keepalive = 500;
  s.rate_window = 60'000;
  return s;
}

void SimPushActor::add_device(int device, const std::string& user_scope) {
  user_of_[device] = user_scope;
  connected_[device] = false;
  policy_.on_event(push::TargetRegistered{user_scope, device_key(device),
                                          push::Target{push::Platform::kApns,
                                                       "token-" + device_key(device), "sim"}},
                   0);
}

void SimPushActor::set_connected(int device, bool connected, int64_t now_ms) {
  bool& was = connected_[device];
  if (was == connected) return;
  was = connected;
  const std::string& user = user_of_[device];
  if (connected) {
    policy_.on_event(push::StreamOpened{user, device_key(device)}, now_ms);
  } else {
    policy_.on_event(push::StreamClosed{user, device_key(device)}, now_ms);
  }
}

void SimPushActor::on_commit(const std::vector<CommittedHead>& heads, int64_t now_ms) {
  for (const CommittedHead& head : heads) {
    auto scope = ScopeName::parse(head.scope);
    if (!scope.ok() || scope->is_org()) continue;
    policy_.on_event(push::ScopeCommitted{head.scope, head.scope, head.head_seq}, now_ms);
  }
}

void SimPushActor::on_platform_event(const upstream::Event& event, int64_t now_ms) {
  if (event.user().empty()) return;
  const std::string user = ScopeName::format_user(event.tenant(), event.user());
  if (event.has_voicemail_left() && !event.voicemail_left().read()) {
    policy_.on_event(push::NewVoicemail{user, event.voicemail_left().id(), ""}, now_ms);
  }
  if (!event.has_interaction() || event.interaction().media() != d::MEDIA_VOICE) return;
  const d::Interaction& call = event.interaction();
  auto& calls = calls_[user];
  const bool was = !calls.empty();
  const bool active = call.state() == d::INTERACTION_ALERTING ||
                      call.state() == d::INTERACTION_CONNECTED ||
                      call.state() == d::INTERACTION_HELD;
  if (active) {
    calls.insert(call.id());
  } else {
    calls.erase(call.id());
  }
  if (!was && !calls.empty()) policy_.on_event(push::VoiceStarted{user, user + "#voice"}, now_ms);
  if (was && calls.empty()) policy_.on_event(push::VoiceEnded{user, user + "#voice"}, now_ms);
}

std::vector<int> SimPushActor::step(int64_t now_ms,
                                    const std::function<void(const std::string&)>& fail) {
  std::vector<int> wake;
  for (const push::Action& action : policy_.poll(now_ms)) {
    if (const auto* offline = std::get_if<push::SetPresenceOffline>(&action)) {
      ++stats_.logouts;
      // (5), against the run's truth.
      for (const auto& [device, user] : user_of_) {
        if (user == offline->user && connected_[device]) {
          fail(offline->user + " logged out while d" + std::to_string(device) + " streams");
        }
      }
      auto calls = calls_.find(offline->user);
      if (calls != calls_.end() && !calls->second.empty()) {
        fail(offline->user + " logged out during voice interaction " + *calls->second.begin());
      }
      continue;
    }
    const push::Push& push = std::get<push::Push>(action);
    if (push::is_visible(push.kind)) {
      ++stats_.notifications;
      continue;
    }
    ++stats_.wakes;
    wake.push_back(std::stoi(push.device.substr(1)));
  }
  return wake;
}

}  // namespace outpost::sim
