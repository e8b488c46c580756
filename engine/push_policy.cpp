#include "engine/push_policy.h"

#include <algorithm>
#include <limits>

namespace outpost::push {

bool is_visible(PushKind kind) {
  return kind != PushKind::kWake && kind != PushKind::kInactivityCheck;
}

const char* push_kind_name(PushKind kind) {
  switch (kind) {
    case PushKind::kWake:
      return "wake";
    case PushKind::kInactivityCheck:
      return "inactivity_check";
    case PushKind::kVoicemail:
      return "voicemail";
    case PushKind::kUnreadVoicemail:
      return "unread_voicemail";
    case PushKind::kKeepalive:
      return "keepalive";
    case PushKind::kLoggedOut:
      return "logged_out";
  }
  return "unknown";
}

PushPolicy::PushPolicy(Settings settings) : settings_(settings) {
  settings_.max_wakes_per_window = std::max(settings_.max_wakes_per_window, 1);
}

void PushPolicy::set_settings(Settings settings) {
  settings_ = settings;
  settings_.max_wakes_per_window = std::max(settings_.max_wakes_per_window, 1);
}

PushPolicy::Device& PushPolicy::device(const std::string& user_id, const std::string& id) {
  Device& d = devices_[id];
  if (d.user != user_id) {
    if (!d.user.empty()) {
      auto old = users_.find(d.user);
      if (old != users_.end()) {
        old->second.devices.erase(id);
        old->second.live_devices -= d.live ? 1 : 0;
        old->second.voice_devices -= d.voice ? 1 : 0;
      }
    }
    d.user = user_id;
    User& u = users_[user_id];
    u.live_devices += d.live ? 1 : 0;
    u.voice_devices += d.voice ? 1 : 0;
  }
  users_[user_id].devices.emplace(id, &d);
  return d;
}

bool PushPolicy::user_busy(const User& u) const {
  return u.live_devices > 0 || u.voice_devices > 0;
}

void PushPolicy::set_live(Device& d, bool live) {
  if (d.live == live) return;
  d.live = live;
  User& u = users_[d.user];
  if (live) {
    ++u.live_devices;
  } else {
    --u.live_devices;
  }
}

void PushPolicy::set_voice(Device& d, bool voice) {
  if (d.voice == voice) return;
  d.voice = voice;
  User& u = users_[d.user];
  if (voice) {
    ++u.voice_devices;
  } else {
    --u.voice_devices;
  }
}

bool PushPolicy::has_live_stream(const std::string& user_id) const {
  auto u = users_.find(user_id);
  return u != users_.end() && u->second.live_devices > 0;
}

bool PushPolicy::in_voice(const std::string& user_id) const {
  auto u = users_.find(user_id);
  return u != users_.end() && u->second.voice_devices > 0;
}

bool PushPolicy::logged_out(const std::string& user_id) const {
  auto u = users_.find(user_id);
  return u != users_.end() && u->second.stage == Stage::kLoggedOut;
}

void PushPolicy::set_user_due(const std::string& id, Stage stage, Millis due) {
  User& u = users_[id];
  if (u.stage == Stage::kIdle || u.stage == Stage::kChecked || u.stage == Stage::kKeepalive) {
    user_due_.erase({u.due, id});
  }
  u.stage = stage;
  u.due = due;
  if (stage == Stage::kIdle || stage == Stage::kChecked || stage == Stage::kKeepalive) {
    user_due_.insert({due, id});
  }
}

// The guide's timer runs only while the agent has neither a live stream nor a voice
// interaction; becoming busy cancels it, becoming idle starts it (once per idle period).
void PushPolicy::update_inactivity(const std::string& id, Millis now) {
  User& u = users_[id];
  if (user_busy(u)) {
    if (u.stage != Stage::kNone) set_user_due(id, Stage::kNone, 0);
    return;
  }
  if (u.stage == Stage::kNone) {
    u.idle_since = now;
    set_user_due(id, Stage::kIdle, now + settings_.silent_after);
  }
}

void PushPolicy::cancel_wake(const std::string& id, Device& d) {
  if (d.pending) {
    wake_due_.erase({d.pending_due, id});
    d.pending.reset();
  }
}

Millis PushPolicy::rate_allowed_at(Device& d, Millis now) const {
  const auto expired = std::find_if(d.sent.begin(), d.sent.end(), [&](Millis sent) {
    return sent > now - settings_.rate_window;
  });
  d.sent.erase(d.sent.begin(), expired);
  const auto max = static_cast<std::size_t>(settings_.max_wakes_per_window);
  if (d.sent.size() < max) return now;
  return d.sent[d.sent.size() - max] + settings_.rate_window;
}

void PushPolicy::queue(Action action) {
  const bool must_keep = std::holds_alternative<SetPresenceOffline>(action);
  if (!must_keep && ready_.size() >= settings_.max_pending) {
    ++counters_.dropped;
    return;
  }
  ready_.push_back(std::move(action));
}

void PushPolicy::notify_user(const std::string& user_id, PushKind kind, std::string title,
                             std::string body, std::string voicemail_id) {
  for (const auto& [id, device] : users_[user_id].devices) {
    const Device& d = *device;
    // A device with a live stream shows the change itself.
    if (!d.target || d.live) continue;
    Push push{.device = id, .target = *d.target, .kind = kind};
    push.title = title;
    push.body = body;
    push.voicemail_id = voicemail_id;
    ++counters_.notifications;
    queue(std::move(push));
  }
}

void PushPolicy::on_event(const Event& event, Millis now) {
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ScopeCommitted>) {
          auto u = users_.find(e.user);
          if (u == users_.end()) return;
          for (const auto& [id, device] : u->second.devices) {
            Device& d = *device;
            if (!d.target || d.live) continue;
            if (d.pending) {
              // Coalesce: the newest commit replaces the pending one (the device pulls all
              // scopes when woken, so only the wake itself matters).
              ++counters_.coalesced;
              if (d.pending->scope != e.scope || d.pending->head < e.head) d.pending = e;
              continue;
            }
            if (wake_due_.size() >= settings_.max_pending) {
              ++counters_.dropped;
              continue;
            }
            Millis due = now + settings_.coalesce;
            const Millis allowed = rate_allowed_at(d, now);
            if (allowed > due) {
              ++counters_.rate_limited;
              due = allowed;
            }
            d.pending = e;
            d.pending_due = due;
            wake_due_.insert({due, id});
          }
        } else if constexpr (std::is_same_v<T, StreamOpened>) {
          Device& d = device(e.user, e.device);
          set_live(d, true);
          cancel_wake(e.device, d);  // the stream delivers the change itself
          update_inactivity(e.user, now);
        } else if constexpr (std::is_same_v<T, StreamClosed>) {
          set_live(device(e.user, e.device), false);
          update_inactivity(e.user, now);
        } else if constexpr (std::is_same_v<T, VoiceStarted>) {
          set_voice(device(e.user, e.device), true);
          update_inactivity(e.user, now);
        } else if constexpr (std::is_same_v<T, VoiceEnded>) {
          set_voice(device(e.user, e.device), false);
          update_inactivity(e.user, now);
        } else if constexpr (std::is_same_v<T, Activity>) {
          auto u = users_.find(e.user);
          if (u == users_.end()) return;
          const Stage stage = u->second.stage;
          if (stage == Stage::kIdle || stage == Stage::kChecked || stage == Stage::kKeepalive) {
            // Activity without a stream (an upload over plain HTTP): the app is alive but
            // still in the background, so the timer restarts from now.
            u->second.idle_since = now;
            set_user_due(e.user, Stage::kIdle, now + settings_.silent_after);
          }
        } else if constexpr (std::is_same_v<T, TargetRegistered>) {
          device(e.user, e.device).target = e.target;
        } else if constexpr (std::is_same_v<T, TargetRemoved>) {
          auto it = devices_.find(e.device);
          if (it == devices_.end()) return;
          it->second.target.reset();
          cancel_wake(e.device, it->second);
        } else if constexpr (std::is_same_v<T, TargetDead>) {
          auto it = devices_.find(e.device);
          if (it == devices_.end() || !it->second.target) return;
          if (it->second.target->token != e.token) return;  // already re-registered
          it->second.target.reset();
          cancel_wake(e.device, it->second);
        } else if constexpr (std::is_same_v<T, NewVoicemail>) {
          std::string body = "You have a new voicemail.";
          if (settings_.show_caller_in_notifications && !e.caller_name.empty()) {
            body = "New voicemail from " + e.caller_name + ".";
          }
          notify_user(e.user, PushKind::kVoicemail, "Voicemail", std::move(body), e.voicemail_id);
        } else if constexpr (std::is_same_v<T, LoginWithUnread>) {
          Device& d = device(e.user, e.device);
          if (!d.target || e.unread <= 0) return;
          Push push{.device = e.device, .target = *d.target, .kind = PushKind::kUnreadVoicemail};
          push.title = "Voicemail";
          push.body = "You have " + std::to_string(e.unread) + " unread voicemail" +
                      (e.unread == 1 ? "." : "s.");
          ++counters_.notifications;
          queue(std::move(push));
        }
      },
      event);
}

void PushPolicy::fire_inactivity(const std::string& id, Millis now) {
  User& u = users_[id];
  const Millis due = u.due;
  switch (u.stage) {
    case Stage::kIdle:
      for (const auto& [dev, device] : u.devices) {
        Device& d = *device;
        if (!d.target) continue;
        // Exempt from the window (one per idle period) but counted in it.
        rate_allowed_at(d, now);
        d.sent.push_back(now);
        ++counters_.inactivity_checks;
        queue(Push{.device = dev, .target = *d.target, .kind = PushKind::kInactivityCheck});
      }
      set_user_due(id, Stage::kChecked, u.idle_since + settings_.keepalive_after);
      break;
    case Stage::kChecked:
      ++counters_.keepalives;
      notify_user(id, PushKind::kKeepalive, "Still there?",
                  "Do you still want to use the app? Tap to stay logged in.");
      set_user_due(id, Stage::kKeepalive, due + settings_.logout_after_keepalive);
      break;
    case Stage::kKeepalive:
      // The timer runs only while the agent is not busy (update_inactivity cancels it), so
      // an agent with a live stream or a voice interaction is never logged out here.
      if (user_busy(u)) {
        set_user_due(id, Stage::kNone, 0);
        break;
      }
      ++counters_.logouts;
      queue(SetPresenceOffline{id});
      notify_user(id, PushKind::kLoggedOut, "Logged out",
                  "You were logged out after a period of inactivity.");
      set_user_due(id, Stage::kLoggedOut, 0);
      break;
    default:
      break;
  }
}

std::vector<Action> PushPolicy::poll(Millis now) {
  for (;;) {
    const bool user_next = !user_due_.empty() && user_due_.begin()->first <= now;
    const bool wake_next = !wake_due_.empty() && wake_due_.begin()->first <= now;
    if (!user_next && !wake_next) break;
    if (user_next && (!wake_next || user_due_.begin()->first <= wake_due_.begin()->first)) {
      // A copy: firing moves the user to its next stage, erasing the node the id lives in.
      const std::string user_id = user_due_.begin()->second;
      fire_inactivity(user_id, now);
      continue;
    }
    auto [due, id] = *wake_due_.begin();
    wake_due_.erase(wake_due_.begin());
    Device& d = devices_.at(id);
    const Millis allowed = rate_allowed_at(d, now);
    if (allowed > now) {  // an inactivity check used the budget meanwhile
      ++counters_.rate_limited;
      d.pending_due = allowed;
      wake_due_.insert({allowed, id});
      continue;
    }
    ScopeCommitted commit = std::move(*d.pending);
    d.pending.reset();
    d.sent.push_back(now);
    ++counters_.wakes;
    queue(Push{.device = id,
               .target = *d.target,
               .kind = PushKind::kWake,
               .scope = std::move(commit.scope),
               .head = commit.head});
  }
  std::vector<Action> out(std::make_move_iterator(ready_.begin()),
                          std::make_move_iterator(ready_.end()));
  ready_.clear();
  return out;
}

std::optional<Millis> PushPolicy::next_deadline() const {
  if (!ready_.empty()) return std::numeric_limits<Millis>::min();
  std::optional<Millis> next;
  if (!user_due_.empty()) next = user_due_.begin()->first;
  if (!wake_due_.empty()) {
    next = next ? std::min(*next, wake_due_.begin()->first) : wake_due_.begin()->first;
  }
  return next;
}

}  // namespace outpost::push
