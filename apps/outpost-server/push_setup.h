// Builds the server's push thread from the command line: the APNs and FCM senders from
// their key files, over the core, the domain mirror and the platform; its counters on
// /metrics.
// Thread rules: call once, from main, before serving.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "adapters/push/push_service.h"
#include "apps/outpost-server/server_config.h"
#include "ops/metrics.h"

namespace outpost::server_app {

// Errors: kIo for a key file that cannot be read; the senders' kInvalidArgument for a
// key that is not one.
Result<std::unique_ptr<push::PushService>> make_push_service(
    const ServeConfig& config, ServerCore& core, DomainServer& domain, Platform* platform,
    std::function<void(std::string_view)> log);

// The push thread's outcomes on /metrics: outpost_push_service_total{event} (wakes,
// coalesced and rate-limited commits, notifications, inactivity checks, keepalives,
// logouts, delivered and failed messages, dead targets removed, queues full),
// outpost_push_targets (targets known now), outpost_push_sender_total{platform,outcome}
// (each APNs/FCM HTTP answer kind, provider token refreshes and rejections, retries, gave
// up). Label sets are fixed: no device, user or token appears. `pusher` outlives
// `registry`'s renders.
void add_push_metrics(ops::Registry& registry, const push::PushService& pusher);

}  // namespace outpost::server_app
