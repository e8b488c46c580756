// PushPolicy on simulated time: coalescing, the per-device rate limit, the bounded queue,
// notifications, and the field guide's inactivity timers (2.1.4.1), plus a property test
// over random event sequences: an agent with a live stream or a voice interaction is never
// logged out.
#include "engine/push_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

namespace outpost::push {
namespace {

Target apns(std::string token) {
  return Target{.platform = Platform::kApns, .token = std::move(token), .app_id = "com.example"};
}

// Drives a policy to `until`, polling at every deadline, collecting (time, action).
struct Clocked {
  PushPolicy policy;
  Millis now = 0;
  std::vector<std::pair<Millis, Action>> log;

  explicit Clocked(Settings s = {}) : policy(s) {}
  void event(const Event& e) { policy.on_event(e, now); }
  void advance_to(Millis until) {
    for (;;) {
      for (auto& a : policy.poll(now)) log.emplace_back(now, std::move(a));
      auto next = policy.next_deadline();
      if (!next || *next > until) break;
      now = std::max(now, *next);
    }
    now = until;
    for (auto& a : policy.poll(now)) log.emplace_back(now, std::move(a));
  }
  std::vector<std::pair<Millis, Push>> pushes_of(PushKind kind) const {
    std::vector<std::pair<Millis, Push>> out;
    for (const auto& [t, a] : log) {
      if (auto* p = std::get_if<Push>(&a); p && p->kind == kind) out.emplace_back(t, *p);
    }
    return out;
  }
  std::vector<Millis> logout_times() const {
    std::vector<Millis> out;
    for (const auto& [t, a] : log) {
      if (std::holds_alternative<SetPresenceOffline>(a)) out.push_back(t);
    }
    return out;
  }
};

// A device with a target whose stream has closed, and no voice interaction.
void sleeping_device(Clocked& c, const std::string& user, const std::string& dev) {
  c.event(TargetRegistered{user, dev, apns("tok-" + dev)});
  c.event(StreamOpened{user, dev});
  c.event(StreamClosed{user, dev});
}

TEST(PushPolicy, BurstOfCommitsBecomesOneWakeWithTheNewestHead) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  for (int i = 1; i <= 20; ++i) {
    c.now += 50;
    c.event(ScopeCommitted{"u1", "user/u1", static_cast<std::uint64_t>(i)});
  }
  c.advance_to(10'000);
  auto wakes = c.pushes_of(PushKind::kWake);
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].second.scope, "user/u1");
  EXPECT_EQ(wakes[0].second.head, 20u);
  EXPECT_EQ(wakes[0].second.target.token, "tok-d1");
  EXPECT_EQ(wakes[0].first, 50 + c.policy.settings().coalesce);
  EXPECT_EQ(c.policy.counters().coalesced, 19u);
}

TEST(PushPolicy, NoWakeForADeviceWithALiveStreamOrNoTarget) {
  Clocked c;
  c.event(TargetRegistered{"u1", "live", apns("a")});
  c.event(StreamOpened{"u1", "live"});
  c.event(StreamOpened{"u1", "untargeted"});
  c.event(StreamClosed{"u1", "untargeted"});
  c.event(ScopeCommitted{"u1", "user/u1", 7});
  c.advance_to(60'000);
  EXPECT_TRUE(c.pushes_of(PushKind::kWake).empty());
  EXPECT_EQ(c.policy.counters().wakes, 0u);
}

TEST(PushPolicy, OtherUsersDevicesAreNotWoken) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  sleeping_device(c, "u2", "d2");
  c.event(ScopeCommitted{"u2", "user/u2", 3});
  c.advance_to(10'000);
  auto wakes = c.pushes_of(PushKind::kWake);
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].second.device, "d2");
}

TEST(PushPolicy, StreamOpeningCancelsThePendingWake) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  c.event(ScopeCommitted{"u1", "user/u1", 1});
  c.now += 500;
  c.event(StreamOpened{"u1", "d1"});
  c.advance_to(60'000);
  EXPECT_TRUE(c.pushes_of(PushKind::kWake).empty());
  EXPECT_EQ(c.policy.pending_wakes(), 0u);
}

TEST(PushPolicy, RateLimitKeepsEveryWindowUnderTheMaximumAndLosesNoLatestHead) {
  Settings s;
  s.silent_after = 1000 * kMinute;  // keep the inactivity check out of this test
  s.keepalive_after = 2000 * kMinute;
  Clocked c(s);
  sleeping_device(c, "u1", "d1");
  // A commit every 5 minutes for 3 hours.
  for (int i = 1; i <= 36; ++i) {
    c.event(ScopeCommitted{"u1", "user/u1", static_cast<std::uint64_t>(i)});
    c.advance_to(c.now + 5 * kMinute);
  }
  c.advance_to(c.now + 2 * 60 * kMinute);
  auto wakes = c.pushes_of(PushKind::kWake);
  ASSERT_FALSE(wakes.empty());
  for (std::size_t i = 0; i < wakes.size(); ++i) {
    int in_window = 0;
    for (std::size_t j = 0; j <= i; ++j) {
      if (wakes[j].first > wakes[i].first - s.rate_window) ++in_window;
    }
    EXPECT_LE(in_window, s.max_wakes_per_window) << "wake " << i;
  }
  // The last wake announces the newest head: rate limiting delays, never loses.
  EXPECT_EQ(wakes.back().second.head, 36u);
  EXPECT_GT(c.policy.counters().rate_limited, 0u);
  EXPECT_LE(wakes.size(), 3u * 5u);
}

TEST(PushPolicy, PendingWakesAreBounded) {
  Settings s;
  s.max_pending = 2;
  Clocked c(s);
  for (int i = 0; i < 5; ++i) sleeping_device(c, "u1", "d" + std::to_string(i));
  c.event(ScopeCommitted{"u1", "user/u1", 1});
  EXPECT_EQ(c.policy.pending_wakes(), 2u);
  EXPECT_EQ(c.policy.counters().dropped, 3u);
  c.advance_to(10'000);
  EXPECT_EQ(c.pushes_of(PushKind::kWake).size(), 2u);
}

TEST(PushPolicy, RemovedOrDeadTargetIsNotWokenAndOnlyTheDeadTokenIsRemoved) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  sleeping_device(c, "u1", "d2");
  c.event(TargetDead{"d1", "tok-d1"});
  c.event(TargetDead{"d2", "an-older-token"});  // d2 re-registered since: keep it
  c.event(ScopeCommitted{"u1", "user/u1", 4});
  c.advance_to(10'000);
  auto wakes = c.pushes_of(PushKind::kWake);
  ASSERT_EQ(wakes.size(), 1u);
  EXPECT_EQ(wakes[0].second.device, "d2");
  c.event(TargetRemoved{"d2"});
  c.event(ScopeCommitted{"u1", "user/u1", 5});
  c.advance_to(20'000);
  EXPECT_EQ(c.pushes_of(PushKind::kWake).size(), 1u);
}

TEST(PushPolicy, InactivityTimelineAtTheGuidesDelays) {
  Clocked c;
  sleeping_device(c, "u1", "d1");  // stream closed at t = 0
  c.advance_to(120 * kMinute);
  auto checks = c.pushes_of(PushKind::kInactivityCheck);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].first, 30 * kMinute);
  EXPECT_FALSE(is_visible(checks[0].second.kind));
  auto keepalives = c.pushes_of(PushKind::kKeepalive);
  ASSERT_EQ(keepalives.size(), 1u);
  EXPECT_EQ(keepalives[0].first, 60 * kMinute);
  EXPECT_NE(keepalives[0].second.body.find("still want to use the app"), std::string::npos);
  EXPECT_EQ(c.logout_times(), std::vector<Millis>{65 * kMinute});
  auto told = c.pushes_of(PushKind::kLoggedOut);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, 65 * kMinute);
  EXPECT_TRUE(c.policy.logged_out("u1"));
  // Logged out: no further timers until the agent comes back.
  EXPECT_FALSE(c.policy.next_deadline().has_value());
}

TEST(PushPolicy, CompressedDelaysComeFromTheSettings) {
  Settings s;
  s.silent_after = 300;
  s.keepalive_after = 600;
  s.logout_after_keepalive = 50;
  Clocked c(s);
  sleeping_device(c, "u1", "d1");
  c.advance_to(5'000);
  EXPECT_EQ(c.pushes_of(PushKind::kInactivityCheck).at(0).first, 300);
  EXPECT_EQ(c.pushes_of(PushKind::kKeepalive).at(0).first, 600);
  EXPECT_EQ(c.logout_times(), std::vector<Millis>{650});
}

TEST(PushPolicy, ReconnectAfterTheKeepaliveCancelsTheLogout) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  c.advance_to(62 * kMinute);
  EXPECT_EQ(c.pushes_of(PushKind::kKeepalive).size(), 1u);
  c.event(StreamOpened{"u1", "d1"});  // the agent tapped the notification
  c.advance_to(200 * kMinute);
  EXPECT_TRUE(c.logout_times().empty());
  EXPECT_FALSE(c.policy.logged_out("u1"));
}

TEST(PushPolicy, VoiceInteractionKeepsTheTimerFromStarting) {
  Clocked c;
  c.event(TargetRegistered{"u1", "d1", apns("t")});
  c.event(StreamOpened{"u1", "d1"});
  c.event(VoiceStarted{"u1", "d1"});
  c.event(StreamClosed{"u1", "d1"});  // app to the background during the call
  c.advance_to(180 * kMinute);
  EXPECT_TRUE(c.log.empty());
  c.event(VoiceEnded{"u1", "d1"});  // the timer starts now
  c.advance_to(c.now + 70 * kMinute);
  EXPECT_EQ(c.pushes_of(PushKind::kInactivityCheck).at(0).first, 210 * kMinute);
  EXPECT_EQ(c.logout_times(), std::vector<Millis>{245 * kMinute});
}

TEST(PushPolicy, VoiceStartedAfterTheKeepaliveCancelsTheLogout) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  c.advance_to(64 * kMinute);
  c.event(VoiceStarted{"u1", "d1"});
  c.advance_to(300 * kMinute);
  EXPECT_TRUE(c.logout_times().empty());
}

TEST(PushPolicy, ActivityRestartsTheTimer) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  c.advance_to(40 * kMinute);
  c.event(Activity{"u1"});
  c.advance_to(200 * kMinute);
  auto checks = c.pushes_of(PushKind::kInactivityCheck);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].first, 70 * kMinute);
  EXPECT_EQ(c.logout_times(), std::vector<Millis>{105 * kMinute});
}

TEST(PushPolicy, SecondDeviceWithALiveStreamKeepsTheAgentIn) {
  Clocked c;
  sleeping_device(c, "u1", "phone");
  c.event(StreamOpened{"u1", "tablet"});
  c.advance_to(300 * kMinute);
  EXPECT_TRUE(c.logout_times().empty());
  c.event(StreamClosed{"u1", "tablet"});
  c.advance_to(c.now + 66 * kMinute);
  EXPECT_EQ(c.logout_times().size(), 1u);
}

TEST(PushPolicy, VoicemailNotificationCarriesNoCustomerDataUnlessAllowed) {
  Clocked c;
  sleeping_device(c, "u1", "d1");
  c.event(NewVoicemail{"u1", "vm-17", "Alice Customer"});
  c.advance_to(1);
  auto vm = c.pushes_of(PushKind::kVoicemail);
  ASSERT_EQ(vm.size(), 1u);
  EXPECT_TRUE(is_visible(vm[0].second.kind));
  EXPECT_EQ(vm[0].second.voicemail_id, "vm-17");
  EXPECT_EQ(vm[0].second.body.find("Alice"), std::string::npos);
  EXPECT_EQ(vm[0].second.title.find("Alice"), std::string::npos);

  Settings s;
  s.show_caller_in_notifications = true;
  Clocked allowed(s);
  sleeping_device(allowed, "u1", "d1");
  allowed.event(NewVoicemail{"u1", "vm-17", "Alice Customer"});
  allowed.advance_to(1);
  EXPECT_NE(allowed.pushes_of(PushKind::kVoicemail).at(0).second.body.find("Alice Customer"),
            std::string::npos);
}

TEST(PushPolicy, LoginWithUnreadVoicemailNotifiesThatDevice) {
  Clocked c;
  c.event(TargetRegistered{"u1", "d1", apns("t1")});
  c.event(StreamOpened{"u1", "d1"});
  c.event(LoginWithUnread{"u1", "d1", 2});
  c.advance_to(1);
  auto n = c.pushes_of(PushKind::kUnreadVoicemail);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].second.device, "d1");
  EXPECT_NE(n[0].second.body.find("2 unread"), std::string::npos);
}

// Property: over random event sequences and random time steps, the policy
//  - never logs out an agent who has a live stream or a voice interaction (checked against
//    an independent model of streams and calls at the moment of every poll);
//  - logs out only when the agent has been idle (no stream, no call, no activity) for at
//    least keepalive_after + logout_after_keepalive;
//  - never wakes a device whose stream is live, and keeps every device's background pushes
//    within the rate window plus the exempt inactivity checks (at most two fit a window).
TEST(PushPolicyProperty, NeverLogsOutABusyAgentOverRandomSequences) {
  Settings s;
  s.silent_after = 30;
  s.keepalive_after = 60;
  s.logout_after_keepalive = 5;
  s.coalesce = 2;
  s.max_wakes_per_window = 3;
  s.rate_window = 60;
  s.max_pending = 50;
  const std::vector<std::string> users = {"u0", "u1", "u2"};
  const std::vector<std::string> devs = {"a", "b"};
  int total_logouts = 0;
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    PushPolicy policy(s);
    Millis now = 0;
    std::map<std::string, bool> live, voice;                // by "user/dev"
    std::map<std::string, Millis> idle_start;               // busy -> idle, or activity while idle
    std::map<std::string, std::vector<Millis>> background;  // by device id
    auto busy = [&](const std::string& u) {
      for (const auto& d : devs) {
        if (live[u + "/" + d] || voice[u + "/" + d]) return true;
      }
      return false;
    };
    auto check = [&](const std::vector<Action>& actions) {
      for (const auto& a : actions) {
        if (auto* off = std::get_if<SetPresenceOffline>(&a)) {
          ++total_logouts;
          ASSERT_FALSE(busy(off->user)) << "seed " << seed << " t " << now;
          if (idle_start.count(off->user)) {
            ASSERT_GE(now - idle_start[off->user], s.keepalive_after + s.logout_after_keepalive)
                << "seed " << seed;
          }
        } else {
          const Push& p = std::get<Push>(a);
          if (p.kind == PushKind::kWake) {
            ASSERT_FALSE(live[p.device]) << "seed " << seed << " woke a live device";
          }
          if (!is_visible(p.kind)) {
            auto& sent = background[p.device];
            sent.push_back(now);
            int in_window = 0;
            for (Millis t : sent) in_window += t > now - s.rate_window ? 1 : 0;
            ASSERT_LE(in_window, s.max_wakes_per_window + 2) << "seed " << seed;
          }
        }
      }
    };
    for (int step = 0; step < 400; ++step) {
      const std::string& u = users[rng() % users.size()];
      const std::string dev = u + "/" + devs[rng() % devs.size()];
      const bool was_busy = busy(u);
      const int kind = static_cast<int>(rng() % 12);
      switch (kind) {
        case 0:
        case 1:
          policy.on_event(StreamOpened{u, dev}, now);
          live[dev] = true;
          break;
        case 2:
        case 3:
          policy.on_event(StreamClosed{u, dev}, now);
          live[dev] = false;
          break;
        case 4:
          policy.on_event(VoiceStarted{u, dev}, now);
          voice[dev] = true;
          break;
        case 5:
          policy.on_event(VoiceEnded{u, dev}, now);
          voice[dev] = false;
          break;
        case 6:
        case 7:
          policy.on_event(ScopeCommitted{u, "user/" + u, static_cast<std::uint64_t>(step)}, now);
          break;
        case 8:
          policy.on_event(TargetRegistered{u, dev, apns(dev)}, now);
          break;
        case 9:
          policy.on_event(rng() % 2 ? Event{TargetRemoved{dev}} : Event{TargetDead{dev, dev}}, now);
          break;
        case 10:
          policy.on_event(Activity{u}, now);
          break;
        default:
          policy.on_event(NewVoicemail{u, "vm", "X"}, now);
          break;
      }
      if ((was_busy && !busy(u)) || (kind == 10 && !busy(u))) idle_start[u] = now;
      check(policy.poll(now));
      if (HasFatalFailure()) return;
      // Time moves in jumps of 0..40, sometimes straight to the next deadline.
      Millis next = now + static_cast<Millis>(rng() % 41);
      if (auto d = policy.next_deadline(); d && rng() % 3 == 0) next = std::max(now, *d);
      while (auto d = policy.next_deadline()) {
        if (*d > next) break;
        now = std::max(now, *d);
        check(policy.poll(now));
        if (HasFatalFailure()) return;
      }
      now = next;
      check(policy.poll(now));
      if (HasFatalFailure()) return;
      for (const auto& uu : users) {
        if (busy(uu)) {
          ASSERT_FALSE(policy.logged_out(uu)) << "seed " << seed;
        }
      }
    }
  }
  // The sequences do reach the logout path (the property is not vacuous).
  EXPECT_GT(total_logouts, 50);
}

// Decision 059: a user's live and voice devices are counted, not walked. Under random
// opens, closes, voice starts and ends — devices moving between users too (another agent
// signs in on the same phone) — the counts answer exactly what a walk of the devices would.
TEST(PushPolicyProperty, BusyCountsMatchTheDevicesUnderChurn) {
  const std::vector<std::string> users = {"u0", "u1", "u2"};
  for (std::uint32_t seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    PushPolicy policy;
    std::map<std::string, std::string> owner;  // device -> its user (the last event's)
    std::map<std::string, bool> live, voice;   // by device
    for (int step = 0; step < 500; ++step) {
      const std::string& u = users[rng() % users.size()];
      const std::string dev = "d" + std::to_string(rng() % 5);
      switch (rng() % 4) {
        case 0:
          policy.on_event(StreamOpened{u, dev}, step);
          live[dev] = true;
          break;
        case 1:
          policy.on_event(StreamClosed{u, dev}, step);
          live[dev] = false;
          break;
        case 2:
          policy.on_event(VoiceStarted{u, dev}, step);
          voice[dev] = true;
          break;
        default:
          policy.on_event(VoiceEnded{u, dev}, step);
          voice[dev] = false;
          break;
      }
      owner[dev] = u;
      for (const auto& uu : users) {
        bool any_live = false, any_voice = false;
        for (const auto& [d, o] : owner) {
          if (o != uu) continue;
          any_live = any_live || live[d];
          any_voice = any_voice || voice[d];
        }
        ASSERT_EQ(policy.has_live_stream(uu), any_live) << "seed " << seed << " step " << step;
        ASSERT_EQ(policy.in_voice(uu), any_voice) << "seed " << seed << " step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace outpost::push
