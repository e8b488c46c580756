#include "apps/outpost-server/push_setup.h"

#include <fstream>
#include <sstream>

#include "adapters/push/apns_sender.h"
#include "adapters/push/fcm_sender.h"

namespace outpost::server_app {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(ErrorCode::kIo, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::unique_ptr<push::PushService>> make_push_service(
    const ServeConfig& config, ServerCore& core, DomainServer& domain, Platform* platform,
    std::function<void(std::string_view)> log) {
  std::unique_ptr<push::PushSender> apns;
  std::unique_ptr<push::PushSender> fcm;
  if (!config.apns_key.empty()) {
    push::ApnsConfig apns_config;
    OUTPOST_ASSIGN_OR_RETURN(apns_config.key_pem, read_file(config.apns_key));
    apns_config.key_id = config.apns_key_id;
    apns_config.team_id = config.apns_team;
    if (!config.apns_url.empty()) {
      apns_config.production_host = apns_config.sandbox_host = config.apns_url;
    }
    apns_config.http.ca_file = config.push_ca;
    OUTPOST_ASSIGN_OR_RETURN(auto sender, push::ApnsSender::create(std::move(apns_config)));
    apns = std::move(sender);
  }
  if (!config.fcm_account.empty()) {
    push::FcmConfig fcm_config;
    OUTPOST_ASSIGN_OR_RETURN(fcm_config.service_account_json, read_file(config.fcm_account));
    if (!config.fcm_url.empty()) fcm_config.base_url = config.fcm_url;
    fcm_config.token_url = config.fcm_token_url;
    fcm_config.http.ca_file = config.push_ca;
    OUTPOST_ASSIGN_OR_RETURN(auto sender, push::FcmSender::create(std::move(fcm_config)));
    fcm = std::move(sender);
  }
  push::PushServiceOptions options;
  options.log = std::move(log);
  return std::make_unique<push::PushService>(core, &domain, platform, std::move(apns),
                                             std::move(fcm), std::move(options));
}

void add_push_metrics(ops::Registry& registry, const push::PushService& pusher) {
  registry.add_collector([&pusher](ops::Sample& sample) {
    const push::PushServiceStats s = pusher.stats();
    sample.family("outpost_push_targets", "Push targets (APNs/FCM devices) the server knows.",
                  ops::MetricType::kGauge);
    sample.value("outpost_push_targets", {}, static_cast<double>(s.targets));
    sample.family("outpost_push_targets_over_limit",
                  "Push targets not woken: a user's devices past the 32 most recently registered.",
                  ops::MetricType::kGauge);
    sample.value("outpost_push_targets_over_limit", {}, static_cast<double>(s.targets_over_limit));
    const std::pair<const char*, uint64_t> kEvents[] = {
        {"wakes", s.policy.wakes},
        {"coalesced", s.policy.coalesced},
        {"rate_limited", s.policy.rate_limited},
        {"policy_dropped", s.policy.dropped},
        {"notifications", s.policy.notifications},
        {"inactivity_checks", s.policy.inactivity_checks},
        {"keepalives", s.policy.keepalives},
        {"logouts", s.logouts},
        {"delivered", s.delivered},
        {"failed", s.failed},
        {"targets_removed", s.targets_removed},
        {"restart_wakes", s.restart_wakes},
        {"no_sender", s.no_sender},
        {"events_dropped", s.events_dropped},
        {"submit_dropped", s.submit_dropped}};
    sample.family("outpost_push_service_total",
                  "The push thread: wakes, coalesced and rate-limited commits, visible "
                  "notifications, inactivity timers, logouts, messages delivered or failed, "
                  "dead targets removed, queues full.",
                  ops::MetricType::kCounter);
    for (const auto& [event, value] : kEvents) {
      sample.value("outpost_push_service_total", {{"event", event}}, static_cast<double>(value));
    }
    sample.family("outpost_push_sender_total",
                  "APNs and FCM requests by outcome: answers, provider token refreshes and "
                  "rejections, retries and messages given up.",
                  ops::MetricType::kCounter);
    const char* kPlatforms[] = {"apns", "fcm"};
    static_assert(push::kApnsIndex == 0 && push::kFcmIndex == 1);
    for (std::size_t i = 0; i < 2; ++i) {
      const push::SenderCounters& c = s.senders[i];
      const push::DeliveryCounters& d = s.deliveries[i];
      const std::pair<const char*, uint64_t> kOutcomes[] = {
          {"requests", c.requests},
          {"delivered", c.delivered},
          {"removed_targets", c.removed_targets},
          {"rate_limited", c.rate_limited},
          {"unavailable", c.unavailable},
          {"server_errors", c.server_errors},
          {"timeouts", c.timeouts},
          {"transport_errors", c.transport_errors},
          {"provider_token_refreshes", c.provider_token_refreshes},
          {"provider_token_rejected", c.provider_token_rejected},
          {"token_errors", c.token_errors},
          {"payload_too_large", c.payload_too_large},
          {"failed", c.failed},
          {"retries", d.retries},
          {"gave_up", d.gave_up},
          {"queue_full", d.queue_full}};
      for (const auto& [outcome, value] : kOutcomes) {
        sample.value("outpost_push_sender_total",
                     {{"platform", kPlatforms[i]}, {"outcome", outcome}},
                     static_cast<double>(value));
      }
    }
  });
}

}  // namespace outpost::server_app
