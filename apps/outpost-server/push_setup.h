// Builds the server's push thread from the command line: the APNs and FCM senders from
// their key files, over the core, the domain mirror and the platform.
// Thread rules: call once, from main, before serving.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "adapters/push/push_service.h"
#include "apps/outpost-server/server_config.h"

namespace outpost::server_app {

// Errors: kIo for a key file that cannot be read; the senders' kInvalidArgument for a
// key that is not one.
Result<std::unique_ptr<push::PushService>> make_push_service(
    const ServeConfig& config, ServerCore& core, DomainServer& domain, Platform* platform,
    std::function<void(std::string_view)> log);

}  // namespace outpost::server_app
