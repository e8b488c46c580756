// The push policy: decides which wakes and notifications to send to which device, and when
// the field guide's inactivity timers (2.1.4.1) log an agent out. Sans-I/O like ngtcp2: the
// caller feeds events with the current time, takes actions out with poll(now), and sleeps
// until next_deadline(). The senders (adapters/push/) and the stores live elsewhere.
// Thread rules: distinct objects: safe; one object: unsafe (owned by one thread or strand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace outpost::push {

// Milliseconds on the caller's clock (any epoch); the policy never reads a clock.
using Millis = std::int64_t;
inline constexpr Millis kMinute = 60'000;

enum class Platform { kApns, kFcm };

// Where a device can be woken (register_push_target).
struct Target {
  Platform platform = Platform::kApns;
  std::string token;   // APNs device token (hex) or FCM registration token
  std::string app_id;  // APNs topic (bundle id) or the FCM app
  bool sandbox = false;
  bool operator==(const Target&) const = default;
};

// The org's settings; every delay comes from here (guide 2.1.4.1: "all delays are
// configurable in the organization configuration").
struct Settings {
  Millis silent_after = 30 * kMinute;     // stream closed -> silent check push
  Millis keepalive_after = 60 * kMinute;  // stream closed -> visible keepalive
  Millis logout_after_keepalive = 5 * kMinute;
  // A burst of commits within this window becomes one wake.
  Millis coalesce = 2'000;
  // Per-device background wakes: at most max_wakes_per_window in any rate_window
  // (Apple: "no more than two or three per hour").
  int max_wakes_per_window = 3;
  Millis rate_window = 60 * kMinute;
  // Bound on devices with a pending wake and on queued notifications; past it new ones are
  // dropped and counted (the device still pulls everything at its next open).
  std::size_t max_pending = 100'000;
  // Whether a voicemail notification may show the caller's name (customer data).
  bool show_caller_in_notifications = false;
};

// What a push carries.
enum class PushKind {
  kWake,             // background: a scope has a new head
  kInactivityCheck,  // background: the 30-minute silent push
  kVoicemail,        // visible: a new voicemail
  kUnreadVoicemail,  // visible: at login, unread voicemail exists
  kKeepalive,        // visible: "do you still want to use the app?"
  kLoggedOut,        // visible: "you were logged out"
};
bool is_visible(PushKind kind);
const char* push_kind_name(PushKind kind);

struct Push {
  std::string device;
  Target target;
  PushKind kind = PushKind::kWake;
  std::string scope;  // kWake: the scope (also its collapse id); empty otherwise
  std::uint64_t head = 0;
  std::string title;  // visible kinds only; no customer data unless Settings allow it
  std::string body;
  std::string voicemail_id;  // kVoicemail: lets the app open the dialog (an id, not data)
};
// Log the agent out on the platform: presence offline through the Upstream.
struct SetPresenceOffline {
  std::string user;
};
using Action = std::variant<Push, SetPresenceOffline>;

// Events, each fed with the time it happened.
struct ScopeCommitted {
  std::string user;
  std::string scope;
  std::uint64_t head = 0;
};
struct StreamOpened {
  std::string user, device;
};
struct StreamClosed {
  std::string user, device;
};
struct VoiceStarted {
  std::string user, device;
};
struct VoiceEnded {
  std::string user, device;
};
struct Activity {  // the agent did something (a mutation arrived): cancels inactivity
  std::string user;
};
struct TargetRegistered {
  std::string user, device;
  Target target;
};
struct TargetRemoved {  // logout or unregister
  std::string device;
};
struct TargetDead {  // the push service said the token is gone; only that token is removed
  std::string device;
  std::string token;
};
struct NewVoicemail {
  std::string user;
  std::string voicemail_id;
  std::string caller_name;  // customer data: shown only if Settings allow
};
struct LoginWithUnread {
  std::string user, device;
  int unread = 0;
};
using Event =
    std::variant<ScopeCommitted, StreamOpened, StreamClosed, VoiceStarted, VoiceEnded, Activity,
                 TargetRegistered, TargetRemoved, TargetDead, NewVoicemail, LoginWithUnread>;

// Counted outcomes, exported later by the metrics issue.
struct PolicyCounters {
  std::uint64_t wakes = 0;
  std::uint64_t coalesced = 0;     // commits folded into a pending wake
  std::uint64_t rate_limited = 0;  // wakes deferred by the per-device window
  std::uint64_t dropped = 0;       // past max_pending
  std::uint64_t inactivity_checks = 0;
  std::uint64_t keepalives = 0;
  std::uint64_t logouts = 0;
  std::uint64_t notifications = 0;  // visible pushes of any kind
};

class PushPolicy {
 public:
  explicit PushPolicy(Settings settings = {});

  void on_event(const Event& event, Millis now);
  // Actions due at `now`, in order. Call again after next_deadline().
  std::vector<Action> poll(Millis now);
  // The earliest time poll() has something to do, if any.
  std::optional<Millis> next_deadline() const;

  const PolicyCounters& counters() const { return counters_; }
  const Settings& settings() const { return settings_; }
  // The org changed its settings: wakes and timer stages scheduled from now on use them
  // (those already scheduled keep their time).
  void set_settings(Settings settings);
  // For tests and the simulator.
  bool has_live_stream(const std::string& user) const;
  bool in_voice(const std::string& user) const;
  bool logged_out(const std::string& user) const;
  std::size_t pending_wakes() const { return wake_due_.size(); }

 private:
  struct Device {
    std::string user;
    bool live = false;
    bool voice = false;
    std::optional<Target> target;
    std::optional<ScopeCommitted> pending;  // the newest commit not yet announced
    Millis pending_due = 0;
    // Background wake times inside the rate window (a few); a vector, as libstdc++'s deque
    // allocates 576 bytes when constructed, for every device (decision 052).
    std::vector<Millis> sent;
  };
  enum class Stage { kNone, kIdle, kChecked, kKeepalive, kLoggedOut };
  struct User {
    // Its devices, each with its entry in devices_ (a map: the entry never moves), so a
    // commit's walk of a user's devices looks none of them up by name (decision 047).
    std::map<std::string, Device*> devices;
    // How many of `devices` are live / in voice (decision 059): user_busy(), has_live_stream()
    // and in_voice() answer from these instead of walking every device, which for one user
    // with 10,000 streams made each stream's close O(devices).
    std::size_t live_devices = 0;
    std::size_t voice_devices = 0;
    Stage stage = Stage::kNone;
    Millis idle_since = 0;
    Millis due = 0;  // when the current stage's next step fires
  };

  Device& device(const std::string& user, const std::string& id);
  User& user(const std::string& id) { return users_[id]; }
  bool user_busy(const User& u) const;  // a live stream or a voice interaction
  // Sets a device's flag and keeps its user's count of such devices (decision 059).
  void set_live(Device& d, bool live);
  void set_voice(Device& d, bool voice);
  void update_inactivity(const std::string& id, Millis now);
  void set_user_due(const std::string& id, Stage stage, Millis due);
  void cancel_wake(const std::string& id, Device& d);
  void schedule_wake(const std::string& id, Device& d, Millis now);
  Millis rate_allowed_at(Device& d, Millis now) const;
  void notify_user(const std::string& user, PushKind kind, std::string title, std::string body,
                   std::string voicemail_id = {});
  void queue(Action action);
  void fire_inactivity(const std::string& id, Millis now);

  Settings settings_;
  std::map<std::string, Device> devices_;
  std::map<std::string, User> users_;
  std::set<std::pair<Millis, std::string>> wake_due_;  // (due, device)
  std::set<std::pair<Millis, std::string>> user_due_;  // (due, user)
  std::deque<Action> ready_;
  PolicyCounters counters_;
};

}  // namespace outpost::push
