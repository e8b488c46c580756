// The server's push thread: turns commits, stream opens and closes and platform events into
// PushPolicy events (one policy per tenant, with the org's settings), and the policy's due
// actions into sends (PushDelivery over the APNs / FCM senders) and platform logouts
// (presence offline through the Platform, mirrored into the store). It reads the push
// targets (the `push_target` collection) from the store, and deletes one a push service
// reports dead. Nothing here runs inside a store transaction or delays a commit: the hooks
// only queue, bounded, and return. docs/push.md, decision 018 (what a restart re-sends).
// Thread rules: the on_* hooks are safe from any thread and never block on I/O; start(),
// stop() and stats() from any one thread.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/push/push_delivery.h"
#include "adapters/push/push_sender.h"
#include "engine/domain_server.h"
#include "engine/platform.h"
#include "engine/push_policy.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/upstream.pb.h"

namespace outpost::push {

// The org_setting names the push thread reads (org scope); absent ones keep the defaults.
inline constexpr const char* kSettingSilentAfterMs = "push.silent_after_ms";
inline constexpr const char* kSettingKeepaliveAfterMs = "push.keepalive_after_ms";
inline constexpr const char* kSettingLogoutAfterKeepaliveMs = "push.logout_after_keepalive_ms";
inline constexpr const char* kSettingCoalesceMs = "push.coalesce_ms";
inline constexpr const char* kSettingMaxWakesPerHour = "push.max_wakes_per_hour";
inline constexpr const char* kSettingShowCaller = "push.show_caller_in_notifications";

struct PushServiceOptions {
  // Wall clock, unix milliseconds (the policy's and the senders' time). Empty: system clock.
  std::function<int64_t()> clock;
  std::function<void(std::string_view)> log;  // empty: silent
  // Hooks queue at most this many events (commits coalesce per scope); past it they are
  // dropped and counted: a dropped wake loses no data (docs/push.md).
  std::size_t max_queued_events = 100'000;
  DeliveryOptions delivery;
  // A tenant's settings where its org_setting records say nothing.
  Settings defaults;
  // Values in [0, 1) for retry jitter. Empty: a generator seeded from the clock.
  std::function<double()> jitter;
};

// Counted outcomes (plus the policy's, the delivery's and the senders' own counters).
struct PushServiceStats {
  std::uint64_t events_dropped = 0;  // hook queue full
  std::uint64_t submit_dropped = 0;  // delivery queue full
  std::uint64_t no_sender = 0;       // a target of a platform with no sender configured
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t targets_removed = 0;     // dead tokens deleted from the store
  std::uint64_t logouts = 0;             // presence offline sent
  std::uint64_t restart_wakes = 0;       // wakes fed at start (decision 018)
  std::uint64_t targets = 0;             // targets known now
  std::uint64_t targets_over_limit = 0;  // now: past kMaxPushTargetsPerUser, not woken
  PolicyCounters policy;                 // summed over tenants
  // Per platform (kApnsIndex, kFcmIndex): the sender's HTTP outcomes and the retry queue's.
  std::array<SenderCounters, 2> senders{};
  std::array<DeliveryCounters, 2> deliveries{};
};
inline constexpr std::size_t kApnsIndex = 0;
inline constexpr std::size_t kFcmIndex = 1;

class PushService {
 public:
  // `domain` (the store mirror of the logout) and `platform` (presence offline) may be
  // null; so may either sender (that platform's targets are then skipped, counted). All
  // must outlive the service.
  PushService(ServerCore& core, DomainServer* domain, outpost::Platform* platform,
              std::unique_ptr<PushSender> apns, std::unique_ptr<PushSender> fcm,
              PushServiceOptions options);
  ~PushService();
  PushService(const PushService&) = delete;
  PushService& operator=(const PushService&) = delete;

  // Reads every stored push target, feeds the restart wakes and idle timers (decision 018)
  // and starts the thread. Errors: the store's.
  Status start();
  // Joins the thread; what is queued is dropped (a wake loses no data).
  void stop();

  // Any thread. Heads that moved (a ServerCore commit listener).
  void on_commit(const std::vector<CommittedHead>& heads);
  // Any thread. A device's live stream opened or closed.
  void on_stream(const Principal& who, bool open);
  // Any thread. A platform event the server applied (voicemail, voice interactions).
  void on_platform_event(const upstream::Event& event);

  PushServiceStats stats() const;

 private:
  struct Tenant;
  struct Queued;
  void run();
  void handle(Queued& queued, int64_t now);
  void handle_commit(const std::string& scope, uint64_t head, int64_t now);
  void handle_platform_event(const upstream::Event& event, int64_t now);
  Status refresh_targets(const std::string& tenant, const std::string& user, int64_t now,
                         bool at_start);
  // Unread voicemails of the user scope last written before `before_version` (the login).
  Result<int> unread_voicemails(const std::string& scope, uint64_t before_version);
  Tenant& tenant(const std::string& name);
  Settings read_settings(const std::string& tenant);
  void act(int64_t now);
  void logout(const std::string& user_key, int64_t now);
  void finished(const Finished& done, int64_t now);
  std::optional<int64_t> next_deadline() const;
  int64_t now() const;
  void log(const std::string& line) const;

  ServerCore& core_;
  DomainServer* domain_;
  outpost::Platform* platform_;
  PushServiceOptions options_;
  std::unique_ptr<PushSender> senders_[2];
  std::unique_ptr<PushDelivery> deliveries_[2];

  // Owned by the push thread (and start(), before it runs).
  std::map<std::string, std::unique_ptr<Tenant>> tenants_;
  // "tenant/user" -> device -> (record version, target).
  std::map<std::string, std::map<std::string, std::pair<uint64_t, Target>>> targets_;
  std::map<std::string, std::set<std::string>> voice_;  // "tenant/user" -> voice interactions
  std::map<std::string, size_t> over_limit_;            // "tenant/user" -> targets not woken
  uint64_t next_message_ = 0;
  PushServiceStats work_;  // the thread's counters, copied into stats_ after each round

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, uint64_t> pending_heads_;  // coalesced commits, by scope
  std::deque<std::unique_ptr<Queued>> pending_;    // streams and platform events, in order
  bool stopping_ = false;
  PushServiceStats stats_;  // guarded: the thread copies its counters in after each round
  std::thread thread_;
};

}  // namespace outpost::push
