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

}  // namespace outpost::server_app
